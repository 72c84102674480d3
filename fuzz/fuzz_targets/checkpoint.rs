//! The checkpoint loader on arbitrary bytes.
#![no_main]

use backprop::io::Checkpoint;
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    if let Ok(c) = Checkpoint::from_bytes(data, Path::new("fuzz")) {
        let _ = c.to_bytes();
    }
});

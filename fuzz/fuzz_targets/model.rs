//! The model loader on arbitrary bytes; a model that loads must also predict one row without
//! a panic (its metadata was validated against the architecture).
#![no_main]

use backprop::io::Model;
use backprop::Tensor;
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    if let Ok(model) = Model::from_bytes(data, Path::new("fuzz")) {
        let d = model.meta.architecture.in_features;
        if d <= 1 << 16 {
            let _ = model.predict(&Tensor::zeros([2, d]));
        }
        let _ = model.to_bytes();
    }
});

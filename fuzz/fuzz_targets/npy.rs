//! The `.npy` reader on arbitrary bytes: the input as one array, and, when it holds a second
//! `\x93NUMPY` magic, as the features (before it) and labels (from it) of a dataset.
#![no_main]

use backprop::data::npy::{read_npy_dataset_from_bytes, read_npy_from_bytes};
use backprop::data::Task;
use libfuzzer_sys::fuzz_target;

const MAGIC: &[u8] = b"\x93NUMPY";

fuzz_target!(|data: &[u8]| {
    let _ = read_npy_from_bytes(data, "fuzz.npy");
    let second = data
        .windows(MAGIC.len())
        .skip(1)
        .position(|w| w == MAGIC)
        .map(|i| i + 1);
    if let Some(at) = second {
        let (x, y) = data.split_at(at);
        for task in [Task::Auto, Task::Classification, Task::Regression] {
            let _ = read_npy_dataset_from_bytes(x, "x.npy", y, "y.npy", task);
        }
    }
});

//! The IDX (MNIST) reader on arbitrary bytes, raw or gzip, as images and as labels.
#![no_main]

use backprop::data::idx::{read_idx_images_from_bytes, read_idx_labels_from_bytes};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = read_idx_images_from_bytes(data, "fuzz-images-idx3-ubyte");
    let _ = read_idx_labels_from_bytes(data, "fuzz-labels-idx1-ubyte");
});

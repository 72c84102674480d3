//! The model metadata JSON: the input, as text, is the `backprop` metadata entry of a
//! safetensors file holding one small tensor, `layers.0.weight` of shape (1, 1) (a 1-input,
//! 1-output network without bias), which `Model::from_bytes` then loads. A model that loads must
//! predict without a panic.
#![no_main]

use backprop::io::Model;
use backprop::Tensor;
use libfuzzer_sys::fuzz_target;
use safetensors::tensor::TensorView;
use safetensors::Dtype;
use std::collections::HashMap;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let Ok(json) = std::str::from_utf8(data) else {
        return;
    };
    let weight = 0.5f32.to_le_bytes();
    let view = TensorView::new(Dtype::F32, vec![1, 1], &weight).unwrap();
    let meta = HashMap::from([("backprop".to_string(), json.to_string())]);
    let bytes = safetensors::serialize([("layers.0.weight", view)], Some(meta)).unwrap();
    if let Ok(model) = Model::from_bytes(&bytes, Path::new("fuzz")) {
        let d = model.meta.architecture.in_features;
        if d <= 1 << 16 {
            let _ = model.predict(&Tensor::zeros([2, d]));
        }
    }
});

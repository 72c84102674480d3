//! `backprop export MODEL --onnx FILE`: the model as one ONNX graph (see `backprop::io::onnx`).

use crate::args::ExportArgs;
use anyhow::{Context, Result};
use backprop::io::Model;

#[cfg(feature = "onnx")]
pub fn run(a: &ExportArgs) -> Result<()> {
    crate::destinations::check("--onnx", &a.onnx)?;
    let model =
        Model::load(&a.model).with_context(|| format!("loading model {}", a.model.display()))?;
    backprop::io::onnx::save(&model, &a.onnx)
        .with_context(|| format!("exporting {} to ONNX", a.model.display()))?;
    let names = backprop::io::onnx::input_columns(&model);
    crate::errln!(
        "wrote {} (input `features`: {} columns; outputs: {})",
        a.onnx.display(),
        names.len(),
        match model.meta.task {
            backprop::io::TaskInfo::Classification { .. } => "`probabilities`, `class`",
            backprop::io::TaskInfo::Regression { .. } => "`values`",
        }
    );
    Ok(())
}

#[cfg(not(feature = "onnx"))]
pub fn run(a: &ExportArgs) -> Result<()> {
    let _ = Model::load(&a.model)?;
    anyhow::bail!("this build has no ONNX export: rebuild with `--features onnx` (on by default)")
}

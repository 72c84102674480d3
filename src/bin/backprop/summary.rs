//! `backprop summary MODEL` (or `--arch NET.json` for a hand-set description).

use crate::args::SummaryArgs;
use anyhow::{bail, Context, Result};
use backprop::io::Model;
use backprop::nn::MlpSpec;
use std::path::Path;

pub fn run(a: &SummaryArgs) -> Result<()> {
    let model = match (&a.model, &a.arch) {
        (Some(path), None) => {
            Model::load(path).with_context(|| format!("loading model {}", path.display()))?
        }
        (None, Some(arch)) => from_arch(arch)?,
        _ => bail!("give a MODEL file or --arch NET.json"),
    };
    crate::out!("{}", model.summary())?;
    Ok(())
}

/// A hand-set network from its description file, as a model that runs without training.
pub fn from_arch(path: &Path) -> Result<Model> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let spec = MlpSpec::from_json(&text).with_context(|| format!("in {}", path.display()))?;
    Model::from_spec(spec).with_context(|| format!("in {}", path.display()))
}

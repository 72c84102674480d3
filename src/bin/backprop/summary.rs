//! `backprop summary MODEL`.

use crate::args::SummaryArgs;
use anyhow::{Context, Result};
use backprop::io::Model;

pub fn run(a: &SummaryArgs) -> Result<()> {
    let model =
        Model::load(&a.model).with_context(|| format!("loading model {}", a.model.display()))?;
    crate::out!("{}", model.summary())?;
    Ok(())
}

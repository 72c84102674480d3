//! `backprop predict MODEL DATA`: CSV on stdout — the class and class probabilities, or values.

use crate::args::PredictArgs;
use crate::data::load_for_model;
use anyhow::{Context, Result};
use backprop::io::{Model, TaskInfo};
use std::io::Write;

pub fn run(a: &PredictArgs) -> Result<()> {
    let model =
        Model::load(&a.model).with_context(|| format!("loading model {}", a.model.display()))?;
    let input = load_for_model(&a.data, &a.data_args, &model)?;
    let p = model.predict(&input.x)?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let k = p.outputs.shape().last();
    match (&model.meta.task, &p.classes) {
        (TaskInfo::Classification { classes }, Some(cls)) => {
            let names: Vec<String> = classes
                .iter()
                .map(|c| format!("p_{}", csv_field(c)))
                .collect();
            writeln!(out, "class,{}", names.join(","))?;
            for (i, &c) in cls.iter().enumerate() {
                let probs: Vec<String> =
                    p.outputs.row(i).iter().map(|v| format!("{v:.6}")).collect();
                writeln!(out, "{},{}", csv_field(&classes[c]), probs.join(","))?;
            }
        }
        (TaskInfo::Regression { targets }, _) => {
            writeln!(
                out,
                "{}",
                targets
                    .iter()
                    .map(|t| csv_field(t))
                    .collect::<Vec<_>>()
                    .join(",")
            )?;
            for i in 0..p.outputs.numel() / k.max(1) {
                let vals: Vec<String> = p.outputs.row(i).iter().map(|v| v.to_string()).collect();
                writeln!(out, "{}", vals.join(","))?;
            }
        }
        _ => unreachable!("a classifier always predicts classes"),
    }
    out.flush()?;
    Ok(())
}

/// Quotes a CSV field when it needs it.
pub fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

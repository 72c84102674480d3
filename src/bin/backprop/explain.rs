//! `backprop explain`: one backprop step on one sample, every number in seed 001's notation.

use crate::args::ExplainArgs;
use crate::data::load_for_model;
use anyhow::{bail, Context, Result};
use backprop::explain::{explain, from_json, lfd_example};
use backprop::io::{Model, TaskInfo};
use backprop::nn::Mlp;
use backprop::Loss;

pub fn run(a: &ExplainArgs) -> Result<()> {
    let lr = a.lr.unwrap_or(0.1);
    let e = match (&a.example, &a.spec, &a.model) {
        (Some(name), None, None) => {
            if name != "lfd" {
                bail!("--example {name:?}: the built-in example is `lfd` (Learning From Data's worked example)");
            }
            let (spec, params, x, y) = lfd_example();
            crate::outln!("Learning From Data, backpropagation example: x = 2, y = 1, tanh units, e = (x(3) − y)²\n")?;
            explain(&Mlp::from_params(spec, &params)?, &params, &x, &y, Loss::SquaredError, lr)?
        }
        (None, Some(path), None) => {
            let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
            let (spec, params, x, y) = from_json(&text).with_context(|| format!("in {}", path.display()))?;
            explain(&Mlp::from_params(spec, &params)?, &params, &x, &y, Loss::SquaredError, lr)?
        }
        (None, None, Some(path)) => {
            let model = Model::load(path).with_context(|| format!("loading model {}", path.display()))?;
            let Some(data) = &a.data else { bail!("--model needs --data with the sample to explain") };
            let input = load_for_model(data, &a.data_args, &model)?;
            let d = input.x.shape().last();
            let n = input.x.numel() / d.max(1);
            if a.row >= n {
                bail!("{}: --row {} is out of range: the data has {n} rows", input.source, a.row);
            }
            let mut x = input.x.row(a.row).to_vec();
            model.meta.scaler.transform_row(&mut x);
            let Some(targets) = &input.targets else { bail!("{}: no target column; explain needs the sample's target", input.source) };
            let y: Vec<f32> = match &model.meta.task {
                TaskInfo::Classification { classes } => {
                    let t = targets[a.row].trim();
                    let c = classes.iter().position(|c| c == t).with_context(|| format!("label {t:?} is not one of the model's classes"))?;
                    if model.meta.loss.takes_classes() || model.out_features() == 1 {
                        vec![c as f32]
                    } else {
                        (0..classes.len()).map(|i| if i == c { 1.0 } else { 0.0 }).collect()
                    }
                }
                TaskInfo::Regression { targets: names } => {
                    let k = names.len();
                    targets[a.row * k..(a.row + 1) * k].iter().map(|s| s.trim().parse::<f32>().context("target is not a number")).collect::<Result<_>>()?
                }
            };
            explain(&model.net, &model.params, &x, &y, model.meta.loss, lr)?
        }
        _ => bail!("give exactly one of --example lfd, --spec FILE, or --model MODEL --data DATA [--row N]"),
    };
    crate::out!("{e}")?;
    Ok(())
}

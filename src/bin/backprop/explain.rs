//! `backprop explain`: one backprop step on one sample, every number in seed 001's notation.

use crate::args::ExplainArgs;
use crate::data::load_for_model;
use anyhow::{bail, Context, Result};
use backprop::explain::{example_from_json, explain, lfd_example, Explanation};
use backprop::io::{Model, TaskInfo};
use backprop::nn::Mlp;
use backprop::Loss;

pub fn run(a: &ExplainArgs) -> Result<()> {
    let loss = a.loss;
    if !(1..=9).contains(&a.digits) {
        bail!("--digits {}: expected 1 to 9 significant digits", a.digits);
    }
    let e = match (&a.example, &a.spec, &a.model) {
        (Some(name), None, None) => {
            if name != "lfd" {
                bail!("--example {name:?}: the built-in example is `lfd` (Learning From Data's worked example)");
            }
            let (spec, params, x, y) = lfd_example();
            if a.format == "table" {
                crate::outln!("Learning From Data, backpropagation example: x = 2, y = 1, tanh units\n")?;
            }
            let net = Mlp::from_params(spec, &params)?;
            explain(&net, &params, &x, &y, loss.unwrap_or(Loss::SquaredError), a.lr.unwrap_or(0.1))?
        }
        (None, Some(path), None) => {
            let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
            let ex = example_from_json(&text).with_context(|| format!("in {}", path.display()))?;
            let net = Mlp::from_params(ex.spec, &ex.params)?;
            let (l, lr) = (loss.or(ex.loss).unwrap_or(Loss::SquaredError), a.lr.or(ex.lr).unwrap_or(0.1));
            explain(&net, &ex.params, &ex.input, &ex.target, l, lr).with_context(|| format!("in {}", path.display()))?
        }
        (None, None, Some(path)) => from_model(a, path, loss)?,
        _ => bail!("give exactly one of --example lfd, --spec FILE, or --model MODEL --data DATA [--row N]"),
    };
    print(&e, a)
}

fn print(e: &Explanation, a: &ExplainArgs) -> Result<()> {
    match a.format.as_str() {
        "table" => crate::out!("{}", e.table(a.digits))?,
        "json" => crate::outln!("{}", e.to_json())?,
        f => bail!("--format {f:?}: expected table or json"),
    }
    Ok(())
}

/// One row of data through a saved model.
fn from_model(a: &ExplainArgs, path: &std::path::Path, loss: Option<Loss>) -> Result<Explanation> {
    let model = Model::load(path).with_context(|| format!("loading model {}", path.display()))?;
    let Some(data) = &a.data else {
        bail!("--model needs --data with the sample to explain")
    };
    let input = load_for_model(data, &a.data_args, &model)?;
    let d = input.x.shape().last();
    let n = input.x.numel() / d.max(1);
    if a.row >= n {
        bail!(
            "{}: --row {} is out of range: the data has {n} rows",
            input.source,
            a.row
        );
    }
    let mut x = input.x.row(a.row).to_vec();
    model.meta.scaler.transform_row(&mut x);
    let Some(targets) = &input.targets else {
        bail!(
            "{}: no target column; explain needs the sample's target",
            input.source
        )
    };
    let loss = loss.unwrap_or(model.meta.loss);
    let y = target_of(&model, loss, targets, a.row, &input.source)?;
    Ok(explain(
        &model.net,
        &model.params,
        &x,
        &y,
        loss,
        a.lr.unwrap_or(0.1),
    )?)
}

/// Row `row`'s target as the loss reads it: a class index or a one-hot row, or the values.
fn target_of(
    model: &Model,
    loss: Loss,
    targets: &[String],
    row: usize,
    source: &dyn std::fmt::Display,
) -> Result<Vec<f32>> {
    Ok(match &model.meta.task {
        TaskInfo::Classification { classes } => {
            let t = targets[row].trim();
            let c = classes
                .iter()
                .position(|c| c == t)
                .with_context(|| format!("label {t:?} is not one of the model's classes"))?;
            if loss.takes_classes() || model.out_features() == 1 {
                vec![c as f32]
            } else {
                (0..classes.len())
                    .map(|i| if i == c { 1.0 } else { 0.0 })
                    .collect()
            }
        }
        TaskInfo::Regression { targets: names } => {
            let k = names.len();
            targets
                .get(row * k..(row + 1) * k)
                .with_context(|| format!("{}: row {} has no {k} target value(s)", source, row))?
                .iter()
                .map(|s| {
                    s.trim().parse::<f32>().with_context(|| {
                        format!("{}: row {}: target {s:?} is not a number", source, row)
                    })
                })
                .collect::<Result<_>>()?
        }
    })
}

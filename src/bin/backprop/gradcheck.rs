//! `backprop gradcheck MODEL DATA`: the model's loss on the first rows of DATA, its gradient by
//! backprop against central finite differences, per parameter tensor, with a pass/fail verdict.

use crate::args::GradcheckArgs;
use crate::data::load_for_model;
use anyhow::{bail, Context, Result};
use backprop::data::{Dataset, Features, Targets};
use backprop::io::{Model, TaskInfo};
use backprop::nn::{check_gradients, ModelCheck};
use backprop::train::encode_targets;

pub fn run(a: &GradcheckArgs) -> Result<()> {
    let model =
        Model::load(&a.model).with_context(|| format!("loading model {}", a.model.display()))?;
    let input = load_for_model(&a.data, &a.data_args, &model)?;
    let Some(targets) = input.targets else {
        bail!(
            "{}: no target column; gradcheck needs labelled data",
            input.source
        );
    };
    let d = input.x.shape().last();
    let n = a.rows.min(input.x.numel() / d.max(1));
    if n == 0 {
        bail!("{}: no rows to check", input.source);
    }
    let mut x = input.x.data()[..n * d].to_vec();
    for row in x.chunks_exact_mut(d) {
        model.meta.scaler.transform_row(row);
    }
    let t = match &model.meta.task {
        TaskInfo::Classification { classes } => Targets::Classes {
            labels: targets[..n]
                .iter()
                .map(|t| {
                    classes
                        .iter()
                        .position(|c| c == t.trim())
                        .map(|i| i as u32)
                        .with_context(|| format!("label {t:?} is not a class of the model"))
                })
                .collect::<Result<_>>()?,
            names: classes.clone(),
        },
        TaskInfo::Regression { targets: names } => Targets::Values {
            data: targets[..n * names.len()]
                .iter()
                .map(|s| s.trim().parse::<f32>().context("target is not a number"))
                .collect::<Result<_>>()?,
            names: names.clone(),
        },
    };
    let ds = Dataset::new(Features::F32(x.clone()), d, t)?;
    let idx: Vec<usize> = (0..n).collect();
    let out = model.out_features();
    let tt = encode_targets(model.meta.loss, &ds, out, &idx)?;
    let xt = backprop::Tensor::from_vec(x, [n, d])?;
    // gradcheck records its inputs as parameters 0, 1, …: the same ids the network's layers hold
    let report = check_gradients(
        &model.net,
        &model.params,
        &xt,
        &tt,
        model.meta.loss,
        a.eps,
        a.tol,
    )?;
    print(&report, n, a)
}

fn print(r: &ModelCheck, n: usize, a: &GradcheckArgs) -> Result<()> {
    crate::outln!(
        "{:<20} {:>8} {:>7} {:>11} {:>11} {:>11}  verdict",
        "parameter",
        "checked",
        "kinks",
        "max |abs|",
        "max rel",
        "noise"
    )?;
    for t in &r.tensors {
        crate::outln!(
            "{:<20} {:>8} {:>7} {:>11.3e} {:>11.3e} {:>11.3e}  {}",
            t.name,
            t.checked,
            t.kinks,
            t.max_abs,
            t.max_rel,
            t.noise,
            if t.failed == 0 {
                "pass".to_string()
            } else {
                format!("FAIL ({} elements)", t.failed)
            }
        )?;
    }
    let kinks: usize = r.tensors.iter().map(|t| t.kinks).sum();
    crate::outln!(
        "\n{n} rows, loss {:.6}, h = {}: each weight's backprop gradient (f32) against the central\n\
         difference (E(w + h) − E(w − h)) / 2h of the same network evaluated in f64. An element passes\n\
         when |analytic − numerical| ≤ {} × the larger of the two + noise, where noise is 1e-5 of the\n\
         largest gradient element (the precision f32 gives backprop's own numbers).\n\
         {kinks} element(s) skipped: their ±h step moved a ReLU/step unit across its kink, where the loss\n\
         has no derivative and a difference quotient measures the jump, not the gradient.\n{}",
        r.loss, a.eps, a.tol,
        if r.passed() { "PASS" } else { "FAIL" }
    )?;
    if !r.passed() {
        bail!("gradient check failed: backprop's gradient differs from the finite differences beyond round-off");
    }
    Ok(())
}

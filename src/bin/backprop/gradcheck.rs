//! `backprop gradcheck MODEL DATA`: the model's loss on the first rows of DATA, its gradient by
//! backprop against central finite differences, per parameter tensor, with a pass/fail verdict.

use crate::args::GradcheckArgs;
use crate::data::load_for_model;
use anyhow::{bail, Context, Result};
use backprop::data::{Dataset, Features, Targets};
use backprop::io::{Model, TaskInfo};
use backprop::nn::Module;
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
    let inputs = model.params.tensors().to_vec();
    // gradcheck records its inputs as parameters 0, 1, …: the same ids the network's layers hold
    // evaluation mode: dropout off, so the loss is a deterministic function of the weights
    let report = backprop::gradcheck(&inputs, a.eps, |g, _| {
        g.set_training(false);
        let xv = g.input(&xt);
        let tv = g.input(&tt);
        let (_, y) = model
            .net
            .forward_for_loss(g, xv, model.meta.loss)
            .expect("input width checked above");
        model.meta.loss.apply(g, y, tv)
    });
    crate::outln!(
        "{:<20} {:>12} {:>12} {:>12}  verdict",
        "parameter",
        "shape",
        "max |abs|",
        "max rel"
    )?;
    let mut ok = true;
    for ((name, t), r) in model.params.named().zip(&report.inputs) {
        let pass = r.max_rel <= a.tol;
        ok &= pass;
        let shape = format!("{:?}", t.dims());
        crate::outln!(
            "{name:<20} {shape:>12} {:>12.3e} {:>12.3e}  {}",
            r.max_abs,
            r.max_rel,
            if pass { "pass" } else { "FAIL" }
        )?;
    }
    crate::outln!(
        "{} rows, h = {}, tolerance {} on the relative error: {}",
        n,
        a.eps,
        a.tol,
        if ok { "PASS" } else { "FAIL" }
    )?;
    if !ok {
        bail!("gradient check failed (relative error above {})", a.tol);
    }
    Ok(())
}

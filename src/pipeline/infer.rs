//! What the pipeline decides from the data: the output layer, the task, whether target scaling
//! folds into the network, and the fold itself.

use crate::data::{Dataset, Targets};
use crate::error::{Error, Result};
use crate::io::{Model, TargetScale, TaskInfo};
use crate::loss::Loss;
use crate::nn::{Activation, MlpSpec};

/// Whether target scaling can be folded into this network's output layer exactly.
pub(super) fn foldable(spec: &MlpSpec, loss: Loss) -> bool {
    let last = spec.layers.last().expect("validated: at least one layer");
    matches!(
        loss,
        Loss::Mse | Loss::SquaredError | Loss::HalfSse | Loss::Mae
    ) && last.activation == Activation::Identity
        && last.bias == crate::nn::Bias::PerUnit
        && last.tie.is_none()
        && last.trainable.weight
        && last.trainable.bias
}

/// Per-target mean and standard deviation (f64 sums) of a regression set; `None` for classes.
pub(super) fn target_scale(train: &Dataset) -> Option<TargetScale> {
    let Targets::Values { data, names } = train.targets() else {
        return None;
    };
    let (k, n) = (names.len(), train.len().max(1) as f64);
    let mut mean = vec![0.0f64; k];
    data.iter()
        .enumerate()
        .for_each(|(i, &v)| mean[i % k] += v as f64 / n);
    let mut var = vec![0.0f64; k];
    data.iter()
        .enumerate()
        .for_each(|(i, &v)| var[i % k] += (v as f64 - mean[i % k]).powi(2) / n);
    let std = var
        .iter()
        .map(|v| if *v > 0.0 { v.sqrt() as f32 } else { 1.0 })
        .collect();
    Some(TargetScale {
        mean: mean.iter().map(|&m| m as f32).collect(),
        std,
    })
}

/// y = std·(W·x + b) + mean, as the output layer's own weights: W ← diag(std)·W,
/// b ← std·b + mean.
pub(super) fn fold_target_scale(model: &mut Model, ts: &TargetScale) -> Result<()> {
    let last = model
        .net
        .layers
        .last()
        .expect("validated: at least one layer");
    let (w, b) = (last.weight, last.bias.expect("foldable: a per-unit bias"));
    let inp = last.in_features;
    let p = &mut model.params;
    for (j, row) in p[w].data_mut().chunks_exact_mut(inp).enumerate() {
        row.iter_mut().for_each(|v| *v *= ts.std[j]);
    }
    for (j, v) in p[b].data_mut().iter_mut().enumerate() {
        *v = *v * ts.std[j] + ts.mean[j];
    }
    Ok(())
}

pub(super) fn is_binary(v: &[f32]) -> bool {
    v.iter().all(|&x| x == 0.0 || x == 1.0)
}

/// The output layer's width and default activation for `data` under `loss`.
pub(super) fn output_layer(data: &Dataset, loss: Loss) -> Result<(usize, Activation)> {
    Ok(match (data.targets(), loss) {
        (Targets::Classes { names, .. }, l) if l.takes_classes() => {
            (names.len(), Activation::Identity)
        }
        (Targets::Classes { names, .. }, _) if names.len() <= 2 => (1, Activation::Sigmoid),
        (Targets::Classes { names, .. }, Loss::BceWithLogits) => {
            return Err(Error::invalid(
                "loss",
                format!("bce for {} classes", names.len()),
                "two classes for bce (cross_entropy for more)",
            ))
        }
        (Targets::Classes { names, .. }, _) => (names.len(), Activation::Sigmoid),
        (Targets::Values { .. }, l) if l.takes_classes() => {
            return Err(Error::invalid(
                "loss",
                l,
                "a loss for numeric targets (the target is numeric: try --task classification)",
            ))
        }
        (Targets::Values { names, .. }, Loss::BceWithLogits) => (names.len(), Activation::Sigmoid),
        (Targets::Values { names, .. }, _) => (names.len(), Activation::Identity),
    })
}

pub(super) fn task_of(data: &Dataset) -> TaskInfo {
    match data.targets() {
        Targets::Classes { names, .. } => TaskInfo::Classification {
            classes: names.clone(),
        },
        Targets::Values { names, .. } => TaskInfo::Regression {
            targets: names.clone(),
        },
    }
}

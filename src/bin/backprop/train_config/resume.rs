//! The check that flags given with `--resume` agree with the checkpoint's run.

use super::{describe, pipeline};
use crate::args::TrainArgs;
use anyhow::{bail, Result};
use backprop::data::{Dataset, ScaleKind};
use backprop::io::{Checkpoint, DataInfo};
use backprop::optim::{LrSchedule, OptimizerConfig};
use backprop::pipeline::Pipeline;
use backprop::train::EarlyStopping;

/// One flag (or group) compared on `--resume`: whether the user gave it, its name, whether it
/// agrees with the checkpoint, and the checkpoint's value.
type Check = (bool, &'static str, bool, String);

/// With `--resume`, every training flag the user gave must agree with the checkpoint's run
/// (only --epochs, the output flags and --threads may change); the error names each that does
/// not, with the checkpoint's value.
pub fn check_resume(a: &TrainArgs, ckpt: &Checkpoint, data: &Dataset) -> Result<()> {
    let fresh = pipeline(a)?;
    let mut checks = model_checks(a, &fresh, ckpt, data)?;
    checks.extend(trainer_checks(a, &fresh, ckpt));
    let bad: Vec<String> = checks
        .into_iter()
        .filter(|(given, _, same, _)| *given && !same)
        .map(|(_, flags, _, theirs)| format!("{flags} (the checkpoint has {theirs})"))
        .collect();
    if !bad.is_empty() {
        bail!("--resume: these flags conflict with the checkpoint's run: {}; drop them (only --epochs, the output flags and --threads may change on resume)", bad.join("; "));
    }
    Ok(())
}

/// The network, loss, initialiser, seed, splits and scaling.
fn model_checks(
    a: &TrainArgs,
    fresh: &Pipeline,
    ckpt: &Checkpoint,
    data: &Dataset,
) -> Result<Vec<Check>> {
    let meta = &ckpt.model.meta;
    let info = ckpt.data.as_ref();
    let split = |f: fn(&DataInfo) -> f32| info.map_or("?".into(), |i| f(i).to_string());
    Ok(vec![
        network_check(a, fresh, ckpt, data)?,
        (
            a.loss.is_some(),
            "--loss",
            fresh.loss == Some(meta.loss),
            meta.loss.to_string(),
        ),
        (
            a.init.is_some(),
            "--init",
            fresh.init == Some(meta.init),
            format!("{:?}", meta.init),
        ),
        (
            a.seed.is_some(),
            "--seed",
            fresh.trainer.seed == meta.seed,
            meta.seed.to_string(),
        ),
        (
            a.val_split.is_some(),
            "--val-split",
            info.is_some_and(|i| i.val_split == fresh.val_split),
            split(|i| i.val_split),
        ),
        (
            a.test_split.is_some(),
            "--test-split",
            info.is_some_and(|i| i.test_split == fresh.test_split),
            split(|i| i.test_split),
        ),
        (
            a.scale.is_some(),
            "--scale",
            scale_of(&meta.scaler) == fresh.scale
                || fresh.scale == ScaleKind::Auto
                    && matches!(
                        scale_of(&meta.scaler),
                        ScaleKind::None | ScaleKind::Standard
                    ),
            format!("{:?}", scale_of(&meta.scaler)),
        ),
    ])
}

/// The network's shape.
fn network_check(
    a: &TrainArgs,
    fresh: &Pipeline,
    ckpt: &Checkpoint,
    data: &Dataset,
) -> Result<Check> {
    let meta = &ckpt.model.meta;
    let shape_given = a.arch.is_some()
        || a.hidden.is_some()
        || a.activation.is_some()
        || a.output_activation.is_some()
        || a.dropout.is_some()
        || a.batch_norm;
    let loss = fresh.loss.unwrap_or(meta.loss);
    let spec = if shape_given {
        Some(fresh.spec_for(data, loss)?.without_init())
    } else {
        None
    };
    Ok((
        shape_given,
        "the network (--arch/--hidden/--activation/--output-activation/--dropout/--batch-norm)",
        spec.as_ref() == Some(&meta.architecture),
        describe(&meta.architecture),
    ))
}

/// The optimizer and the training settings.
fn trainer_checks(a: &TrainArgs, fresh: &Pipeline, ckpt: &Checkpoint) -> Vec<Check> {
    let (t, ours) = (&ckpt.trainer, &fresh.trainer);
    let sched = |s: &Option<LrSchedule>| s.as_ref().map_or("none".to_string(), |s| s.to_string());
    let patience = |e: &Option<EarlyStopping>| e.map(|e| e.patience);
    vec![
        optimizer_check(a, &t.optimizer),
        (
            a.batch_size.is_some(),
            "--batch-size",
            ours.batch_size == t.batch_size,
            t.batch_size.to_string(),
        ),
        (
            a.early_stopping.is_some(),
            "--early-stopping",
            patience(&ours.early_stopping) == patience(&t.early_stopping),
            format!("{:?}", patience(&t.early_stopping)),
        ),
        (
            a.target_loss.is_some(),
            "--target-loss",
            ours.target_loss == t.target_loss,
            format!("{:?}", t.target_loss),
        ),
        (
            a.clip_norm.is_some(),
            "--clip-norm",
            ours.clip_grad_norm == t.clip_grad_norm,
            format!("{:?}", t.clip_grad_norm),
        ),
        (
            a.lr_schedule.is_some() || a.warmup.is_some(),
            "--lr-schedule/--warmup",
            sched(&ours.lr_schedule) == sched(&t.lr_schedule),
            sched(&t.lr_schedule),
        ),
        (
            a.freeze.is_some(),
            "--freeze",
            ours.freeze == t.freeze,
            format!("{:?}", t.freeze),
        ),
        (
            a.class_weight.is_some(),
            "--class-weight",
            t.class_weights.is_some(),
            format!("{:?}", t.class_weights),
        ),
    ]
}

/// The optimizer flags, laid over the checkpoint's optimizer.
fn optimizer_check(a: &TrainArgs, theirs: &OptimizerConfig) -> Check {
    let given = a.optimizer.is_some()
        || a.lr.is_some()
        || a.momentum.is_some()
        || a.nesterov
        || a.weight_decay.is_some()
        || a.history_size.is_some();
    (
        given,
        "the optimizer (--optimizer/--lr/--momentum/--nesterov/--weight-decay/--history-size)",
        optimizer_agrees(a, theirs),
        format!("{theirs:?}"),
    )
}

/// Whether the optimizer flags the user gave agree with the checkpoint's optimizer: the same
/// name, the same learning rate, and each other flag, laid over the checkpoint's optimizer,
/// leaving it unchanged.
fn optimizer_agrees(a: &TrainArgs, theirs: &OptimizerConfig) -> bool {
    let unchanged = |o: OptimizerConfig| &o == theirs;
    a.optimizer
        .as_deref()
        .is_none_or(|n| n.eq_ignore_ascii_case(theirs.name()))
        && a.lr.is_none_or(|lr| lr == theirs.lr())
        && a.momentum
            .is_none_or(|m| unchanged(theirs.clone().with_momentum(m)))
        && a.weight_decay
            .is_none_or(|w| unchanged(theirs.clone().with_weight_decay(w)))
        && (!a.nesterov || unchanged(theirs.clone().with_nesterov(true)))
        && a.history_size
            .is_none_or(|n| unchanged(theirs.clone().with_history_size(n)))
}

fn scale_of(s: &backprop::data::Scaler) -> ScaleKind {
    match s {
        backprop::data::Scaler::None => ScaleKind::None,
        backprop::data::Scaler::Standard { .. } => ScaleKind::Standard,
        backprop::data::Scaler::MinMax { .. } => ScaleKind::MinMax,
    }
}

//! `backprop train`'s flags → the library's `Pipeline` (defaults applied here), and the check
//! that flags given with `--resume` agree with the checkpoint.

use crate::args::TrainArgs;
use anyhow::{bail, Context, Result};
use backprop::data::{Dataset, ScaleKind};
use backprop::io::{Checkpoint, DataInfo, StateDict};
use backprop::nn::{Activation, Init, MlpSpec};
use backprop::optim::{LrSchedule, OptimizerConfig};
use backprop::pipeline::{Network, Pipeline};
use backprop::train::{EarlyStopping, Pretrain};
use backprop::Loss;
use std::path::PathBuf;

/// The pipeline the flags describe, for a fresh run.
pub fn pipeline(a: &TrainArgs) -> Result<Pipeline> {
    let mut p = Pipeline {
        network: network(a)?,
        loss: a.loss.as_deref().map(parse::<Loss>).transpose()?,
        init: a.init.as_deref().map(parse_init).transpose()?,
        scale: scale(a.scale.as_deref().unwrap_or("auto"))?,
        val_split: a.val_split.unwrap_or(0.1),
        // the built-in demo holds out a test part to report; user data trains on all of it
        // (scripts/defaults.py: iris 0.933 → 0.967, digits 0.972 → 0.981 median accuracy)
        test_split: a
            .test_split
            .unwrap_or(if a.data.is_none() { 0.1 } else { 0.0 }),
        out: Some(a.out.clone()),
        checkpoint: Some(checkpoint_path(a)),
        checkpoint_every: a.checkpoint_every,
        ..Pipeline::default()
    };
    // the small-data rule (no validation part, ≤ 100 epochs, training-loss plateau) is a default:
    // any of the flags it decides takes the choice back
    if a.val_split.is_some() || a.epochs.is_some() || a.early_stopping.is_some() {
        p.small_data = None;
    }
    let (vf, tf) = (p.val_split, p.test_split);
    if !(0.0..1.0).contains(&vf) || !(0.0..1.0).contains(&tf) || vf + tf >= 1.0 {
        bail!("--val-split {vf} and --test-split {tf} must be fractions in [0, 1) that leave data to train on");
    }
    let t = &mut p.trainer;
    t.optimizer = optimizer(a)?;
    t.epochs = a.epochs.unwrap_or(200);
    if t.epochs == 0 {
        bail!("--epochs 0: expected at least 1 epoch");
    }
    t.batch_size = match a.batch_size.as_deref() {
        // each L-BFGS epoch is one step on the whole training set
        None if t.optimizer.is_full_batch_closure() => 0,
        Some(b) if t.optimizer.is_full_batch_closure() && batch_size(b)? != 0 => {
            bail!("--batch-size {b}: lbfgs trains on the full batch (each epoch is one L-BFGS step over the whole training set); drop --batch-size or give `full`")
        }
        b => batch_size(b.unwrap_or("32"))?,
    };
    t.seed = a.seed.unwrap_or(0);
    let patience = a.early_stopping.unwrap_or(10);
    t.early_stopping = (patience > 0).then(|| EarlyStopping::new(patience));
    t.target_loss = a.target_loss;
    t.clip_grad_norm = a.clip_norm;
    if let Some(prec) = a.precision.as_deref() {
        t.precision = prec
            .parse()
            .map_err(|_| anyhow::anyhow!("--precision {prec:?}: expected f32 or bf16"))?;
    }
    t.lr_schedule = schedule(a)?;
    t.freeze = freeze(a);
    t.stop_on_divergence = !a.allow_divergence;
    p.pretrain = a
        .pretrain
        .as_deref()
        .map(|s| pretrain(s, t_seed(a)))
        .transpose()?;
    if a.init_from.is_some() && a.resume.is_some() {
        bail!("--init-from and --resume both give the weights to start from; give one of them");
    }
    p.init_from = a
        .init_from
        .as_ref()
        .map(|path| {
            StateDict::load(path).with_context(|| format!("--init-from {}", path.display()))
        })
        .transpose()?;
    p.balanced_class_weights = match a.class_weight.as_deref() {
        None => false,
        Some("balanced") => true,
        Some(w) => bail!("--class-weight {w:?}: expected `balanced`"),
    };
    Ok(p)
}

pub fn checkpoint_path(a: &TrainArgs) -> PathBuf {
    a.checkpoint
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("{}.ckpt", a.out.display())))
}

fn parse<T: std::str::FromStr<Err = impl std::fmt::Display>>(s: &str) -> Result<T> {
    s.parse::<T>().map_err(|e| anyhow::anyhow!("{e}"))
}

fn network(a: &TrainArgs) -> Result<Network> {
    if let Some(path) = &a.arch {
        let shape_flags = [
            a.hidden.is_some(),
            a.activation.is_some(),
            a.output_activation.is_some(),
            a.dropout.is_some(),
            a.batch_norm,
        ];
        if shape_flags.iter().any(|&g| g) {
            bail!("--arch gives the whole network: drop --hidden, --activation, --output-activation, --dropout and --batch-norm (set them in {})", path.display());
        }
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let spec = MlpSpec::from_json(&text).with_context(|| format!("in {}", path.display()))?;
        return Ok(Network::Spec(spec));
    }
    let Some(hidden) = a.hidden.as_deref() else {
        return Ok(Network::Hidden {
            sizes: None,
            activation: parse::<Activation>(a.activation.as_deref().unwrap_or("relu"))?,
            output_activation: a
                .output_activation
                .as_deref()
                .map(parse::<Activation>)
                .transpose()?,
            dropout: dropout(a)?,
            batch_norm: a.batch_norm,
        });
    };
    let sizes: Vec<usize> = if hidden == "none" || hidden.is_empty() {
        vec![]
    } else {
        hidden
            .split(',')
            .map(|h| h.trim().parse::<usize>().ok().filter(|&n| n > 0))
            .collect::<Option<_>>()
            .with_context(|| format!("--hidden {hidden:?}: expected comma-separated positive layer sizes, like 64,32"))?
    };
    Ok(Network::Hidden {
        sizes: Some(sizes),
        activation: parse::<Activation>(a.activation.as_deref().unwrap_or("relu"))?,
        output_activation: a
            .output_activation
            .as_deref()
            .map(parse::<Activation>)
            .transpose()?,
        dropout: dropout(a)?,
        batch_norm: a.batch_norm,
    })
}

fn dropout(a: &TrainArgs) -> Result<f32> {
    let dropout = a.dropout.unwrap_or(0.0);
    if !(0.0..1.0).contains(&dropout) {
        bail!("--dropout {dropout}: expected a probability in [0, 1)");
    }
    Ok(dropout)
}

fn optimizer(a: &TrainArgs) -> Result<OptimizerConfig> {
    if let Some(lr) = a.lr {
        if !(lr.is_finite() && lr > 0.0) {
            bail!("--lr {lr}: expected a positive learning rate");
        }
    }
    let name = a.optimizer.as_deref().unwrap_or("adam");
    let mut o = OptimizerConfig::default_for(name, a.lr)?;
    // (on --resume these flags are laid over the checkpoint's optimizer instead: `overlay`)
    let has_momentum = matches!(o.name(), "sgd" | "rmsprop") || a.resume.is_some();
    if a.momentum.is_some() && !has_momentum {
        bail!("--momentum applies to sgd and rmsprop, not {name} (Adam's β₁ plays that part); add --optimizer sgd");
    }
    if a.nesterov && o.name() != "sgd" && a.resume.is_none() {
        bail!("--nesterov applies to sgd, not {name}; add --optimizer sgd");
    }
    let is_lbfgs = o.name() == "lbfgs";
    if a.history_size.is_some() && !is_lbfgs && a.resume.is_none() {
        bail!("--history-size applies to lbfgs, not {name}; add --optimizer lbfgs");
    }
    if a.weight_decay.is_some() && is_lbfgs {
        bail!("--weight-decay does not apply to lbfgs (it minimises the loss as given)");
    }
    if let Some(n) = a.history_size {
        if n == 0 {
            bail!("--history-size 0: expected at least 1 remembered pair");
        }
        o = o.with_history_size(n);
    }
    if let Some(m) = a.momentum {
        o = o.with_momentum(m);
    }
    if let Some(w) = a.weight_decay {
        o = o.with_weight_decay(w);
    }
    Ok(o.with_nesterov(a.nesterov))
}

fn schedule(a: &TrainArgs) -> Result<Option<LrSchedule>> {
    let text = match (a.warmup, a.lr_schedule.as_deref()) {
        (None, None) => return Ok(None),
        (Some(w), None) => format!("warmup:{w}"),
        (Some(w), Some(s)) if !s.starts_with("warmup") => format!("warmup:{w},{s}"),
        (Some(_), Some(s)) => {
            bail!("--warmup and --lr-schedule {s:?} both give a warm-up; use one")
        }
        (None, Some(s)) => s.to_string(),
    };
    Ok(Some(
        text.parse::<LrSchedule>()
            .with_context(|| format!("--lr-schedule {text:?}"))?,
    ))
}

fn t_seed(a: &TrainArgs) -> u64 {
    a.seed.unwrap_or(0)
}

/// `autoencoder[:EPOCHS[:DENOISE]]`.
fn pretrain(s: &str, seed: u64) -> Result<Pretrain> {
    let bad = || {
        anyhow::anyhow!(
            "--pretrain {s:?}: expected autoencoder[:EPOCHS[:DENOISE]], e.g. autoencoder:10:0.2"
        )
    };
    let mut parts = s.split(':');
    if parts.next() != Some("autoencoder") {
        return Err(bad());
    }
    let mut p = Pretrain::new(10);
    if let Some(e) = parts.next() {
        p.epochs = e.parse().ok().filter(|&e: &usize| e > 0).ok_or_else(bad)?;
    }
    if let Some(d) = parts.next() {
        p.denoise = d
            .parse()
            .ok()
            .filter(|d: &f32| (0.0..1.0).contains(d))
            .ok_or_else(bad)?;
    }
    if parts.next().is_some() {
        return Err(bad());
    }
    p.seed = seed;
    Ok(p)
}

fn freeze(a: &TrainArgs) -> Vec<String> {
    a.freeze
        .as_deref()
        .map(|f| {
            f.split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default()
}

fn batch_size(s: &str) -> Result<usize> {
    match s {
        "full" => Ok(0),
        s => s
            .parse()
            .with_context(|| format!("--batch-size {s:?}: expected a number or `full`")),
    }
}

fn scale(s: &str) -> Result<ScaleKind> {
    Ok(match s {
        "standard" => ScaleKind::Standard,
        "minmax" => ScaleKind::MinMax,
        "none" => ScaleKind::None,
        "auto" => ScaleKind::Auto,
        s => bail!("--scale {s:?}: expected auto, standard, minmax or none"),
    })
}

fn parse_init(s: &str) -> Result<Init> {
    Ok(match s {
        "pytorch" | "default" => Init::PyTorch,
        "xavier_uniform" | "glorot_uniform" => Init::XavierUniform,
        "xavier_normal" | "glorot_normal" => Init::XavierNormal,
        "kaiming_uniform" | "he_uniform" => Init::KaimingUniform,
        "kaiming_normal" | "he_normal" => Init::KaimingNormal,
        "zeros" => Init::Zeros,
        _ => match s.strip_prefix("uniform:").map(str::parse::<f32>) {
            Some(Ok(e)) if e > 0.0 => Init::Uniform(e),
            _ => bail!("--init {s:?}: expected pytorch, xavier_uniform, xavier_normal, kaiming_uniform, kaiming_normal, zeros or uniform:EPS"),
        },
    })
}

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
    let split = |f: fn(&DataInfo) -> f32| info.map_or("?".into(), |i| f(i).to_string());
    Ok(vec![
        (
            shape_given,
            "the network (--arch/--hidden/--activation/--output-activation/--dropout/--batch-norm)",
            spec.as_ref() == Some(&meta.architecture),
            describe(&meta.architecture),
        ),
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

/// The optimizer and the training settings.
fn trainer_checks(a: &TrainArgs, fresh: &Pipeline, ckpt: &Checkpoint) -> Vec<Check> {
    let (t, ours) = (&ckpt.trainer, &fresh.trainer);
    let opt_given = a.optimizer.is_some()
        || a.lr.is_some()
        || a.momentum.is_some()
        || a.nesterov
        || a.weight_decay.is_some()
        || a.history_size.is_some();
    // the flags given, laid over the checkpoint's optimizer: equal unless one of them differs
    let mine = overlay(a, &t.optimizer);
    let sched = |s: &Option<LrSchedule>| s.as_ref().map_or("none".to_string(), |s| s.to_string());
    let patience = |e: &Option<EarlyStopping>| e.map(|e| e.patience);
    vec![
        (
            opt_given,
            "the optimizer (--optimizer/--lr/--momentum/--nesterov/--weight-decay/--history-size)",
            mine.as_ref() == Some(&t.optimizer),
            format!("{:?}", t.optimizer),
        ),
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

/// The checkpoint's optimizer with the optimizer flags the user gave laid over it (`None` if
/// they name another optimizer or cannot be applied).
fn overlay(a: &TrainArgs, theirs: &OptimizerConfig) -> Option<OptimizerConfig> {
    if a.optimizer
        .as_deref()
        .is_some_and(|n| !n.eq_ignore_ascii_case(theirs.name()))
    {
        return None;
    }
    let mut o = theirs.clone();
    if let Some(lr) = a.lr {
        o = o.with_lr(lr);
    }
    if let Some(m) = a.momentum {
        o = o.with_momentum(m);
    }
    if let Some(w) = a.weight_decay {
        o = o.with_weight_decay(w);
    }
    if a.nesterov {
        o = o.with_nesterov(true);
    }
    if let Some(n) = a.history_size {
        o = o.with_history_size(n);
    }
    Some(o)
}

fn scale_of(s: &backprop::data::Scaler) -> ScaleKind {
    match s {
        backprop::data::Scaler::None => ScaleKind::None,
        backprop::data::Scaler::Standard { .. } => ScaleKind::Standard,
        backprop::data::Scaler::MinMax { .. } => ScaleKind::MinMax,
    }
}

/// `64-32(relu)-10(identity)` style.
pub fn describe(spec: &MlpSpec) -> String {
    let mut sizes = vec![spec.in_features.to_string()];
    sizes.extend(
        spec.layers
            .iter()
            .map(|l| format!("{}({})", l.out_features, l.activation)),
    );
    sizes.join("-")
}

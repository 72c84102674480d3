//! `backprop train`'s flags → the library's `Pipeline` (defaults applied here), and the check
//! that flags given with `--resume` agree with the checkpoint.

use crate::args::{defaults, hidden_defaults, patience, BatchSize, TrainArgs, DEMO_TEST_SPLIT};
use anyhow::{bail, Context, Result};
use backprop::io::StateDict;
use backprop::nn::MlpSpec;
use backprop::optim::{LinearWarmup, LrSchedule, OptimizerConfig};
use backprop::pipeline::{Network, Pipeline};
use backprop::train::{EarlyStopping, Trainer};
use std::path::PathBuf;

mod resume;
pub use resume::check_resume;

/// The pipeline the flags describe, for a fresh run.
pub fn pipeline(a: &TrainArgs) -> Result<Pipeline> {
    let d = defaults();
    let mut p = Pipeline {
        network: network(a)?,
        loss: a.loss,
        init: a.init,
        scale: a.scale.unwrap_or(d.scale),
        val_split: a.val_split.unwrap_or(d.val_split),
        test_split: a.test_split.unwrap_or(if a.data.is_none() {
            DEMO_TEST_SPLIT
        } else {
            d.test_split
        }),
        out: Some(a.out.clone()),
        checkpoint: Some(checkpoint_path(a)),
        checkpoint_every: a.checkpoint_every,
        ..d
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
    trainer(a, &mut p.trainer)?;
    let seed = p.trainer.seed;
    p.pretrain = a.pretrain.clone().map(|mut pre| {
        pre.seed = seed;
        pre
    });
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
    // the library checks again when training starts; here a bad value is refused before the
    // data is read (and the start line printed)
    p.trainer.validate()?;
    Ok(p)
}

/// The trainer's settings from the flags, over the library's defaults in `t`.
fn trainer(a: &TrainArgs, t: &mut Trainer) -> Result<()> {
    t.optimizer = optimizer(a)?;
    t.epochs = a.epochs.unwrap_or(t.epochs);
    if t.epochs == 0 {
        bail!("--epochs 0: expected at least 1 epoch");
    }
    t.batch_size = match a.batch_size {
        // each L-BFGS epoch is one step on the whole training set
        None if t.optimizer.is_full_batch_closure() => 0,
        Some(BatchSize(b)) if t.optimizer.is_full_batch_closure() && b != 0 => {
            bail!("--batch-size {b}: lbfgs trains on the full batch (each epoch is one L-BFGS step over the whole training set); drop --batch-size or give `full`")
        }
        Some(BatchSize(b)) => b,
        None => t.batch_size,
    };
    t.seed = a.seed.unwrap_or(t.seed);
    let patience = a.early_stopping.unwrap_or_else(patience);
    t.early_stopping = (patience > 0).then(|| EarlyStopping::new(patience));
    t.target_loss = a.target_loss;
    t.clip_grad_norm = a.clip_norm;
    t.precision = a.precision.unwrap_or(t.precision);
    t.lr_schedule = schedule(a)?;
    t.freeze = freeze(a);
    t.stop_on_divergence = !a.allow_divergence;
    Ok(())
}

pub fn checkpoint_path(a: &TrainArgs) -> PathBuf {
    a.checkpoint
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("{}.ckpt", a.out.display())))
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
    let sizes = match a.hidden.as_deref() {
        None => None,
        Some("none" | "") => Some(vec![]),
        Some(hidden) => Some(
            hidden
                .split(',')
                .map(|h| h.trim().parse::<usize>().ok().filter(|&n| n > 0))
                .collect::<Option<_>>()
                .with_context(|| format!("--hidden {hidden:?}: expected comma-separated positive layer sizes, like 64,32"))?,
        ),
    };
    Ok(Network::Hidden {
        sizes,
        activation: a.activation.unwrap_or(hidden_defaults().0),
        output_activation: a.output_activation,
        dropout: dropout(a)?,
        batch_norm: a.batch_norm,
    })
}

fn dropout(a: &TrainArgs) -> Result<f32> {
    let dropout = a.dropout.unwrap_or(hidden_defaults().1);
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
    let default = OptimizerConfig::default();
    let name = a.optimizer.as_deref().unwrap_or(default.name());
    let mut o = OptimizerConfig::default_for(name, a.lr)?;
    // (on --resume these flags are laid over the checkpoint's optimizer instead: resume.rs)
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
    let warmup = |w| LinearWarmup::new(w).build().context("--warmup");
    Ok(match (a.warmup, a.lr_schedule.clone()) {
        (None, s) => s,
        (Some(_), Some(LrSchedule::Warmup { .. })) => {
            bail!("--warmup and --lr-schedule warmup:… both give a warm-up; use one")
        }
        (Some(w), then) => Some(LrSchedule::Warmup {
            warmup: warmup(w)?,
            then: then.map(Box::new),
        }),
    })
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

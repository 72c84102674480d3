//! `backprop train`: flags → the library's `Pipeline` (train_config.rs) → printing. The
//! pipeline itself (split, scale, build, train, checkpoint, test report, save) is library code.

use crate::args::{DataArgs, TrainArgs};
use crate::data::{load, Source};
use crate::errln;
use crate::progress::{metrics_json, short, EpochLines, Reporter};
use crate::train_config::{check_resume, describe, pipeline};
use anyhow::{bail, Context, Result};
use backprop::data::{Column, DropReason};
use backprop::io::Checkpoint;
use backprop::pipeline::{Hooks, Outcome, Prepared};
use backprop::train::{GradientReduce, History, Metrics, StopReason};
use std::io::Write as _;
use std::time::Instant;

pub fn run(a: &TrainArgs) -> Result<()> {
    if a.distributed {
        #[cfg(feature = "mpi")]
        return crate::distributed::train(a);
        #[cfg(not(feature = "mpi"))]
        bail!("--distributed: this backprop was built without MPI; build it with `cargo build --release --features mpi` (needs Open MPI: see the README) and start it under mpirun");
    }
    let started = Instant::now();
    let outcome = fit(a, None, true)?;
    finish(a, &outcome, started)
}

/// Loads the data and trains (as one rank of a distributed run when `reduce` is given; only
/// the `lead` process writes files).
pub fn fit(a: &TrainArgs, reduce: Option<&mut dyn GradientReduce>, lead: bool) -> Result<Outcome> {
    backprop::set_num_threads(a.threads);
    let mut reporter = Reporter::new(a.quiet, a.json, epoch_lines(a.log_every)?);
    if lead {
        check_destinations(a)?;
    }
    let src = Source::parse(a.data.as_deref());
    let ckpt = match &a.resume {
        Some(path) => {
            Some(Checkpoint::load(path).with_context(|| format!("--resume {}", path.display()))?)
        }
        None => None,
    };
    let data_args = match &ckpt {
        Some(c) => resume_data_args(&a.data_args, c)?,
        None => a.data_args.clone(),
    };
    let data = load(&src, &data_args, false)?;
    let test = match src {
        Source::Mnist(_) => Some(load(&src, &data_args, true)?),
        _ => None,
    };
    let p = pipeline(a)?;
    let stop = crate::signals::stop_flag()?;
    let mut prepared = match ckpt {
        Some(ckpt) => {
            check_resume(a, &ckpt, &data)?;
            if a.epochs.is_some_and(|e| e < ckpt.state.epoch) {
                bail!(
                    "--epochs {}: the checkpoint has already run {} epochs; give more to extend it",
                    a.epochs.unwrap_or(0),
                    ckpt.state.epoch
                );
            }
            p.prepare_resume(ckpt, &data, test.as_ref(), a.epochs)?
        }
        None => p.prepare(&data, test.as_ref())?,
    };
    if lead && !a.quiet && !matches!(src, Source::Embedded | Source::Mnist(_)) {
        let default_target = data_args.target.is_none();
        let plan = crate::inspect::plan_text(&data, &src.describe(), default_target);
        crate::errln!("{}", plan.trim_end());
    }
    if !lead {
        (prepared.out, prepared.checkpoint) = (None, None);
    }
    print_start(a, &src, &prepared);
    let (done, end) = prepared.epochs();
    reporter.start(end, done, prepared.train.len());
    let hooks = Hooks {
        observer: Some(&mut reporter),
        stop: Some(&stop),
        gradient_reduce: match reduce {
            Some(r) => Some(r),
            None => None,
        },
    };
    let outcome = prepared.run(hooks)?;
    reporter.finish();
    Ok(outcome)
}

/// The data flags of a resumed run: the checkpoint's target, dropped and kept columns and
/// imputation (from its column plan), so they need not be repeated; a flag given must agree.
fn resume_data_args(given: &DataArgs, ckpt: &Checkpoint) -> Result<DataArgs> {
    let mut d = given.clone();
    let Some(plan) = &ckpt.model.meta.columns else {
        return Ok(d);
    };
    let dropped: Vec<String> = plan
        .columns
        .iter()
        .filter(|c| {
            matches!(
                c,
                Column::Dropped {
                    reason: DropReason::User,
                    ..
                }
            )
        })
        .map(|c| c.name().to_string())
        .collect();
    let weight: Vec<String> = plan
        .columns
        .iter()
        .filter(|c| {
            matches!(
                c,
                Column::Dropped {
                    reason: DropReason::SampleWeight,
                    ..
                }
            )
        })
        .map(|c| c.name().to_string())
        .collect();
    let impute = format!("{:?}", plan.impute).to_lowercase();
    let theirs = [
        ("--target", &mut d.target, plan.target_names()),
        ("--drop", &mut d.drop, dropped),
        ("--keep", &mut d.keep, plan.kept.clone()),
        ("--sample-weight", &mut d.sample_weight, weight),
        ("--impute", &mut d.impute, vec![impute]),
    ];
    for (flag, mine, theirs) in theirs {
        let list = theirs.join(",");
        match mine {
            Some(m) if split_names(m) != theirs => bail!(
                "--resume: {flag} {m} conflicts with the checkpoint's run ({}); leave it out, the checkpoint has it",
                if list.is_empty() { "none".to_string() } else { format!("{flag} {list}") }
            ),
            Some(_) => {}
            None if !theirs.is_empty() => *mine = Some(list),
            None => {}
        }
    }
    Ok(d)
}

/// `a, b` → `["a", "b"]`.
fn split_names(s: &str) -> Vec<String> {
    s.split(',')
        .map(|c| c.trim().to_string())
        .filter(|c| !c.is_empty())
        .collect()
}

/// Where the run will write (model, checkpoint, history, plot), checked before the data is
/// loaded: a missing or read-only directory is an error now, not after training.
fn check_destinations(a: &TrainArgs) -> Result<()> {
    let ckpt = crate::train_config::checkpoint_path(a);
    crate::destinations::check_all([
        ("--out", Some(a.out.as_path())),
        ("--checkpoint", Some(ckpt.as_path())),
        ("--history", a.history.as_deref()),
        ("--plot", a.plot.as_deref()),
    ])
}

/// `--log-every N` (at least 1; the default depends on the epochs).
pub fn epoch_lines(log_every: Option<usize>) -> Result<EpochLines> {
    match log_every {
        Some(0) => bail!("--log-every 0: expected at least 1 (--quiet turns the epoch lines off)"),
        Some(n) => Ok(EpochLines::Every(n)),
        None => Ok(EpochLines::Auto),
    }
}

fn print_start(a: &TrainArgs, src: &Source, p: &Prepared) {
    if a.quiet {
        return;
    }
    let (done, _) = p.epochs();
    let resumed = if done > 0 {
        format!(" (resuming after epoch {done})")
    } else {
        String::new()
    };
    let [train, val, test] = p.sizes();
    let spec = &p.model.meta.architecture;
    errln!(
        "training on {}: {train} train / {val} validation / {test} test samples, {} features; network {} with {} parameters, loss {}{resumed}",
        src.describe(),
        spec.in_features,
        describe(spec),
        p.model.params.numel(),
        p.model.meta.loss
    );
}

/// Writes history and plot, prints the summary, and turns a NaN or an interrupt into the exit.
pub fn finish(a: &TrainArgs, o: &Outcome, started: Instant) -> Result<()> {
    if let Some(path) = &a.history {
        crate::progress::write_history(path, &o.history.epochs)?;
    }
    if let Some(path) = &a.plot {
        crate::plot::write_svg(path, &o.history.epochs)
            .with_context(|| format!("drawing {}", path.display()))?;
    }
    if !a.quiet {
        summary(&o.history, o.test.as_ref(), started, a);
    }
    if a.json {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{}", json_summary(a, o, started));
    }
    let saved = match &o.checkpoint {
        Some(c) => format!("{} and checkpoint {}", a.out.display(), c.display()),
        None => a.out.display().to_string(),
    };
    match o.history.stop {
        StopReason::NonFiniteLoss { .. } | StopReason::Diverged { .. } => {
            let e = o.history.clone().check().expect_err("a failed run");
            let why = if matches!(o.history.stop, StopReason::Diverged { .. }) {
                "the loss diverged (grew past 10⁶ × its first value; --allow-divergence keeps going)"
            } else {
                "the loss became NaN or infinite"
            };
            bail!("{why}: {e}; saved them to {saved}");
        }
        StopReason::Interrupted { epoch } => {
            errln!("interrupted during epoch {epoch}: saved the model to {saved}");
            Err(crate::Exit(130).into())
        }
        _ => Ok(()),
    }
}

fn fmt_metrics(m: &Metrics) -> String {
    let mut s = format!("loss {:.4}", m.loss);
    if let Some(a) = m.accuracy {
        s += &format!(", accuracy {:.2} %", 100.0 * a);
    }
    if let (Some(mse), Some(mae), Some(r2)) = (m.mse, m.mae, m.r2) {
        s += &format!(", MSE {mse:.4}, MAE {mae:.4}, R² {r2:.4}");
    }
    s
}

fn summary(h: &History, test: Option<&Metrics>, started: Instant, a: &TrainArgs) {
    let Some(last) = h.epochs.last() else { return };
    let reason = match h.stop {
        StopReason::Completed => "all epochs ran".to_string(),
        StopReason::EarlyStopping => "early stopping".into(),
        StopReason::TargetLoss => "target loss reached".into(),
        StopReason::Callback => "stopped".into(),
        StopReason::Interrupted { epoch } => format!("interrupted in epoch {epoch}"),
        StopReason::NonFiniteLoss { .. } => "non-finite loss".into(),
        StopReason::Diverged { .. } => "diverged".into(),
    };
    errln!(
        "stopped after {} epochs ({reason}); best epoch {}",
        last.epoch,
        h.best_epoch.unwrap_or(last.epoch)
    );
    if let Some(best) = h.best() {
        let which = if h.restored_best {
            format!("epoch {} (restored, saved)", best.epoch)
        } else {
            format!("epoch {} (saved)", best.epoch)
        };
        errln!("  {which}:");
        errln!("    train:      {}", fmt_metrics(&best.train));
        if let Some(v) = &best.val {
            errln!("    validation: {}", fmt_metrics(v));
        }
    }
    if let Some(t) = test {
        errln!("  held-out test: {}", fmt_metrics(t));
    }
    errln!(
        "  time {:.1} s; model written to {}",
        started.elapsed().as_secs_f64(),
        a.out.display()
    );
}

/// `--json`'s last record: why training stopped, the saved model's epoch and metrics, the
/// held-out test metrics, where the model went, and the wall time.
fn json_summary(a: &TrainArgs, o: &Outcome, started: Instant) -> serde_json::Value {
    let h = &o.history;
    let saved = h.best();
    let mut s = serde_json::Map::new();
    let mut put = |k: &str, v: serde_json::Value| {
        s.insert(k.into(), v);
    };
    put(
        "stop",
        serde_json::to_value(h.stop).unwrap_or(serde_json::Value::Null),
    );
    put(
        "epochs",
        serde_json::json!(h.epochs.last().map(|e| e.epoch)),
    );
    put("best_epoch", serde_json::json!(h.best_epoch));
    put("saved_epoch", serde_json::json!(saved.map(|e| e.epoch)));
    put("restored_best", serde_json::json!(h.restored_best));
    if let Some(e) = saved {
        put("train", metrics_json(&e.train));
        if let Some(v) = &e.val {
            put("validation", metrics_json(v));
        }
    }
    if let Some(t) = &o.test {
        put("test", metrics_json(t));
    }
    put("model", serde_json::json!(a.out.display().to_string()));
    if let Some(c) = &o.checkpoint {
        put("checkpoint", serde_json::json!(c.display().to_string()));
    }
    put("seconds", short(started.elapsed().as_secs_f64()));
    serde_json::json!({ "summary": s })
}

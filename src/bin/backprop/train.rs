//! `backprop train`: flags → the library's `Pipeline` (train_config.rs) → printing. The
//! pipeline itself (split, scale, build, train, checkpoint, test report, save) is library code.

use crate::args::TrainArgs;
use crate::data::{load, Source};
use crate::errln;
use crate::progress::Reporter;
use crate::train_config::{check_resume, describe, pipeline};
use anyhow::{bail, Context, Result};
use backprop::io::Checkpoint;
use backprop::pipeline::{Hooks, Outcome, Start};
use backprop::train::{Control, Event, History, Metrics, StopReason};
use std::cell::RefCell;
use std::time::Instant;

pub fn run(a: &TrainArgs) -> Result<()> {
    let started = Instant::now();
    backprop::set_num_threads(a.threads);
    let src = Source::parse(a.data.as_deref());
    let data = load(&src, &a.data_args, false)?;
    let test = match src {
        Source::Mnist(_) => Some(load(&src, &a.data_args, true)?),
        _ => None,
    };
    let p = pipeline(a)?;
    let stop = crate::signals::stop_flag()?;
    let reporter = RefCell::new(Reporter::new(a.quiet, a.json));
    let mut on_start = |s: &Start| {
        print_start(a, &src, s);
        reporter.borrow_mut().start(s.epochs.0, s.sizes[0]);
    };
    let mut callback = |e: Event| -> Control {
        reporter.borrow_mut().event(&e);
        Control::Continue
    };
    let hooks = Hooks {
        start: Some(&mut on_start),
        callback: Some(&mut callback),
        stop: Some(&stop),
    };
    let outcome = match &a.resume {
        Some(path) => {
            let ckpt =
                Checkpoint::load(path).with_context(|| format!("--resume {}", path.display()))?;
            check_resume(a, &ckpt, &data)?;
            if a.epochs.is_some_and(|e| e < ckpt.state.epoch) {
                bail!(
                    "--epochs {}: the checkpoint has already run {} epochs; give more to extend it",
                    a.epochs.unwrap_or(0),
                    ckpt.state.epoch
                );
            }
            p.resume(ckpt, &data, test.as_ref(), a.epochs, hooks)?
        }
        None => p.run(&data, test.as_ref(), hooks)?,
    };
    reporter.borrow_mut().finish();
    finish(a, &outcome, started)
}

fn print_start(a: &TrainArgs, src: &Source, s: &Start) {
    if a.quiet {
        return;
    }
    let resumed = if s.epochs.1 > 0 {
        format!(" (resuming after epoch {})", s.epochs.1)
    } else {
        String::new()
    };
    errln!(
        "training on {}: {} train / {} validation / {} test samples, {} features; network {} with {} parameters, loss {}{resumed}",
        src.describe(),
        s.sizes[0],
        s.sizes[1],
        s.sizes[2],
        s.spec.in_features,
        describe(s.spec),
        s.params,
        s.loss
    );
}

/// Writes history and plot, prints the summary, and turns a NaN or an interrupt into the exit.
fn finish(a: &TrainArgs, o: &Outcome, started: Instant) -> Result<()> {
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

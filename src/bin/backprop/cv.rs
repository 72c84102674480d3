//! `backprop cv DATA --folds K`: stratified k-fold cross-validation. Each fold is held out once
//! while a fresh network trains on the others through the library's `Pipeline` (the same
//! flags as `backprop train`, the held-out fold as its test set); the report is each fold's
//! accuracy (R² for regression) and loss, then their mean and standard deviation. Nothing is
//! saved.

use crate::args::{Cli, CvArgs, TrainArgs};
use crate::data::{load, Source};
use crate::progress::{metrics_json, short, EpochLines, Reporter};
use crate::train_config::{describe, pipeline};
use crate::{errln, outln};
use anyhow::{bail, Result};
use backprop::data::preprocess::kfold;
use backprop::pipeline::{Hooks, Start};
use backprop::train::{Control, Event, Metrics, StopReason};
use backprop::Rng;
use std::cell::RefCell;
use std::time::Instant;

pub fn run(a: &CvArgs) -> Result<()> {
    let started = Instant::now();
    let t = &a.train;
    refuse_saving_flags(t)?;
    if t.distributed {
        bail!("--distributed applies to `backprop train` (cv trains its folds one after another in one process)");
    }
    if a.folds < 2 {
        bail!("--folds {}: expected at least 2 folds", a.folds);
    }
    backprop::set_num_threads(t.threads);
    // epoch lines only when asked for: the report is per fold
    let lines = match t.log_every {
        None => EpochLines::Off,
        some => crate::train::epoch_lines(some)?,
    };
    let src = Source::parse(t.data.as_deref());
    let data = load(&src, &t.data_args, false)?;
    let mut p = pipeline(t)?;
    (p.out, p.checkpoint, p.checkpoint_every, p.test_split) = (None, None, None, 0.0);
    let seed = p.trainer.seed;
    let folds = kfold(&data, a.folds, &mut Rng::seed(seed))
        .map_err(|e| anyhow::anyhow!("--folds {}: {e}", a.folds))?;
    let classes = data.num_classes().is_some();
    if !t.quiet {
        errln!(
            "cross-validating on {}: {} samples, {} {}folds, seed {seed}",
            src.describe(),
            data.len(),
            a.folds,
            if classes { "stratified " } else { "" }
        );
    }
    // with --json, stdout holds only JSON and the text report goes to stderr
    let say = |line: String| -> Result<()> {
        if t.json {
            if !t.quiet {
                errln!("{line}");
            }
        } else {
            outln!("{line}")?;
        }
        Ok(())
    };
    let stop = crate::signals::stop_flag()?;
    let (mut scores, mut losses) = (Vec::new(), Vec::new());
    for (i, held) in folds.iter().enumerate() {
        let mut in_fold = vec![false; data.len()];
        held.iter().for_each(|&j| in_fold[j] = true);
        let rest: Vec<usize> = (0..data.len()).filter(|&j| !in_fold[j]).collect();
        let (train, test) = (data.subset(&rest), data.subset(held));
        let reporter = RefCell::new(Reporter::new(t.quiet, false, lines));
        let mut on_start = |s: &Start| {
            if i == 0 && !t.quiet {
                errln!(
                    "each fold: {} train / {} validation samples, network {} with {} parameters, loss {}",
                    s.sizes[0],
                    s.sizes[1],
                    describe(s.spec),
                    s.params,
                    s.loss
                );
            }
            reporter
                .borrow_mut()
                .start(s.epochs.0, s.epochs.1, s.sizes[0]);
        };
        let mut callback = |e: Event| -> Control {
            reporter.borrow_mut().event(&e);
            Control::Continue
        };
        let hooks = Hooks {
            start: Some(&mut on_start),
            callback: Some(&mut callback),
            stop: Some(&stop),
            gradient_reduce: None,
        };
        let outcome = p.run(&train, Some(&test), hooks)?;
        reporter.borrow_mut().finish();
        let fold = format!("fold {}/{}", i + 1, a.folds);
        match outcome.history.stop {
            StopReason::Interrupted { .. } => {
                errln!("interrupted in {fold}: no report (nothing was saved)");
                return Err(crate::Exit(130).into());
            }
            StopReason::NonFiniteLoss { .. } | StopReason::Diverged { .. } => {
                let e = outcome.history.check().expect_err("a failed run");
                bail!("{fold}: training failed: {e} (try a smaller --lr)");
            }
            _ => {}
        }
        let m = outcome
            .test
            .expect("internal error: a held-out fold is never empty");
        let score = score(&m);
        let best = outcome.history.best().map_or(0, |e| e.epoch);
        let [n_train, n_val, _] = outcome.sizes;
        say(format!(
            "{fold}: {} {score:.4}, loss {:.4} ({} held out; {n_train} train + {n_val} validation, saved epoch {best})",
            metric_name(classes),
            m.loss,
            test.len(),
        ))?;
        if t.json {
            let mut r = serde_json::json!({
                "fold": i + 1,
                "held_out": test.len(),
                "train": n_train,
                "validation": n_val,
                "epoch": best,
                "metrics": metrics_json(&m),
            });
            r[metric_key(classes)] = short(score);
            outln!("{r}")?;
        }
        scores.push(score);
        losses.push(m.loss as f64);
    }
    let (ms, ss) = mean_std(&scores);
    let (ml, sl) = mean_std(&losses);
    say(format!(
        "{}: mean {ms:.4}, std {ss:.4}; loss: mean {ml:.4}, std {sl:.4} ({} folds)",
        metric_name(classes),
        a.folds
    ))?;
    if t.json {
        let key = metric_key(classes);
        let s = serde_json::json!({"summary": {
            "folds": a.folds,
            "metric": key,
            "mean": short(ms),
            "std": short(ss),
            "loss_mean": short(ml),
            "loss_std": short(sl),
            key: scores.iter().map(|&v| short(v)).collect::<Vec<_>>(),
            "loss": losses.iter().map(|&v| short(v)).collect::<Vec<_>>(),
            "seconds": short(started.elapsed().as_secs_f64()),
        }});
        outln!("{s}")?;
    }
    Ok(())
}

/// The flags that only make sense for one saved model.
fn refuse_saving_flags(t: &TrainArgs) -> Result<()> {
    let why = "cv trains one model per fold and saves none; train on all the data with `backprop train` for the model to keep";
    if out_given() {
        bail!("--out: {why}");
    }
    let given = [
        ("--resume", t.resume.is_some()),
        ("--checkpoint", t.checkpoint.is_some()),
        ("--checkpoint-every", t.checkpoint_every.is_some()),
        ("--history", t.history.is_some()),
        ("--plot", t.plot.is_some()),
    ];
    if let Some((flag, _)) = given.iter().find(|(_, g)| *g) {
        bail!("{flag}: {why}");
    }
    if let Some(f) = t.test_split {
        bail!("--test-split {f}: in cv each fold in turn is the test part (--folds sets its size)");
    }
    Ok(())
}

/// Whether `--out` was on the command line (it has a default, so the parsed value can't tell).
fn out_given() -> bool {
    use clap::CommandFactory;
    let Ok(m) = Cli::command().try_get_matches() else {
        return false;
    };
    m.subcommand_matches("cv")
        .is_some_and(|c| c.value_source("out") == Some(clap::parser::ValueSource::CommandLine))
}

fn score(m: &Metrics) -> f64 {
    m.accuracy.or(m.r2).unwrap_or(f32::NAN) as f64
}

fn metric_name(classes: bool) -> &'static str {
    if classes {
        "accuracy"
    } else {
        "R²"
    }
}

fn metric_key(classes: bool) -> &'static str {
    if classes {
        "accuracy"
    } else {
        "r2"
    }
}

/// The mean and the population standard deviation (numpy's `std`, ddof 0).
fn mean_std(v: &[f64]) -> (f64, f64) {
    let n = v.len().max(1) as f64;
    let mean = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n;
    (mean, var.sqrt())
}

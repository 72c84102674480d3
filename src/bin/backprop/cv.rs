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
use backprop::pipeline::{cv, CrossValidation, Hooks};
use backprop::train::StopReason;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

pub fn run(a: &CvArgs) -> Result<()> {
    let started = Instant::now();
    let t = &a.train;
    check_flags(a)?;
    backprop::set_num_threads(t.threads);
    // epoch lines only when asked for: the report is per fold
    let lines = match t.log_every {
        None => EpochLines::Off,
        some => crate::train::epoch_lines(some)?,
    };
    let src = Source::parse(t.data.as_deref());
    let data = load(&src, &t.data_args, false)?;
    let p = pipeline(t)?;
    let seed = p.trainer.seed;
    let cv = p
        .cross_validation(&data, a.folds)
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
    let stop = crate::signals::stop_flag()?;
    let (mut scores, mut losses) = (Vec::new(), Vec::new());
    for i in 0..cv.len() {
        let (score, loss) = fold(a, &cv, i, lines, &stop, classes)?;
        scores.push(score);
        losses.push(loss);
    }
    summary(a, classes, &scores, &losses, started)
}

/// The flags cv refuses, and the number of folds.
fn check_flags(a: &CvArgs) -> Result<()> {
    refuse_saving_flags(&a.train)?;
    if a.train.distributed {
        bail!("--distributed applies to `backprop train` (cv trains its folds one after another in one process)");
    }
    if a.folds < 2 {
        bail!("--folds {}: expected at least 2 folds", a.folds);
    }
    Ok(())
}

/// A line of the text report: on stdout, or with --json on stderr (stdout holds only JSON).
fn say(t: &TrainArgs, line: String) -> Result<()> {
    if t.json {
        if !t.quiet {
            errln!("{line}");
        }
    } else {
        outln!("{line}")?;
    }
    Ok(())
}

/// Trains and scores fold `i`, reports it, and returns its score and loss.
fn fold(
    a: &CvArgs,
    cv: &CrossValidation<'_>,
    i: usize,
    lines: EpochLines,
    stop: &AtomicBool,
    classes: bool,
) -> Result<(f64, f64)> {
    let t = &a.train;
    let prepared = cv.prepare(i)?;
    let [n_train, n_val, held_out] = prepared.sizes();
    if i == 0 && !t.quiet {
        let m = &prepared.model;
        errln!(
            "each fold: {n_train} train / {n_val} validation samples, network {} with {} parameters, loss {}",
            describe(&m.meta.architecture),
            m.params.numel(),
            m.meta.loss
        );
    }
    let mut reporter = Reporter::new(t.quiet, false, lines);
    let (done, end) = prepared.epochs();
    reporter.start(end, done, n_train);
    let hooks = Hooks {
        observer: Some(&mut reporter),
        stop: Some(stop),
        gradient_reduce: None,
    };
    let outcome = prepared.run(hooks)?;
    reporter.finish();
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
    let score = cv::score(&m);
    let best = outcome.history.best().map_or(0, |e| e.epoch);
    say(t, format!(
        "{fold}: {} {score:.4}, loss {:.4} ({held_out} held out; {n_train} train + {n_val} validation, saved epoch {best})",
        metric_name(classes),
        m.loss,
    ))?;
    if t.json {
        let mut r = serde_json::json!({
            "fold": i + 1,
            "held_out": held_out,
            "train": n_train,
            "validation": n_val,
            "epoch": best,
            "metrics": metrics_json(&m),
        });
        r[metric_key(classes)] = short(score);
        outln!("{r}")?;
    }
    Ok((score, m.loss as f64))
}

/// The mean and standard deviation over folds, as text and (with --json) a summary record.
fn summary(
    a: &CvArgs,
    classes: bool,
    scores: &[f64],
    losses: &[f64],
    started: Instant,
) -> Result<()> {
    let t = &a.train;
    let (ms, ss) = cv::mean_std(scores);
    let (ml, sl) = cv::mean_std(losses);
    say(
        t,
        format!(
            "{}: mean {ms:.4}, std {ss:.4}; loss: mean {ml:.4}, std {sl:.4} ({} folds)",
            metric_name(classes),
            a.folds
        ),
    )?;
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

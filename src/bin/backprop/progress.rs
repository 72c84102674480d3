//! Progress: a bar on a terminal, one plain line per epoch otherwise, JSON records with --json,
//! nothing with --quiet; and the per-epoch history as CSV.

use anyhow::{Context, Result};
use backprop::train::{EpochReport, Event};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::{IsTerminal, Write};
use std::path::Path;

pub struct Reporter {
    bar: Option<ProgressBar>,
    lines: bool,
    json: bool,
    epochs: usize,
    samples: usize,
    epoch_start: std::time::Instant,
    quiet: bool,
}

impl Reporter {
    pub fn new(quiet: bool, json: bool) -> Reporter {
        let tty = std::io::stderr().is_terminal();
        Reporter {
            bar: None,
            lines: !quiet && !tty,
            json,
            epochs: 0,
            samples: 0,
            epoch_start: std::time::Instant::now(),
            quiet,
        }
    }

    /// Sets the run's length (epochs to reach, samples per epoch) and draws the bar.
    pub fn start(&mut self, epochs: usize, samples: usize) {
        let tty = std::io::stderr().is_terminal();
        let bar = (!self.quiet && tty).then(|| {
            let b = ProgressBar::with_draw_target(
                Some((epochs * samples) as u64),
                ProgressDrawTarget::stderr(),
            );
            b.set_style(
                ProgressStyle::with_template("{bar:30} epoch {prefix} {msg} ETA {eta}")
                    .expect("internal error: progress template"),
            );
            b
        });
        (self.bar, self.epochs, self.samples) = (bar, epochs, samples);
    }

    pub fn event(&mut self, e: &Event) {
        match e {
            Event::Batch {
                epoch,
                batch,
                batches,
                loss,
                samples,
                accuracy,
            } => {
                if *batch == 1 {
                    self.epoch_start = std::time::Instant::now();
                }
                if let Some(b) = &self.bar {
                    b.set_position(((epoch - 1) * self.samples + samples) as u64);
                    if *batch == *batches || batch % 8 == 0 {
                        let rate =
                            *samples as f64 / self.epoch_start.elapsed().as_secs_f64().max(1e-9);
                        b.set_prefix(format!("{epoch}/{}", self.epochs));
                        let acc =
                            accuracy.map_or(String::new(), |a| format!(" acc {:.2}%", 100.0 * a));
                        b.set_message(format!(
                            "batch {batch}/{batches} loss {loss:.4}{acc} {rate:.0} samples/s"
                        ));
                    }
                }
            }
            Event::Epoch { report, .. } => {
                if self.json {
                    let mut out = std::io::stdout().lock();
                    let _ = writeln!(out, "{}", json_record(report));
                }
                let line = epoch_line(report, self.epochs, self.samples);
                if let Some(b) = &self.bar {
                    b.println(line);
                } else if self.lines {
                    crate::errln!("{line}");
                }
            }
        }
    }

    pub fn finish(&mut self) {
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
    }
}

fn epoch_line(r: &EpochReport, epochs: usize, samples: usize) -> String {
    let mut s = format!("epoch {:>3}/{epochs}  loss {:.4}", r.epoch, r.train.loss);
    if let Some(a) = r.train.accuracy {
        s += &format!("  acc {:.2}%", 100.0 * a);
    }
    if let Some(r2) = r.train.r2 {
        s += &format!("  R² {r2:.4}");
    }
    if let Some(v) = &r.val {
        s += &format!("  val_loss {:.4}", v.loss);
        if let Some(a) = v.accuracy {
            s += &format!("  val_acc {:.2}%", 100.0 * a);
        }
        if let Some(r2) = v.r2 {
            s += &format!("  val_R² {r2:.4}");
        }
    }
    s + &format!("  {:.0} samples/s", samples as f64 / r.seconds.max(1e-9))
}

fn json_record(r: &EpochReport) -> serde_json::Value {
    let mut v = serde_json::json!({
        "epoch": r.epoch,
        "train_loss": r.train.loss,
        "lr": r.lr,
        "seconds": r.seconds,
    });
    let m = v.as_object_mut().expect("object");
    let mut put = |k: &str, x: Option<f32>| {
        if let Some(x) = x {
            m.insert(k.into(), serde_json::json!(x));
        }
    };
    put("train_accuracy", r.train.accuracy);
    put("train_mse", r.train.mse);
    put("train_mae", r.train.mae);
    put("train_r2", r.train.r2);
    if let Some(val) = &r.val {
        put("val_loss", Some(val.loss));
        put("val_accuracy", val.accuracy);
        put("val_mse", val.mse);
        put("val_mae", val.mae);
        put("val_r2", val.r2);
    }
    v
}

/// Writes the history as CSV: one row per epoch, empty cells where a metric does not apply.
pub fn write_history(path: &Path, epochs: &[EpochReport]) -> Result<()> {
    let opt = |x: Option<f32>| x.map_or(String::new(), |v| v.to_string());
    let mut s = String::from(
        "epoch,train_loss,train_accuracy,train_mse,train_mae,train_r2,val_loss,val_accuracy,val_mse,val_mae,val_r2,lr,seconds\n",
    );
    for r in epochs {
        let v = r.val.as_ref();
        s += &format!(
            "{},{},{},{},{},{},{},{},{},{},{},{},{:.6}\n",
            r.epoch,
            r.train.loss,
            opt(r.train.accuracy),
            opt(r.train.mse),
            opt(r.train.mae),
            opt(r.train.r2),
            opt(v.map(|m| m.loss)),
            opt(v.and_then(|m| m.accuracy)),
            opt(v.and_then(|m| m.mse)),
            opt(v.and_then(|m| m.mae)),
            opt(v.and_then(|m| m.r2)),
            r.lr,
            r.seconds
        );
    }
    backprop::io::atomic_write(path, s.as_bytes())
        .with_context(|| format!("writing history {}", path.display()))
}

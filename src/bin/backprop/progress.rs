//! Progress: a one-line bar on a terminal (at most 80 columns), epoch lines every `--log-every`
//! epochs and the last, JSON records with --json (every epoch, numbers to 6 significant
//! digits), nothing with --quiet; and the per-epoch history as CSV.

use anyhow::{Context, Result};
use backprop::train::{Control, EpochReport, Event, Metrics, Observer};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::{IsTerminal, Write};
use std::path::Path;
use std::time::{Duration, Instant};

/// The terminal width the bar line is built for.
pub const BAR_COLUMNS: usize = 80;

/// Which epochs get a line (on stderr: above the bar on a terminal, plain lines otherwise).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EpochLines {
    /// Every N epochs, and the last.
    Every(usize),
    /// [`default_log_every`] of the run's epochs.
    Auto,
    /// None.
    Off,
}

/// `--log-every`'s default: every epoch up to 100 epochs, else every `epochs / 50` (about 50
/// lines however long the run).
pub fn default_log_every(epochs: usize) -> usize {
    if epochs <= 100 {
        1
    } else {
        (epochs / 50).max(1)
    }
}

pub struct Reporter {
    bar: Option<ProgressBar>,
    lines: bool,
    json: bool,
    every: Option<usize>,
    wanted: EpochLines,
    /// The last epoch's line when it was not printed (printed by `finish`).
    pending: Option<String>,
    epochs: usize,
    done: usize,
    samples: usize,
    epoch_start: Instant,
    /// Σ batch loss × batch size, and samples, so far in this epoch.
    loss_sum: f64,
    seen: usize,
    run_start: Option<Instant>,
    drawn: Option<Instant>,
    quiet: bool,
}

impl Observer for Reporter {
    fn on_event(&mut self, e: Event) -> Control {
        self.event(&e);
        Control::Continue
    }
}

impl Reporter {
    pub fn new(quiet: bool, json: bool, lines: EpochLines) -> Reporter {
        let tty = std::io::stderr().is_terminal();
        Reporter {
            bar: None,
            lines: !quiet && !tty,
            json,
            every: None,
            wanted: lines,
            pending: None,
            epochs: 0,
            done: 0,
            samples: 0,
            epoch_start: Instant::now(),
            loss_sum: 0.0,
            seen: 0,
            run_start: None,
            drawn: None,
            quiet,
        }
    }

    /// Sets the run's length (the epoch it ends at, epochs already done on a resume, samples per
    /// epoch) and draws the bar.
    pub fn start(&mut self, epochs: usize, done: usize, samples: usize) {
        let tty = std::io::stderr().is_terminal();
        let bar = (!self.quiet && tty).then(|| {
            let b = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            // {wide_msg} truncates on a terminal narrower than the line instead of wrapping
            b.set_style(
                ProgressStyle::with_template("{wide_msg}")
                    .expect("internal error: progress template"),
            );
            b
        });
        self.every = match self.wanted {
            EpochLines::Every(n) => Some(n.max(1)),
            EpochLines::Auto => Some(default_log_every(epochs)),
            EpochLines::Off => None,
        };
        (self.bar, self.epochs, self.done, self.samples) = (bar, epochs, done, samples);
        (self.run_start, self.drawn, self.pending) = (None, None, None);
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
                let now = Instant::now();
                if *batch == 1 {
                    (self.epoch_start, self.loss_sum, self.seen) = (now, 0.0, 0);
                }
                // the epoch's running loss, weighted by batch size like its final train loss
                self.loss_sum += *loss as f64 * samples.saturating_sub(self.seen) as f64;
                self.seen = *samples;
                let run_start = *self.run_start.get_or_insert(now);
                let Some(b) = &self.bar else { return };
                // redraw at most 10 times a second, and at the end of each epoch
                let due = self
                    .drawn
                    .is_none_or(|t| now - t >= Duration::from_millis(100));
                if !(due || batch == batches) {
                    return;
                }
                self.drawn = Some(now);
                let secs = (now - self.epoch_start).as_secs_f64();
                let n = self.samples.max(1) as f64;
                let ran = (epoch - 1 - self.done.min(epoch - 1)) as f64 * n + *samples as f64;
                let left = (self.epochs.saturating_sub(epoch - 1)) as f64 * n - *samples as f64;
                let elapsed = (now - run_start).as_secs_f64();
                let eta = (ran > 0.0 && elapsed > 0.0)
                    .then(|| Duration::from_secs_f64(elapsed / ran * left.max(0.0)));
                b.set_message(bar_line(&BarState {
                    epoch: *epoch,
                    epochs: self.epochs,
                    batch: *batch,
                    batches: *batches,
                    loss: (self.loss_sum / self.seen.max(1) as f64) as f32,
                    accuracy: *accuracy,
                    rate: (secs > 0.0).then(|| *samples as f64 / secs),
                    eta,
                }));
            }
            Event::Epoch { report, .. } => {
                if self.json {
                    let mut out = std::io::stdout().lock();
                    let _ = writeln!(out, "{}", json_record(report));
                }
                let Some(every) = self.every else { return };
                let line = epoch_line(report, self.epochs, self.samples);
                if report.epoch % every != 0 && report.epoch != self.epochs {
                    // printed by `finish` if this turns out to be the last epoch
                    self.pending = Some(line);
                    return;
                }
                self.pending = None;
                self.print(line);
            }
        }
    }

    fn print(&self, line: String) {
        if let Some(b) = &self.bar {
            b.println(line);
        } else if self.lines {
            crate::errln!("{line}");
        }
    }

    /// Prints the last epoch's line if `--log-every` skipped it, and clears the bar.
    pub fn finish(&mut self) {
        if let Some(line) = self.pending.take() {
            self.print(line);
        }
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
    }
}

/// What the bar line shows.
#[derive(Clone, Copy, Debug)]
pub struct BarState {
    pub epoch: usize,
    pub epochs: usize,
    pub batch: usize,
    pub batches: usize,
    /// The running loss of the epoch.
    pub loss: f32,
    /// The running accuracy of the epoch (classifiers).
    pub accuracy: Option<f32>,
    /// Samples per second in this epoch.
    pub rate: Option<f64>,
    /// Time left in the run.
    pub eta: Option<Duration>,
}

/// The bar line, at most [`BAR_COLUMNS`] wide for any realistic run (the bar itself takes what
/// the numbers leave, up to 20 cells); e.g.
/// `epoch 123/200 [=========>    ] 1875/1875 loss 0.1234 acc 98.12% 12.3k/s ETA 1:23`.
/// The bar is this epoch's batches; the ETA is the whole run's; "/s" counts samples.
pub fn bar_line(s: &BarState) -> String {
    let left = format!("epoch {}/{}", s.epoch, s.epochs);
    let mut right = format!(
        " {}/{} loss {}",
        s.batch,
        s.batches,
        short_num(s.loss as f64)
    );
    if let Some(a) = s.accuracy {
        right += &format!(" acc {:.2}%", 100.0 * a);
    }
    if let Some(r) = s.rate {
        right += &format!(" {}/s", si(r));
    }
    right += &match s.eta {
        Some(t) => format!(" ETA {}", clock(t)),
        None => " ETA -".to_string(),
    };
    let used = left.chars().count() + right.chars().count() + 3; // " [" and "]"
    let cells = BAR_COLUMNS.saturating_sub(used).min(20);
    if cells < 4 {
        // extreme numbers: no room for a bar worth drawing
        return left + &right;
    }
    let filled = (cells * s.batch.min(s.batches)) / s.batches.max(1);
    let bar = if filled >= cells {
        "=".repeat(cells)
    } else {
        format!("{}>{}", "=".repeat(filled), " ".repeat(cells - filled - 1))
    };
    format!("{left} [{bar}]{right}")
}

/// 4 significant digits in at most 8 characters: 0.01234, 1.234, 1234, 1.23e-5, 1.23e6.
fn short_num(x: f64) -> String {
    let a = x.abs();
    if !x.is_finite() || a == 0.0 {
        return format!("{x}");
    }
    if !(1e-3..1e4).contains(&a) {
        return format!("{x:.2e}");
    }
    let decimals = (3 - a.log10().floor() as i32).clamp(0, 6) as usize;
    format!("{x:.decimals$}")
}

/// A rate with an SI suffix, 3 significant digits: 950, 1.23k, 12.3k, 123k, 1.23M.
fn si(x: f64) -> String {
    let (v, unit) = match x {
        x if x >= 999_500.0 => (x / 1e6, "M"),
        x if x >= 999.5 => (x / 1e3, "k"),
        x => (x, ""),
    };
    let d = if v >= 99.95 || unit.is_empty() {
        0
    } else if v >= 9.995 {
        1
    } else {
        2
    };
    format!("{v:.d$}{unit}")
}

/// m:ss, or h:mm:ss from an hour on.
fn clock(t: Duration) -> String {
    let s = t.as_secs();
    let (h, m, s) = (s / 3600, (s / 60) % 60, s % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m}:{s:02}")
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

/// A number for JSON records: 6 significant digits (0.001, not 0.0010000000474974513), null
/// when not finite.
pub fn short(x: f64) -> serde_json::Value {
    if !x.is_finite() {
        return serde_json::Value::Null;
    }
    // the f64 nearest the 6-digit decimal prints as that decimal (serde_json's shortest form)
    let rounded: f64 = format!("{x:.5e}").parse().unwrap_or(x);
    serde_json::json!(rounded)
}

/// Metrics as a JSON object: loss, and accuracy or MSE/MAE/R², each to 6 significant digits.
pub fn metrics_json(m: &Metrics) -> serde_json::Value {
    let mut o = serde_json::Map::new();
    o.insert("loss".into(), short(m.loss as f64));
    for (k, v) in [
        ("accuracy", m.accuracy),
        ("mse", m.mse),
        ("mae", m.mae),
        ("r2", m.r2),
    ] {
        if let Some(v) = v {
            o.insert(k.into(), short(v as f64));
        }
    }
    serde_json::Value::Object(o)
}

fn json_record(r: &EpochReport) -> serde_json::Value {
    let mut v = serde_json::json!({
        "epoch": r.epoch,
        "train_loss": short(r.train.loss as f64),
        "lr": short(r.lr as f64),
        "seconds": short(r.seconds),
    });
    let m = v.as_object_mut().expect("object");
    let mut put = |k: &str, x: Option<f32>| {
        if let Some(x) = x {
            m.insert(k.into(), short(x as f64));
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

#[cfg(test)]
mod tests {
    use super::*;

    fn state(epoch: usize, epochs: usize, batch: usize, batches: usize) -> BarState {
        BarState {
            epoch,
            epochs,
            batch,
            batches,
            loss: 0.123_456,
            accuracy: Some(0.981_2),
            rate: Some(12_345.6),
            eta: Some(Duration::from_secs(83)),
        }
    }

    #[test]
    fn bar_line_fits_80_columns() {
        let s = state(123, 200, 1875, 1875);
        let line = bar_line(&s);
        assert_eq!(
            line,
            "epoch 123/200 [==============] 1875/1875 loss 0.1235 acc 98.12% 12.3k/s ETA 1:23"
        );
        assert!(line.chars().count() <= BAR_COLUMNS, "{line}");
        // half-way through an epoch, an hour left, a regression's loss, no accuracy
        let mut s = state(7, 200, 900, 1875);
        s.accuracy = None;
        s.loss = 1234.5678;
        s.eta = Some(Duration::from_secs(3 * 3600 + 7 * 60 + 9));
        let line = bar_line(&s);
        assert!(
            line.contains("[=========>") && line.contains(" loss 1235 "),
            "{line}"
        );
        assert!(line.ends_with("ETA 3:07:09"), "{line}");
        assert!(line.chars().count() <= BAR_COLUMNS, "{line}");
        // the longest realistic line: 10000 epochs, MNIST at batch 1, tiny loss, 1.2M samples/s,
        // 100 hours left, before the first rate
        let mut s = state(9999, 10000, 59_999, 60_000);
        s.loss = 1.234e-7;
        s.accuracy = Some(1.0);
        s.rate = Some(1_234_567.0);
        s.eta = Some(Duration::from_secs(100 * 3600));
        let line = bar_line(&s);
        assert!(line.chars().count() <= BAR_COLUMNS, "{line}");
        assert!(
            line.contains("1.23M/s") && line.contains("1.23e-7"),
            "{line}"
        );
        s.rate = None;
        s.eta = None;
        assert!(bar_line(&s).chars().count() <= BAR_COLUMNS);
    }

    #[test]
    fn compact_numbers() {
        assert_eq!(short_num(0.012_345), "0.01235");
        assert_eq!(short_num(2.0), "2.000");
        assert_eq!(short_num(-0.5), "-0.5000");
        assert_eq!(short_num(12_345.0), "1.23e4");
        assert_eq!(si(950.2), "950");
        assert_eq!(si(1234.0), "1.23k");
        assert_eq!(si(99_999.0), "100k");
        assert_eq!(si(2_500_000.0), "2.50M");
        assert_eq!(clock(Duration::from_secs(59)), "0:59");
        assert_eq!(short(0.001f32 as f64).to_string(), "0.001");
        assert_eq!(short(0.3f32 as f64).to_string(), "0.3");
        assert_eq!(short(1_234.567_89).to_string(), "1234.57");
        assert_eq!(short(f64::NAN), serde_json::Value::Null);
    }

    #[test]
    fn default_log_every_gives_about_50_lines() {
        assert_eq!(default_log_every(10), 1);
        assert_eq!(default_log_every(100), 1);
        assert_eq!(default_log_every(200), 4);
        assert_eq!(default_log_every(3000), 60);
    }
}

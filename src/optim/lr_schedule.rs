//! A learning-rate schedule as data: which schedule, its settings and its running state, all
//! serialisable, so the trainer can step it once per epoch and a checkpoint can carry it.
//!
//! Linear warm-up, as PyTorch's `LinearLR(start_factor, end_factor=1, total_iters=epochs)`: the
//! first epoch runs at `start_factor·η₀`, and after epoch e ≤ E the rate is
//! `η₀·(start_factor + (1 − start_factor)·e/E)`, reaching η₀ after E epochs; then the schedule
//! it is chained with (if any) takes over, counting its epochs from there (PyTorch's
//! `SequentialLR`).
//!
//! The text form, as the command line's `--lr-schedule` takes it:
//!
//! | text | schedule |
//! |---|---|
//! | `step:S[:G]` | [`StepLr`] every S epochs by γ = G (default 0.1) |
//! | `exponential:G` (or `exp:G`) | [`ExponentialLr`] by γ = G every epoch |
//! | `cosine:T[:MIN]` | [`CosineAnnealingLr`] over T epochs down to MIN (default 0) |
//! | `plateau[:P[:F]]` | [`ReduceLrOnPlateau`] on the monitored loss, patience P (10), factor F (0.1) |
//! | `warmup:E[:F]` | [`LinearWarmup`] over E epochs from F·η₀ (default F = 1/3) |
//! | `warmup:5,cosine:100` | warm-up, then the next schedule |
//!
//! ```
//! use backprop::optim::{LrSchedule, LrScheduler, LearningRate, Sgd, SgdConfig};
//! let mut opt = Sgd::new(SgdConfig { lr: 1.0, ..SgdConfig::default() }).unwrap();
//! let mut s: LrSchedule = "warmup:2:0.5,step:1:0.1".parse()?;
//! s.start(&mut opt);
//! let mut lrs = vec![opt.lr()];
//! for _ in 0..4 {
//!     s.step(&mut opt, None);
//!     lrs.push(opt.lr());
//! }
//! let rounded: Vec<f32> = lrs.iter().map(|x| (x * 1e4).round() / 1e4).collect();
//! assert_eq!(rounded, [0.5, 0.75, 1.0, 0.1, 0.01]);
//! # Ok::<(), backprop::Error>(())
//! ```

use crate::error::{Error, Result};
use crate::optim::schedule::{base_rate, CosineAnnealingLr, ExponentialLr, StepLr};
use crate::optim::{LearningRate, LrScheduler, ReduceLrOnPlateau};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Linear warm-up from `start_factor·η₀` to η₀ over `epochs` epochs (see the module docs).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LinearWarmup {
    /// Epochs to reach η₀ (≥ 1).
    pub epochs: usize,
    /// The first epoch's fraction of η₀, in (0, 1].
    pub start_factor: f32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    base: Option<f32>,
    #[serde(default)]
    epoch: usize,
}

impl LinearWarmup {
    /// Warm-up over `epochs` epochs from η₀/3 (PyTorch's `LinearLR` default start factor).
    pub fn new(epochs: usize) -> LinearWarmup {
        LinearWarmup {
            epochs,
            start_factor: 1.0 / 3.0,
            base: None,
            epoch: 0,
        }
    }

    /// Sets the first epoch's fraction of η₀.
    pub fn start_factor(mut self, f: f32) -> LinearWarmup {
        self.start_factor = f;
        self
    }

    /// Checks epochs ≥ 1 and start_factor in (0, 1], and a saved base rate.
    pub fn validate(&self) -> Result<()> {
        if self.epochs == 0 {
            return Err(Error::invalid("warm-up epochs", 0, "at least 1"));
        }
        if !(self.start_factor > 0.0 && self.start_factor <= 1.0) {
            return Err(Error::invalid(
                "warm-up start factor",
                self.start_factor,
                "a fraction in (0, 1]",
            ));
        }
        base_rate(self.base)
    }

    /// [`LinearWarmup::validate`]s and returns the schedule, ending a builder chain.
    pub fn build(self) -> Result<LinearWarmup> {
        self.validate()?;
        Ok(self)
    }

    fn start(&mut self, opt: &mut dyn LearningRate) {
        let base = *self.base.get_or_insert(opt.lr());
        opt.set_lr(base * self.start_factor);
    }

    fn done(&self) -> bool {
        self.epoch >= self.epochs
    }
}

impl LrScheduler for LinearWarmup {
    fn step(&mut self, opt: &mut dyn LearningRate, _metric: Option<f32>) {
        let base = *self.base.get_or_insert(opt.lr()) as f64;
        self.epoch = (self.epoch + 1).min(self.epochs);
        let f = self.start_factor as f64;
        let t = self.epoch as f64 / self.epochs.max(1) as f64;
        opt.set_lr((base * (f + (1.0 - f) * t)) as f32);
    }
}

/// A learning-rate schedule with its state: which schedule ([`StepLr`], …, [`LinearWarmup`]),
/// its settings and where it is, all serialisable, so the trainer steps it once per epoch and a
/// checkpoint carries it.
///
/// Reading one from JSON runs [`LrSchedule::validate`], the checks of the schedules' `build`:
///
/// ```
/// use backprop::optim::LrSchedule;
/// let ok: LrSchedule = serde_json::from_str(r#"{"kind":"step","step_size":3,"gamma":0.5}"#).unwrap();
/// assert_eq!(ok, "step:3:0.5".parse()?);
/// let err = serde_json::from_str::<LrSchedule>(r#"{"kind":"step","step_size":0,"gamma":0.5}"#);
/// assert!(err.unwrap_err().to_string().contains("step_size"));
/// # Ok::<(), backprop::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", try_from = "Unchecked")]
pub enum LrSchedule {
    /// [`StepLr`].
    Step(StepLr),
    /// [`ExponentialLr`].
    Exponential(ExponentialLr),
    /// [`CosineAnnealingLr`].
    Cosine(CosineAnnealingLr),
    /// [`ReduceLrOnPlateau`] (mode min, on the monitored loss).
    Plateau(ReduceLrOnPlateau),
    /// [`LinearWarmup`], then optionally another schedule.
    Warmup {
        /// The warm-up.
        warmup: LinearWarmup,
        /// What follows it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        then: Option<Box<LrSchedule>>,
    },
}

/// [`LrSchedule`] as read, before [`LrSchedule::validate`].
#[derive(Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Unchecked {
    Step(StepLr),
    Exponential(ExponentialLr),
    Cosine(CosineAnnealingLr),
    Plateau(ReduceLrOnPlateau),
    Warmup {
        warmup: LinearWarmup,
        #[serde(default)]
        then: Option<Box<LrSchedule>>,
    },
}

impl TryFrom<Unchecked> for LrSchedule {
    type Error = Error;
    fn try_from(u: Unchecked) -> Result<LrSchedule> {
        let s = match u {
            Unchecked::Step(s) => LrSchedule::Step(s),
            Unchecked::Exponential(s) => LrSchedule::Exponential(s),
            Unchecked::Cosine(s) => LrSchedule::Cosine(s),
            Unchecked::Plateau(s) => LrSchedule::Plateau(s),
            Unchecked::Warmup { warmup, then } => LrSchedule::Warmup { warmup, then },
        };
        s.validate()?;
        Ok(s)
    }
}

impl LrSchedule {
    /// Checks every part as its `build` does, and that a warm-up is followed by one of the
    /// other schedules, if anything.
    ///
    /// # Errors
    /// The first setting out of its range, naming it and the range.
    pub fn validate(&self) -> Result<()> {
        match self {
            LrSchedule::Step(s) => s.validate(),
            LrSchedule::Exponential(s) => s.validate(),
            LrSchedule::Cosine(s) => s.validate(),
            LrSchedule::Plateau(s) => s.validate(),
            LrSchedule::Warmup { warmup, then } => {
                warmup.validate()?;
                match then.as_deref() {
                    Some(LrSchedule::Warmup { .. }) => Err(Error::invalid(
                        "lr schedule",
                        "a warm-up after a warm-up",
                        "a warm-up followed by step, exponential, cosine or plateau",
                    )),
                    Some(t) => t.validate(),
                    None => Ok(()),
                }
            }
        }
    }

    /// Call once before the first epoch of a fresh run (not on resume): a warm-up lowers the
    /// first epoch's rate here.
    pub fn start(&mut self, opt: &mut dyn LearningRate) {
        if let LrSchedule::Warmup { warmup, .. } = self {
            warmup.start(opt);
        }
    }
}

impl LrScheduler for LrSchedule {
    fn step(&mut self, opt: &mut dyn LearningRate, metric: Option<f32>) {
        match self {
            LrSchedule::Step(s) => s.step(opt, metric),
            LrSchedule::Exponential(s) => s.step(opt, metric),
            LrSchedule::Cosine(s) => s.step(opt, metric),
            LrSchedule::Plateau(s) => s.step(opt, metric),
            LrSchedule::Warmup { warmup, then } => {
                if !warmup.done() {
                    warmup.step(opt, metric);
                } else if let Some(t) = then {
                    t.step(opt, metric);
                }
            }
        }
    }
}

fn num<T: FromStr>(text: &str, part: Option<&str>, what: &'static str) -> Result<Option<T>> {
    part.map(|p| {
        p.trim()
            .parse::<T>()
            .map_err(|_| Error::invalid("lr schedule", format!("{text:?}: {what} {p:?}"), SYNTAX))
    })
    .transpose()
}

const SYNTAX: &str = "step:S[:G], exponential:G, cosine:T[:MIN], plateau[:P[:F]], warmup:E[:F], or warmup:E[:F],<one of the others>";

impl FromStr for LrSchedule {
    type Err = Error;
    fn from_str(text: &str) -> Result<LrSchedule> {
        if let Some((first, rest)) = text.split_once(',') {
            let head: LrSchedule = first.parse()?;
            let LrSchedule::Warmup { warmup, then: None } = head else {
                return Err(Error::invalid("lr schedule", text, SYNTAX));
            };
            let then: LrSchedule = rest.parse()?;
            if matches!(then, LrSchedule::Warmup { .. }) {
                return Err(Error::invalid("lr schedule", text, SYNTAX));
            }
            return Ok(LrSchedule::Warmup {
                warmup,
                then: Some(Box::new(then)),
            });
        }
        let mut parts = text.split(':');
        let name = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let (a, b, extra) = (parts.next(), parts.next(), parts.next());
        if extra.is_some() {
            return Err(Error::invalid("lr schedule", text, SYNTAX));
        }
        let need = |v: Option<usize>, what| {
            v.ok_or_else(|| Error::invalid("lr schedule", format!("{text:?}: no {what}"), SYNTAX))
        };
        Ok(match name.as_str() {
            "step" => {
                let s = StepLr::new(need(num(text, a, "step size")?, "step size")?);
                let g = num::<f32>(text, b, "gamma")?;
                LrSchedule::Step(g.map_or(s.clone(), |g| s.gamma(g)).build()?)
            }
            "exponential" | "exp" if b.is_none() => {
                let g: f32 = num(text, a, "gamma")?.ok_or_else(|| {
                    Error::invalid("lr schedule", format!("{text:?}: no gamma"), SYNTAX)
                })?;
                LrSchedule::Exponential(ExponentialLr::new(g).build()?)
            }
            "cosine" => {
                let s = CosineAnnealingLr::new(need(num(text, a, "T_max")?, "T_max")?);
                let m = num::<f32>(text, b, "eta_min")?;
                LrSchedule::Cosine(m.map_or(s.clone(), |m| s.eta_min(m)).build()?)
            }
            "plateau" => {
                let mut s = ReduceLrOnPlateau::new();
                if let Some(p) = num(text, a, "patience")? {
                    s = s.patience(p);
                }
                if let Some(f) = num(text, b, "factor")? {
                    s = s.factor(f);
                }
                LrSchedule::Plateau(s.build()?)
            }
            "warmup" => {
                let w = LinearWarmup::new(need(num(text, a, "epochs")?, "warm-up epochs")?);
                let f = num::<f32>(text, b, "start factor")?;
                LrSchedule::Warmup {
                    warmup: f.map_or(w.clone(), |f| w.start_factor(f)).build()?,
                    then: None,
                }
            }
            _ => return Err(Error::invalid("lr schedule", text, SYNTAX)),
        })
    }
}

impl fmt::Display for LrSchedule {
    /// The text form [`LrSchedule::from_str`] reads.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LrSchedule::Step(s) => write!(f, "step:{}:{}", s.step_size, s.gamma),
            LrSchedule::Exponential(s) => write!(f, "exponential:{}", s.gamma),
            LrSchedule::Cosine(s) => write!(f, "cosine:{}:{}", s.t_max, s.eta_min),
            LrSchedule::Plateau(s) => write!(f, "plateau:{}:{}", s.patience, s.factor),
            LrSchedule::Warmup { warmup, then } => {
                write!(f, "warmup:{}:{}", warmup.epochs, warmup.start_factor)?;
                match then {
                    Some(t) => write!(f, ",{t}"),
                    None => Ok(()),
                }
            }
        }
    }
}

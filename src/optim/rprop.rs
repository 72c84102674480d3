//! Resilient backpropagation, as PyTorch's `torch.optim.Rprop` (Riedmiller & Braun, "A Direct
//! Adaptive Method for Faster Backpropagation Learning: The RPROP Algorithm", 1993).
//!
//! Only the sign of the gradient is used. Each weight has its own step Δ, starting at Δ₀ = lr.
//! Per element, with g₋ the gradient remembered from the previous step (0 at first):
//!
//! ```text
//! g·g₋ > 0:  Δ ← min(Δ·η⁺, Δmax)                  (same direction: speed up)
//! g·g₋ < 0:  Δ ← max(Δ·η⁻, Δmin),  g ← 0           (overshot a minimum: slow down, skip)
//! g·g₋ = 0:  Δ unchanged (still clamped into [Δmin, Δmax])
//! θ ← θ − sign(g)·Δ
//! g₋ ← g
//! ```
//!
//! Setting g to 0 after a sign change is PyTorch's variant (Riedmiller's Rprop⁻ without weight
//! backtracking): the weight does not move on that step, and because g₋ = 0 the next step
//! neither grows nor shrinks Δ.
//!
//! Unlike PyTorch, whose default lr is 0.01, the default initial step Δ₀ is 0.1: the value
//! Riedmiller & Braun recommend, and the one our issue specifies. η⁻ = 0.5, η⁺ = 1.2,
//! Δmin = 1e-6 and Δmax = 50 are PyTorch's defaults and the paper's.

use crate::error::{Error, Result};
use crate::optim::state::{self, Entry, Slot};
use crate::optim::{LearningRate, Optimizer};
use crate::params::ParamId;
use crate::tensor::{Shape, Tensor};
use serde::{Deserialize, Serialize};

/// [`Rprop`]'s settings. Defaults: initial step Δ₀ = lr = 0.1 (PyTorch's is 0.01; see the module
/// docs), etas (η⁻, η⁺) = (0.5, 1.2), step sizes (Δmin, Δmax) = (1e-6, 50), PyTorch's.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct RpropConfig {
    /// The initial step Δ₀ (≥ 0). As in PyTorch, it is read only when a parameter takes its first
    /// step, so changing it later (e.g. by a schedule) does not affect steps already adapted.
    pub lr: f32,
    /// (η⁻, η⁺): step multipliers after a sign change and after no change; 0 < η⁻ < 1 < η⁺.
    pub etas: (f32, f32),
    /// (Δmin, Δmax): the bounds of each step; 0 ≤ Δmin ≤ Δmax.
    pub step_sizes: (f32, f32),
}

impl Default for RpropConfig {
    fn default() -> RpropConfig {
        RpropConfig {
            lr: 0.1,
            etas: (0.5, 1.2),
            step_sizes: (1e-6, 50.0),
        }
    }
}

impl RpropConfig {
    /// Checks the settings: lr ≥ 0 and 0 < η⁻ < 1 < η⁺, as PyTorch's constructor; and, unlike
    /// PyTorch, which does not check them, 0 ≤ Δmin ≤ Δmax.
    pub fn validate(&self) -> Result<()> {
        state::non_negative("lr", self.lr)?;
        let (minus, plus) = self.etas;
        if !(0.0 < minus && minus < 1.0 && 1.0 < plus) {
            let v = format!("({minus}, {plus})");
            return Err(Error::invalid(
                "etas",
                v,
                "must satisfy 0 < eta_minus < 1 < eta_plus",
            ));
        }
        let (lo, hi) = self.step_sizes;
        if !(0.0 <= lo && lo <= hi) {
            return Err(Error::invalid(
                "step_sizes",
                format!("({lo}, {hi})"),
                "must satisfy 0 <= min <= max",
            ));
        }
        Ok(())
    }
}

/// Rprop ([`RpropConfig`]).
///
/// Rprop is a full-batch method: the sign test compares successive gradients of the same loss.
///
/// ```
/// use backprop::optim::{Optimizer, Rprop, RpropConfig};
/// use backprop::{Graph, Parameters, Tape, Tensor};
/// let mut ps = Parameters::new();
/// let w = ps.add("w", Tensor::from_vec(vec![1.0, -2.0], [2])?);
/// let mut opt = Rprop::new(RpropConfig::default())?;
/// let mut tape = Tape::new();
/// let mut g = Graph::new(&mut tape, &ps);
/// let wv = g.param(w);
/// let sq = g.square(wv);
/// let loss = g.sum(sq); // ∂loss/∂w = 2w
/// let grads = g.backward(loss);
/// opt.step(&mut ps, &grads);
/// // Each weight moves by Δ₀ = 0.1 against the sign of its gradient.
/// assert_eq!(ps[w].to_vec(), vec![0.9, -1.9]);
/// # Ok::<(), backprop::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Rprop {
    cfg: RpropConfig,
    steps: Vec<Option<Steps>>,
}

impl Rprop {
    /// Rprop with the settings `cfg`, once they pass [`RpropConfig::validate`].
    pub fn new(cfg: RpropConfig) -> Result<Rprop> {
        cfg.validate()?;
        Ok(Rprop {
            cfg,
            steps: Vec::new(),
        })
    }

    /// The settings (the initial step as a schedule last set it).
    pub fn config(&self) -> &RpropConfig {
        &self.cfg
    }
}

/// One parameter's previous gradient and per-weight steps.
#[derive(Clone, Debug)]
struct Steps {
    step: u64,
    prev: Tensor,
    step_size: Tensor,
}

impl Slot for Steps {
    fn shape(&self) -> &Shape {
        self.prev.shape()
    }
    fn save(&self, i: usize, out: &mut Vec<(String, Tensor)>) {
        out.push((format!("step.{i}"), state::step_tensor(self.step)));
        out.push((format!("prev.{i}"), self.prev.clone()));
        out.push((format!("step_size.{i}"), self.step_size.clone()));
    }
    fn load(e: &Entry) -> Result<Steps> {
        Ok(Steps {
            step: e.step()?,
            prev: e.tensor("prev")?,
            step_size: e.tensor("step_size")?,
        })
    }
}

/// The sign of x as PyTorch's `sign`: 0 for ±0 (Rust's `signum` gives ±1).
fn sign(x: f32) -> f32 {
    if x > 0.0 {
        1.0
    } else if x < 0.0 {
        -1.0
    } else {
        0.0
    }
}

impl LearningRate for Rprop {
    /// The initial step Δ₀.
    fn lr(&self) -> f32 {
        self.cfg.lr
    }

    /// Sets the initial step Δ₀ for parameters that have not taken a step yet; as in PyTorch,
    /// adapted steps are unaffected.
    fn set_lr(&mut self, lr: f32) {
        self.cfg.lr = lr;
    }
}

impl Optimizer for Rprop {
    fn step_param(&mut self, id: ParamId, p: &mut Tensor, g: &Tensor) {
        let RpropConfig {
            lr,
            etas: (minus, plus),
            step_sizes: (lo, hi),
        } = self.cfg;
        state::with_slot(id, p, g, &mut self.steps, |p, g, shape, slot| {
            let s = slot.get_or_insert_with(|| Steps {
                step: 0,
                prev: Tensor::zeros(shape),
                step_size: Tensor::full(shape, lr),
            });
            s.step += 1;
            let per_weight = s.prev.data_mut().iter_mut().zip(s.step_size.data_mut());
            for ((p, &g), (prev, delta)) in p.iter_mut().zip(g).zip(per_weight) {
                let same = sign(g * *prev);
                let factor = if same > 0.0 {
                    plus
                } else if same < 0.0 {
                    minus
                } else {
                    1.0
                };
                // max-then-min, as PyTorch's clamp (f32::clamp would panic on a bad range).
                *delta = (*delta * factor).max(lo).min(hi);
                let g = if same < 0.0 { 0.0 } else { g };
                *p -= sign(g) * *delta;
                *prev = g;
            }
        });
    }

    fn state(&self) -> Vec<(String, Tensor)> {
        state::save_all(&self.steps)
    }

    fn load_state(&mut self, state: &[(String, Tensor)]) -> Result<()> {
        self.steps = state::load_all(state, &["step", "prev", "step_size"])?;
        Ok(())
    }
}

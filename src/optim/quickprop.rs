//! Quickprop (Fahlman, "An Empirical Study of Learning Speed in Back-Propagation Networks",
//! CMU-CS-88-162, 1988): each weight jumps to the minimum of a parabola fitted through its last
//! two slopes, as if the error were a separate quadratic in every weight.
//!
//! Per element, with S = ∂E/∂w + λw the current slope (λ the optional weight decay), S₋ the slope
//! remembered from the previous step, Δ₋ the previous step, ε the learning rate and μ the maximum
//! growth factor (shrink factor σ = μ/(1 + μ)):
//!
//! ```text
//! Δ₋ = 0:   Δ = −εS                                   (first step, or after a zero step)
//! Δ₋ < 0:   Δ = (−εS if S > 0) + (μΔ₋ if S ≥ σS₋, else Δ₋·S/(S₋ − S))
//! Δ₋ > 0:   Δ = (−εS if S < 0) + (μΔ₋ if S ≤ σS₋, else Δ₋·S/(S₋ − S))
//! w ← w + Δ,  S₋ ← S,  Δ₋ ← Δ
//! ```
//!
//! The quadratic step `Δ₋·S/(S₋ − S)` is capped at μ times the previous step (S = σS₋ is exactly
//! where it would reach μΔ₋): when the slope has not shrunk enough, or has grown, the weight takes
//! the maximum step μΔ₋ instead. The gradient-descent term −εS is added only while the slope still
//! points the way the last step went (S·Δ₋ < 0), so that after an overshoot the weight jumps back
//! by the parabola alone. This is Fahlman's `quickprop-update` (as in his Cascade-Correlation
//! code) branch for branch.
//!
//! Of Fahlman's refinements this includes: the maximum growth factor μ (default 1.75), the
//! gradient-descent term added to the quadratic or maximum step while the slope keeps the
//! previous step's direction, plain gradient descent −εS whenever the previous step is zero (the
//! first step), and weight decay λ folded into the slope (optional; default 0, Fahlman used
//! 1e-4). Left out, because they are not part of the update: the sigmoid-prime offset (0.1 added
//! to σ′ against flat spots), the hyperbolic-arctangent error, and splitting ε by fan-in.
//!
//! A step smaller than 2⁻¹²⁶ is stored (and taken) as zero, so geometrically shrinking steps never
//! run in the CPU's slow subnormal path; the next step of that weight is then plain gradient
//! descent. Such a step could not move a weight larger than about 1e-31 anyway.

use crate::error::{Error, Result};
use crate::optim::decay::l2_if;
use crate::optim::state::{self, Entry, Slot};
use crate::optim::{LearningRate, Optimizer};
use crate::params::ParamId;
use crate::tensor::{Shape, Tensor};
use serde::{Deserialize, Serialize};

/// [`Quickprop`]'s settings (PyTorch has no Quickprop). Defaults: ε = lr = 0.1, μ = 1.75
/// (Fahlman's), weight decay 0.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct QuickpropConfig {
    /// The learning rate ε (≥ 0) of the gradient-descent term.
    pub lr: f32,
    /// The maximum growth factor μ (> 0): no step is more than μ times the previous one.
    pub mu: f32,
    /// Weight decay λ (≥ 0), added to the slope as `λw`.
    pub weight_decay: f32,
}

impl Default for QuickpropConfig {
    fn default() -> QuickpropConfig {
        QuickpropConfig {
            lr: 0.1,
            mu: 1.75,
            weight_decay: 0.0,
        }
    }
}

impl QuickpropConfig {
    /// Checks the settings: lr and weight decay ≥ 0, μ > 0 and finite (NaN rejected).
    pub fn validate(&self) -> Result<()> {
        state::non_negative("lr", self.lr)?;
        state::non_negative("weight_decay", self.weight_decay)?;
        if !(self.mu > 0.0 && self.mu.is_finite()) {
            return Err(Error::invalid("mu", self.mu, "must be > 0 and finite"));
        }
        Ok(())
    }
}

/// Quickprop ([`QuickpropConfig`]).
///
/// Like Rprop, Quickprop is a full-batch method: the parabola is fitted to two slopes of the same
/// error function. PyTorch has no Quickprop.
///
/// ```
/// use backprop::optim::{Optimizer, Quickprop, QuickpropConfig};
/// use backprop::{Graph, Parameters, Tape, Tensor};
/// let mut ps = Parameters::new();
/// let w = ps.add("w", Tensor::from_vec(vec![1.0], [1]).unwrap());
/// let mut opt = Quickprop::new(QuickpropConfig { lr: 0.25, ..QuickpropConfig::default() })?;
/// for _ in 0..2 {
///     let mut tape = Tape::new();
///     let mut g = Graph::new(&mut tape, &ps);
///     let wv = g.param(w);
///     let sq = g.square(wv);
///     let s = g.sum(sq);
///     let loss = g.scale(s, 2.0); // ∂loss/∂w = 4w
///     let grads = g.backward(loss);
///     opt.step(&mut ps, &grads);
/// }
/// // Step 1 is gradient descent: 1 − 0.25·4 = 0. Step 2: the slope is 0, and so is the step.
/// assert_eq!(ps[w].to_vec(), vec![0.0]);
/// # Ok::<(), backprop::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Quickprop {
    cfg: QuickpropConfig,
    slots: Vec<Option<Memory>>,
}

impl Quickprop {
    /// Quickprop with the settings `cfg`, once they pass [`QuickpropConfig::validate`].
    pub fn new(cfg: QuickpropConfig) -> Result<Quickprop> {
        cfg.validate()?;
        Ok(Quickprop {
            cfg,
            slots: Vec::new(),
        })
    }

    /// The settings (the learning rate as a schedule last set it).
    pub fn config(&self) -> &QuickpropConfig {
        &self.cfg
    }
}

/// One parameter's previous slope S₋ and previous step Δ₋.
#[derive(Clone, Debug)]
struct Memory {
    prev_grad: Tensor,
    prev_step: Tensor,
}

impl Slot for Memory {
    fn shape(&self) -> &Shape {
        self.prev_grad.shape()
    }
    fn save(&self, i: usize, out: &mut Vec<(String, Tensor)>) {
        out.push((format!("prev_grad.{i}"), self.prev_grad.clone()));
        out.push((format!("prev_step.{i}"), self.prev_step.clone()));
    }
    fn load(e: &Entry) -> Result<Memory> {
        Ok(Memory {
            prev_grad: e.tensor("prev_grad")?,
            prev_step: e.tensor("prev_step")?,
        })
    }
}

/// Fahlman's update of one weight: the step Δ from the slope `s`, the previous slope `p` and the
/// previous step `d` (see the module docs).
#[inline]
fn quickprop_step(s: f32, p: f32, d: f32, eps: f32, mu: f32, shrink: f32) -> f32 {
    let step = if d < 0.0 {
        let linear = if s > 0.0 { -eps * s } else { 0.0 };
        linear
            + if s >= shrink * p {
                mu * d
            } else {
                d * s / (p - s)
            }
    } else if d > 0.0 {
        let linear = if s < 0.0 { -eps * s } else { 0.0 };
        linear
            + if s <= shrink * p {
                mu * d
            } else {
                d * s / (p - s)
            }
    } else {
        -eps * s
    };
    // See the module docs: no subnormal steps.
    if step.abs() < f32::MIN_POSITIVE {
        0.0
    } else {
        step
    }
}

impl LearningRate for Quickprop {
    /// The learning rate ε of the gradient-descent term.
    fn lr(&self) -> f32 {
        self.cfg.lr
    }

    fn set_lr(&mut self, lr: f32) {
        self.cfg.lr = lr;
    }
}

impl Optimizer for Quickprop {
    fn step_param(&mut self, id: ParamId, p: &mut Tensor, g: &Tensor) {
        let QuickpropConfig {
            lr,
            mu,
            weight_decay: wd,
        } = self.cfg;
        let shrink = mu / (1.0 + mu);
        state::with_slot(id, p, g, &mut self.slots, |p, g, shape, slot| {
            let m = slot.get_or_insert_with(|| Memory {
                prev_grad: Tensor::zeros(shape),
                prev_step: Tensor::zeros(shape),
            });
            let memory = m
                .prev_grad
                .data_mut()
                .iter_mut()
                .zip(m.prev_step.data_mut());
            for ((w, &g), (prev_grad, prev_step)) in p.iter_mut().zip(g).zip(memory) {
                let s = l2_if(g, *w, wd);
                let step = quickprop_step(s, *prev_grad, *prev_step, lr, mu, shrink);
                *w += step;
                *prev_grad = s;
                *prev_step = step;
            }
        });
    }

    fn state(&self) -> Vec<(String, Tensor)> {
        state::save_all(&self.slots)
    }

    fn load_state(&mut self, state: &[(String, Tensor)]) -> Result<()> {
        self.slots = state::load_all(state, &["prev_grad", "prev_step"])?;
        Ok(())
    }
}

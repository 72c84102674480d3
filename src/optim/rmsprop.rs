//! RMSprop, as PyTorch's `torch.optim.RMSprop` (Hinton's lecture 6e; the centered variant from
//! Graves, "Generating Sequences With Recurrent Neural Networks").
//!
//! Per element (v, the mean gradient ḡ and the buffer b all start at 0):
//!
//! ```text
//! g ← g + λθ                        (L2 weight decay, if λ ≠ 0)
//! v ← αv + (1 − α)g²
//! ḡ ← ḡ + (1 − α)(g − ḡ),  ṽ = v − ḡ²     (centered: an estimate of the variance)
//! ṽ = v                              (otherwise)
//! b ← μb + g/(√ṽ + ε),  θ ← θ − lr·b       (momentum μ > 0)
//! θ ← θ − lr·g/(√ṽ + ε)                     (otherwise)
//! ```
//!
//! As in PyTorch, ε is added after the square root (TensorFlow adds it inside).

use crate::error::Result;
use crate::optim::decay::{l2, l2_if};
use crate::optim::state::{self, Entry, Slot};
use crate::optim::{LearningRate, Optimizer};
use crate::params::ParamId;
use crate::tensor::{Shape, Tensor};
use serde::{Deserialize, Serialize};

/// [`RmsProp`]'s settings. Defaults are PyTorch's: lr 0.01, alpha 0.99, eps 1e-8, weight decay
/// 0, momentum 0, not centered.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct RmsPropConfig {
    /// Learning rate (≥ 0).
    pub lr: f32,
    /// Smoothing constant α (≥ 0) of the running mean of g².
    pub alpha: f32,
    /// Added to the denominator for numerical stability (≥ 0).
    pub eps: f32,
    /// L2 penalty λ (≥ 0), added to the gradient as `λθ`.
    pub weight_decay: f32,
    /// Momentum factor μ (≥ 0); 0 turns momentum off.
    pub momentum: f32,
    /// Normalise by an estimate of the gradient's variance rather than its raw second moment.
    pub centered: bool,
}

impl Default for RmsPropConfig {
    fn default() -> RmsPropConfig {
        RmsPropConfig {
            lr: 0.01,
            alpha: 0.99,
            eps: 1e-8,
            weight_decay: 0.0,
            momentum: 0.0,
            centered: false,
        }
    }
}

impl RmsPropConfig {
    /// Checks the settings as PyTorch's constructor does: lr, eps, momentum, weight decay and
    /// alpha ≥ 0 (NaN rejected).
    pub fn validate(&self) -> Result<()> {
        state::non_negative("lr", self.lr)?;
        state::non_negative("eps", self.eps)?;
        state::non_negative("momentum", self.momentum)?;
        state::non_negative("weight_decay", self.weight_decay)?;
        state::non_negative("alpha", self.alpha)
    }
}

/// RMSprop ([`RmsPropConfig`]).
///
/// ```
/// use backprop::optim::{Optimizer, RmsProp, RmsPropConfig};
/// use backprop::{Graph, Parameters, Tape, Tensor};
/// let mut ps = Parameters::new();
/// let w = ps.add("w", Tensor::from_vec(vec![1.0, -2.0], [2])?);
/// let mut opt = RmsProp::new(RmsPropConfig { alpha: 0.75, ..RmsPropConfig::default() })?;
/// let mut tape = Tape::new();
/// let mut g = Graph::new(&mut tape, &ps);
/// let wv = g.param(w);
/// let loss = g.sum(wv); // ∂loss/∂w = 1
/// let grads = g.backward(loss);
/// opt.step(&mut ps, &grads);
/// // v = 0.25, so each weight moves by 0.01·1/√0.25 = 0.02
/// assert!((ps[w].to_vec()[0] - 0.98).abs() < 1e-6);
/// # Ok::<(), backprop::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct RmsProp {
    cfg: RmsPropConfig,
    averages: Vec<Option<Averages>>,
}

impl RmsProp {
    /// RMSprop with the settings `cfg`, once they pass [`RmsPropConfig::validate`].
    pub fn new(cfg: RmsPropConfig) -> Result<RmsProp> {
        cfg.validate()?;
        Ok(RmsProp {
            cfg,
            averages: Vec::new(),
        })
    }

    /// The settings (the learning rate as a schedule last set it).
    pub fn config(&self) -> &RmsPropConfig {
        &self.cfg
    }
}

#[derive(Clone, Debug)]
struct Averages {
    step: u64,
    square_avg: Tensor,
    momentum_buffer: Option<Tensor>,
    grad_avg: Option<Tensor>,
}

impl Slot for Averages {
    fn shape(&self) -> &Shape {
        self.square_avg.shape()
    }
    fn save(&self, i: usize, out: &mut Vec<(String, Tensor)>) {
        out.push((format!("step.{i}"), state::step_tensor(self.step)));
        out.push((format!("square_avg.{i}"), self.square_avg.clone()));
        if let Some(t) = &self.momentum_buffer {
            out.push((format!("momentum_buffer.{i}"), t.clone()));
        }
        if let Some(t) = &self.grad_avg {
            out.push((format!("grad_avg.{i}"), t.clone()));
        }
    }
    fn load(e: &Entry) -> Result<Averages> {
        Ok(Averages {
            step: e.step()?,
            square_avg: e.tensor("square_avg")?,
            momentum_buffer: e.optional("momentum_buffer"),
            grad_avg: e.optional("grad_avg"),
        })
    }
}

/// A slice of `t`, made as zeros of `shape` the first time it is wanted; `None` when not wanted.
fn lazy(wanted: bool, t: &mut Option<Tensor>, shape: Shape) -> Option<&mut [f32]> {
    wanted.then(|| t.get_or_insert_with(|| Tensor::zeros(shape)).data_mut())
}

impl LearningRate for RmsProp {
    fn lr(&self) -> f32 {
        self.cfg.lr
    }

    fn set_lr(&mut self, lr: f32) {
        self.cfg.lr = lr;
    }
}

impl Optimizer for RmsProp {
    fn step_param(&mut self, id: ParamId, p: &mut Tensor, g: &Tensor) {
        let RmsPropConfig {
            lr,
            alpha,
            eps,
            weight_decay: wd,
            momentum: mu,
            centered,
        } = self.cfg;
        state::with_slot(id, p, g, &mut self.averages, |p, g, shape, slot| {
            let s = slot.get_or_insert_with(|| Averages {
                step: 0,
                square_avg: Tensor::zeros(shape),
                momentum_buffer: None,
                grad_avg: None,
            });
            s.step += 1;
            let mut buf = lazy(mu > 0.0, &mut s.momentum_buffer, shape);
            let mut gavg = lazy(centered, &mut s.grad_avg, shape);
            let v = s.square_avg.data_mut();
            if buf.is_none() && gavg.is_none() {
                // the plain variant, as one loop compiled per vector width
                crate::tensor::simd::dispatch(PlainStep(p, g, v, lr, alpha, eps, wd));
                return;
            }
            for k in 0..p.len() {
                let gk = l2_if(g[k], p[k], wd);
                v[k] = v[k] * alpha + (1.0 - alpha) * gk * gk;
                let var = match gavg.as_deref_mut() {
                    Some(ga) => {
                        ga[k] += (1.0 - alpha) * (gk - ga[k]);
                        v[k] - ga[k] * ga[k]
                    }
                    None => v[k],
                };
                let avg = var.sqrt() + eps;
                match buf.as_deref_mut() {
                    Some(b) => {
                        b[k] = b[k] * mu + gk / avg;
                        p[k] -= lr * b[k];
                    }
                    None => p[k] -= lr * (gk / avg),
                }
            }
        });
    }

    fn state(&self) -> Vec<(String, Tensor)> {
        state::save_all(&self.averages)
    }

    fn load_state(&mut self, state: &[(String, Tensor)]) -> Result<()> {
        self.averages = state::load_all(
            state,
            &["step", "square_avg", "momentum_buffer", "grad_avg"],
        )?;
        Ok(())
    }
}

/// RMSprop without momentum or centering: `v ← αv + (1 − α)g²; θ ← θ − lr·g/(√v + ε)`.
struct PlainStep<'a>(&'a mut [f32], &'a [f32], &'a mut [f32], f32, f32, f32, f32);

impl crate::tensor::simd::Kernel for PlainStep<'_> {
    type Out = ();
    #[inline(always)]
    fn run(self) {
        let PlainStep(p, g, v, lr, alpha, eps, wd) = self;
        let n = p.len().min(g.len()).min(v.len());
        let (p, g, v) = (&mut p[..n], &g[..n], &mut v[..n]);
        for k in 0..n {
            // g + 0·θ is g when there is no weight decay (up to the sign of a zero, which the
            // update cannot see)
            let gk = l2(g[k], p[k], wd);
            v[k] = v[k] * alpha + (1.0 - alpha) * gk * gk;
            p[k] -= lr * (gk / (v[k].sqrt() + eps));
        }
    }
}

//! Adam, as PyTorch's `torch.optim.Adam`, and AdamW (`torch.optim.AdamW`): Adam with decoupled
//! weight decay, PyTorch's `Adam(decoupled_weight_decay=True)`.
//!
//! Per element, at a parameter's step t = 1, 2, … (m and v start at 0):
//!
//! ```text
//! g ← g + λθ                        (Adam: L2 weight decay, if λ ≠ 0)
//! θ ← θ·(1 − lr·λ)                  (AdamW: decoupled weight decay, before the update)
//! m ← β₁m + (1 − β₁)g               (computed as m + (1 − β₁)(g − m), PyTorch's lerp)
//! v ← β₂v + (1 − β₂)g²
//! v_max ← max(v_max, v)             (amsgrad only; then v_max replaces v below)
//! θ ← θ − (lr / (1 − β₁ᵗ)) · m / (√v / √(1 − β₂ᵗ) + ε)
//! ```
//!
//! Unlike PyTorch, the update stores moments (m, v and AMSGrad's v_max) below the smallest normal
//! f32 (1.2e-38) as 0, in software as Sgd and RMSprop do: a weight whose gradient stays 0 would
//! otherwise decay its moments into subnormals, which made a batch-1 MNIST epoch 3× slower. Such
//! values cannot move a weight by a representable amount. (The CPU's flush-to-zero mode is not
//! used: changing MXCSR around compiled Rust code is undefined behaviour.)
//!
//! The bias corrections `1 − βᵗ` are computed in f64, as PyTorch computes them in Python floats.
//! Adam's L2 decay adds λθ to g, so it is divided by `√v̂ + ε` like the gradient and weights with
//! large gradients are hardly decayed. AdamW shrinks every weight at the same rate (Loshchilov &
//! Hutter, "Decoupled Weight Decay Regularization").
//!
//! Each parameter counts its own steps t (PyTorch's per-parameter `step`), so a parameter that
//! missed some steps is still bias-corrected for the updates it actually received.

use crate::error::{Error, Result};
use crate::optim::decay;
use crate::optim::state::{self, Entry, Slot};
use crate::optim::{LearningRate, Optimizer};
use crate::params::ParamId;
use crate::tensor::pool::{self, SharedMut};
use crate::tensor::{Shape, Tensor};
use serde::{Deserialize, Serialize};

/// [`Adam`]'s settings, AdamW's included. [`AdamConfig::default`] is PyTorch's `Adam`: lr 1e-3,
/// betas (0.9, 0.999), eps 1e-8, weight decay 0, no amsgrad, L2 (coupled) decay;
/// [`AdamConfig::adamw`] is PyTorch's `AdamW`: the same with decoupled weight decay 1e-2.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct AdamConfig {
    /// Learning rate (≥ 0).
    pub lr: f32,
    /// Decay rates (β₁, β₂) of the first and second moment estimates, each in [0, 1).
    pub betas: (f32, f32),
    /// Added to the denominator for numerical stability (≥ 0).
    pub eps: f32,
    /// Weight decay λ (≥ 0): added to the gradient as `λθ`, or with
    /// `decoupled_weight_decay`, `θ ← θ(1 − lr·λ)` before each update.
    pub weight_decay: f32,
    /// Use the running maximum of v (Reddi et al., "On the Convergence of Adam and Beyond").
    pub amsgrad: bool,
    /// AdamW: decay the weights directly instead of adding `λθ` to the gradient. (An
    /// [`OptimizerConfig`](super::OptimizerConfig) writes this as the name `adamw`.)
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub decoupled_weight_decay: bool,
}

impl Default for AdamConfig {
    fn default() -> AdamConfig {
        AdamConfig {
            lr: 1e-3,
            betas: (0.9, 0.999),
            eps: 1e-8,
            weight_decay: 0.0,
            amsgrad: false,
            decoupled_weight_decay: false,
        }
    }
}

impl AdamConfig {
    /// PyTorch's `AdamW` defaults: [`AdamConfig::default`] with decoupled weight decay 1e-2.
    pub fn adamw() -> AdamConfig {
        AdamConfig {
            weight_decay: 1e-2,
            decoupled_weight_decay: true,
            ..AdamConfig::default()
        }
    }

    /// Checks the settings as PyTorch's constructor does: lr, eps and weight decay ≥ 0, each
    /// beta in [0, 1) (NaN rejected).
    pub fn validate(&self) -> Result<()> {
        state::non_negative("lr", self.lr)?;
        state::non_negative("eps", self.eps)?;
        state::non_negative("weight_decay", self.weight_decay)?;
        for (name, b) in [("beta1", self.betas.0), ("beta2", self.betas.1)] {
            if !(0.0..1.0).contains(&b) {
                return Err(Error::invalid(name, b, "must be in [0, 1)"));
            }
        }
        Ok(())
    }
}

/// Adam with L2 or decoupled (AdamW) weight decay ([`AdamConfig`]).
///
/// ```
/// use backprop::optim::{Adam, AdamConfig, Optimizer};
/// use backprop::{Graph, Parameters, Tape, Tensor};
/// let mut ps = Parameters::new();
/// let w = ps.add("w", Tensor::from_vec(vec![1.0, -2.0], [2])?);
/// let mut opt = Adam::new(AdamConfig { lr: 0.1, ..AdamConfig::default() })?;
/// let mut tape = Tape::new();
/// let mut g = Graph::new(&mut tape, &ps);
/// let wv = g.param(w);
/// let loss = g.sum(wv); // ∂loss/∂w = 1
/// let grads = g.backward(loss);
/// opt.step(&mut ps, &grads);
/// // The first step moves each weight by lr, whatever the gradient's scale: m̂/√v̂ = g/|g|.
/// assert!((ps[w].to_vec()[0] - 0.9).abs() < 1e-6);
/// // AdamW: w ← w·(1 − 0.1·0.5) − 0.1, so 1 → 0.85
/// let mut ps = Parameters::new();
/// let w = ps.add("w", Tensor::from_vec(vec![1.0, -2.0], [2])?);
/// let cfg = AdamConfig { lr: 0.1, weight_decay: 0.5, ..AdamConfig::adamw() };
/// let mut opt = Adam::new(cfg)?;
/// let mut g = Graph::new(&mut tape, &ps);
/// let wv = g.param(w);
/// let loss = g.sum(wv);
/// let grads = g.backward(loss);
/// opt.step(&mut ps, &grads);
/// assert!((ps[w].to_vec()[0] - 0.85).abs() < 1e-6);
/// # Ok::<(), backprop::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Adam {
    cfg: AdamConfig,
    moments: Vec<Option<Moments>>,
}

impl Adam {
    /// Adam with the settings `cfg`, once they pass [`AdamConfig::validate`].
    pub fn new(cfg: AdamConfig) -> Result<Adam> {
        cfg.validate()?;
        Ok(Adam {
            cfg,
            moments: Vec::new(),
        })
    }

    /// The settings (the learning rate as a schedule last set it).
    pub fn config(&self) -> &AdamConfig {
        &self.cfg
    }
}

/// The state tensor kinds, PyTorch's names.
const KINDS: [&str; 4] = ["step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"];

impl LearningRate for Adam {
    fn lr(&self) -> f32 {
        self.cfg.lr
    }
    fn set_lr(&mut self, lr: f32) {
        self.cfg.lr = lr;
    }
}

impl Optimizer for Adam {
    fn step_param(&mut self, id: ParamId, p: &mut Tensor, g: &Tensor) {
        let cfg = self.cfg;
        state::with_slot(id, p, g, &mut self.moments, |p, g, shape, slot| {
            update_one(cfg, p, g, shape, slot)
        });
    }
    fn state(&self) -> Vec<(String, Tensor)> {
        state::save_all(&self.moments)
    }
    fn load_state(&mut self, state: &[(String, Tensor)]) -> Result<()> {
        self.moments = state::load_all(state, &KINDS)?;
        Ok(())
    }
}

/// One parameter's step count and moment estimates.
#[derive(Clone, Debug)]
struct Moments {
    step: u64,
    exp_avg: Tensor,
    exp_avg_sq: Tensor,
    max_exp_avg_sq: Option<Tensor>,
}

impl Slot for Moments {
    fn shape(&self) -> &Shape {
        self.exp_avg.shape()
    }
    fn save(&self, i: usize, out: &mut Vec<(String, Tensor)>) {
        out.push((format!("step.{i}"), state::step_tensor(self.step)));
        out.push((format!("exp_avg.{i}"), self.exp_avg.clone()));
        out.push((format!("exp_avg_sq.{i}"), self.exp_avg_sq.clone()));
        if let Some(t) = &self.max_exp_avg_sq {
            out.push((format!("max_exp_avg_sq.{i}"), t.clone()));
        }
    }
    fn load(e: &Entry) -> Result<Moments> {
        let (exp_avg, exp_avg_sq) = (e.tensor("exp_avg")?, e.tensor("exp_avg_sq")?);
        Ok(Moments {
            step: e.step()?,
            exp_avg,
            exp_avg_sq,
            max_exp_avg_sq: e.optional("max_exp_avg_sq"),
        })
    }
}

#[derive(Clone, Copy)]
struct AdamCoefs {
    b1: f32,
    b2: f32,
    l2: f32,
    step_size: f32,
    bc2_sqrt: f32,
    eps: f32,
}

/// The Adam update of one parameter, compiled per vector width (see `tensor::simd`).
struct AdamStep<'a>(
    &'a mut [f32],
    &'a [f32],
    &'a mut [f32],
    &'a mut [f32],
    AdamCoefs,
);

impl crate::tensor::simd::Kernel for AdamStep<'_> {
    type Out = ();
    #[inline(always)]
    fn run(self) {
        let AdamStep(p, g, m, v, c) = self;
        let n = p.len().min(g.len()).min(m.len()).min(v.len());
        let (p, g, m, v) = (&mut p[..n], &g[..n], &mut m[..n], &mut v[..n]);
        for i in 0..n {
            let gk = decay::l2(g[i], p[i], c.l2);
            let mk = flush(m[i] + (1.0 - c.b1) * (gk - m[i]));
            let vk = flush(v[i] * c.b2 + (1.0 - c.b2) * gk * gk);
            m[i] = mk;
            v[i] = vk;
            p[i] -= c.step_size * (mk / (vk.sqrt() / c.bc2_sqrt + c.eps));
        }
    }
}

/// `x`, or 0 where `|x|` is below the smallest normal f32.
#[inline(always)]
fn flush(x: f32) -> f32 {
    if x.abs() < f32::MIN_POSITIVE {
        0.0
    } else {
        x
    }
}

/// One Adam step of one parameter, its moments in `slot` (made on its first step).
fn update_one(h: AdamConfig, p: &mut [f32], g: &[f32], shape: Shape, slot: &mut Option<Moments>) {
    let (b1, b2) = h.betas;
    let decoupled = h.decoupled_weight_decay;
    {
        let s = slot.get_or_insert_with(|| Moments {
            step: 0,
            exp_avg: Tensor::zeros(shape),
            exp_avg_sq: Tensor::zeros(shape),
            max_exp_avg_sq: None,
        });
        s.step += 1;
        let t = s.step as f64;
        let step_size = (h.lr as f64 / (1.0 - (b1 as f64).powf(t))) as f32;
        let bc2_sqrt = (1.0 - (b2 as f64).powf(t)).sqrt() as f32;
        // A buffer for amsgrad is made the first time it is on (PyTorch makes it with the state).
        let vmax = match (h.amsgrad, &mut s.max_exp_avg_sq) {
            (true, Some(v)) => Some(v.data_mut()),
            (true, none) => Some(none.insert(Tensor::zeros(shape)).data_mut()),
            (false, _) => None,
        };
        let (m, v) = (s.exp_avg.data_mut(), s.exp_avg_sq.data_mut());
        if decoupled {
            decay::decoupled(p, h.lr, h.weight_decay);
        }
        let l2 = if decoupled { 0.0 } else { h.weight_decay };
        let Some(vm) = vmax else {
            // The common case as one branch-free loop the compiler vectorises. Moments that decay
            // below the smallest normal f32 are flushed to zero (as Sgd does): a weight whose
            // gradient stays 0 (a dead unit, a blank pixel) would otherwise keep a subnormal
            // moment, which costs ~100 cycles per operation; PyTorch keeps them.
            let c = AdamCoefs {
                b1,
                b2,
                l2,
                step_size,
                bc2_sqrt,
                eps: h.eps,
            };
            // Element-wise: large parameters are split over the pool's threads (each element
            // alone, so the same bits on any thread count).
            let n = p.len().min(g.len()).min(m.len()).min(v.len());
            let (pp, mp, vp) = (
                SharedMut(p.as_mut_ptr()),
                SharedMut(m.as_mut_ptr()),
                SharedMut(v.as_mut_ptr()),
            );
            pool::ranges(n, 1 << 14, &|r| {
                // SAFETY: the ranges are disjoint and inside p, m and v.
                let (p, m, v) = unsafe {
                    (
                        pp.slice(r.clone()),
                        mp.slice(r.clone()),
                        vp.slice(r.clone()),
                    )
                };
                crate::tensor::simd::dispatch(AdamStep(p, &g[r], m, v, c));
            });
            return;
        };
        // AMSGrad: the same flush of every stored moment, v_max included (a v_max loaded from a
        // checkpoint may hold subnormals even though every v here is flushed).
        for k in 0..p.len() {
            let gk = decay::l2(g[k], p[k], l2);
            m[k] = flush(m[k] + (1.0 - b1) * (gk - m[k]));
            v[k] = flush(v[k] * b2 + (1.0 - b2) * gk * gk);
            vm[k] = flush(vm[k].max(v[k]));
            p[k] -= step_size * (m[k] / (vm[k].sqrt() / bc2_sqrt + h.eps));
        }
    }
}

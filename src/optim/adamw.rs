//! AdamW, as PyTorch's `torch.optim.AdamW`: Adam with decoupled weight decay.
//!
//! Per element, at a parameter's step t = 1, 2, … (m and v start at 0):
//!
//! ```text
//! θ ← θ·(1 − lr·λ)                  (decoupled weight decay, before the update)
//! m ← β₁m + (1 − β₁)g,  v ← β₂v + (1 − β₂)g²,  v_max ← max(v_max, v) (amsgrad)
//! θ ← θ − (lr / (1 − β₁ᵗ)) · m / (√v / √(1 − β₂ᵗ) + ε)
//! ```
//!
//! Adam's L2 decay adds λθ to g, so it is divided by `√v̂ + ε` like the gradient and weights with
//! large gradients are hardly decayed. Here every weight shrinks at the same rate (Loshchilov &
//! Hutter, "Decoupled Weight Decay Regularization"). The rest is [`Adam`](super::Adam)'s update.

use super::adam::{update, update_param, Hyper, Moments, KINDS};
use crate::autograd::Gradients;
use crate::error::Result;
use crate::optim::state;
use crate::optim::Optimizer;
use crate::params::{ParamId, Parameters};
use crate::tensor::Tensor;

/// Adam with decoupled weight decay: `θ ← θ(1 − lr·λ)` before the Adam update. Defaults are
/// PyTorch's: lr 1e-3, betas (0.9, 0.999), eps 1e-8, weight decay 1e-2, no amsgrad.
///
/// ```
/// use backprop::optim::{AdamW, Optimizer};
/// use backprop::{Graph, Parameters, Tape, Tensor};
/// let mut ps = Parameters::new();
/// let w = ps.add("w", Tensor::from_vec(vec![1.0, -2.0], [2]).unwrap());
/// let mut opt = AdamW::new(0.1).weight_decay(0.5).build().unwrap();
/// let mut tape = Tape::new();
/// let mut g = Graph::new(&mut tape, &ps);
/// let wv = g.param(w);
/// let loss = g.sum(wv); // ∂loss/∂w = 1
/// let grads = g.backward(loss);
/// opt.step(&mut ps, &grads);
/// // w ← w·(1 − 0.1·0.5) − 0.1: 1 → 0.85, −2 → −2.0
/// assert!((ps[w].to_vec()[0] - 0.85).abs() < 1e-6);
/// ```
#[derive(Clone, Debug)]
pub struct AdamW {
    /// Learning rate (≥ 0).
    pub lr: f32,
    /// Decay rates (β₁, β₂) of the first and second moment estimates, each in [0, 1).
    pub betas: (f32, f32),
    /// Added to the denominator for numerical stability (≥ 0).
    pub eps: f32,
    /// Decoupled weight decay λ (≥ 0): each step multiplies θ by `1 − lr·λ`.
    pub weight_decay: f32,
    /// Use the running maximum of v, as [`Adam::amsgrad`](super::Adam::amsgrad).
    pub amsgrad: bool,
    moments: Vec<Option<Moments>>,
}

impl AdamW {
    /// AdamW with learning rate `lr` and PyTorch's other defaults (weight decay 1e-2).
    pub fn new(lr: f32) -> AdamW {
        AdamW {
            lr,
            betas: (0.9, 0.999),
            eps: 1e-8,
            weight_decay: 1e-2,
            amsgrad: false,
            moments: Vec::new(),
        }
    }

    /// Sets (β₁, β₂).
    pub fn betas(mut self, beta1: f32, beta2: f32) -> AdamW {
        self.betas = (beta1, beta2);
        self
    }

    /// Sets ε.
    pub fn eps(mut self, eps: f32) -> AdamW {
        self.eps = eps;
        self
    }

    /// Sets the decoupled weight decay λ.
    pub fn weight_decay(mut self, weight_decay: f32) -> AdamW {
        self.weight_decay = weight_decay;
        self
    }

    /// Turns the AMSGrad variant on or off.
    pub fn amsgrad(mut self, amsgrad: bool) -> AdamW {
        self.amsgrad = amsgrad;
        self
    }

    /// Checks the hyper-parameters as [`Adam::validate`](super::Adam::validate).
    pub fn validate(&self) -> Result<()> {
        self.hyper().validate()
    }

    /// [`AdamW::validate`]s and returns the optimizer, ending a builder chain.
    pub fn build(self) -> Result<AdamW> {
        self.validate()?;
        Ok(self)
    }

    fn hyper(&self) -> Hyper {
        Hyper {
            lr: self.lr,
            betas: self.betas,
            eps: self.eps,
            wd: self.weight_decay,
            amsgrad: self.amsgrad,
        }
    }
}

impl Default for AdamW {
    /// PyTorch's defaults, including lr = 1e-3 and weight decay 1e-2.
    fn default() -> AdamW {
        AdamW::new(1e-3)
    }
}

impl Optimizer for AdamW {
    fn step(&mut self, params: &mut Parameters, grads: &Gradients) {
        update(self.hyper(), true, &mut self.moments, params, grads);
    }
    fn per_parameter(&self) -> bool {
        true
    }
    fn step_param(&mut self, id: ParamId, p: &mut Tensor, g: &Tensor) -> bool {
        update_param(self.hyper(), true, &mut self.moments, id, p, g);
        true
    }
    fn lr(&self) -> f32 {
        self.lr
    }
    fn set_lr(&mut self, lr: f32) {
        self.lr = lr;
    }
    fn state(&self) -> Vec<(String, Tensor)> {
        state::save_all(&self.moments)
    }
    fn load_state(&mut self, state: &[(String, Tensor)]) -> Result<()> {
        self.moments = state::load_all(state, &KINDS)?;
        Ok(())
    }
}

//! Adagrad, as PyTorch's `torch.optim.Adagrad` (Duchi, Hazan & Singer, 2011).
//!
//! Per element, at a parameter's step t = 1, 2, … (the sum s starts at the initial accumulator
//! value):
//!
//! ```text
//! g ← g + λθ                        (L2 weight decay, if λ ≠ 0)
//! lr_t = lr / (1 + (t − 1)·lr_decay)
//! s ← s + g²
//! θ ← θ − lr_t · g / (√s + ε)
//! ```
//!
//! Each weight's step shrinks as its squared gradients pile up, so rarely-updated weights keep
//! larger steps than often-updated ones.

use crate::autograd::Gradients;
use crate::error::Result;
use crate::optim::state::{self, Entry, Slot};
use crate::optim::Optimizer;
use crate::params::Parameters;
use crate::tensor::{Shape, Tensor};

/// Adagrad. Defaults are PyTorch's: lr 0.01 (for [`Adagrad::default`]), lr_decay 0, weight
/// decay 0, initial accumulator value 0, eps 1e-10.
///
/// ```
/// use backprop::optim::{Adagrad, Optimizer};
/// use backprop::{Graph, Parameters, Tape, Tensor};
/// let mut ps = Parameters::new();
/// let w = ps.add("w", Tensor::from_vec(vec![1.0, -2.0], [2]).unwrap());
/// let mut opt = Adagrad::new(0.5).build().unwrap();
/// let mut tape = Tape::new();
/// let mut g = Graph::new(&mut tape, &ps);
/// let wv = g.param(w);
/// let loss = g.sum(wv); // ∂loss/∂w = 1
/// let grads = g.backward(loss);
/// opt.step(&mut ps, &grads);
/// // s = 1, so each weight moves by 0.5·1/√1
/// assert_eq!(ps[w].to_vec(), vec![0.5, -2.5]);
/// ```
#[derive(Clone, Debug)]
pub struct Adagrad {
    /// Learning rate (≥ 0).
    pub lr: f32,
    /// Learning-rate decay (≥ 0): step t uses `lr / (1 + (t − 1)·lr_decay)`.
    pub lr_decay: f32,
    /// L2 penalty λ (≥ 0), added to the gradient as `λθ`.
    pub weight_decay: f32,
    /// The value the sum of squared gradients starts at (≥ 0).
    pub initial_accumulator_value: f32,
    /// Added to the denominator for numerical stability (≥ 0).
    pub eps: f32,
    sums: Vec<Option<Sum>>,
}

impl Adagrad {
    /// Adagrad with learning rate `lr` and PyTorch's other defaults.
    pub fn new(lr: f32) -> Adagrad {
        let (lr_decay, weight_decay, initial_accumulator_value) = (0.0, 0.0, 0.0);
        Adagrad {
            lr,
            lr_decay,
            weight_decay,
            initial_accumulator_value,
            eps: 1e-10,
            sums: Vec::new(),
        }
    }

    /// Sets the learning-rate decay.
    pub fn lr_decay(mut self, lr_decay: f32) -> Adagrad {
        self.lr_decay = lr_decay;
        self
    }

    /// Sets the L2 weight decay λ.
    pub fn weight_decay(mut self, weight_decay: f32) -> Adagrad {
        self.weight_decay = weight_decay;
        self
    }

    /// Sets the value the sum of squared gradients starts at.
    pub fn initial_accumulator_value(mut self, value: f32) -> Adagrad {
        self.initial_accumulator_value = value;
        self
    }

    /// Sets ε.
    pub fn eps(mut self, eps: f32) -> Adagrad {
        self.eps = eps;
        self
    }

    /// Checks the hyper-parameters as PyTorch's constructor does: every one ≥ 0 (NaN rejected).
    pub fn validate(&self) -> Result<()> {
        state::non_negative("lr", self.lr)?;
        state::non_negative("lr_decay", self.lr_decay)?;
        state::non_negative("weight_decay", self.weight_decay)?;
        state::non_negative("initial_accumulator_value", self.initial_accumulator_value)?;
        state::non_negative("eps", self.eps)
    }

    /// [`Adagrad::validate`]s and returns the optimizer, ending a builder chain.
    pub fn build(self) -> Result<Adagrad> {
        self.validate()?;
        Ok(self)
    }
}

impl Default for Adagrad {
    /// PyTorch's defaults, including lr = 0.01.
    fn default() -> Adagrad {
        Adagrad::new(0.01)
    }
}

/// One parameter's step count and sum of squared gradients.
#[derive(Clone, Debug)]
struct Sum {
    step: u64,
    sum: Tensor,
}

impl Slot for Sum {
    fn shape(&self) -> &Shape {
        self.sum.shape()
    }
    fn save(&self, i: usize, out: &mut Vec<(String, Tensor)>) {
        out.push((format!("step.{i}"), state::step_tensor(self.step)));
        out.push((format!("sum.{i}"), self.sum.clone()));
    }
    fn load(e: &Entry) -> Result<Sum> {
        Ok(Sum {
            step: e.step()?,
            sum: e.tensor("sum")?,
        })
    }
}

impl Optimizer for Adagrad {
    fn step(&mut self, params: &mut Parameters, grads: &Gradients) {
        let Adagrad {
            lr,
            lr_decay,
            weight_decay: wd,
            initial_accumulator_value: init,
            eps,
            ..
        } = *self;
        state::for_each_with_grad(params, grads, &mut self.sums, |p, g, shape, slot| {
            // PyTorch fills the sum when the optimizer is built; lazily here, with the value then.
            let s = slot.get_or_insert_with(|| Sum {
                step: 0,
                sum: Tensor::full(shape, init),
            });
            s.step += 1;
            let clr = (lr as f64 / (1.0 + (s.step - 1) as f64 * lr_decay as f64)) as f32;
            for ((p, &g), s) in p.iter_mut().zip(g).zip(s.sum.data_mut()) {
                let g = if wd != 0.0 { g + wd * *p } else { g };
                *s += g * g;
                *p -= clr * (g / (s.sqrt() + eps));
            }
        });
    }

    fn lr(&self) -> f32 {
        self.lr
    }

    fn set_lr(&mut self, lr: f32) {
        self.lr = lr;
    }

    fn state(&self) -> Vec<(String, Tensor)> {
        state::save_all(&self.sums)
    }

    fn load_state(&mut self, state: &[(String, Tensor)]) -> Result<()> {
        self.sums = state::load_all(state, &["step", "sum"])?;
        Ok(())
    }
}

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

use crate::error::Result;
use crate::optim::decay::l2_if;
use crate::optim::state::{self, Entry, Slot};
use crate::optim::{LearningRate, Optimizer};
use crate::params::ParamId;
use crate::tensor::{Shape, Tensor};
use serde::{Deserialize, Serialize};

/// [`Adagrad`]'s settings. Defaults are PyTorch's: lr 0.01, lr_decay 0, weight decay 0, initial
/// accumulator value 0, eps 1e-10.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct AdagradConfig {
    /// Learning rate (≥ 0).
    pub lr: f32,
    /// Learning-rate decay (≥ 0): step t uses `lr / (1 + (t − 1)·lr_decay)`.
    pub lr_decay: f32,
    /// L2 penalty λ (≥ 0), added to the gradient as `λθ`.
    pub weight_decay: f32,
    /// The value the sum of squares starts from (≥ 0).
    pub initial_accumulator_value: f32,
    /// Added to the denominator for numerical stability (≥ 0).
    pub eps: f32,
}

impl Default for AdagradConfig {
    fn default() -> AdagradConfig {
        AdagradConfig {
            lr: 0.01,
            lr_decay: 0.0,
            weight_decay: 0.0,
            initial_accumulator_value: 0.0,
            eps: 1e-10,
        }
    }
}

impl AdagradConfig {
    /// Checks the settings as PyTorch's constructor does: every one ≥ 0 (NaN rejected).
    pub fn validate(&self) -> Result<()> {
        state::non_negative("lr", self.lr)?;
        state::non_negative("lr_decay", self.lr_decay)?;
        state::non_negative("weight_decay", self.weight_decay)?;
        state::non_negative("initial_accumulator_value", self.initial_accumulator_value)?;
        state::non_negative("eps", self.eps)
    }
}

/// Adagrad ([`AdagradConfig`]).
///
/// ```
/// use backprop::optim::{Adagrad, AdagradConfig, Optimizer};
/// use backprop::{Graph, Parameters, Tape, Tensor};
/// let mut ps = Parameters::new();
/// let w = ps.add("w", Tensor::from_vec(vec![1.0, -2.0], [2])?);
/// let mut opt = Adagrad::new(AdagradConfig { lr: 0.5, ..AdagradConfig::default() })?;
/// let mut tape = Tape::new();
/// let mut g = Graph::new(&mut tape, &ps);
/// let wv = g.param(w);
/// let loss = g.sum(wv); // ∂loss/∂w = 1
/// let grads = g.backward(loss);
/// opt.step(&mut ps, &grads);
/// // s = 1, so each weight moves by 0.5·1/√1
/// assert_eq!(ps[w].to_vec(), vec![0.5, -2.5]);
/// # Ok::<(), backprop::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Adagrad {
    cfg: AdagradConfig,
    sums: Vec<Option<Sum>>,
}

impl Adagrad {
    /// Adagrad with the settings `cfg`, once they pass [`AdagradConfig::validate`].
    pub fn new(cfg: AdagradConfig) -> Result<Adagrad> {
        cfg.validate()?;
        Ok(Adagrad {
            cfg,
            sums: Vec::new(),
        })
    }

    /// The settings (the learning rate as a schedule last set it).
    pub fn config(&self) -> &AdagradConfig {
        &self.cfg
    }
}

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

impl LearningRate for Adagrad {
    fn lr(&self) -> f32 {
        self.cfg.lr
    }

    fn set_lr(&mut self, lr: f32) {
        self.cfg.lr = lr;
    }
}

impl Optimizer for Adagrad {
    fn step_param(&mut self, id: ParamId, p: &mut Tensor, g: &Tensor) {
        let AdagradConfig {
            lr,
            lr_decay,
            weight_decay: wd,
            initial_accumulator_value: init,
            eps,
        } = self.cfg;
        state::with_slot(id, p, g, &mut self.sums, |p, g, shape, slot| {
            // PyTorch fills the sum when the optimizer is built; lazily here, with the value then.
            let s = slot.get_or_insert_with(|| Sum {
                step: 0,
                sum: Tensor::full(shape, init),
            });
            s.step += 1;
            let clr = (lr as f64 / (1.0 + (s.step - 1) as f64 * lr_decay as f64)) as f32;
            for ((p, &g), s) in p.iter_mut().zip(g).zip(s.sum.data_mut()) {
                let g = l2_if(g, *p, wd);
                *s += g * g;
                *p -= clr * (g / (s.sqrt() + eps));
            }
        });
    }

    fn state(&self) -> Vec<(String, Tensor)> {
        state::save_all(&self.sums)
    }

    fn load_state(&mut self, state: &[(String, Tensor)]) -> Result<()> {
        self.sums = state::load_all(state, &["step", "sum"])?;
        Ok(())
    }
}

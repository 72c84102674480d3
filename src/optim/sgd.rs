//! Stochastic gradient descent with momentum, as PyTorch's `torch.optim.SGD`.
//!
//! Per element, with learning rate lr, momentum μ (Rumelhart, Hinton & Williams' α), dampening τ
//! and weight decay λ:
//!
//! ```text
//! g ← g + λθ                       (L2 weight decay, if λ ≠ 0)
//! b ← g                             on a parameter's first step (μ ≠ 0)
//! b ← μb + (1 − τ)g                 afterwards
//! g ← g + μb  (nesterov)   or   g ← b  (otherwise)
//! θ ← θ − lr·g
//! ```
//!
//! Like PyTorch, the buffer starts as the first gradient (`buf = grad.clone()`), not as zero, so
//! dampening does not shrink the first step. This is also where PyTorch's momentum differs from
//! Sutskever et al.'s `v ← μv + lr·g; θ ← θ − v`: the learning rate multiplies the buffer rather
//! than the gradient going into it, which only matters when the learning rate changes.

use crate::error::{Error, Result};
use crate::optim::decay::l2_if;
use crate::optim::state::{self, Entry, Slot};
use crate::optim::{LearningRate, Optimizer};
use crate::params::ParamId;
use crate::tensor::pool::{self, SharedMut};
use crate::tensor::{simd, Shape, Tensor};
use serde::{Deserialize, Serialize};

/// [`Sgd`]'s settings. Defaults are PyTorch's: lr 1e-3, momentum 0, dampening 0, weight decay
/// 0, no Nesterov.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct SgdConfig {
    /// Learning rate (≥ 0).
    pub lr: f32,
    /// Momentum factor μ (≥ 0); 0 turns momentum off.
    pub momentum: f32,
    /// Dampening τ: the momentum buffer adds `(1 − τ)·g`.
    pub dampening: f32,
    /// L2 penalty λ (≥ 0), added to the gradient as `λθ`.
    pub weight_decay: f32,
    /// Nesterov momentum; needs momentum > 0 and dampening 0.
    pub nesterov: bool,
}

impl Default for SgdConfig {
    fn default() -> SgdConfig {
        SgdConfig {
            lr: 1e-3,
            momentum: 0.0,
            dampening: 0.0,
            weight_decay: 0.0,
            nesterov: false,
        }
    }
}

impl SgdConfig {
    /// Checks the settings as PyTorch's constructor does: lr, momentum and weight decay ≥ 0
    /// (NaN rejected), and Nesterov only with momentum > 0 and zero dampening.
    pub fn validate(&self) -> Result<()> {
        state::non_negative("lr", self.lr)?;
        state::non_negative("momentum", self.momentum)?;
        state::non_negative("weight_decay", self.weight_decay)?;
        state::finite("dampening", self.dampening)?;
        if self.nesterov && !(self.momentum > 0.0 && self.dampening == 0.0) {
            let v = format!(
                "momentum {} and dampening {}",
                self.momentum, self.dampening
            );
            return Err(Error::invalid(
                "nesterov",
                v,
                "nesterov momentum requires a momentum and zero dampening",
            ));
        }
        Ok(())
    }
}

/// Stochastic gradient descent with optional momentum, dampening, Nesterov momentum and L2
/// weight decay ([`SgdConfig`]).
///
/// ```
/// use backprop::optim::{Optimizer, Sgd, SgdConfig};
/// use backprop::{Graph, Parameters, Tape, Tensor};
/// let mut ps = Parameters::new();
/// let w = ps.add("w", Tensor::from_vec(vec![1.0, -2.0], [2])?);
/// let mut opt = Sgd::new(SgdConfig { lr: 0.1, momentum: 0.9, ..SgdConfig::default() })?;
/// let mut tape = Tape::new();
/// let mut g = Graph::new(&mut tape, &ps);
/// let wv = g.param(w);
/// let sq = g.square(wv);
/// let s = g.sum(sq);
/// let loss = g.scale(s, 0.5); // ∂loss/∂w = w
/// let grads = g.backward(loss);
/// opt.step(&mut ps, &grads);
/// assert_eq!(ps[w].to_vec(), vec![0.9, -1.8]); // w − 0.1·w
/// # Ok::<(), backprop::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Sgd {
    cfg: SgdConfig,
    buffers: Vec<Option<Buffer>>,
}

impl Sgd {
    /// SGD with the settings `cfg`, once they pass [`SgdConfig::validate`].
    pub fn new(cfg: SgdConfig) -> Result<Sgd> {
        cfg.validate()?;
        Ok(Sgd {
            cfg,
            buffers: Vec::new(),
        })
    }

    /// The settings (the learning rate as a schedule last set it).
    pub fn config(&self) -> &SgdConfig {
        &self.cfg
    }
}

/// `b` with values below `tiny` set to zero. A momentum buffer whose gradient has stopped (a
/// dead ReLU unit) decays geometrically, `b ← μb`, and in f32 it never reaches zero: it ends
/// stuck on the smallest subnormal (0.9 × 1.4e-45 rounds back up), where every later multiply
/// runs in the CPU's slow subnormal path — as does `lr·b` once it drops below 2⁻¹²⁶. With
/// `tiny = 2⁻¹²⁶ / lr` (see [`flush_below`]) neither happens, and nothing else changes: a step
/// `lr·b` smaller than 2⁻¹²⁶ cannot move any weight larger than about 1e-31. (PyTorch keeps the
/// subnormals and pays for them.)
#[inline(always)]
fn flush(b: f32, tiny: f32) -> f32 {
    if b.abs() < tiny {
        0.0
    } else {
        b
    }
}

/// The flush threshold for learning rate `lr`: `2⁻¹²⁶ / lr` for `0 < lr < 1`, else `2⁻¹²⁶`.
fn flush_below(lr: f32) -> f32 {
    if lr > 0.0 && lr < 1.0 {
        f32::MIN_POSITIVE / lr
    } else {
        f32::MIN_POSITIVE
    }
}

/// The common update, `b ← flush(μb + c·g)`, `θ ← θ − lr·b`, as one vectorisable loop:
/// `MomentumStep(θ, g, b, μ, c, lr)`.
struct MomentumStep<'a>(&'a mut [f32], &'a [f32], &'a mut [f32], f32, f32, f32);

impl simd::Kernel for MomentumStep<'_> {
    type Out = ();
    #[inline(always)]
    fn run(self) {
        let MomentumStep(p, g, b, mu, c, lr) = self;
        momentum_step(p, g, b, mu, c, lr)
    }
}

#[inline(always)]
fn momentum_step(p: &mut [f32], g: &[f32], b: &mut [f32], mu: f32, c: f32, lr: f32) {
    let n = p.len().min(g.len()).min(b.len());
    let (p, g, b) = (&mut p[..n], &g[..n], &mut b[..n]);
    let tiny = flush_below(lr);
    for i in 0..n {
        let nb = flush(mu * b[i] + c * g[i], tiny);
        b[i] = nb;
        p[i] -= lr * nb;
    }
}

/// One row of [`MomentumStep`] with the gradient row `d·x` made on the fly (the row kernel's
/// `d·x`, or zeros where `d` is 0, as the stored gradient would hold):
/// `OuterMomentumRow(θ, d, x, b, μ, c, lr)`.
struct OuterMomentumRow<'a>(&'a mut [f32], f32, &'a [f32], &'a mut [f32], f32, f32, f32);

impl simd::Kernel for OuterMomentumRow<'_> {
    type Out = ();
    #[inline(always)]
    fn run(self) {
        let OuterMomentumRow(p, d, x, b, mu, c, lr) = self;
        let n = p.len().min(x.len()).min(b.len());
        let (p, x, b) = (&mut p[..n], &x[..n], &mut b[..n]);
        let tiny = flush_below(lr);
        if d == 0.0 {
            for i in 0..n {
                let nb = flush(mu * b[i] + c * 0.0, tiny);
                b[i] = nb;
                p[i] -= lr * nb;
            }
        } else {
            for i in 0..n {
                let nb = flush(mu * b[i] + c * (d * x[i]), tiny);
                b[i] = nb;
                p[i] -= lr * nb;
            }
        }
    }
}

/// Plain SGD on one row with the gradient row `d·x`: `OuterPlainRow(θ, d, x, lr)`.
struct OuterPlainRow<'a>(&'a mut [f32], f32, &'a [f32], f32);

impl simd::Kernel for OuterPlainRow<'_> {
    type Out = ();
    #[inline(always)]
    fn run(self) {
        let OuterPlainRow(p, d, x, lr) = self;
        if d == 0.0 {
            for p in p.iter_mut() {
                *p -= lr * 0.0;
            }
        } else {
            for (p, &x) in p.iter_mut().zip(x) {
                *p -= lr * (d * x);
            }
        }
    }
}

/// The momentum buffer of one parameter.
#[derive(Clone, Debug)]
struct Buffer(Tensor);

impl Slot for Buffer {
    fn shape(&self) -> &Shape {
        self.0.shape()
    }
    fn save(&self, i: usize, out: &mut Vec<(String, Tensor)>) {
        out.push((format!("momentum_buffer.{i}"), self.0.clone()));
    }
    fn load(entry: &Entry) -> Result<Buffer> {
        Ok(Buffer(entry.tensor("momentum_buffer")?))
    }
}

impl Sgd {
    /// The update of one parameter; `slot` is its momentum buffer (made on its first step).
    fn update(&self, p: &mut [f32], g: &[f32], shape: Shape, slot: &mut Option<Buffer>) {
        let SgdConfig {
            lr,
            momentum: mu,
            dampening,
            weight_decay: wd,
            nesterov,
        } = self.cfg;
        if mu == 0.0 {
            for (p, &g) in p.iter_mut().zip(g) {
                *p -= lr * l2_if(g, *p, wd);
            }
            return;
        }
        // The first step copies the (decayed) gradient into the buffer, as PyTorch.
        let first = slot.is_none();
        let buf = &mut slot.get_or_insert_with(|| Buffer(Tensor::zeros(shape))).0;
        if !first && wd == 0.0 && !nesterov {
            let c = 1.0 - dampening;
            let n = p.len().min(g.len()).min(buf.numel());
            let (pp, bp) = (
                SharedMut(p.as_mut_ptr()),
                SharedMut(buf.data_mut().as_mut_ptr()),
            );
            // Element-wise: split over the pool's threads, same bits on any thread count. From
            // 2¹⁴ values, as Adam: a 256×128 weight (32 K values) then splits in two halves; at
            // 2¹⁵ it was updated by the caller alone while the worker waited (batch 128, 2
            // threads: 0.430 vs 0.444 s/epoch, median of 8 interleaved runs' best epochs).
            pool::ranges(n, 1 << 14, &|r| {
                // SAFETY: the ranges are disjoint and inside p, g and the buffer.
                let (p, b) = unsafe { (pp.slice(r.clone()), bp.slice(r.clone())) };
                simd::dispatch(MomentumStep(p, &g[r], b, mu, c, lr));
            });
            return;
        }
        for ((p, &g), b) in p.iter_mut().zip(g).zip(buf.data_mut()) {
            let g = l2_if(g, *p, wd);
            *b = flush(
                if first {
                    g
                } else {
                    mu * *b + (1.0 - dampening) * g
                },
                flush_below(lr),
            );
            let d = if nesterov { g + mu * *b } else { *b };
            *p -= lr * d;
        }
    }
}

impl LearningRate for Sgd {
    fn lr(&self) -> f32 {
        self.cfg.lr
    }

    fn set_lr(&mut self, lr: f32) {
        self.cfg.lr = lr;
    }
}

impl Optimizer for Sgd {
    fn step_param(&mut self, id: ParamId, p: &mut Tensor, g: &Tensor) {
        if self.cfg.momentum == 0.0 {
            // plain SGD keeps no state: the update alone, without finding or growing a slot
            assert_eq!(
                p.shape(),
                g.shape(),
                "gradient of parameter {} has the wrong shape",
                id.0
            );
            return self.update(p.data_mut(), g.data(), *g.shape(), &mut None);
        }
        let mut buffers = std::mem::take(&mut self.buffers);
        state::with_slot(id, p, g, &mut buffers, |p, g, shape, slot| {
            self.update(p, g, shape, slot)
        });
        self.buffers = buffers;
    }

    /// The steady state of plain momentum (the buffer exists), or plain SGD; not with weight
    /// decay or Nesterov momentum.
    fn step_outer(
        &mut self,
        id: ParamId,
        p: &mut Tensor,
        delta: &[f32],
        x: &[f32],
        before_row: &mut dyn FnMut(usize, &[f32]),
    ) -> bool {
        let (rows, cols) = p.shape().as_matrix();
        let SgdConfig {
            lr,
            momentum: mu,
            dampening,
            weight_decay,
            nesterov,
        } = self.cfg;
        if weight_decay != 0.0 || nesterov || delta.len() != rows || x.len() != cols {
            return false;
        }
        let c = 1.0 - dampening;
        let mut none = Tensor::default();
        let buf = match self.buffers.get_mut(id.0) {
            Some(Some(Buffer(b))) if b.shape() == p.shape() => b,
            _ if mu == 0.0 => &mut none,
            _ => return false,
        };
        let pd = p.data_mut();
        for (i, &d) in delta.iter().enumerate() {
            let row = &mut pd[i * cols..(i + 1) * cols];
            before_row(i, row);
            if mu == 0.0 {
                simd::dispatch(OuterPlainRow(row, d, x, lr));
            } else {
                let b = &mut buf.data_mut()[i * cols..(i + 1) * cols];
                simd::dispatch(OuterMomentumRow(row, d, x, b, mu, c, lr));
            }
        }
        true
    }

    fn state(&self) -> Vec<(String, Tensor)> {
        state::save_all(&self.buffers)
    }

    fn load_state(&mut self, state: &[(String, Tensor)]) -> Result<()> {
        self.buffers = state::load_all(state, &["momentum_buffer"])?;
        Ok(())
    }
}

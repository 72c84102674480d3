//! Batch normalisation over the batch axis: PyTorch's `BatchNorm1d` on `(n, d)`, one primitive
//! op with its own backward (a composite would need a broadcasting mean over rows and an
//! inverse square root, neither of which is a primitive here).
//!
//! Training mode (batch statistics), per unit j over the n rows of s:
//!
//! ```text
//! μ_j = (1/n) Σ_i s_ij        σ²_j = (1/n) Σ_i (s_ij − μ_j)²   (biased)       r_j = 1/√(σ²_j + ε)
//! ŝ_ij = (s_ij − μ_j)·r_j      y_ij = γ_j·ŝ_ij + β_j
//! ```
//!
//! Backward, with g_ij = ∂E/∂y_ij (μ and σ² depend on every row of column j, hence the sums):
//!
//! ```text
//! ∂E/∂β_j = Σ_i g_ij           ∂E/∂γ_j = Σ_i g_ij·ŝ_ij
//! ∂E/∂s_ij = (γ_j·r_j / n)·(n·g_ij − Σ_k g_kj − ŝ_ij·Σ_k g_kj·ŝ_kj)
//! ```
//!
//! Evaluation mode reads the running statistics μ_R, σ²_R instead (constants), so the op is
//! affine: `ŝ = (s − μ_R)·r` with `r = 1/√(σ²_R + ε)`, and `∂E/∂s_ij = γ_j·r_j·g_ij`.
//!
//! After a training forward the running statistics move toward the batch's, with momentum m and
//! the **unbiased** variance (PyTorch's rule):
//! `μ_R ← (1 − m)·μ_R + m·μ`, `σ²_R ← (1 − m)·σ²_R + m·σ²·n/(n − 1)`. That update is no part
//! of the graph (running statistics are not trained, and the graph reads the parameters
//! without writing them): the op leaves it on the tape, and
//! [`Tape::update_running_stats`](crate::autograd::Tape::update_running_stats) applies it once
//! the parameters can be written, after the optimizer's step.
//!
//! The node's scratch buffer holds three rows of d values: μ, σ² (biased) and r.

use crate::autograd::{put, Backward, Graph, Op, Tape, Var};
use crate::params::{ParamId, Parameters};
use crate::tensor::Shape;

/// Where a batch-norm layer's running statistics live and how they move (PyTorch's
/// `running_mean`, `running_var`, `momentum`, `eps`). They are parameters that no optimizer
/// touches: frozen, read in evaluation mode and written by [`Tape::update_running_stats`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RunningStats {
    /// μ_R, `(d)`.
    pub mean: ParamId,
    /// σ²_R, `(d)`.
    pub var: ParamId,
    /// m in `μ_R ← (1 − m)·μ_R + m·μ` (PyTorch's default 0.1).
    pub momentum: f32,
    /// ε added to the variance (PyTorch's default 1e-5).
    pub eps: f32,
}

pub(crate) fn backward(x: Var, gamma: Var, beta: Var, train: bool, mut b: Backward) {
    let xv = b.values.get(x);
    let gv = b.values.get(gamma).data();
    let (n, d) = xv.shape().as_matrix();
    let (stats, dy, xs) = (b.aux.data(), b.dy.data(), xv.data());
    let (mu, r) = (&stats[..d], &stats[2 * d..3 * d]);
    let hat = |i: usize| (xs[i] - mu[i % d]) * r[i % d];
    // (Σ_i g_ij, Σ_i g_ij·ŝ_ij) of column j, in f64; recomputed where needed, so that a
    // steady-state step allocates nothing
    let sums = |j: usize| {
        (0..n).fold((0.0f64, 0.0f64), |(a, c), i| {
            let k = i * d + j;
            (a + dy[k] as f64, c + (dy[k] * hat(k)) as f64)
        })
    };
    if let Some((db, acc)) = b.sink.slot(beta) {
        put(db.data_mut(), acc, |j| sums(j).0 as f32);
    }
    if let Some((dg, acc)) = b.sink.slot(gamma) {
        put(dg.data_mut(), acc, |j| sums(j).1 as f32);
    }
    let Some((dx, acc)) = b.sink.slot(x) else {
        return;
    };
    let dx = dx.data_mut();
    let nf = n as f32;
    for j in 0..d {
        let (sg, sgh) = if train { sums(j) } else { (0.0, 0.0) };
        let (sg, sgh) = (sg as f32, sgh as f32);
        for i in 0..n {
            let k = i * d + j;
            let v = if train {
                gv[j] * r[j] / nf * (nf * dy[k] - sg - hat(k) * sgh)
            } else {
                gv[j] * r[j] * dy[k]
            };
            dx[k] = if acc { dx[k] + v } else { v };
        }
    }
}

impl Graph<'_, '_> {
    /// Batch normalisation of `x` `(n, d)` per column, scaled by `gamma` `(d)` and shifted by
    /// `beta` `(d)`: batch statistics in training mode (the running statistics then move toward
    /// them once [`Tape::update_running_stats`] is called), the running statistics in
    /// evaluation mode: per column j, `ŝ = (s − μ_j)/√(σ²_j + ε)` (biased variance) and
    /// `y = γ_j·ŝ + β_j`.
    ///
    /// ```
    /// use backprop::autograd::RunningStats;
    /// use backprop::{Graph, Parameters, Tape, Tensor};
    /// let mut ps = Parameters::new();
    /// let (gamma, beta) = (ps.add("g", Tensor::ones([1])), ps.add("b", Tensor::zeros([1])));
    /// let (mean, var) = (ps.add("rm", Tensor::zeros([1])), ps.add("rv", Tensor::ones([1])));
    /// let stats = RunningStats { mean, var, momentum: 0.1, eps: 0.0 };
    /// let mut tape = Tape::new();
    /// let mut g = Graph::new(&mut tape, &ps);
    /// let x = g.input(&Tensor::from_vec(vec![1.0, 3.0], [2, 1])?);
    /// let (gv, bv) = (g.param(gamma), g.param(beta));
    /// let y = g.batch_norm(x, gv, bv, stats);
    /// assert_eq!(g.value(y).data(), &[-1.0, 1.0]); // mean 2, biased variance 1
    /// drop(g);
    /// tape.update_running_stats(&mut ps);
    /// assert_eq!(ps[mean].data(), &[0.2]); // 0.9·0 + 0.1·2
    /// assert_eq!(ps[var].data(), &[1.1]); // 0.9·1 + 0.1·2 (unbiased variance)
    /// # Ok::<(), backprop::Error>(())
    /// ```
    ///
    /// # Panics
    /// If `x` is not `(n, d)` with `gamma` and `beta` of `d` values, or if training with n < 2
    /// (one value per unit has no variance; `nn::Mlp` reports it as an error first).
    pub fn batch_norm(&mut self, x: Var, gamma: Var, beta: Var, stats: RunningStats) -> Var {
        let s = self.shape(x);
        let d = if s.rank() == 2 { s.dim(1) } else { 0 };
        let (sg, sb) = (self.shape(gamma), self.shape(beta));
        assert!(
            d > 0 && sg == Shape::from([d]) && sb == sg,
            "batch_norm: x {s:?}, gamma {sg:?} and beta {sb:?}; expected (n, d), (d) and (d)"
        );
        let train = self.training();
        let n = s.dim(0);
        assert!(
            !train || n > 1,
            "batch_norm: expected more than 1 value per unit when training, got a batch of {n}"
        );
        let params: &Parameters = self.params();
        let y = self.push(
            Op::BatchNorm(x, gamma, beta, train),
            &[x, gamma, beta],
            |v, y, aux| {
                let (xs, g, b) = (v.get(x).data(), v.get(gamma).data(), v.get(beta).data());
                aux.resize(Shape::from([3, d]));
                let st = aux.data_mut();
                if train {
                    // two passes per column, in f64 (and no allocation)
                    for j in 0..d {
                        let col = || (0..n).map(|i| xs[i * d + j] as f64);
                        let mean = col().sum::<f64>() / n as f64;
                        let sq = col().map(|v| (v - mean).powi(2)).sum::<f64>();
                        st[j] = mean as f32;
                        st[d + j] = (sq / n as f64) as f32;
                    }
                } else {
                    st[..d].copy_from_slice(params[stats.mean].data());
                    st[d..2 * d].copy_from_slice(params[stats.var].data());
                }
                for j in 0..d {
                    st[2 * d + j] = 1.0 / (st[d + j] + stats.eps).sqrt();
                }
                y.resize(s);
                let (mu, r) = (&st[..d], &st[2 * d..]);
                for (i, (o, &v)) in y.data_mut().iter_mut().zip(xs).enumerate() {
                    let j = i % d;
                    *o = g[j] * (v - mu[j]) * r[j] + b[j];
                }
            },
        );
        if train {
            self.tape.pending_stats.push((y, stats));
        }
        y
    }
}

impl Tape {
    /// Applies the running-statistics updates of the batch-norm ops of the last training-mode
    /// graph on this tape (PyTorch does this inside the forward; here the graph cannot write
    /// the parameters it reads, so the trainer calls this after the optimizer's step), then
    /// forgets them, so calling twice updates once. Returns how many layers were updated.
    pub fn update_running_stats(&mut self, params: &mut Parameters) -> usize {
        for &(v, s) in &self.pending_stats {
            let n = self.values[v.index()].shape().dim(0) as f32;
            let st = self.aux[v.index()].data();
            let d = st.len() / 3;
            let m = s.momentum;
            for (r, &b) in params[s.mean].data_mut().iter_mut().zip(&st[..d]) {
                *r = (1.0 - m) * *r + m * b;
            }
            for (r, &b) in params[s.var].data_mut().iter_mut().zip(&st[d..2 * d]) {
                *r = (1.0 - m) * *r + m * b * n / (n - 1.0);
            }
        }
        let count = self.pending_stats.len();
        self.pending_stats.clear(); // keeps its capacity for the next step
        count
    }
}

//! Limited-memory BFGS (Liu & Nocedal 1989) with a strong-Wolfe line search, after PyTorch's
//! `torch.optim.LBFGS(line_search_fn="strong_wolfe")` (itself after minFunc).
//!
//! L-BFGS is a full-batch method: it needs the loss and gradient of the *same* function at several
//! points along a search direction, so it takes a closure, [`Lbfgs::step_closure`], that
//! evaluates the loss and every parameter's gradient at the parameters it is given. One call runs
//! up to `max_iter` iterations; each is:
//!
//! ```text
//! y ← g − g₋,  s ← Δx₋                            (the last iteration's change of gradient and x)
//! if y·s > 1e-10: remember (s, y), forgetting the oldest beyond history_size;  γ ← s·y / y·y
//! d ← −H·g                                         (two-loop recursion, H₀ = γI; d = −g at first)
//! t₀ = lr · min(1, 1/‖g‖₂) on the very first iteration, lr afterwards
//! t  ← a step satisfying the strong Wolfe conditions from t₀ (c₁ = 1e-4, c₂ = 0.9):
//!        f(x + td) ≤ f(x) + c₁t·g·d   and   |∇f(x + td)·d| ≤ c₂|g·d|
//!      (bracketing by cubic extrapolation, then zoom by cubic interpolation; at most 25 evaluations)
//! x ← x + td,  g₋ ← g,  Δx₋ ← td
//! ```
//!
//! and the call stops early, as PyTorch's, when `max|g| ≤ tolerance_grad`, when `g·d >
//! −tolerance_change` (no descent left), when `max|td| ≤ tolerance_change` or the loss changed by
//! less than `tolerance_change`, or after `max_eval` evaluations (`max_iter · 5/4` by default). The
//! history persists across calls, so calling it once per epoch continues one L-BFGS run.
//!
//! Where this differs from PyTorch's: the default history is 10 pairs (scipy's and scikit-learn's
//! `maxcor`/`m`; PyTorch keeps 100); the first trial step uses the Euclidean norm of g (as
//! scipy's L-BFGS-B, `1/‖g‖₂`) where PyTorch uses the sum of |g|; only the strong-Wolfe line search
//! exists (for a fixed step use [`Lbfgs::step_fixed`]); a search that stops without taking a step
//! leaves no stale (s, y) pair behind; a search that finds no lower point clears the history,
//! so the next iteration restarts from steepest descent (as scipy's L-BFGS-B; PyTorch would try
//! the same direction again); and [`Lbfgs::step_closure`] returns the loss at the parameters it
//! leaves, where PyTorch's `step` returns the loss at the start. Vectors are f32,
//! dot products and the line search's scalars f64.
//!
//! The checkpoint state is per parameter i, as for the other optimizers: `step.{i}` (iterations
//! so far), `prev_grad.{i}` (g₋), `prev_step.{i}` (Δx₋) and the remembered pairs, oldest first,
//! `history_s_{k}.{i}` and `history_y_{k}.{i}`.

use std::collections::VecDeque;

use crate::autograd::Gradients;
use crate::error::{Error, Result};
use crate::optim::state;
use crate::optim::LearningRate;
use crate::params::{ParamId, Parameters};
use crate::tensor::{Shape, Tensor};
use serde::{Deserialize, Serialize};

mod checkpoint;
mod line_search;
use line_search::{strong_wolfe, Evaluator};

/// A pair (s, y) is remembered only when y·s exceeds this (PyTorch's threshold), keeping H
/// positive definite.
const MIN_CURVATURE: f64 = 1e-10;

/// What a closure for [`Lbfgs::step_closure`] returns: the loss and one gradient tensor per
/// parameter, in order, each of its parameter's shape.
pub type LossAndGrads = (f32, Vec<Tensor>);

/// [`Lbfgs`]'s settings. Defaults: lr 1 (the first trial step), `max_iter` 20 per call,
/// `max_eval` `max_iter · 5/4`, `tolerance_grad` 1e-7, `tolerance_change` 1e-9 (all PyTorch's)
/// and `history_size` 10 (scipy's; PyTorch's is 100).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct LbfgsConfig {
    /// The step the line search starts from (> 0); 1 is the natural step of a Newton method.
    pub lr: f32,
    /// Most iterations per [`Lbfgs::step_closure`] call (≥ 1).
    pub max_iter: usize,
    /// Most loss evaluations per call, counted as PyTorch does (an iteration's line search is
    /// finished even past it); `None` = `max_iter · 5/4`.
    pub max_eval: Option<usize>,
    /// Stop when every gradient element is at most this in magnitude (≥ 0).
    pub tolerance_grad: f32,
    /// Stop when the loss or every parameter changes by less than this (≥ 0).
    pub tolerance_change: f32,
    /// How many (s, y) pairs to remember (≥ 1).
    pub history_size: usize,
}

impl Default for LbfgsConfig {
    fn default() -> LbfgsConfig {
        LbfgsConfig {
            lr: 1.0,
            max_iter: 20,
            max_eval: None,
            tolerance_grad: 1e-7,
            tolerance_change: 1e-9,
            history_size: 10,
        }
    }
}

impl LbfgsConfig {
    /// Checks the settings: lr > 0 and finite, `max_iter`, `history_size` and `max_eval` ≥ 1,
    /// tolerances ≥ 0.
    pub fn validate(&self) -> Result<()> {
        if !(self.lr > 0.0 && self.lr.is_finite()) {
            return Err(Error::invalid("lr", self.lr, "must be > 0 and finite"));
        }
        if self.max_iter == 0 {
            return Err(Error::invalid("max_iter", 0, "must be >= 1"));
        }
        if self.max_eval == Some(0) {
            return Err(Error::invalid("max_eval", 0, "must be >= 1"));
        }
        if self.history_size == 0 {
            return Err(Error::invalid("history_size", 0, "must be >= 1"));
        }
        state::non_negative("tolerance_grad", self.tolerance_grad)?;
        state::non_negative("tolerance_change", self.tolerance_change)
    }
}

/// L-BFGS with a strong-Wolfe line search ([`LbfgsConfig`]). It is not an
/// [`Optimizer`](super::Optimizer): it needs the loss at several points, so it is driven by a
/// closure, [`Lbfgs::step_closure`]; the trainer picks it by its config
/// ([`OptimizerConfig::Lbfgs`](super::OptimizerConfig::Lbfgs)). [`Lbfgs::step_fixed`], which
/// sees a single gradient, takes one quasi-Newton step of fixed length without a line search
/// (PyTorch's `line_search_fn=None` with `max_iter=1`), which is only safe with a small `lr`.
///
/// ```
/// use backprop::optim::{Lbfgs, LbfgsConfig};
/// use backprop::{Parameters, Tensor};
/// // f(x, y) = (x − 1)² + 10(y + 2)², minimum at (1, −2)
/// let mut ps = Parameters::new();
/// ps.add("xy", Tensor::from_vec(vec![0.0, 0.0], [2]).unwrap());
/// let mut opt = Lbfgs::new(LbfgsConfig::default())?;
/// let loss = opt.step_closure(&mut ps, &mut |p: &Parameters| {
///     let v = p.tensors()[0].data();
///     let (x, y) = (v[0], v[1]);
///     let f = (x - 1.0).powi(2) + 10.0 * (y + 2.0).powi(2);
///     let g = Tensor::from_vec(vec![2.0 * (x - 1.0), 20.0 * (y + 2.0)], [2])?;
///     Ok((f, vec![g]))
/// })?;
/// let v = ps.tensors()[0].data();
/// assert!(loss < 1e-8 && (v[0] - 1.0).abs() < 1e-4 && (v[1] + 2.0).abs() < 1e-4);
/// # Ok::<(), backprop::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Lbfgs {
    cfg: LbfgsConfig,
    memory: Memory,
    func_evals: u64,
}

/// Everything L-BFGS carries from one iteration to the next, over the flattened parameters.
#[derive(Clone, Debug, Default)]
struct Memory {
    /// The parameters' shapes, recorded at the first iteration.
    shapes: Vec<Shape>,
    /// Iterations so far.
    n_iter: u64,
    /// g₋ and Δx₋ (empty before the first iteration).
    prev_grad: Vec<f32>,
    prev_step: Vec<f32>,
    /// Remembered pairs, oldest first.
    history: VecDeque<Pair>,
}

#[derive(Clone, Debug)]
struct Pair {
    s: Vec<f32>,
    y: Vec<f32>,
    /// 1/(y·s).
    rho: f64,
    /// s·y / y·y: the scale of H₀ while this is the newest pair.
    gamma: f64,
}

impl Pair {
    fn new(s: Vec<f32>, y: Vec<f32>) -> Option<Pair> {
        let ys = dot(&y, &s);
        (ys > MIN_CURVATURE).then(|| Pair {
            rho: 1.0 / ys,
            gamma: ys / dot(&y, &y),
            s,
            y,
        })
    }
}

impl Lbfgs {
    /// L-BFGS with the settings `cfg`, once they pass [`LbfgsConfig::validate`].
    pub fn new(cfg: LbfgsConfig) -> Result<Lbfgs> {
        cfg.validate()?;
        Ok(Lbfgs {
            cfg,
            memory: Memory::default(),
            func_evals: 0,
        })
    }

    /// The settings (the learning rate as a schedule last set it).
    pub fn config(&self) -> &LbfgsConfig {
        &self.cfg
    }

    /// Iterations taken so far (over all calls; restored from a checkpoint).
    pub fn n_iter(&self) -> u64 {
        self.memory.n_iter
    }

    /// Loss evaluations made by this value since it was created (not saved in checkpoints).
    pub fn func_evals(&self) -> u64 {
        self.func_evals
    }

    /// Up to `max_iter` L-BFGS iterations on the loss that `f` evaluates (see the module docs).
    /// `f` gets the parameters to evaluate at and returns the loss and one gradient per parameter
    /// (zeros for one that must not move). Returns the loss at the parameters it leaves.
    ///
    /// A non-finite loss at the start is returned at once, without a step. A trial point of the
    /// line search whose loss is NaN counts as too high (the search backs off from it).
    ///
    /// # Errors
    /// `f`'s errors; a wrong number or shape of gradients; parameters whose shapes differ from
    /// those of earlier calls (or of loaded state); invalid hyper-parameters.
    pub fn step_closure(
        &mut self,
        params: &mut Parameters,
        f: &mut dyn FnMut(&Parameters) -> Result<LossAndGrads>,
    ) -> Result<f32> {
        self.cfg.validate()?;
        self.memory
            .check_shapes(params)
            .map_err(|m| bad_shapes(&m))?;
        self.memory.shapes = params.tensors().iter().map(|t| *t.shape()).collect();
        let mut eval = Evaluator {
            x0: flatten(params),
            params,
            f,
            evals: 0,
        };
        let (mut loss, mut grad) = eval.at_x0()?;
        if !loss.is_finite() {
            self.func_evals += eval.evals as u64;
            return Ok(loss as f32);
        }
        if max_abs(&grad) <= self.cfg.tolerance_grad {
            self.func_evals += eval.evals as u64;
            return Ok(loss as f32);
        }
        let max_eval = self.cfg.max_eval.unwrap_or(self.cfg.max_iter * 5 / 4);
        let tol_change = self.cfg.tolerance_change as f64;
        let mut n = 0;
        while n < self.cfg.max_iter {
            n += 1;
            let d = self.memory.direction(&grad, self.cfg.history_size);
            self.memory.n_iter += 1;
            let t0 = self.first_trial(&grad);
            let gtd = dot(&grad, &d);
            let prev_loss = loss;
            self.memory.prev_grad.clone_from(&grad);
            if gtd.is_nan() || gtd >= -tol_change {
                // Not a descent direction (or no slope left): no step, so no (s, y) pair either.
                self.memory.prev_step = vec![0.0; grad.len()];
                break;
            }
            eval.x0 = flatten(eval.params);
            let best = strong_wolfe(&mut eval, &d, t0, loss, &grad, gtd, tol_change)?;
            if best.t == 0.0 {
                // The search found no lower point: forget the history, so that the next
                // iteration starts again from steepest descent (as scipy's L-BFGS-B does).
                self.memory.history.clear();
            }
            eval.set(best.t, &d);
            let step: Vec<f32> = d.iter().map(|&di| (best.t * di as f64) as f32).collect();
            (loss, grad) = (best.f, best.g);
            let moved = max_abs(&step);
            self.memory.prev_step = step;
            if n == self.cfg.max_iter
                || eval.evals >= max_eval
                || max_abs(&grad) <= self.cfg.tolerance_grad
                || moved <= self.cfg.tolerance_change
                || (loss - prev_loss).abs() < tol_change
            {
                break;
            }
        }
        self.func_evals += eval.evals as u64;
        Ok(loss as f32)
    }

    /// The line search's first trial step.
    fn first_trial(&self, grad: &[f32]) -> f64 {
        let lr = self.cfg.lr as f64;
        if self.memory.n_iter == 1 {
            lr * (1.0 / dot(grad, grad).sqrt()).min(1.0)
        } else {
            lr
        }
    }
}

impl Default for Lbfgs {
    /// L-BFGS with [`LbfgsConfig::default`].
    fn default() -> Lbfgs {
        Lbfgs {
            cfg: LbfgsConfig::default(),
            memory: Memory::default(),
            func_evals: 0,
        }
    }
}

impl Memory {
    /// `Err(message)` if `params` has other shapes than the ones this memory was made for.
    fn check_shapes(&self, params: &Parameters) -> std::result::Result<(), String> {
        if self.prev_grad.is_empty() {
            return Ok(());
        }
        let have: Vec<Shape> = params.tensors().iter().map(|t| *t.shape()).collect();
        if have == self.shapes {
            Ok(())
        } else {
            Err(format!("parameters {have:?}, state for {:?}", self.shapes))
        }
    }

    /// The search direction at gradient `g`: −g at first, else −H·g after remembering the last
    /// iteration's (s, y).
    fn direction(&mut self, g: &[f32], history_size: usize) -> Vec<f32> {
        let mut q: Vec<f32> = g.iter().map(|&x| -x).collect();
        if self.prev_grad.is_empty() {
            return q;
        }
        let y: Vec<f32> = g.iter().zip(&self.prev_grad).map(|(a, b)| a - b).collect();
        if let Some(pair) = Pair::new(std::mem::take(&mut self.prev_step), y) {
            while self.history.len() >= history_size {
                self.history.pop_front();
            }
            self.history.push_back(pair);
        }
        // The two-loop recursion: q ← −g; newest to oldest, αᵢ = ρᵢ sᵢ·q, q ← q − αᵢyᵢ;
        // q ← γq; oldest to newest, βᵢ = ρᵢ yᵢ·q, q ← q + (αᵢ − βᵢ)sᵢ.
        let mut alpha = vec![0.0f64; self.history.len()];
        for (p, a) in self.history.iter().zip(alpha.iter_mut()).rev() {
            *a = p.rho * dot(&p.s, &q);
            axpy(-*a, &p.y, &mut q);
        }
        let gamma = self.history.back().map_or(1.0, |p| p.gamma) as f32;
        q.iter_mut().for_each(|x| *x *= gamma);
        for (p, a) in self.history.iter().zip(&alpha) {
            let b = p.rho * dot(&p.y, &q);
            axpy(a - b, &p.s, &mut q);
        }
        q
    }
}

/// Σ aᵢbᵢ, accumulated in f64.
fn dot(a: &[f32], b: &[f32]) -> f64 {
    a.iter().zip(b).map(|(&x, &y)| x as f64 * y as f64).sum()
}

/// y ← y + a·x.
fn axpy(a: f64, x: &[f32], y: &mut [f32]) {
    let a = a as f32;
    y.iter_mut().zip(x).for_each(|(y, &x)| *y += a * x);
}

fn max_abs(v: &[f32]) -> f32 {
    v.iter().fold(0.0, |m, x| m.max(x.abs()))
}

fn flatten(params: &Parameters) -> Vec<f32> {
    params
        .tensors()
        .iter()
        .flat_map(|t| t.data().iter().copied())
        .collect()
}

fn flatten_grads(params: &Parameters, grads: &[Tensor]) -> Result<Vec<f32>> {
    let fits = grads.len() == params.len()
        && grads
            .iter()
            .zip(params.tensors())
            .all(|(g, p)| g.shape() == p.shape());
    if !fits {
        let want: Vec<_> = params.tensors().iter().map(|t| t.dims().to_vec()).collect();
        let got: Vec<_> = grads.iter().map(|t| t.dims().to_vec()).collect();
        return Err(Error::invalid(
            "gradients",
            format!("shapes {got:?} for parameters {want:?}"),
            "one gradient per parameter, in order, each of its parameter's shape",
        ));
    }
    Ok(grads
        .iter()
        .flat_map(|t| t.data().iter().copied())
        .collect())
}

fn bad_shapes(message: &str) -> Error {
    Error::invalid(
        "optimizer state",
        message,
        "the parameters L-BFGS was run on (or its state saved for)",
    )
}

impl LearningRate for Lbfgs {
    /// The first trial step of each line search.
    fn lr(&self) -> f32 {
        self.cfg.lr
    }

    fn set_lr(&mut self, lr: f32) {
        self.cfg.lr = lr;
    }
}

impl Lbfgs {
    /// One quasi-Newton step of fixed length, without a line search: the history is updated from
    /// the previous call's step and this gradient, then x ← x + t·d with t = lr (the first time,
    /// lr·min(1, 1/‖g‖₂)). A parameter without a gradient counts as having gradient 0 and is not
    /// moved.
    ///
    /// # Errors
    /// If the parameters' shapes differ from those of earlier steps, or a gradient's from its
    /// parameter's.
    pub fn step_fixed(&mut self, params: &mut Parameters, grads: &Gradients) -> Result<()> {
        self.memory
            .check_shapes(params)
            .map_err(|m| bad_shapes(&m))?;
        let mut g = Vec::with_capacity(params.numel());
        let mut has_grad = Vec::with_capacity(params.len());
        for (i, p) in params.tensors().iter().enumerate() {
            match grads.get(ParamId(i)) {
                Some(t) if t.shape() != p.shape() => {
                    let (a, b) = (t.dims(), p.dims());
                    return Err(Error::invalid(
                        "gradients",
                        format!("shape {a:?} for parameter {i} of shape {b:?}"),
                        "each gradient of its parameter's shape",
                    ));
                }
                Some(t) => g.extend_from_slice(t.data()),
                None => g.extend(std::iter::repeat_n(0.0, p.numel())),
            }
            has_grad.push(grads.get(ParamId(i)).is_some());
        }
        let d = self.memory.direction(&g, self.cfg.history_size);
        self.memory.n_iter += 1;
        let t = self.first_trial(&g);
        let mut step = vec![0.0f32; g.len()];
        let mut k = 0;
        for (p, has) in params.tensors_mut().iter_mut().zip(has_grad) {
            for w in p.data_mut() {
                if has {
                    step[k] = (t * d[k] as f64) as f32;
                    *w += step[k];
                }
                k += 1;
            }
        }
        self.memory.shapes = params.tensors().iter().map(|t| *t.shape()).collect();
        self.memory.prev_grad = g;
        self.memory.prev_step = step;
        Ok(())
    }
}

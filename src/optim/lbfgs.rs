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
use crate::optim::state::{self, Entry, Slot};
use crate::optim::LearningRate;
use crate::params::{ParamId, Parameters};
use crate::tensor::{Shape, Tensor};
use serde::{Deserialize, Serialize};

/// Sufficient-decrease constant c₁ of the Wolfe conditions (PyTorch's, Nocedal & Wright's).
const C1: f64 = 1e-4;
/// Curvature constant c₂ of the Wolfe conditions.
const C2: f64 = 0.9;
/// Most evaluations in one line search (PyTorch's `max_ls`).
const MAX_LS: usize = 25;
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

/// Evaluates the closure along a line `x0 + t·d`, counting evaluations.
struct Evaluator<'a> {
    params: &'a mut Parameters,
    f: &'a mut dyn FnMut(&Parameters) -> Result<LossAndGrads>,
    x0: Vec<f32>,
    evals: usize,
}

impl Evaluator<'_> {
    /// The loss (NaN as +∞, so a search backs off from it) and flat gradient where the parameters
    /// are now.
    fn here(&mut self) -> Result<(f64, Vec<f32>)> {
        let (loss, grads) = (self.f)(self.params)?;
        self.evals += 1;
        let g = flatten_grads(self.params, &grads)?;
        let loss = if loss.is_nan() {
            f64::INFINITY
        } else {
            loss as f64
        };
        Ok((loss, g))
    }

    /// Like [`Evaluator::here`], but a NaN loss stays NaN (for the starting point).
    fn at_x0(&mut self) -> Result<(f64, Vec<f32>)> {
        let (loss, grads) = (self.f)(self.params)?;
        self.evals += 1;
        Ok((loss as f64, flatten_grads(self.params, &grads)?))
    }

    /// Moves the parameters to `x0 + t·d`.
    fn set(&mut self, t: f64, d: &[f32]) {
        let mut k = 0;
        for p in self.params.tensors_mut() {
            for w in p.data_mut() {
                *w = (self.x0[k] as f64 + t * d[k] as f64) as f32;
                k += 1;
            }
        }
    }

    /// φ(t) = f(x0 + t·d), its gradient, and φ′(t) = ∇f·d.
    fn probe(&mut self, t: f64, d: &[f32]) -> Result<Probe> {
        self.set(t, d);
        let (f, g) = self.here()?;
        let gtd = dot(&g, d);
        Ok(Probe { t, f, g, gtd })
    }
}

/// One point of a line search.
#[derive(Clone, Debug)]
struct Probe {
    t: f64,
    f: f64,
    g: Vec<f32>,
    gtd: f64,
}

/// PyTorch's `_strong_wolfe` (after minFunc's `WolfeLineSearch`): from trial step `t`, bracket an
/// interval containing a strong-Wolfe point by cubic extrapolation, then shrink it by cubic
/// interpolation (kept at least 10 % away from the ends). Returns the lowest point found, which
/// satisfies the conditions unless the evaluations ran out or the bracket became tiny.
fn strong_wolfe(
    eval: &mut Evaluator,
    d: &[f32],
    t: f64,
    f: f64,
    g: &[f32],
    gtd: f64,
    tol_change: f64,
) -> Result<Probe> {
    let d_norm = max_abs(d) as f64;
    let armijo = |p: &Probe| p.f <= f + C1 * p.t * gtd;
    let curvature = |p: &Probe| p.gtd.abs() <= -C2 * gtd;
    let start = Probe {
        t: 0.0,
        f,
        g: g.to_vec(),
        gtd,
    };
    let mut new = eval.probe(t, d)?;
    let mut prev = start.clone();
    let mut ls_iter = 0;
    // Bracketing.
    let mut bracket = loop {
        if ls_iter == MAX_LS {
            break [start, new];
        }
        if !armijo(&new) || (ls_iter > 1 && new.f >= prev.f) {
            break [prev, new];
        }
        if curvature(&new) {
            return Ok(new);
        }
        if new.gtd >= 0.0 {
            break [prev, new];
        }
        let (lo, hi) = (new.t + 0.01 * (new.t - prev.t), new.t * 10.0);
        let t = cubic_interpolate(&prev, &new, Some((lo, hi)));
        prev = new;
        new = eval.probe(t, d)?;
        ls_iter += 1;
    };
    // Zoom.
    let lower = |b: &[Probe; 2]| if b[0].f <= b[1].f { (0, 1) } else { (1, 0) };
    let (mut low, mut high) = lower(&bracket);
    let mut insufficient_progress = false;
    while ls_iter < MAX_LS {
        let (b0, b1) = (bracket[0].t, bracket[1].t);
        if (b1 - b0).abs() * d_norm < tol_change {
            break;
        }
        let mut t = cubic_interpolate(&bracket[0], &bracket[1], None);
        let (bmin, bmax) = (b0.min(b1), b0.max(b1));
        let eps = 0.1 * (bmax - bmin);
        if (bmax - t).min(t - bmin) < eps {
            // Too close to an end: move 10 % inside if it happens twice or t is on the end.
            if insufficient_progress || t >= bmax || t <= bmin {
                t = if (t - bmax).abs() < (t - bmin).abs() {
                    bmax - eps
                } else {
                    bmin + eps
                };
                insufficient_progress = false;
            } else {
                insufficient_progress = true;
            }
        } else {
            insufficient_progress = false;
        }
        let new = eval.probe(t, d)?;
        ls_iter += 1;
        if !armijo(&new) || new.f >= bracket[low].f {
            bracket[high] = new;
            (low, high) = lower(&bracket);
        } else {
            let done = curvature(&new);
            if !done && new.gtd * (bracket[high].t - bracket[low].t) >= 0.0 {
                bracket[high] = bracket[low].clone();
            }
            bracket[low] = new;
            if done {
                break;
            }
        }
    }
    let [a, b] = bracket;
    Ok(if low == 0 { a } else { b })
}

/// The minimiser of the cubic through (t, f, φ′) at both points, clamped into `bounds` (default:
/// between the points); the middle of the bounds when the cubic has no minimum there.
fn cubic_interpolate(p1: &Probe, p2: &Probe, bounds: Option<(f64, f64)>) -> f64 {
    let (x1, f1, g1, x2, f2, g2) = (p1.t, p1.f, p1.gtd, p2.t, p2.f, p2.gtd);
    let (lo, hi) = bounds.unwrap_or((x1.min(x2), x1.max(x2)));
    let d1 = g1 + g2 - 3.0 * (f1 - f2) / (x1 - x2);
    let d2_square = d1 * d1 - g1 * g2;
    if d2_square >= 0.0 {
        let d2 = d2_square.sqrt();
        let min_pos = if x1 <= x2 {
            x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2.0 * d2))
        } else {
            x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2.0 * d2))
        };
        if min_pos.is_finite() {
            return min_pos.max(lo).min(hi);
        }
    }
    (lo + hi) / 2.0
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

    /// The state as named tensors, per parameter i as for the optimizers (see the module docs),
    /// for checkpoints; empty before the first iteration.
    pub fn state(&self) -> Vec<(String, Tensor)> {
        let m = &self.memory;
        if m.prev_grad.is_empty() {
            return vec![];
        }
        let mut slots = Vec::new();
        let mut start = 0;
        for shape in &m.shapes {
            let n = shape.numel();
            let part = |v: &[f32]| {
                Tensor::from_slice(&v[start..start + n], *shape)
                    .expect("internal error: L-BFGS state has the parameters' sizes")
            };
            slots.push(Some(Saved {
                step: m.n_iter,
                prev_grad: part(&m.prev_grad),
                prev_step: part(&m.prev_step),
                history: m.history.iter().map(|p| (part(&p.s), part(&p.y))).collect(),
            }));
            start += n;
        }
        state::save_all(&slots)
    }

    /// [`Lbfgs::load_state`], after checking that every state tensor names a parameter of
    /// `params` and has its shape.
    ///
    /// # Errors
    /// As [`Lbfgs::load_state`], and for state that does not fit `params`.
    pub fn load_state_checked(
        &mut self,
        params: &Parameters,
        state: &[(String, Tensor)],
    ) -> Result<()> {
        state::check_against(params, state)?;
        self.load_state(state)
    }

    /// Restores state saved by [`Lbfgs::state`].
    ///
    /// # Errors
    /// Unknown or missing tensors, pairs that L-BFGS would never have kept, or parameters whose
    /// counts of steps and pairs differ.
    pub fn load_state(&mut self, saved: &[(String, Tensor)]) -> Result<()> {
        let mut kinds = vec!["step".to_string(), "prev_grad".into(), "prev_step".into()];
        for k in 0..self.cfg.history_size {
            kinds.push(format!("history_s_{k}"));
            kinds.push(format!("history_y_{k}"));
        }
        let kinds: Vec<&str> = kinds.iter().map(String::as_str).collect();
        let slots: Vec<Option<Saved>> = state::load_all(saved, &kinds)?;
        let mut m = Memory::default();
        let mut pairs: Vec<(Vec<f32>, Vec<f32>)> = Vec::new();
        for (i, slot) in slots.into_iter().enumerate() {
            let Some(s) = slot else {
                return Err(bad_shapes(&format!(
                    "no state for parameter {i}; L-BFGS saves every parameter"
                )));
            };
            if i == 0 {
                m.n_iter = s.step;
                pairs.resize(s.history.len(), (vec![], vec![]));
            } else if s.step != m.n_iter || s.history.len() != pairs.len() {
                return Err(bad_shapes(&format!(
                    "parameter {i} has {} steps and {} pairs, parameter 0 {} and {}",
                    s.step,
                    s.history.len(),
                    m.n_iter,
                    pairs.len()
                )));
            }
            m.shapes.push(*s.prev_grad.shape());
            m.prev_grad.extend_from_slice(s.prev_grad.data());
            m.prev_step.extend_from_slice(s.prev_step.data());
            for ((ps, py), (ts, ty)) in pairs.iter_mut().zip(&s.history) {
                ps.extend_from_slice(ts.data());
                py.extend_from_slice(ty.data());
            }
        }
        for (s, y) in pairs {
            // Saved pairs passed the curvature test when they were made, with the same numbers.
            let p = Pair::new(s, y).ok_or_else(|| {
                bad_shapes("a remembered pair with y·s <= 1e-10, which L-BFGS never keeps")
            })?;
            m.history.push_back(p);
        }
        self.memory = m;
        Ok(())
    }
}

/// One parameter's part of the saved state.
struct Saved {
    step: u64,
    prev_grad: Tensor,
    prev_step: Tensor,
    history: Vec<(Tensor, Tensor)>,
}

impl Slot for Saved {
    fn shape(&self) -> &Shape {
        self.prev_grad.shape()
    }
    fn save(&self, i: usize, out: &mut Vec<(String, Tensor)>) {
        out.push((format!("step.{i}"), state::step_tensor(self.step)));
        out.push((format!("prev_grad.{i}"), self.prev_grad.clone()));
        out.push((format!("prev_step.{i}"), self.prev_step.clone()));
        for (k, (s, y)) in self.history.iter().enumerate() {
            out.push((format!("history_s_{k}.{i}"), s.clone()));
            out.push((format!("history_y_{k}.{i}"), y.clone()));
        }
    }
    fn load(e: &Entry) -> Result<Saved> {
        let mut history = Vec::new();
        while let Some(s) = e.optional(&format!("history_s_{}", history.len())) {
            let y = e.tensor(&format!("history_y_{}", history.len()))?;
            history.push((s, y));
        }
        let k = history.len();
        if e.optional(&format!("history_y_{k}")).is_some() {
            return Err(bad_shapes(&format!("history_y_{k} without history_s_{k}")));
        }
        Ok(Saved {
            step: e.step()?,
            prev_grad: e.tensor("prev_grad")?,
            prev_step: e.tensor("prev_step")?,
            history,
        })
    }
}

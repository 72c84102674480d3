//! The strong-Wolfe line search of [`Lbfgs::step_closure`](super::Lbfgs::step_closure), after
//! PyTorch's `_strong_wolfe`: the loss along `x0 + t·d`, bracketing by cubic extrapolation, zoom
//! by cubic interpolation.

use super::{dot, flatten_grads, max_abs, LossAndGrads};
use crate::error::Result;
use crate::params::Parameters;

/// Sufficient-decrease constant c₁ of the Wolfe conditions (PyTorch's, Nocedal & Wright's).
const C1: f64 = 1e-4;
/// Curvature constant c₂ of the Wolfe conditions.
const C2: f64 = 0.9;
/// Most evaluations in one line search (PyTorch's `max_ls`).
const MAX_LS: usize = 25;

/// Evaluates the closure along a line `x0 + t·d`, counting evaluations.
pub(super) struct Evaluator<'a> {
    pub(super) params: &'a mut Parameters,
    pub(super) f: &'a mut dyn FnMut(&Parameters) -> Result<LossAndGrads>,
    pub(super) x0: Vec<f32>,
    pub(super) evals: usize,
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
    pub(super) fn at_x0(&mut self) -> Result<(f64, Vec<f32>)> {
        let (loss, grads) = (self.f)(self.params)?;
        self.evals += 1;
        Ok((loss as f64, flatten_grads(self.params, &grads)?))
    }

    /// Moves the parameters to `x0 + t·d`.
    pub(super) fn set(&mut self, t: f64, d: &[f32]) {
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
pub(super) struct Probe {
    pub(super) t: f64,
    pub(super) f: f64,
    pub(super) g: Vec<f32>,
    gtd: f64,
}

/// PyTorch's `_strong_wolfe` (after minFunc's `WolfeLineSearch`): from trial step `t`, bracket an
/// interval containing a strong-Wolfe point by cubic extrapolation, then shrink it by cubic
/// interpolation (kept at least 10 % away from the ends). Returns the lowest point found, which
/// satisfies the conditions unless the evaluations ran out or the bracket became tiny.
pub(super) fn strong_wolfe(
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

//! log-softmax and the fused softmax cross-entropy, along the last dim (one row per sample).
//!
//! `log_softmax(x)ᵢ = xᵢ − m − ln Σⱼ e^(xⱼ − m)` with `m = maxⱼ xⱼ`, so no `exp` overflows for
//! large inputs. Backward: `dxᵢ = dyᵢ − softmax(x)ᵢ · Σⱼ dyⱼ`, with `softmax = e^y`.
//!
//! `cross_entropy(x, t) = −(1/N) Σₙ log_softmax(xₙ)[tₙ]` for class indices `t`. Backward
//! (fused): `dxₙ = dy · (softmax(xₙ) − onehot(tₙ)) / N`. Both are tested equal to their
//! compositions from `max`, `sub`, `exp`, `sum`, `log` and `mul`.

use crate::autograd::{put, Backward, Graph, Op, Var};
use crate::tensor::pool::{self, SharedMut};
use crate::tensor::{Shape, Tensor};
use std::ops::Range;

/// Writes one row's log-softmax into `y`.
pub(crate) fn log_softmax_row(x: &[f32], y: &mut [f32]) {
    let m = x.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let s: f32 = x.iter().map(|&v| (v - m).exp()).sum();
    let ls = s.ln();
    // (x − m) − ln s, not x − (m + ln s): the shift is exact, so large inputs keep their digits
    for (y, &x) in y.iter_mut().zip(x) {
        *y = (x - m) - ls;
    }
}

/// softmax of each row of a tensor (the last dim), for inference: `exp(log_softmax(x))`.
pub(crate) fn softmax_rows(x: &Tensor) -> Tensor {
    let k = x.shape().last();
    let mut p = x.clone();
    for (src, dst) in x
        .data()
        .chunks_exact(k)
        .zip(p.data_mut().chunks_exact_mut(k))
    {
        log_softmax_row(src, dst);
        dst.iter_mut().for_each(|v| *v = v.exp());
    }
    p
}

/// Row-wise passes are split over the pool (by rows) from this many elements on.
const PARALLEL_ELEMENTS: usize = 1 << 11;

/// Calls `f(rows, out_rows)` over the rows of `out` (`width` values each), split into row
/// ranges over the pool: for passes where each output row depends only on its own row.
fn by_rows(out: &mut [f32], width: usize, f: &(dyn Fn(Range<usize>, &mut [f32]) + Sync)) {
    let rows = out.len().checked_div(width).unwrap_or(0);
    if out.len() < 2 * PARALLEL_ELEMENTS {
        return f(0..rows, out); // one range: no pool job to set up
    }
    let op = SharedMut(out.as_mut_ptr());
    pool::rows(rows, width, PARALLEL_ELEMENTS, &|r| {
        // SAFETY: the row ranges are disjoint and inside out.
        let o = unsafe { op.slice(r.start * width..r.end * width) };
        f(r, o)
    });
}

pub(crate) fn log_softmax_backward(x: Var, mut b: Backward) {
    let c = b.out.shape().last();
    let (y, dy) = (b.out.data(), b.dy.data());
    let Some((dx, acc)) = b.sink.slot(x) else {
        return;
    };
    by_rows(dx.data_mut(), c, &|r, dx| {
        let rows = r.start * c..r.end * c;
        for ((dxr, yr), dyr) in dx
            .chunks_exact_mut(c)
            .zip(y[rows.clone()].chunks_exact(c))
            .zip(dy[rows].chunks_exact(c))
        {
            let s: f32 = dyr.iter().sum();
            put(dxr, acc, |i| dyr[i] - yr[i].exp() * s);
        }
    });
}

pub(crate) fn cross_entropy_backward(x: Var, target: Var, mut b: Backward) {
    let probs = b.aux;
    let c = probs.shape().last();
    let n = probs.numel() / c;
    let t = b.values.get(target).data();
    let g = b.dy.data()[0] / n as f32;
    let Some((dx, acc)) = b.sink.slot(x) else {
        return;
    };
    by_rows(dx.data_mut(), c, &|r, dx| {
        let pr = &probs.data()[r.start * c..r.end * c];
        for (row, (dxr, pr)) in r.zip(dx.chunks_exact_mut(c).zip(pr.chunks_exact(c))) {
            let ti = t[row] as usize;
            put(dxr, acc, |i| g * (pr[i] - if i == ti { 1.0 } else { 0.0 }));
        }
    });
}

/// The forward of [`Graph::cross_entropy`]: `probs` = the softmax of each row, `y` = the mean
/// of `−log softmax` at the targets. Rows in parallel (each row's `−log p` parked in `y`), the
/// mean summed in row order afterwards: the same bits for any thread count.
fn cross_entropy_forward(
    x: &[f32],
    t: &[f32],
    (n, c): (usize, usize),
    probs: &mut [f32],
    y: &mut Tensor,
) {
    y.resize(Shape::from([n]));
    let lp = SharedMut(y.data_mut().as_mut_ptr());
    by_rows(probs, c, &|r, pr| {
        // SAFETY: row r's slot of y, disjoint between the row ranges.
        let lp = unsafe { lp.slice(r.clone()) };
        let xr = &x[r.start * c..r.end * c];
        for ((row, (xr, pr)), lp) in r
            .zip(xr.chunks_exact(c).zip(pr.chunks_exact_mut(c)))
            .zip(lp)
        {
            log_softmax_row(xr, pr);
            *lp = pr[t[row] as usize];
            for p in pr.iter_mut() {
                *p = p.exp();
            }
        }
    });
    let mut total = 0.0f32;
    for &lp in y.data() {
        total -= lp;
    }
    y.resize(Shape::scalar());
    y.data_mut()[0] = total / n as f32;
}

impl Graph<'_, '_> {
    /// log-softmax along the last dim, numerically stable for large inputs.
    pub fn log_softmax(&mut self, x: Var) -> Var {
        let s = self.shape(x);
        let c = s.last();
        self.push(Op::LogSoftmax(x), &[x], |v, y, _| {
            y.resize(s);
            let x = v.get(x).data();
            by_rows(y.data_mut(), c, &|r, y| {
                let xr = &x[r.start * c..r.end * c];
                for (xr, yr) in xr.chunks_exact(c).zip(y.chunks_exact_mut(c)) {
                    log_softmax_row(xr, yr);
                }
            });
        })
    }

    /// Mean softmax cross-entropy of `logits` `(batch, classes)` against `targets` `(batch)`
    /// holding class indices (as `f32`), like PyTorch's `F.cross_entropy`.
    ///
    /// # Panics
    /// If the shapes disagree or a target is not a class index in `0..classes`.
    pub fn cross_entropy(&mut self, logits: Var, targets: Var) -> Var {
        let (sx, st) = (self.shape(logits), self.shape(targets));
        let (n, c) = sx.as_matrix();
        assert!(
            sx.rank() == 2 && st.numel() == n,
            "cross_entropy: logits {sx:?} need (batch, classes) and targets (batch), got {st:?}"
        );
        for (i, &t) in self.value(targets).data().iter().enumerate() {
            assert!(
                t >= 0.0 && (t as usize) < c && t.fract() == 0.0,
                "cross_entropy: target {t} of sample {i} is not a class index in 0..{c}"
            );
        }
        self.push(
            Op::CrossEntropy(logits, targets),
            &[logits, targets],
            |v, y, probs| {
                probs.resize(sx);
                let (x, t) = (v.get(logits).data(), v.get(targets).data());
                cross_entropy_forward(x, t, (n, c), probs.data_mut(), y);
            },
        )
    }
}

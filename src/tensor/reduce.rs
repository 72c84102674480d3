//! Reductions along one dimension: sum and max (with the index of the maximum).
//!
//! A shape `(d0, …, dr)` reduced along `dim` is seen as `(outer, len, inner)` where `len = d[dim]`;
//! the result has shape `(outer, 1, inner)`. Sums run in a fixed order, so they are deterministic.

use super::Shape;

fn split(shape: &Shape, dim: usize) -> (usize, usize, usize) {
    let d = shape.dims();
    assert!(
        dim < d.len(),
        "reduce: dim {dim} out of range for shape {shape:?}"
    );
    let outer = d[..dim].iter().product();
    let inner = d[dim + 1..].iter().product();
    (outer, d[dim], inner)
}

/// `out[o, i] (+)= Σ_l x[o, l, i]`; `out` holds `outer·inner` values.
pub(crate) fn sum_dim_into(
    x: &[f32],
    shape: &Shape,
    dim: usize,
    out: &mut [f32],
    accumulate: bool,
) {
    let (outer, len, inner) = split(shape, dim);
    if !accumulate {
        out.fill(0.0);
    }
    for o in 0..outer {
        let dst = &mut out[o * inner..(o + 1) * inner];
        for l in 0..len {
            let src = &x[(o * len + l) * inner..(o * len + l + 1) * inner];
            for (d, s) in dst.iter_mut().zip(src) {
                *d += s;
            }
        }
    }
}

/// `out[j] (+)= Σ_i x[i, j]` for an `m × n` row-major `x` (the column sums: a bias gradient),
/// split over the pool by ranges of columns, each summed over the rows in order — the same
/// bits as [`sum_dim_into`] along dim 0, for any thread count.
pub(crate) fn sum_rows_into(x: &[f32], m: usize, n: usize, out: &mut [f32], accumulate: bool) {
    assert!(x.len() >= m * n && out.len() == n, "sum_rows_into: {m}×{n}");
    if n == 0 {
        return;
    }
    let sum = |r: std::ops::Range<usize>, dst: &mut [f32]| {
        if !accumulate {
            dst.fill(0.0);
        }
        for row in x.chunks_exact(n).take(m) {
            for (d, s) in dst.iter_mut().zip(&row[r.clone()]) {
                *d += s;
            }
        }
    };
    if m * n < 1 << 15 {
        return sum(0..n, out); // one range: no pool job to set up
    }
    let op = super::pool::SharedMut(out.as_mut_ptr());
    super::pool::ranges(n, (1 << 14) / m.max(1), &|r| {
        // SAFETY: the column ranges are disjoint and inside out.
        sum(r.clone(), unsafe { op.slice(r) })
    });
}

/// `out[o, i] = max_l x[o, l, i]`, `idx[o, i] = argmax_l` (the first on ties).
pub(crate) fn max_dim_into(
    x: &[f32],
    shape: &Shape,
    dim: usize,
    out: &mut [f32],
    idx: &mut [usize],
) {
    let (outer, len, inner) = split(shape, dim);
    assert!(len > 0, "max over an empty dimension of shape {shape:?}");
    for o in 0..outer {
        for i in 0..inner {
            let mut best = x[o * len * inner + i];
            let mut at = 0;
            for l in 1..len {
                let v = x[(o * len + l) * inner + i];
                if v > best || (best.is_nan() && !v.is_nan()) {
                    best = v;
                    at = l;
                }
            }
            out[o * inner + i] = best;
            idx[o * inner + i] = at;
        }
    }
}

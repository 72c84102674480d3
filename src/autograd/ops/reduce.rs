//! Reductions.
//!
//! `sum`: `y = Σ_dim x`.  Backward: `dx = dy` broadcast back along `dim` (every summand gets it).
//! `max`: `y = max_dim x`.  Backward: `dx = dy` at the argmax, 0 elsewhere (the first on ties).

use crate::autograd::{put, Backward, Graph, Op, Var};
use crate::tensor::{max_dim_into, sum_dim_into, Shape};

/// Split a shape around `dim` into `(outer, len, inner)`.
fn split(s: &Shape, dim: usize) -> (usize, usize, usize) {
    let d = s.dims();
    (
        d[..dim].iter().product(),
        d[dim],
        d[dim + 1..].iter().product(),
    )
}

pub(crate) fn sum_backward(x: Var, dim: Option<u8>, mut b: Backward) {
    let sx = *b.values.get(x).shape();
    let dy = b.dy.data();
    let Some((dx, acc)) = b.sink.slot(x) else {
        return;
    };
    match dim {
        None => put(dx.data_mut(), acc, |_| dy[0]),
        Some(d) => {
            let (_, len, inner) = split(&sx, d as usize);
            put(dx.data_mut(), acc, |i| {
                dy[(i / (len * inner)) * inner + i % inner]
            });
        }
    }
}

pub(crate) fn max_backward(x: Var, dim: u8, mut b: Backward) {
    let sx = *b.values.get(x).shape();
    let (dy, arg) = (b.dy.data(), b.aux.data());
    let Some((dx, acc)) = b.sink.slot(x) else {
        return;
    };
    let (outer, len, inner) = split(&sx, dim as usize);
    let dx = dx.data_mut();
    if !acc {
        dx.fill(0.0);
    }
    for o in 0..outer {
        for i in 0..inner {
            let l = arg[o * inner + i] as usize;
            dx[(o * len + l) * inner + i] += dy[o * inner + i];
        }
    }
}

impl Graph<'_, '_> {
    /// The sum of all elements (a scalar).
    pub fn sum(&mut self, x: Var) -> Var {
        self.push(Op::Sum(x, None), &[x], |v, y, _| {
            y.resize(Shape::scalar());
            y.data_mut()[0] = v.get(x).data().iter().sum();
        })
    }

    /// The sum along `dim`; the dim is kept with size 1 when `keepdim`.
    pub fn sum_dim(&mut self, x: Var, dim: usize, keepdim: bool) -> Var {
        let s = self.shape(x);
        assert!(
            dim < s.rank(),
            "sum_dim: dim {dim} out of range for shape {s:?}"
        );
        let out = if keepdim {
            s.with_dim(dim, 1)
        } else {
            s.without_dim(dim)
        };
        self.push(Op::Sum(x, Some(dim as u8)), &[x], |v, y, _| {
            y.resize(out);
            sum_dim_into(v.get(x).data(), &s, dim, y.data_mut(), false);
        })
    }

    /// The maximum along `dim`; the dim is kept with size 1 when `keepdim`.
    pub fn max_dim(&mut self, x: Var, dim: usize, keepdim: bool) -> Var {
        let s = self.shape(x);
        assert!(
            dim < s.rank(),
            "max_dim: dim {dim} out of range for shape {s:?}"
        );
        let out = if keepdim {
            s.with_dim(dim, 1)
        } else {
            s.without_dim(dim)
        };
        self.push(Op::Max(x, dim as u8), &[x], |v, y, aux| {
            y.resize(out);
            aux.resize(out);
            let mut idx = vec![0usize; out.numel()];
            max_dim_into(v.get(x).data(), &s, dim, y.data_mut(), &mut idx);
            for (a, i) in aux.data_mut().iter_mut().zip(idx) {
                *a = i as f32;
            }
        })
    }
}

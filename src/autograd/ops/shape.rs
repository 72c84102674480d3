//! Movement ops: their gradients are movements too.
//!
//! `transpose`: `Y = Xᵀ`; `dX = dYᵀ`.
//! `reshape`: same data, new shape; `dX = reshape(dY)` back to X's shape.
//! `concat` along the last (feature) dim: `Y = [X₁ | X₂ | …]`; each `dXᵢ` is its block of columns
//! of dY — how a skip connection feeds an earlier layer's output into a later layer.
//! `slice` of columns `s..s+n`: `dX` is dY in those columns, 0 elsewhere.

use crate::autograd::{put, Backward, Graph, Op, Var};
use crate::tensor::{transpose_into, Shape};

pub(crate) fn transpose_backward(x: Var, mut b: Backward) {
    let (r, c) = (b.dy.dims()[0], b.dy.dims()[1]);
    let dy = b.dy.data();
    let Some((dx, acc)) = b.sink.slot(x) else {
        return;
    };
    // dx is (c, r): dx[i, j] = dy[j, i]
    put(dx.data_mut(), acc, |k| dy[(k % r) * c + k / r]);
}

pub(crate) fn reshape_backward(x: Var, mut b: Backward) {
    let dy = b.dy.data();
    if let Some((dx, acc)) = b.sink.slot(x) {
        put(dx.data_mut(), acc, |i| dy[i]);
    }
}

pub(crate) fn concat_backward(start: u32, count: u32, mut b: Backward) {
    let (rows, width) = b.dy.shape().as_matrix();
    let dy = b.dy.data();
    let mut off = 0;
    for &x in &b.list[start as usize..(start + count) as usize] {
        let w = b.values.get(x).shape().last();
        if let Some((dx, acc)) = b.sink.slot(x) {
            put(dx.data_mut(), acc, |i| dy[(i / w) * width + off + i % w]);
        }
        off += w;
    }
    debug_assert!(rows == 0 || off == width);
}

pub(crate) fn slice_backward(x: Var, start: u32, len: u32, mut b: Backward) {
    let (s, n) = (start as usize, len as usize);
    let dy = b.dy.data();
    let Some((dx, acc)) = b.sink.slot(x) else {
        return;
    };
    let w = dx.shape().last();
    put(dx.data_mut(), acc, |i| {
        let c = i % w;
        if c >= s && c < s + n {
            dy[(i / w) * n + c - s]
        } else {
            0.0
        }
    });
}

impl Graph<'_, '_> {
    /// The transpose of a matrix.
    pub fn transpose(&mut self, x: Var) -> Var {
        let s = self.shape(x);
        assert_eq!(s.rank(), 2, "transpose needs a matrix, got shape {s:?}");
        self.push(Op::Transpose(x), &[x], |v, y, _| {
            y.resize(Shape::from([s.dim(1), s.dim(0)]));
            transpose_into(v.get(x), y.data_mut());
        })
    }

    /// The same values seen with a new shape of the same element count.
    pub fn reshape(&mut self, x: Var, shape: impl Into<Shape>) -> Var {
        let (s, shape) = (self.shape(x), shape.into());
        assert_eq!(
            s.numel(),
            shape.numel(),
            "reshape: {s:?} has a different element count than {shape:?}"
        );
        self.push(Op::Reshape(x), &[x], |v, y, _| {
            y.assign(v.get(x));
            y.set_shape(shape);
        })
    }

    /// Concatenation along the last (feature) dim; all inputs must agree on the other dims.
    pub fn concat(&mut self, xs: &[Var]) -> Var {
        assert!(!xs.is_empty(), "concat of nothing");
        let first = self.shape(xs[0]);
        let mut width = 0;
        for &x in xs {
            let s = self.shape(x);
            assert!(
                s.rank() == first.rank()
                    && s.dims()[..s.rank() - 1] == first.dims()[..s.rank() - 1],
                "concat: shapes {first:?} and {s:?} differ outside the last dim"
            );
            width += s.last();
        }
        let out = first.with_dim(first.rank() - 1, width);
        let start = self.push_list(xs);
        let count = xs.len() as u32;
        self.push(Op::Concat { start, count }, xs, |v, y, _| {
            y.resize(out);
            let yd = y.data_mut();
            let mut off = 0;
            for &x in xs {
                let xv = v.get(x);
                let w = xv.shape().last();
                for (r, row) in xv.data().chunks_exact(w.max(1)).enumerate() {
                    yd[r * width + off..r * width + off + w].copy_from_slice(&row[..w]);
                }
                off += w;
            }
        })
    }

    /// Columns `start..start + len` of the last dim.
    pub fn slice(&mut self, x: Var, start: usize, len: usize) -> Var {
        let s = self.shape(x);
        let w = s.last();
        assert!(
            start + len <= w,
            "slice {start}..{} out of range for shape {s:?}",
            start + len
        );
        let out = s.with_dim(s.rank() - 1, len);
        self.push(Op::Slice(x, start as u32, len as u32), &[x], |v, y, _| {
            y.resize(out);
            for (dst, row) in y
                .data_mut()
                .chunks_exact_mut(len.max(1))
                .zip(v.get(x).data().chunks_exact(w))
            {
                dst.copy_from_slice(&row[start..start + len]);
            }
        })
    }
}

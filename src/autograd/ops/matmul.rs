//! Matrix products.
//!
//! `matmul`: `Y = A·B`, A `(m, k)`, B `(k, n)`.  Backward: `dA = dY·Bᵀ`, `dB = Aᵀ·dY`.
//!
//! `linear` (fused): `Y = X·Wᵀ + b` with W stored `(out, in)` as in PyTorch, X `(batch, in)`,
//! b `(out)`. Backward, in the seeds' notation with δ = dY (one row per sample):
//! `dX = δ·W` (the δ recursion before θ′), `dW = δᵀ·X` (∂E/∂W = x·δᵀ, summed over the batch),
//! `db = Σ_batch δ` (∂E/∂b = δ). Tested equal to `matmul(x, transpose(w)) + b`.
//! Transposed operands are strided views, except that the forward copies Wᵀ into the node's
//! scratch buffer (reused every step) for 3–256 rows, where the `gemm` crate runs the strided
//! layout at about half speed (measured in docs/perf.md).

use crate::autograd::{Backward, GradHook, GradSink, Graph, Op, Var};
use crate::params::ParamId;
use crate::tensor::{
    matmul_into, precision, scaled_row_add, sum_dim_into, transpose_slice, transposed_rhs_pays,
    MatRef, Precision, Shape, Tensor, NAIVE_THRESHOLD,
};

pub(crate) fn backward(a: Var, w: Var, mut b: Backward) {
    let (av, bv) = (b.values.get(a), b.values.get(w));
    let dy = MatRef::new(b.dy, false);
    if let Some((da, acc)) = b.sink.slot(a) {
        matmul_into(dy, MatRef::new(bv, true), da.data_mut(), acc);
    }
    if let Some((db, acc)) = b.sink.slot(w) {
        matmul_into(MatRef::new(av, true), dy, db.data_mut(), acc);
    }
}

pub(crate) fn linear_backward(x: Var, w: Var, bias: Option<Var>, mut b: Backward) {
    let (xv, wv) = (b.values.get(x), b.values.get(w));
    let dy = MatRef::new(b.dy, false);
    if let Some((dx, acc)) = b.sink.slot(x) {
        matmul_into(dy, MatRef::new(wv, false), dx.data_mut(), acc);
    }
    if let Some((dw, acc)) = b.sink.slot(w) {
        matmul_into(
            MatRef::new(b.dy, true),
            MatRef::new(xv, false),
            dw.data_mut(),
            acc,
        );
    }
    if let Some(bias) = bias {
        bias_backward(bias, b.dy, &mut b.sink);
    }
}

/// `db = Σ_batch δ`.
pub(crate) fn bias_backward(bias: Var, dy: &Tensor, sink: &mut GradSink) {
    if let Some((db, acc)) = sink.slot(bias) {
        let (m, n) = dy.shape().as_matrix();
        sum_dim_into(dy.data(), &Shape::from([m, n]), 0, db.data_mut(), acc);
    }
}

/// The gradient-hook form of [`linear_backward`] for ONE sample, where `dW = δᵀ·x` is an outer
/// product: `dX = δ·W` is computed from W's old rows as the hook streams them
/// ([`GradHook::outer_final`], e.g. an optimizer updating W row by row), so dW is never stored
/// and W is streamed once instead of three times. Only when it gives the bytes of the two-pass
/// path: one row, shapes that take the row kernels there (`out, in ≥ 2`, `out·in ≥ 512`) and
/// f32 products; and only if the hook takes the outer product. Otherwise nothing is done (no
/// gradient slot touched) and `false` returned.
pub(crate) fn linear_backward_update(
    x: Var,
    xv: &Tensor,
    dy: &Tensor,
    sink: &mut GradSink,
    w: &mut Tensor,
    id: ParamId,
    hook: &mut dyn GradHook,
) -> bool {
    let (m, out) = dy.shape().as_matrix();
    let inp = xv.numel();
    if m != 1 || out < 2 || inp < 2 || out * inp < NAIVE_THRESHOLD || precision() != Precision::F32
    {
        return false;
    }
    let delta = dy.data();
    // dX's slot is taken at the first row, once the hook has said yes (a hook that says no
    // calls nothing), so a refusal leaves the sink as it was.
    let mut sink = Some(sink);
    let mut dx: Option<&mut [f32]> = None;
    hook.outer_final(id, w, delta, xv.data(), &mut |p, row| {
        if let Some(s) = sink.take() {
            dx = s.slot(x).map(|(dx, acc)| {
                let dx = dx.data_mut();
                if !acc {
                    dx.fill(0.0);
                }
                dx
            });
        }
        // dX = Σ_p δ_p · W[p], in the order and with the skips of the row kernel
        if let Some(dx) = dx.as_deref_mut() {
            if delta[p] != 0.0 {
                scaled_row_add(dx, delta[p], row);
            }
        }
    })
}

impl Graph<'_, '_> {
    /// Matrix product of two rank-2 values, `(m, k)·(k, n) → (m, n)`.
    ///
    /// # Panics
    /// If the shapes do not multiply; the message names both.
    pub fn matmul(&mut self, a: Var, b: Var) -> Var {
        let (sa, sb) = (self.shape(a), self.shape(b));
        assert!(
            sa.rank() == 2 && sb.rank() == 2 && sa.dim(1) == sb.dim(0),
            "matmul: shapes {sa:?} and {sb:?} do not multiply"
        );
        self.push(Op::Matmul(a, b), &[a, b], |v, y, _| {
            y.resize(Shape::from([sa.dim(0), sb.dim(1)]));
            matmul_into(
                MatRef::new(v.get(a), false),
                MatRef::new(v.get(b), false),
                y.data_mut(),
                false,
            );
        })
    }

    /// A dense layer, `x·Wᵀ + b`, with `w` of shape `(out, in)` and `b` of shape `(out)`.
    ///
    /// # Panics
    /// If `x` is not `(batch, in)` or `b` is not `(out)`; the message names the shapes.
    pub fn linear(&mut self, x: Var, w: Var, b: Option<Var>) -> Var {
        let (sx, sw) = (self.shape(x), self.shape(w));
        assert!(
            sx.rank() == 2 && sw.rank() == 2 && sx.dim(1) == sw.dim(1),
            "linear: input {sx:?} does not fit weight {sw:?} (expected (batch, {}))",
            if sw.rank() == 2 { sw.dim(1) } else { 0 }
        );
        if let Some(b) = b {
            let sb = self.shape(b);
            assert!(
                sb.numel() == sw.dim(0),
                "linear: bias {sb:?} does not fit weight {sw:?}"
            );
        }
        let inputs = [x, w, b.unwrap_or(x)];
        self.push(
            Op::Linear(x, w, b),
            &inputs[..if b.is_some() { 3 } else { 2 }],
            |v, y, wt| {
                let (m, k, n) = (sx.dim(0), sx.dim(1), sw.dim(0));
                y.resize(Shape::from([m, n]));
                let yd = y.data_mut();
                if let Some(b) = b {
                    for row in yd.chunks_exact_mut(n) {
                        row.copy_from_slice(v.get(b).data());
                    }
                }
                // Wᵀ as a strided view, or copied into the node's scratch when that is faster
                let wv = if transposed_rhs_pays(m, k, n) {
                    wt.resize(Shape::from([k, n]));
                    transpose_slice(v.get(w).data(), n, k, wt.data_mut());
                    MatRef::new(wt, false)
                } else {
                    MatRef::new(v.get(w), true)
                };
                matmul_into(MatRef::new(v.get(x), false), wv, yd, b.is_some());
            },
        )
    }
}

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

use super::elementwise;
use crate::autograd::{Backward, GradHook, GradSink, Graph, Op, Unary, Values, Var};
use crate::params::ParamId;
use crate::tensor::pool::SharedMut;
use crate::tensor::{
    matmul_around, matmul_into, precision, scaled_row_add, sum_rows_into, transpose_slice,
    transposed_rhs_pays, Around, MatRef, Precision, Shape, Tensor, Then, NAIVE_THRESHOLD,
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
        sum_rows_into(dy.data(), m, n, db.data_mut(), acc);
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

/// The forward of a dense layer, `y = x·Wᵀ + b`, and then `then` over y's elements (see
/// [`Graph::linear_unary`]); `wt` is the node's scratch for a copy of Wᵀ.
fn linear_forward(
    v: &Values,
    y: &mut Tensor,
    wt: &mut Tensor,
    [x, w]: [Var; 2],
    b: Option<Var>,
    (m, k, n): (usize, usize, usize),
    then: Option<Then>,
) {
    y.resize(Shape::from([m, n]));
    // Wᵀ as a strided view, or copied into the node's scratch when that is faster
    let wv = if transposed_rhs_pays(m, k, n) {
        wt.resize(Shape::from([k, n]));
        transpose_slice(v.get(w).data(), n, k, wt.data_mut());
        MatRef::new(wt, false)
    } else {
        MatRef::new(v.get(w), true)
    };
    let around = Around {
        fill: b.map(|b| v.get(b).data()),
        then,
    };
    matmul_around(MatRef::new(v.get(x), false), wv, y.data_mut(), &around);
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
        let (m, k, n) = self.linear_dims(x, w, b);
        let inputs = [x, w, b.unwrap_or(x)];
        self.push(
            Op::Linear(x, w, b),
            &inputs[..if b.is_some() { 3 } else { 2 }],
            |v, y, wt| linear_forward(v, y, wt, [x, w], b, (m, k, n), None),
        )
    }

    /// A dense layer and an element-wise activation, `s = x·Wᵀ + b`, `y = u(s)`: the same two
    /// nodes as [`Graph::linear`] then [`Graph::unary`] (so backward, and every reader of the
    /// tape, sees no difference), computed in one pass over the output — where the product is
    /// split over the pool, each thread fills its block of s with the bias, adds its product and
    /// applies `u` to it while it is in its cache. The same bits as the two ops (tested).
    /// Returns `(s, y)`.
    pub(crate) fn linear_unary(&mut self, x: Var, w: Var, b: Option<Var>, u: Unary) -> (Var, Var) {
        let (m, k, n) = self.linear_dims(x, w, b);
        let inputs = [x, w, b.unwrap_or(x)];
        let shape = Shape::from([m, n]);
        // both nodes first (their values sized, not yet computed), then one pass fills both
        let s = self.push(
            Op::Linear(x, w, b),
            &inputs[..if b.is_some() { 3 } else { 2 }],
            |_, y, _| y.resize(shape),
        );
        let y = self.push(Op::Unary(u, s), &[s], |_, y, _| y.resize(shape));
        let t = &mut *self.tape;
        let (si, yi) = (s.index(), y.index());
        assert_eq!(yi, si + 1, "linear_unary: the two nodes are adjacent");
        let (done, rest) = t.values.split_at_mut(si);
        let (sv, rest) = rest.split_at_mut(1);
        let yp = SharedMut(rest[0].data_mut().as_mut_ptr());
        let then = |seg: &[f32], at: usize| {
            // SAFETY: `at..at + seg.len()` is a segment of s, and y has s's shape; the blocks
            // of different threads are disjoint.
            elementwise::apply_serial(u, seg, unsafe { yp.slice(at..at + seg.len()) })
        };
        let v = Values {
            done,
            ops: &t.ops,
            params: self.params,
        };
        linear_forward(
            &v,
            &mut sv[0],
            &mut t.aux[si],
            [x, w],
            b,
            (m, k, n),
            Some(&then),
        );
        (s, y)
    }

    /// Checks a dense layer's shapes; `(batch, in, out)`.
    fn linear_dims(&self, x: Var, w: Var, b: Option<Var>) -> (usize, usize, usize) {
        // borrowed, not copied: this runs for every layer of every step
        let (sx, sw) = (self.value(x).shape().dims(), self.value(w).shape().dims());
        let (&[batch, inp], &[out, inw]) = (sx, sw) else {
            panic!(
                "linear: input {sx:?} does not fit weight {sw:?} (expected (batch, {}))",
                if sw.len() == 2 { sw[1] } else { 0 }
            )
        };
        assert!(
            inp == inw,
            "linear: input {sx:?} does not fit weight {sw:?} (expected (batch, {inw}))"
        );
        if let Some(b) = b {
            let sb = self.value(b).shape();
            assert!(
                sb.numel() == out,
                "linear: bias {sb:?} does not fit weight {sw:?}"
            );
        }
        (batch, inp, out)
    }
}

#[cfg(test)]
mod tests {
    use crate::autograd::{gradcheck, Graph, Tape, Unary, Var};
    use crate::params::Parameters;
    use crate::rng::Rng;
    use crate::tensor::{set_num_threads, set_parallel_threshold, Tensor};

    /// Values of s and y, and the gradients of x, W and b, of `Σ y²` as bits.
    fn run(xs: &[Tensor; 3], u: Unary, fused: bool, bias: bool) -> Vec<Vec<u32>> {
        let mut tape = Tape::new();
        let mut ps = Parameters::new();
        let ids: Vec<_> = (0..3)
            .map(|i| ps.add(format!("p{i}"), xs[i].clone()))
            .collect();
        let mut g = Graph::new(&mut tape, &ps);
        let v: Vec<Var> = ids.iter().map(|&id| g.param(id)).collect();
        let b = bias.then_some(v[2]);
        let (s, y) = if fused {
            g.linear_unary(v[0], v[1], b, u)
        } else {
            let s = g.linear(v[0], v[1], b);
            (s, g.unary(u, s))
        };
        let sq = g.square(y);
        let e = g.sum(sq);
        let bits = |t: &Tensor| t.data().iter().map(|x| x.to_bits()).collect::<Vec<u32>>();
        let mut out = vec![bits(g.value(s)), bits(g.value(y))];
        let grads = g.backward(e);
        for &id in &ids[..if bias { 3 } else { 2 }] {
            out.push(bits(grads.get(id).unwrap()));
        }
        out
    }

    /// The fused forward gives the bits of the two ops, on the serial and the split path
    /// (threshold lowered, 1 and 2 threads), with and without a bias, for every activation.
    #[test]
    fn linear_unary_is_linear_then_unary_bit_for_bit() {
        let mut rng = Rng::seed(3);
        for (m, k, n) in [(5, 7, 3), (70, 40, 33), (20, 50, 90)] {
            let xs = [
                Tensor::randn([m, k], 0.0, 1.0, &mut rng),
                Tensor::randn([n, k], 0.0, 0.3, &mut rng),
                Tensor::randn([n], 0.0, 0.3, &mut rng),
            ];
            for u in [
                Unary::Relu,
                Unary::Sigmoid,
                Unary::Tanh,
                Unary::LeakyRelu(0.1),
            ] {
                for bias in [true, false] {
                    let want = run(&xs, u, false, bias);
                    for (threads, threshold) in [(1, 0), (2, 1), (2, 0)] {
                        set_num_threads(threads);
                        set_parallel_threshold(threshold);
                        let got = run(&xs, u, true, bias);
                        set_parallel_threshold(0);
                        set_num_threads(0);
                        assert!(
                            got == want,
                            "{m}×{k}×{n} {u:?} bias {bias} threads {threads}"
                        );
                    }
                }
            }
        }
    }

    /// Finite differences agree with the fused op's gradients (smooth activations).
    #[test]
    fn linear_unary_gradcheck() {
        let mut rng = Rng::seed(4);
        let xs = [
            Tensor::randn([6, 5], 0.0, 1.0, &mut rng),
            Tensor::randn([4, 5], 0.0, 0.5, &mut rng),
            Tensor::randn([4], 0.0, 0.5, &mut rng),
        ];
        for u in [Unary::Tanh, Unary::Sigmoid] {
            let r = gradcheck(&xs, 1e-2, |g, v| {
                let (_, y) = g.linear_unary(v[0], v[1], Some(v[2]), u);
                let sq = g.square(y);
                g.sum(sq)
            });
            assert!(r.passed(2e-2), "{u:?}: {r:?}");
        }
    }
}

//! Element-wise binary ops with broadcasting, `y = f(a, b)`.
//!
//! Backward: `da += dy · ∂f/∂a`, `db += dy · ∂f/∂b`, each summed over the dimensions along which
//! that operand was broadcast ("broadcast is sum in reverse") — that is how a bias row `b` of
//! shape `(n)` added to a batch `(m, n)` receives `∂E/∂b = Σ_batch δ`.

use crate::autograd::{put, Backward, Graph, Op, Var};
use crate::tensor::{Shape, MAX_RANK};

/// A binary element-wise op, recorded by [`Graph::binary`] (or its shorthands [`Graph::add`],
/// [`Graph::sub`], [`Graph::mul`], [`Graph::div`]).
///
/// ```
/// use backprop::{Binary, Graph, Parameters, Tape, Tensor};
/// let mut ps = Parameters::new();
/// let a = ps.add("a", Tensor::from_vec(vec![6.0, 1.0], [2])?);
/// let b = ps.add("b", Tensor::from_vec(vec![2.0, 4.0], [2])?);
/// let mut tape = Tape::new();
/// let mut g = Graph::new(&mut tape, &ps);
/// let (av, bv) = (g.param(a), g.param(b));
/// let y = g.binary(Binary::Div, av, bv); // the same node as g.div(av, bv)
/// assert_eq!(g.value(y).to_vec(), vec![3.0, 0.25]);
/// let e = g.sum(y);
/// let grads = g.backward(e);
/// assert_eq!(grads.get(a).unwrap().to_vec(), vec![0.5, 0.25]); // ∂(a/b)/∂a = 1/b
/// assert_eq!(grads.get(b).unwrap().to_vec(), vec![-1.5, -0.0625]); // ∂(a/b)/∂b = −a/b²
///
/// // A bias row (2) added to a batch (3, 2) is broadcast; backward sums δ over the batch.
/// let mut g = Graph::new(&mut tape, &ps);
/// let x = g.input(&Tensor::zeros([3, 2]));
/// let bv = g.param(b);
/// let s = g.binary(Binary::Add, x, bv);
/// assert_eq!(g.shape(s).dims(), &[3, 2]);
/// let e = g.sum(s);
/// assert_eq!(g.backward(e).get(b).unwrap().to_vec(), vec![3.0, 3.0]);
/// # Ok::<(), backprop::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Binary {
    /// `a + b`
    Add,
    /// `a − b`
    Sub,
    /// `a · b`
    Mul,
    /// `a / b`
    Div,
}

trait BinaryFn: Copy {
    fn f(self, a: f32, b: f32) -> f32;
    /// `(∂f/∂a, ∂f/∂b)` at `(a, b)`.
    fn df(self, a: f32, b: f32) -> (f32, f32);
}

/// `y = a + b`;  `∂y/∂a = 1`, `∂y/∂b = 1`.
#[derive(Clone, Copy)]
struct Add;
impl BinaryFn for Add {
    fn f(self, a: f32, b: f32) -> f32 {
        a + b
    }
    fn df(self, _: f32, _: f32) -> (f32, f32) {
        (1.0, 1.0)
    }
}

/// `y = a − b`;  `∂y/∂a = 1`, `∂y/∂b = −1`.
#[derive(Clone, Copy)]
struct Sub;
impl BinaryFn for Sub {
    fn f(self, a: f32, b: f32) -> f32 {
        a - b
    }
    fn df(self, _: f32, _: f32) -> (f32, f32) {
        (1.0, -1.0)
    }
}

/// `y = a·b`;  `∂y/∂a = b`, `∂y/∂b = a`.
#[derive(Clone, Copy)]
struct Mul;
impl BinaryFn for Mul {
    fn f(self, a: f32, b: f32) -> f32 {
        a * b
    }
    fn df(self, a: f32, b: f32) -> (f32, f32) {
        (b, a)
    }
}

/// `y = a/b`;  `∂y/∂a = 1/b`, `∂y/∂b = −a/b²`.
#[derive(Clone, Copy)]
struct Div;
impl BinaryFn for Div {
    fn f(self, a: f32, b: f32) -> f32 {
        a / b
    }
    fn df(self, a: f32, b: f32) -> (f32, f32) {
        (1.0 / b, -a / (b * b))
    }
}

/// Calls `f(o, ia, ib)` for every output index `o` with the operands' broadcast indices.
fn for_each(
    out: &Shape,
    sa: [usize; MAX_RANK],
    sb: [usize; MAX_RANK],
    mut f: impl FnMut(usize, usize, usize),
) {
    let pad = MAX_RANK - out.rank();
    let mut d = [1; MAX_RANK];
    let (mut a, mut b) = ([0; MAX_RANK], [0; MAX_RANK]);
    d[pad..].copy_from_slice(out.dims());
    a[pad..].copy_from_slice(&sa[..out.rank()]);
    b[pad..].copy_from_slice(&sb[..out.rank()]);
    let mut o = 0;
    for i0 in 0..d[0] {
        for i1 in 0..d[1] {
            for i2 in 0..d[2] {
                let ba = i0 * a[0] + i1 * a[1] + i2 * a[2];
                let bb = i0 * b[0] + i1 * b[1] + i2 * b[2];
                for i3 in 0..d[3] {
                    f(o, ba + i3 * a[3], bb + i3 * b[3]);
                    o += 1;
                }
            }
        }
    }
}

fn forward_with(
    f: impl BinaryFn,
    a: &[f32],
    sa: &Shape,
    b: &[f32],
    sb: &Shape,
    out: &Shape,
    y: &mut [f32],
) {
    if sa == out && sb == out {
        for ((y, &a), &b) in y.iter_mut().zip(a).zip(b) {
            *y = f.f(a, b);
        }
    } else if sa == out && sb.last() == out.last() && sb.numel() == out.last() {
        // a row (e.g. a bias) broadcast over a batch
        for (yr, ar) in y.chunks_exact_mut(b.len()).zip(a.chunks_exact(b.len())) {
            for ((y, &a), &b) in yr.iter_mut().zip(ar).zip(b) {
                *y = f.f(a, b);
            }
        }
    } else {
        for_each(
            out,
            sa.broadcast_strides(out),
            sb.broadcast_strides(out),
            |o, ia, ib| {
                y[o] = f.f(a[ia], b[ib]);
            },
        );
    }
}

pub(crate) fn forward(
    op: Binary,
    a: &[f32],
    sa: &Shape,
    b: &[f32],
    sb: &Shape,
    out: &Shape,
    y: &mut [f32],
) {
    match op {
        Binary::Add => forward_with(Add, a, sa, b, sb, out, y),
        Binary::Sub => forward_with(Sub, a, sa, b, sb, out, y),
        Binary::Mul => forward_with(Mul, a, sa, b, sb, out, y),
        Binary::Div => forward_with(Div, a, sa, b, sb, out, y),
    }
}

fn backward_with(f: impl BinaryFn, x: Var, z: Var, mut b: Backward) {
    let (av, bv) = (b.values.get(x), b.values.get(z));
    let (a, bb, dy) = (av.data(), bv.data(), b.dy.data());
    let out = *b.out.shape();
    // equal shapes (no broadcast): element i of each operand meets element i of dy
    let same = av.shape() == &out && bv.shape() == &out;
    // Each operand separately: when x == z (e.g. x·x) the second adds onto the first.
    for (which, v) in [(0, x), (1, z)] {
        let Some((d, acc)) = b.sink.slot(v) else {
            continue;
        };
        let pick = |(da, db): (f32, f32)| if which == 0 { da } else { db };
        let dd = d.data_mut();
        if same {
            put(dd, acc, |i| dy[i] * pick(f.df(a[i], bb[i])));
        } else {
            if !acc {
                dd.fill(0.0);
            }
            let (sa, sb) = (
                av.shape().broadcast_strides(&out),
                bv.shape().broadcast_strides(&out),
            );
            for_each(&out, sa, sb, |o, ia, ib| {
                let t = if which == 0 { ia } else { ib };
                dd[t] += dy[o] * pick(f.df(a[ia], bb[ib]));
            });
        }
    }
}

pub(crate) fn backward(op: Binary, x: Var, z: Var, b: Backward) {
    match op {
        Binary::Add => backward_with(Add, x, z, b),
        Binary::Sub => backward_with(Sub, x, z, b),
        Binary::Mul => backward_with(Mul, x, z, b),
        Binary::Div => backward_with(Div, x, z, b),
    }
}

impl Graph<'_, '_> {
    /// Records `f(a, b)` element-wise with broadcasting.
    ///
    /// # Panics
    /// If the shapes do not broadcast; the message names the op and both shapes.
    pub fn binary(&mut self, op: Binary, a: Var, b: Var) -> Var {
        let (sa, sb) = (self.shape(a), self.shape(b));
        let out = Shape::broadcast(&sa, &sb)
            .unwrap_or_else(|| panic!("{op:?}: shapes {sa:?} and {sb:?} do not broadcast"));
        self.push(Op::Binary(op, a, b), &[a, b], |v, y, _| {
            y.resize(out);
            forward(
                op,
                v.get(a).data(),
                &sa,
                v.get(b).data(),
                &sb,
                &out,
                y.data_mut(),
            );
        })
    }

    /// `a + b` (broadcasting).
    pub fn add(&mut self, a: Var, b: Var) -> Var {
        self.binary(Binary::Add, a, b)
    }

    /// `a − b` (broadcasting).
    pub fn sub(&mut self, a: Var, b: Var) -> Var {
        self.binary(Binary::Sub, a, b)
    }

    /// `a · b` element-wise (broadcasting).
    pub fn mul(&mut self, a: Var, b: Var) -> Var {
        self.binary(Binary::Mul, a, b)
    }

    /// `a / b` element-wise (broadcasting).
    pub fn div(&mut self, a: Var, b: Var) -> Var {
        self.binary(Binary::Div, a, b)
    }
}

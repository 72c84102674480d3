//! Element-wise unary ops, `y = f(x)`, with backward `dx += dy · f′(x)`.
//!
//! Each op is a small struct whose `f` and `df` sit next to each other. `df` receives both the
//! input `x` and the output `y`, because several derivatives are cheapest (and most stable) from
//! the output: `exp′ = y`, `σ′ = y(1 − y)`, `tanh′ = 1 − y²`.

use crate::autograd::{put, Backward, Graph, Op, Var};
use crate::tensor::pool::{self, SharedMut};

/// A unary element-wise op, recorded by [`Graph::unary`] (or its shorthands such as
/// [`Graph::sigmoid`]). Backward multiplies the upstream gradient by the local one, `f′(x)`.
///
/// ```
/// use backprop::{Graph, Parameters, Tape, Tensor, Unary};
/// let mut ps = Parameters::new();
/// let x = ps.add("x", Tensor::from_vec(vec![-2.0, 0.0, 3.0], [3])?);
/// let mut tape = Tape::new();
/// let mut g = Graph::new(&mut tape, &ps);
/// let xv = g.param(x);
/// let y = g.unary(Unary::LeakyRelu(0.1), xv);
/// assert_eq!(g.value(y).to_vec(), vec![-0.2, 0.0, 3.0]);
/// let s = g.unary(Unary::Sigmoid, xv);
/// assert_eq!(g.value(s).data()[1], 0.5); // σ(0)
/// let e1 = g.sum(y);
/// let e2 = g.sum(s);
/// let e = g.add(e1, e2);
/// let grads = g.backward(e);
/// // leaky ReLU′ = slope for x ≤ 0, 1 for x > 0; plus σ′ = σ(1 − σ), 0.25 at x = 0
/// let dx = grads.get(x).unwrap();
/// assert_eq!(dx.data()[1], 0.1 + 0.25);
/// assert!((dx.data()[2] - (1.0 + 0.0452)).abs() < 1e-4); // σ(3) = 0.9526
/// # Ok::<(), backprop::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Unary {
    /// `−x`
    Neg,
    /// `eˣ`
    Exp,
    /// `ln x`
    Log,
    /// `1 / (1 + e⁻ˣ)`
    Sigmoid,
    /// `tanh x`
    Tanh,
    /// `max(x, 0)`
    Relu,
    /// `x` if `x > 0`, else `slope · x`
    LeakyRelu(f32),
    /// `xᵖ`
    Powf(f32),
    /// `c · x`
    Scale(f32),
    /// `1` if `x ≥ 0`, else `0` (a binary threshold unit)
    Step,
}

trait UnaryFn: Copy {
    fn f(self, x: f32) -> f32;
    fn df(self, x: f32, y: f32) -> f32;
}

/// `y = −x`;  `dy/dx = −1`.
#[derive(Clone, Copy)]
struct Neg;
impl UnaryFn for Neg {
    fn f(self, x: f32) -> f32 {
        -x
    }
    fn df(self, _: f32, _: f32) -> f32 {
        -1.0
    }
}

/// `y = eˣ`;  `dy/dx = eˣ = y`.
#[derive(Clone, Copy)]
struct Exp;
impl UnaryFn for Exp {
    fn f(self, x: f32) -> f32 {
        x.exp()
    }
    fn df(self, _: f32, y: f32) -> f32 {
        y
    }
}

/// `y = ln x`;  `dy/dx = 1/x`.
#[derive(Clone, Copy)]
struct Log;
impl UnaryFn for Log {
    fn f(self, x: f32) -> f32 {
        x.ln()
    }
    fn df(self, x: f32, _: f32) -> f32 {
        1.0 / x
    }
}

/// `y = σ(x) = 1/(1 + e⁻ˣ)`;  `dy/dx = y(1 − y)`. Written so neither branch overflows.
#[derive(Clone, Copy)]
struct Sigmoid;
impl UnaryFn for Sigmoid {
    fn f(self, x: f32) -> f32 {
        if x >= 0.0 {
            1.0 / (1.0 + (-x).exp())
        } else {
            let e = x.exp();
            e / (1.0 + e)
        }
    }
    fn df(self, _: f32, y: f32) -> f32 {
        y * (1.0 - y)
    }
}

/// `y = tanh x`;  `dy/dx = 1 − y²`.
#[derive(Clone, Copy)]
struct Tanh;
impl UnaryFn for Tanh {
    fn f(self, x: f32) -> f32 {
        x.tanh()
    }
    fn df(self, _: f32, y: f32) -> f32 {
        1.0 - y * y
    }
}

/// `y = max(x, 0)`;  `dy/dx = 1` for `x > 0`, else 0 (0 at the kink, as PyTorch).
#[derive(Clone, Copy)]
struct Relu;
impl UnaryFn for Relu {
    fn f(self, x: f32) -> f32 {
        x.max(0.0)
    }
    fn df(self, x: f32, _: f32) -> f32 {
        if x > 0.0 {
            1.0
        } else {
            0.0
        }
    }
}

/// `y = x` for `x > 0`, else `a·x`;  `dy/dx = 1` or `a`.
#[derive(Clone, Copy)]
struct LeakyRelu(f32);
impl UnaryFn for LeakyRelu {
    fn f(self, x: f32) -> f32 {
        if x > 0.0 {
            x
        } else {
            self.0 * x
        }
    }
    fn df(self, x: f32, _: f32) -> f32 {
        if x > 0.0 {
            1.0
        } else {
            self.0
        }
    }
}

/// `y = xᵖ`;  `dy/dx = p·xᵖ⁻¹`. (`p = 2` is `square`.)
#[derive(Clone, Copy)]
struct Powf(f32);
impl UnaryFn for Powf {
    fn f(self, x: f32) -> f32 {
        if self.0 == 2.0 {
            x * x
        } else {
            x.powf(self.0)
        }
    }
    fn df(self, x: f32, _: f32) -> f32 {
        if self.0 == 2.0 {
            2.0 * x
        } else {
            self.0 * x.powf(self.0 - 1.0)
        }
    }
}

/// `y = c·x`;  `dy/dx = c`.
#[derive(Clone, Copy)]
struct Scale(f32);
impl UnaryFn for Scale {
    fn f(self, x: f32) -> f32 {
        self.0 * x
    }
    fn df(self, _: f32, _: f32) -> f32 {
        self.0
    }
}

/// `y = 1` if `x ≥ 0`, else `0` — McCulloch and Pitts' binary threshold unit (seed 003, slide 9,
/// with the threshold θ written as a bias −θ);  `dy/dx = 0` wherever it is defined, so no
/// gradient passes through a step unit (train such nets with the perceptron rule, not backprop).
#[derive(Clone, Copy)]
struct Step;
impl UnaryFn for Step {
    fn f(self, x: f32) -> f32 {
        if x >= 0.0 {
            1.0
        } else {
            0.0
        }
    }
    fn df(self, _: f32, _: f32) -> f32 {
        0.0
    }
}

/// Element-wise passes are split over the worker pool in ranges of at least this many elements
/// (each element is computed alone, so the bits do not depend on the thread count). 2¹³: a job
/// starts on a spinning worker in well under a µs, and the activations of the benchmark MLP at
/// batch 128 (16K and 32K elements, a few µs each) then use both cores; chosen by reasoning,
/// not by a quiet sweep (the machine was loaded).
const PARALLEL_ELEMENTS: usize = 1 << 13;

/// Applies the op to a slice (used by graph ops and by inference code).
pub(crate) fn apply(u: Unary, x: &[f32], y: &mut [f32]) {
    let n = x.len().min(y.len());
    if n < 2 * PARALLEL_ELEMENTS {
        return apply_serial(u, x, y); // one range: no pool job to set up
    }
    let yp = SharedMut(y.as_mut_ptr());
    // SAFETY: the ranges are disjoint and inside y.
    pool::ranges(n, PARALLEL_ELEMENTS, &|r| {
        apply_serial(u, &x[r.clone()], unsafe { yp.slice(r) })
    });
}

/// [`apply`] on the calling thread.
pub(crate) fn apply_serial(u: Unary, x: &[f32], y: &mut [f32]) {
    fn run(f: impl UnaryFn, x: &[f32], y: &mut [f32]) {
        for (y, &x) in y.iter_mut().zip(x) {
            *y = f.f(x);
        }
    }
    match u {
        Unary::Neg => run(Neg, x, y),
        Unary::Exp => run(Exp, x, y),
        Unary::Log => run(Log, x, y),
        Unary::Sigmoid => run(Sigmoid, x, y),
        Unary::Tanh => run(Tanh, x, y),
        Unary::Relu => run(Relu, x, y),
        Unary::LeakyRelu(a) => run(LeakyRelu(a), x, y),
        Unary::Powf(p) => run(Powf(p), x, y),
        Unary::Scale(c) => run(Scale(c), x, y),
        Unary::Step => run(Step, x, y),
    }
}

/// `dx (+)= dy · f′(x, y)` over slices (shared with the fused linear + activation backward).
pub(crate) fn grad(u: Unary, x: &[f32], y: &[f32], dy: &[f32], dx: &mut [f32], acc: bool) {
    let n = dx.len();
    // an op whose derivative needs only x or only y may pass the other empty
    if x.len() < n || y.len() < n || dy.len() < n || n < 2 * PARALLEL_ELEMENTS {
        return grad_serial(u, x, y, dy, dx, acc);
    }
    let dp = SharedMut(dx.as_mut_ptr());
    // SAFETY: the ranges are disjoint and inside dx.
    pool::ranges(n, PARALLEL_ELEMENTS, &|r| {
        let (x, y, dy) = (&x[r.clone()], &y[r.clone()], &dy[r.clone()]);
        grad_serial(u, x, y, dy, unsafe { dp.slice(r) }, acc)
    });
}

fn grad_serial(u: Unary, x: &[f32], y: &[f32], dy: &[f32], dx: &mut [f32], acc: bool) {
    fn run(f: impl UnaryFn, x: &[f32], y: &[f32], dy: &[f32], dx: &mut [f32], acc: bool) {
        put(dx, acc, |i| dy[i] * f.df(x[i], y[i]));
    }
    match u {
        Unary::Neg => run(Neg, x, y, dy, dx, acc),
        Unary::Exp => run(Exp, x, y, dy, dx, acc),
        Unary::Log => run(Log, x, y, dy, dx, acc),
        Unary::Sigmoid => run(Sigmoid, x, y, dy, dx, acc),
        Unary::Tanh => run(Tanh, x, y, dy, dx, acc),
        Unary::Relu => run(Relu, x, y, dy, dx, acc),
        Unary::LeakyRelu(a) => run(LeakyRelu(a), x, y, dy, dx, acc),
        Unary::Powf(p) => run(Powf(p), x, y, dy, dx, acc),
        Unary::Scale(c) => run(Scale(c), x, y, dy, dx, acc),
        Unary::Step => run(Step, x, y, dy, dx, acc),
    }
}

pub(crate) fn backward(u: Unary, x: Var, mut b: Backward) {
    let xv = b.values.get(x);
    if let Some((dx, acc)) = b.sink.slot(x) {
        grad(u, xv.data(), b.out.data(), b.dy.data(), dx.data_mut(), acc);
    }
}

impl Graph<'_, '_> {
    /// Records `y = u(x)` element-wise.
    pub fn unary(&mut self, u: Unary, x: Var) -> Var {
        self.push(Op::Unary(u, x), &[x], |v, out, _| {
            let xv = v.get(x);
            out.resize(*xv.shape());
            apply(u, xv.data(), out.data_mut());
        })
    }

    /// `−x`.
    pub fn neg(&mut self, x: Var) -> Var {
        self.unary(Unary::Neg, x)
    }

    /// `eˣ`.
    pub fn exp(&mut self, x: Var) -> Var {
        self.unary(Unary::Exp, x)
    }

    /// `ln x`.
    pub fn log(&mut self, x: Var) -> Var {
        self.unary(Unary::Log, x)
    }

    /// The logistic sigmoid `1/(1 + e⁻ˣ)`.
    pub fn sigmoid(&mut self, x: Var) -> Var {
        self.unary(Unary::Sigmoid, x)
    }

    /// `tanh x`.
    pub fn tanh(&mut self, x: Var) -> Var {
        self.unary(Unary::Tanh, x)
    }

    /// `max(x, 0)`.
    pub fn relu(&mut self, x: Var) -> Var {
        self.unary(Unary::Relu, x)
    }

    /// `x` where positive, else `negative_slope · x` (PyTorch's default slope is 0.01).
    pub fn leaky_relu(&mut self, x: Var, negative_slope: f32) -> Var {
        self.unary(Unary::LeakyRelu(negative_slope), x)
    }

    /// `xᵖ`.
    pub fn powf(&mut self, x: Var, p: f32) -> Var {
        self.unary(Unary::Powf(p), x)
    }

    /// `x²`.
    pub fn square(&mut self, x: Var) -> Var {
        self.unary(Unary::Powf(2.0), x)
    }

    /// The binary threshold `1` if `x ≥ 0`, else `0` (zero gradient).
    pub fn step(&mut self, x: Var) -> Var {
        self.unary(Unary::Step, x)
    }

    /// `c · x` for a constant `c`.
    pub fn scale(&mut self, x: Var, c: f32) -> Var {
        self.unary(Unary::Scale(c), x)
    }
}

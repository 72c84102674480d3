//! Reverse-mode automatic differentiation on a tape.
//!
//! A [`Graph`] records each op as it runs on concrete values. Nodes are appended in creation
//! order, which already is a topological order, so [`Graph::backward`] is one reverse loop over
//! the tape: for each node that leads to a parameter and received a gradient, its op's
//! `backward` adds `∂loss/∂input = ∂loss/∂output · ∂output/∂input` into each input's gradient.
//! Gradients **add** where a value is used more than once (shared weights, skip connections).
//!
//! The [`Tape`] owns every buffer and keeps them from one step to the next (reset, not dropped),
//! so a steady-state training step allocates nothing. A graph borrows a tape and the model's
//! [`Parameters`]; parameters are read in place, never copied.
//!
//! ```
//! use backprop::{Graph, Parameters, Tape, Tensor};
//! // y = x·w + b; loss = Σ y²
//! let mut params = Parameters::new();
//! let w = params.add("w", Tensor::from_vec(vec![2.0], [1, 1]).unwrap());
//! let b = params.add("b", Tensor::from_vec(vec![1.0], [1]).unwrap());
//! let mut tape = Tape::new();
//! let mut g = Graph::new(&mut tape, &params);
//! let x = g.input(&Tensor::from_vec(vec![3.0], [1, 1]).unwrap());
//! let (wv, bv) = (g.param(w), g.param(b));
//! let y = g.matmul(x, wv);
//! let y = g.add(y, bv);
//! let sq = g.square(y);
//! let loss = g.sum(sq);
//! assert_eq!(g.value(loss).item(), 49.0);
//! let grads = g.backward(loss);
//! assert_eq!(grads.get(w).unwrap().item(), 42.0); // ∂/∂w (3w+1)² = 6(3w+1)
//! assert_eq!(grads.get(b).unwrap().item(), 14.0); // ∂/∂b = 2(3w+1)
//! ```

mod backward;
mod functional;
mod gradcheck;
mod graph;
pub(crate) mod ops;

pub use backward::{GradHook, Gradients};
pub use gradcheck::{gradcheck, GradCheck, GradCheckInput};
pub use graph::Graph;
pub use ops::batch_norm::RunningStats;
pub use ops::binary::Binary;
pub use ops::elementwise::Unary;

use crate::params::{ParamId, Parameters};
use crate::rng::Rng;
use crate::tensor::Tensor;

/// A handle to a value recorded on a [`Graph`]: cheap to copy, valid until the graph is dropped.
///
/// ```
/// use backprop::{Graph, Parameters, Tape, Tensor};
/// let mut ps = Parameters::new();
/// let w = ps.add("w", Tensor::from_vec(vec![3.0], [1])?);
/// let mut tape = Tape::new();
/// let mut g = Graph::new(&mut tape, &ps);
/// let x = g.param(w);
/// let y = g.mul(x, x); // a Var is Copy: one value can feed an op twice
/// assert_eq!((x.index(), y.index()), (0, 1)); // the tape's order is creation order
/// assert_eq!(g.value(y).item(), 9.0);
/// assert_eq!(g.backward(y).get(w).unwrap().item(), 6.0); // x·1 + 1·x: the two uses add
/// # Ok::<(), backprop::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Var(pub(crate) u32);

impl Var {
    /// The node's position on the tape.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// What produced a node, with its inputs. Each variant's forward and backward live together in
/// one file under `autograd/ops/`; the `match` in [`Graph::backward`] is exhaustive, so a new
/// op does not compile until it has a backward.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Op {
    /// An input or constant: no gradient flows into it.
    Leaf,
    /// A parameter, read in place from [`Parameters`].
    Param(ParamId),
    Unary(Unary, Var),
    Binary(Binary, Var, Var),
    Matmul(Var, Var),
    /// Fused `x·Wᵀ + b` with W stored `(out, in)` like PyTorch.
    Linear(Var, Var, Option<Var>),
    /// Sum along one dim (`Some`) or over everything (`None`); the output's shape says keepdim.
    Sum(Var, Option<u8>),
    /// Max along one dim; the argmax is saved in the node's aux buffer.
    Max(Var, u8),
    Transpose(Var),
    Reshape(Var),
    /// Concatenation along the last dim of `count` inputs stored at `start` in the tape's list.
    Concat {
        start: u32,
        count: u32,
    },
    /// Columns `start..start+len` of the last dim.
    Slice(Var, u32, u32),
    /// log-softmax along the last dim.
    LogSoftmax(Var),
    /// Fused mean softmax cross-entropy of logits (batch, classes) against class indices.
    CrossEntropy(Var, Var),
    /// Batch normalisation of x by (γ, β); `true` = batch statistics (training mode).
    BatchNorm(Var, Var, Var, bool),
}

macro_rules! op_kinds {
    ($($(#[$m:meta])* $name:ident),* $(,)?) => {
        /// Every primitive op, one entry each. The gradient-check suite matches on this enum
        /// without a wildcard, so an op cannot be added without its check.
        ///
        /// ```
        /// use backprop::{Graph, OpKind, Parameters, Tape, Tensor};
        /// let ps = Parameters::new();
        /// let mut tape = Tape::new();
        /// let mut g = Graph::new(&mut tape, &ps);
        /// let x = g.input(&Tensor::from_vec(vec![1.0, 3.0], [2])?);
        /// let s = g.sigmoid(x);
        /// let m = g.mean(s); // composed: Sum, then Scale by 1/n
        /// assert_eq!(g.op_kind(x), None); // inputs and parameters are leaves
        /// assert_eq!(g.op_kind(s), Some(OpKind::Sigmoid));
        /// assert_eq!(g.op_kind(m), Some(OpKind::Scale));
        /// assert!(OpKind::ALL.contains(&OpKind::CrossEntropy));
        /// # Ok::<(), backprop::Error>(())
        /// ```
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        #[allow(missing_docs)]
        pub enum OpKind { $($(#[$m])* $name),* }
        impl OpKind {
            /// All op kinds.
            pub const ALL: &'static [OpKind] = &[$(OpKind::$name),*];
        }
    };
}

op_kinds!(
    Neg,
    Exp,
    Log,
    Sigmoid,
    Tanh,
    Relu,
    LeakyRelu,
    Powf,
    Scale,
    Step,
    Add,
    Sub,
    Mul,
    Div,
    Matmul,
    Linear,
    Sum,
    Max,
    Transpose,
    Reshape,
    Concat,
    Slice,
    LogSoftmax,
    CrossEntropy,
    BatchNorm,
);

impl Op {
    /// The kind of a recorded op (`None` for leaves and parameters).
    pub(crate) fn kind(&self) -> Option<OpKind> {
        Some(match self {
            Op::Leaf | Op::Param(_) => return None,
            Op::Unary(u, _) => match u {
                Unary::Neg => OpKind::Neg,
                Unary::Exp => OpKind::Exp,
                Unary::Log => OpKind::Log,
                Unary::Sigmoid => OpKind::Sigmoid,
                Unary::Tanh => OpKind::Tanh,
                Unary::Relu => OpKind::Relu,
                Unary::LeakyRelu(_) => OpKind::LeakyRelu,
                Unary::Powf(_) => OpKind::Powf,
                Unary::Scale(_) => OpKind::Scale,
                Unary::Step => OpKind::Step,
            },
            Op::Binary(b, _, _) => match b {
                Binary::Add => OpKind::Add,
                Binary::Sub => OpKind::Sub,
                Binary::Mul => OpKind::Mul,
                Binary::Div => OpKind::Div,
            },
            Op::Matmul(..) => OpKind::Matmul,
            Op::Linear(..) => OpKind::Linear,
            Op::Sum(..) => OpKind::Sum,
            Op::Max(..) => OpKind::Max,
            Op::Transpose(_) => OpKind::Transpose,
            Op::Reshape(_) => OpKind::Reshape,
            Op::Concat { .. } => OpKind::Concat,
            Op::Slice(..) => OpKind::Slice,
            Op::LogSoftmax(_) => OpKind::LogSoftmax,
            Op::CrossEntropy(..) => OpKind::CrossEntropy,
            Op::BatchNorm(..) => OpKind::BatchNorm,
        })
    }
}

/// The buffers of a graph, kept across training steps so that a steady-state step does not
/// allocate. One tape serves one graph at a time.
///
/// ```
/// use backprop::{Graph, Parameters, Tape, Tensor};
/// let mut ps = Parameters::new();
/// let w = ps.add("w", Tensor::from_vec(vec![1.0, 2.0], [2])?);
/// let b = ps.add("b", Tensor::from_vec(vec![0.5], [1])?);
/// let mut tape = Tape::new(); // one tape for every step: each new graph reuses its buffers
/// for step in 0..2 {
///     let mut g = Graph::new(&mut tape, &ps);
///     let (wv, bv) = (g.param(w), g.param(b));
///     let s = g.add(wv, bv);
///     let e = g.sum(s);
///     assert_eq!(g.value(e).item(), 4.0, "step {step}");
/// }
/// assert_eq!(tape.len(), 4); // w, b, add, sum: the last graph's nodes
///
/// tape.set_frozen(&[w]); // w is read as a constant from now on
/// let mut g = Graph::new(&mut tape, &ps);
/// let (wv, bv) = (g.param(w), g.param(b));
/// let s = g.add(wv, bv);
/// let e = g.sum(s);
/// let grads = g.backward(e);
/// assert!(grads.get(w).is_none());
/// assert_eq!(grads.get(b).unwrap().to_vec(), vec![2.0]);
/// # Ok::<(), backprop::Error>(())
/// ```
#[derive(Default)]
pub struct Tape {
    ops: Vec<Op>,
    needs_grad: Vec<bool>,
    written: Vec<bool>,
    values: Vec<Tensor>,
    grads: Vec<Tensor>,
    aux: Vec<Tensor>,
    list: Vec<Var>,
    param_nodes: Vec<Option<Var>>,
    frozen: Vec<bool>,
    rng: Option<Rng>,
    /// Running-statistics updates left by the last graph's training-mode batch-norm ops.
    pending_stats: Vec<(Var, RunningStats)>,
    /// Whether the last graph recorded ops for backward (not [`Graph::no_grad`]).
    recorded: bool,
    /// How many recorded ops read each node.
    uses: Vec<u32>,
}

impl Tape {
    /// An empty tape.
    pub fn new() -> Tape {
        Tape::default()
    }

    /// Gives the tape the generator that training-mode ops (dropout) draw from.
    pub fn set_rng(&mut self, rng: Rng) {
        self.rng = Some(rng);
    }

    /// The tape's generator, if it has one (to save its state in a checkpoint).
    pub fn rng(&self) -> Option<&Rng> {
        self.rng.as_ref()
    }

    /// Takes the generator back out of the tape.
    pub fn take_rng(&mut self) -> Option<Rng> {
        self.rng.take()
    }

    /// Freezes parameters for every graph recorded on this tape: they are read as constants, so
    /// no gradient is computed for them and an optimizer leaves them alone (PyTorch's
    /// `requires_grad_(False)`). Replaces any earlier set.
    pub fn set_frozen(&mut self, ids: &[ParamId]) {
        self.frozen.clear();
        for id in ids {
            if self.frozen.len() <= id.0 {
                self.frozen.resize(id.0 + 1, false);
            }
            self.frozen[id.0] = true;
        }
    }

    /// How many nodes the last graph on this tape recorded.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// Whether the last graph recorded nothing.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }
}

/// Read access to the values recorded so far (parameters are read from their store).
#[derive(Clone, Copy)]
pub(crate) struct Values<'a> {
    done: &'a [Tensor],
    ops: &'a [Op],
    params: &'a Parameters,
}

impl<'a> Values<'a> {
    pub(crate) fn get(&self, v: Var) -> &'a Tensor {
        match self.ops[v.index()] {
            Op::Param(id) => &self.params[id],
            _ => &self.done[v.index()],
        }
    }
}

/// Where backward kernels put input gradients. The first contribution to a node overwrites its
/// buffer (so nothing needs zeroing); later ones add — micrograd's `+=`.
pub(crate) struct GradSink<'a> {
    grads: &'a mut [Tensor],
    written: &'a mut [bool],
    needs: &'a [bool],
    values: Values<'a>,
}

impl GradSink<'_> {
    /// The gradient buffer of `v` and whether to accumulate into it, or `None` if no gradient
    /// is wanted there. On first use the buffer takes `v`'s shape, contents unspecified.
    pub(crate) fn slot(&mut self, v: Var) -> Option<(&mut Tensor, bool)> {
        let i = v.index();
        if !self.needs[i] {
            return None;
        }
        let acc = self.written[i];
        if !acc {
            let (g, shape) = (&mut self.grads[i], self.values.get(v).shape());
            // Usually the buffer already has the shape (the same graph, step after step): then
            // it holds shape.numel() values (every tensor does but the empty default one).
            if g.shape() != shape || g.numel() == 0 {
                g.resize(*shape);
            }
            self.written[i] = true;
        }
        Some((&mut self.grads[i], acc))
    }
}

/// Writes `f(i)` into `dst[i]`, or adds it when accumulating.
#[inline]
pub(crate) fn put(dst: &mut [f32], acc: bool, f: impl Fn(usize) -> f32) {
    if acc {
        for (i, d) in dst.iter_mut().enumerate() {
            *d += f(i);
        }
    } else {
        for (i, d) in dst.iter_mut().enumerate() {
            *d = f(i);
        }
    }
}

/// Everything an op's backward may read, and where it writes.
pub(crate) struct Backward<'a> {
    pub values: Values<'a>,
    /// This node's output value.
    pub out: &'a Tensor,
    /// This node's saved scratch (e.g. the argmax of max, the softmax of cross-entropy).
    pub aux: &'a Tensor,
    /// ∂loss/∂output.
    pub dy: &'a Tensor,
    pub sink: GradSink<'a>,
    pub list: &'a [Var],
}

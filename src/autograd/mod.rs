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

mod functional;
mod gradcheck;
pub(crate) mod ops;

pub use gradcheck::{gradcheck, GradCheck, GradCheckInput};
pub use ops::batch_norm::RunningStats;
pub use ops::binary::Binary;
pub use ops::elementwise::Unary;

use crate::error::{Error, Result};
use crate::params::{ParamId, Parameters};
use crate::rng::Rng;
use crate::tensor::{Shape, Tensor};

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
            let shape = *self.values.get(v).shape();
            self.grads[i].resize(shape);
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

/// A computation being recorded: ops run immediately on concrete values and are remembered for
/// [`Graph::backward`]. Borrow a [`Tape`] (for its buffers) and the [`Parameters`] it reads.
///
/// Seed 003's forward() / backward() on its sigmoid neuron `f = σ(w0·x0 + w1·x1 + w2)` with
/// w = (2, −3, −3), x = (−1, −2): forward gives σ(1) = 0.73; backward multiplies each local
/// gradient by the upstream one, σ′(1) = 0.2, so ∂f/∂w0 = x0·0.2 = −0.2 and ∂f/∂x0 = w0·0.2 = 0.4.
///
/// ```
/// use backprop::{Graph, Parameters, Tape, Tensor};
/// let mut ps = Parameters::new();
/// let w = ps.add("w", Tensor::from_vec(vec![2.0, -3.0], [2, 1])?);
/// let b = ps.add("w2", Tensor::from_vec(vec![-3.0], [1])?);
/// let mut tape = Tape::new();
/// let mut g = Graph::new(&mut tape, &ps);
/// let x = g.input(&Tensor::from_vec(vec![-1.0, -2.0], [1, 2])?);
/// let (wv, bv) = (g.param(w), g.param(b));
/// let xw = g.matmul(x, wv);
/// let s = g.add(xw, bv);
/// let f = g.sigmoid(s);
/// let out = g.sum(f);
/// assert!((g.value(out).item() - 0.731).abs() < 1e-3);
/// let grads = g.backward(out);
/// let dw = grads.get(w).unwrap().to_vec();
/// assert!((dw[0] + 0.197).abs() < 1e-3 && (dw[1] + 0.393).abs() < 1e-3); // x·σ′
/// assert!((grads.get(b).unwrap().item() - 0.197).abs() < 1e-3); // the add gate passes σ′ on
/// # Ok::<(), backprop::Error>(())
/// ```
pub struct Graph<'t, 'p> {
    tape: &'t mut Tape,
    params: &'p Parameters,
    grad_enabled: bool,
    training: bool,
}

impl<'t, 'p> Graph<'t, 'p> {
    /// A new, empty graph recording on `tape` (whose previous contents are discarded, buffers kept).
    pub fn new(tape: &'t mut Tape, params: &'p Parameters) -> Graph<'t, 'p> {
        tape.ops.clear();
        tape.needs_grad.clear();
        tape.uses.clear();
        tape.list.clear();
        tape.param_nodes.clear();
        tape.param_nodes.resize(params.len(), None);
        tape.pending_stats.clear();
        tape.recorded = true;
        Graph {
            tape,
            params,
            grad_enabled: true,
            training: true,
        }
    }

    /// A graph for inference: values are computed but no op is recorded for backward, no
    /// gradient state is kept, and [`Graph::backward`] panics.
    pub fn no_grad(tape: &'t mut Tape, params: &'p Parameters) -> Graph<'t, 'p> {
        let mut g = Graph::new(tape, params);
        g.tape.recorded = false;
        g.grad_enabled = false;
        g.training = false;
        g
    }

    /// Whether training-mode behaviour (dropout) is on: true for [`Graph::new`], false for
    /// [`Graph::no_grad`], like PyTorch's `model.train()` / `model.eval()`.
    pub fn training(&self) -> bool {
        self.training
    }

    /// Switches training-mode behaviour on or off.
    pub fn set_training(&mut self, on: bool) {
        self.training = on;
    }

    /// The parameters this graph reads.
    pub fn params(&self) -> &'p Parameters {
        self.params
    }

    /// Whether ops are being recorded for backward.
    pub fn grad_enabled(&self) -> bool {
        self.grad_enabled
    }

    /// The number of nodes recorded.
    pub fn len(&self) -> usize {
        self.tape.ops.len()
    }

    /// Whether nothing is recorded yet.
    pub fn is_empty(&self) -> bool {
        self.tape.ops.is_empty()
    }

    /// The value of a node.
    pub fn value(&self, v: Var) -> &Tensor {
        self.values().get(v)
    }

    /// The kind of op that produced a node (`None` for inputs and parameters).
    pub fn op_kind(&self, v: Var) -> Option<OpKind> {
        self.tape.ops[v.index()].kind()
    }

    /// The shape of a node's value.
    pub fn shape(&self, v: Var) -> Shape {
        *self.value(v).shape()
    }

    fn values(&self) -> Values<'_> {
        Values {
            done: &self.tape.values,
            ops: &self.tape.ops,
            params: self.params,
        }
    }

    /// Records an input (or constant) by copying `t` into the tape's buffer.
    pub fn input(&mut self, t: &Tensor) -> Var {
        self.push(Op::Leaf, &[], |_, out, _| out.assign(t))
    }

    /// Records an input of `shape` whose buffer `fill` writes directly (no intermediate tensor).
    pub fn input_with(&mut self, shape: impl Into<Shape>, fill: impl FnOnce(&mut [f32])) -> Var {
        let shape = shape.into();
        self.push(Op::Leaf, &[], |_, out, _| {
            out.resize(shape);
            fill(out.data_mut());
        })
    }

    /// The node of a parameter. Asking twice gives the same node, so a weight used in two places
    /// (shared weights) receives the sum of both gradients.
    pub fn param(&mut self, id: ParamId) -> Var {
        assert!(
            id.0 < self.params.len(),
            "parameter {id:?} is not in this graph's store"
        );
        if let Some(v) = self.tape.param_nodes[id.0] {
            return v;
        }
        let frozen = self.tape.frozen.get(id.0).copied().unwrap_or(false);
        let v = self.push_node(Op::Param(id), self.grad_enabled && !frozen);
        self.tape.param_nodes[id.0] = Some(v);
        v
    }

    fn push_node(&mut self, op: Op, needs: bool) -> Var {
        let t = &mut *self.tape;
        let i = t.ops.len();
        if t.values.len() <= i {
            t.values.push(Tensor::default());
            t.grads.push(Tensor::default());
            t.aux.push(Tensor::default());
        }
        t.ops.push(op);
        t.needs_grad.push(needs);
        t.uses.push(0);
        Var(i as u32)
    }

    /// Records an op: runs `forward(values, out, aux)` into the new node's buffers.
    pub(crate) fn push(
        &mut self,
        op: Op,
        inputs: &[Var],
        forward: impl FnOnce(&Values, &mut Tensor, &mut Tensor),
    ) -> Var {
        let n = self.tape.ops.len();
        for v in inputs {
            assert!(v.index() < n, "{v:?} does not belong to this graph");
            self.tape.uses[v.index()] += 1;
        }
        let needs = self.grad_enabled && inputs.iter().any(|v| self.tape.needs_grad[v.index()]);
        let i = self
            .push_node(if self.grad_enabled { op } else { Op::Leaf }, needs)
            .index();
        let t = &mut *self.tape;
        let (done, rest) = t.values.split_at_mut(i);
        let vals = Values {
            done,
            ops: &t.ops,
            params: self.params,
        };
        forward(&vals, &mut rest[0], &mut t.aux[i]);
        Var(i as u32)
    }

    /// Stores a list of vars on the tape (for ops with many inputs) and returns its start.
    pub(crate) fn push_list(&mut self, vars: &[Var]) -> u32 {
        let start = self.tape.list.len() as u32;
        self.tape.list.extend_from_slice(vars);
        start
    }

    /// Runs backpropagation from a scalar `loss` and returns ∂loss/∂p for every parameter p that
    /// the loss depends on (and ∂loss/∂v for any recorded node v, through [`Gradients::wrt`]).
    ///
    /// # Panics
    /// If `loss` does not hold exactly one value, or the graph was made with [`Graph::no_grad`].
    pub fn backward(self, loss: Var) -> Gradients<'t> {
        assert!(self.grad_enabled, "backward() on a no_grad graph");
        let t = self.tape;
        t.run_backward(loss, Store::Read(self.params));
        Gradients { tape: t }
    }
}

/// Receives each parameter's gradient during a backward pass, as soon as it is final: after
/// every op that reads the parameter has added its part, and before the pass reads anything
/// that depends on it again. [`Tape::backward_with`] calls it; an optimizer applying its update
/// inside backward (`backprop::optim::backward_step`) or an all-reduce that starts sending a
/// gradient while the rest is still being computed hang on it.
///
/// ```
/// use backprop::autograd::GradHook;
/// use backprop::{Graph, ParamId, Parameters, Tape, Tensor};
/// // Collects (parameter, ∂loss/∂parameter) in the order the gradients become final.
/// struct Log(Vec<(usize, Vec<f32>)>);
/// impl GradHook for Log {
///     fn grad_final(&mut self, id: ParamId, _param: &mut Tensor, grad: &Tensor) {
///         self.0.push((id.0, grad.to_vec()));
///     }
/// }
/// let mut ps = Parameters::new();
/// let a = ps.add("a", Tensor::from_vec(vec![2.0], [1]).unwrap());
/// let b = ps.add("b", Tensor::from_vec(vec![3.0], [1]).unwrap());
/// let mut tape = Tape::new();
/// let mut g = Graph::new(&mut tape, &ps);
/// let (av, bv) = (g.param(a), g.param(b));
/// let ab = g.mul(av, bv);
/// let loss = g.sum(ab);
/// let mut log = Log(vec![]);
/// tape.backward_with(loss, &mut ps, &mut log).unwrap();
/// assert_eq!(log.0, vec![(1, vec![2.0]), (0, vec![3.0])]); // the reverse of recording
/// ```
pub trait GradHook {
    /// The gradient `grad` of parameter `id` (whose value is `param`) is final. The hook may
    /// change `param` (an optimizer step): nothing later in the pass reads it.
    fn grad_final(&mut self, id: ParamId, param: &mut Tensor, grad: &Tensor);

    /// The gradient of the `(rows, cols)` weight `id` is final and is the outer product
    /// `grad[i][j] = delta[i]·x[j]` (one sample through a linear layer), which is never stored.
    /// A hook that takes it in this form streams `param` row by row: for each row `i` in order,
    /// `before_row(i, old row i)`, then whatever it does to row `i`; it returns `true`. One that
    /// does not returns `false` before calling `before_row` at all, and then receives the
    /// stored gradient through [`GradHook::grad_final`] as usual. The default returns `false`.
    fn outer_final(
        &mut self,
        id: ParamId,
        param: &mut Tensor,
        delta: &[f32],
        x: &[f32],
        before_row: &mut dyn FnMut(usize, &[f32]),
    ) -> bool {
        let _ = (id, param, delta, x, before_row);
        false
    }
}

/// The parameters a backward pass reads, and optionally the hook that sees (and may update) each
/// one as soon as its gradient is final.
enum Store<'a> {
    Read(&'a Parameters),
    Update(&'a mut Parameters, &'a mut dyn GradHook),
}

impl Tape {
    /// Backpropagation from `loss` through the graph last recorded on this tape (the graph
    /// itself is gone, so `params` can be borrowed mutably), calling `hook` for each parameter
    /// as soon as its gradient is final — when the reverse loop reaches the parameter's node,
    /// after every op that reads it — so that work on a large weight (an optimizer's update)
    /// follows its gradient product while both are still in cache. A linear layer's weight read
    /// by that op alone, in a one-sample pass, is offered as an outer product first
    /// ([`GradHook::outer_final`]). The gradients computed are exactly those of
    /// [`Graph::backward`]; a hook that changes nothing leaves the same bytes.
    ///
    /// # Errors
    /// If the last graph was a [`Graph::no_grad`] one, `loss` is not one of its nodes or does not
    /// hold exactly one value, or `params` is not the store the graph was recorded with (another
    /// number of parameters).
    pub fn backward_with(
        &mut self,
        loss: Var,
        params: &mut Parameters,
        hook: &mut dyn GradHook,
    ) -> Result<()> {
        self.check_recorded(loss, params)?;
        self.run_backward(loss, Store::Update(params, hook));
        Ok(())
    }

    /// [`Graph::backward`] of the graph last recorded on this tape, for when the graph was
    /// dropped to end its borrow of `params` (checked as [`Tape::backward_with`]).
    ///
    /// # Errors
    /// As [`Tape::backward_with`].
    pub fn backward_recorded(&mut self, loss: Var, params: &Parameters) -> Result<Gradients<'_>> {
        self.check_recorded(loss, params)?;
        self.run_backward(loss, Store::Read(params));
        Ok(Gradients { tape: self })
    }

    /// Checks that `loss` is a scalar node of a recorded graph read from `params`.
    fn check_recorded(&self, loss: Var, params: &Parameters) -> Result<()> {
        if !self.recorded {
            return Err(Error::invalid(
                "backward",
                "a no_grad graph",
                "a graph recorded with Graph::new",
            ));
        }
        let l = loss.index();
        if l >= self.ops.len() || self.values[l].numel() != 1 {
            return Err(Error::invalid(
                "loss",
                format!("node {l} of a graph of {} nodes", self.ops.len()),
                "a node of the last graph holding one value",
            ));
        }
        if params.len() != self.param_nodes.len() {
            return Err(Error::invalid(
                "parameters",
                format!("{} tensors", params.len()),
                "the store the graph was recorded with",
            ));
        }
        Ok(())
    }

    /// The reverse loop over the tape (see [`Graph::backward`]).
    fn run_backward(&mut self, loss: Var, mut store: Store) {
        let t = self;
        let l = loss.index();
        assert_eq!(
            t.values[l].numel(),
            1,
            "backward() needs a scalar loss, got shape {:?}",
            t.values[l].shape()
        );
        t.written.clear();
        t.written.resize(t.ops.len(), false);
        if t.needs_grad[l] {
            t.grads[l].reset_zeros(*t.values[l].shape());
            t.grads[l].data_mut()[0] = 1.0;
            t.written[l] = true;
        }
        for j in (0..=l).rev() {
            if !t.needs_grad[j] || !t.written[j] {
                continue;
            }
            let op = t.ops[j];
            if let Op::Param(id) = op {
                // Every op that reads this parameter comes later on the tape and has run: its
                // gradient is final, and nothing left in the loop reads its value.
                if let Store::Update(params, hook) = &mut store {
                    hook.grad_final(id, &mut params[id], &t.grads[j]);
                }
                continue;
            }
            if let (Op::Linear(x, w, bias), Store::Update(params, hook)) = (op, &mut store) {
                if let (Op::Param(id), 1, true) =
                    (t.ops[w.index()], t.uses[w.index()], t.needs_grad[w.index()])
                {
                    // This op is W's only reader: W's gradient is final once its backward has
                    // run, so the hook may take it inside it (one sample: row by row).
                    let mut wt = std::mem::take(&mut params[id]);
                    let (lower, upper) = t.grads.split_at_mut(j);
                    let (written, _) = t.written.split_at_mut(j);
                    let mut sink = GradSink {
                        grads: lower,
                        written,
                        needs: &t.needs_grad,
                        values: Values {
                            done: &t.values,
                            ops: &t.ops,
                            params,
                        },
                    };
                    let (xv, dy) = (&t.values[x.index()], &upper[0]);
                    let done = ops::matmul::linear_backward_update(
                        x,
                        xv,
                        dy,
                        &mut sink,
                        &mut wt,
                        id,
                        &mut **hook,
                    );
                    if done {
                        if let Some(bias) = bias {
                            ops::matmul::bias_backward(bias, dy, &mut sink);
                        }
                    }
                    params[id] = wt;
                    if done {
                        continue;
                    }
                }
            }
            let params: &Parameters = match &store {
                Store::Read(p) => p,
                Store::Update(p, _) => p,
            };
            let (lower, upper) = t.grads.split_at_mut(j);
            let (written, _) = t.written.split_at_mut(j);
            let values = Values {
                done: &t.values,
                ops: &t.ops,
                params,
            };
            let b = Backward {
                values,
                out: &t.values[j],
                aux: &t.aux[j],
                dy: &upper[0],
                sink: GradSink {
                    grads: lower,
                    written,
                    needs: &t.needs_grad,
                    values,
                },
                list: &t.list,
            };
            match op {
                Op::Leaf | Op::Param(_) => {}
                Op::Unary(u, x) => ops::elementwise::backward(u, x, b),
                Op::Binary(o, x, y) => ops::binary::backward(o, x, y, b),
                Op::Matmul(x, w) => ops::matmul::backward(x, w, b),
                Op::Linear(x, w, bias) => ops::matmul::linear_backward(x, w, bias, b),
                Op::Sum(x, dim) => ops::reduce::sum_backward(x, dim, b),
                Op::Max(x, dim) => ops::reduce::max_backward(x, dim, b),
                Op::Transpose(x) => ops::shape::transpose_backward(x, b),
                Op::Reshape(x) => ops::shape::reshape_backward(x, b),
                Op::Concat { start, count } => ops::shape::concat_backward(start, count, b),
                Op::Slice(x, s, n) => ops::shape::slice_backward(x, s, n, b),
                Op::LogSoftmax(x) => ops::softmax::log_softmax_backward(x, b),
                Op::CrossEntropy(x, target) => ops::softmax::cross_entropy_backward(x, target, b),
                Op::BatchNorm(x, gamma, beta, train) => {
                    ops::batch_norm::backward(x, gamma, beta, train, b)
                }
            }
        }
    }
}

/// The gradients of one backward pass: ∂loss/∂p for each parameter the loss depends on.
/// They may be clipped in place before an optimizer step.
///
/// ```
/// use backprop::{Graph, Parameters, Tape, Tensor};
/// let mut ps = Parameters::new();
/// let w = ps.add("w", Tensor::from_vec(vec![3.0, 4.0], [2])?);
/// let unused = ps.add("unused", Tensor::zeros([1]));
/// let mut tape = Tape::new();
/// let mut g = Graph::new(&mut tape, &ps);
/// let wv = g.param(w);
/// let sq = g.square(wv);
/// let e = g.sum(sq); // E = Σ w²
/// let mut grads = g.backward(e);
/// assert_eq!(grads.get(w).unwrap().to_vec(), vec![6.0, 8.0]); // 2w
/// assert_eq!(grads.wrt(sq).unwrap().to_vec(), vec![1.0, 1.0]); // ∂E/∂(w²): the δ of a node
/// assert!(grads.get(unused).is_none());
/// assert_eq!(grads.norm(), 10.0);
/// assert_eq!(grads.clip_grad_norm(5.0), 10.0); // returns the norm before clipping
/// let clipped = grads.get(w).unwrap().to_vec();
/// assert!((clipped[0] - 3.0).abs() < 1e-5 && (clipped[1] - 4.0).abs() < 1e-5);
/// # Ok::<(), backprop::Error>(())
/// ```
pub struct Gradients<'t> {
    tape: &'t mut Tape,
}

impl Gradients<'_> {
    /// ∂loss/∂p, or `None` if the loss does not depend on `p`.
    pub fn get(&self, p: ParamId) -> Option<&Tensor> {
        let v = (*self.tape.param_nodes.get(p.0)?)?;
        self.wrt(v)
    }

    /// ∂loss/∂v for any recorded node that leads to a parameter, e.g. the δ of a layer.
    pub fn wrt(&self, v: Var) -> Option<&Tensor> {
        let i = v.index();
        (i < self.tape.written.len() && self.tape.written[i]).then(|| &self.tape.grads[i])
    }

    /// ∂loss/∂p, mutable (for clipping or custom transforms).
    pub fn get_mut(&mut self, p: ParamId) -> Option<&mut Tensor> {
        let i = (*self.tape.param_nodes.get(p.0)?)?.index();
        (i < self.tape.written.len() && self.tape.written[i]).then(|| &mut self.tape.grads[i])
    }

    fn each_param_grad(&mut self, mut f: impl FnMut(&mut [f32])) {
        let t = &mut *self.tape;
        for v in t.param_nodes.iter().flatten() {
            let i = v.index();
            if i < t.written.len() && t.written[i] {
                f(t.grads[i].data_mut());
            }
        }
    }

    /// The global L2 norm of all parameter gradients, taken together.
    pub fn norm(&mut self) -> f32 {
        let mut s = 0.0f64;
        self.each_param_grad(|g| s += g.iter().map(|&x| (x as f64) * (x as f64)).sum::<f64>());
        s.sqrt() as f32
    }

    /// Scales all parameter gradients so their global L2 norm is at most `max_norm`, like
    /// PyTorch's `clip_grad_norm_`. Returns the norm before clipping.
    pub fn clip_grad_norm(&mut self, max_norm: f32) -> f32 {
        let norm = self.norm();
        let scale = max_norm / (norm + 1e-6);
        if scale < 1.0 {
            self.each_param_grad(|g| g.iter_mut().for_each(|x| *x *= scale));
        }
        norm
    }

    /// Clamps every parameter gradient element into `[-clip, clip]`, like `clip_grad_value_`.
    pub fn clip_grad_value(&mut self, clip: f32) {
        self.each_param_grad(|g| g.iter_mut().for_each(|x| *x = x.clamp(-clip, clip)));
    }
}

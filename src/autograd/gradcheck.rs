//! Numerical gradient checking: compare backprop's analytic gradient with central differences
//! `(L(x + h) − L(x − h)) / 2h`, element by element, for every input of a scalar computation.

use crate::autograd::{Graph, Tape, Var};
use crate::params::{ParamId, Parameters};
use crate::tensor::Tensor;

/// The comparison for one input tensor.
///
/// ```
/// use backprop::{gradcheck, GradCheckInput, Tensor};
/// let a = Tensor::from_vec(vec![1.0, 2.0], [2])?;
/// let unused = Tensor::from_vec(vec![5.0], [1])?;
/// // L = Σ a²: ∂L/∂a = 2a; L does not depend on the second input at all
/// let report = gradcheck(&[a, unused], 1e-3, |g, v| {
///     let sq = g.square(v[0]);
///     g.sum(sq)
/// });
/// let da: &GradCheckInput = &report.inputs[0];
/// assert_eq!(da.analytic.to_vec(), vec![2.0, 4.0]);
/// assert!((da.numerical.data()[1] - 4.0).abs() < 1e-2);
/// assert!(da.max_abs < 1e-2 && da.max_rel < 1e-2);
/// let du = &report.inputs[1];
/// assert_eq!((du.analytic.to_vec(), du.numerical.to_vec()), (vec![0.0], vec![0.0]));
/// assert_eq!(du.max_abs, 0.0);
/// # Ok::<(), backprop::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct GradCheckInput {
    /// The largest `|analytic − numerical|` over the tensor's elements.
    pub max_abs: f32,
    /// The largest `|analytic − numerical| / max(|analytic|, |numerical|, 1e-2)`; the floor keeps
    /// gradients too small for f32 differences to resolve from dominating.
    pub max_rel: f32,
    /// The analytic gradient (zeros if the output does not depend on this input).
    pub analytic: Tensor,
    /// The numerical gradient.
    pub numerical: Tensor,
}

/// The result of [`gradcheck`]: one entry per input, in order.
///
/// Seed 003's advice, "derive the analytic gradient, check your implementation with the numerical
/// gradient", on the cs231n product `L = Σ a·b` (∂L/∂a = b, ∂L/∂b = a):
///
/// ```
/// use backprop::{gradcheck, GradCheck, Tensor};
/// let a = Tensor::from_vec(vec![1.0, 2.0], [2])?;
/// let b = Tensor::from_vec(vec![3.0, -1.0], [2])?;
/// let report: GradCheck = gradcheck(&[a, b], 1e-3, |g, v| {
///     let p = g.mul(v[0], v[1]);
///     g.sum(p)
/// });
/// assert_eq!(report.inputs.len(), 2);
/// assert_eq!(report.inputs[0].analytic.to_vec(), vec![3.0, -1.0]);
/// assert_eq!(report.inputs[1].analytic.to_vec(), vec![1.0, 2.0]);
/// assert!(report.passed(1e-2), "{report:?}");
/// assert!(report.max_abs() < 1e-2 && report.max_rel() <= 1e-2);
/// assert!(!report.passed(-1.0)); // no tolerance below zero passes
/// # Ok::<(), backprop::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct GradCheck {
    /// Per-input errors.
    pub inputs: Vec<GradCheckInput>,
}

impl GradCheck {
    /// Whether every input's relative error is at most `tol`.
    pub fn passed(&self, tol: f32) -> bool {
        self.inputs.iter().all(|i| i.max_rel <= tol)
    }

    /// The worst relative error over all inputs.
    pub fn max_rel(&self) -> f32 {
        self.inputs.iter().map(|i| i.max_rel).fold(0.0, f32::max)
    }

    /// The worst absolute error over all inputs.
    pub fn max_abs(&self) -> f32 {
        self.inputs.iter().map(|i| i.max_abs).fold(0.0, f32::max)
    }
}

/// Checks the gradient of a scalar computation `f(graph, inputs)` of the given input tensors.
///
/// `h` is the finite-difference step (about `1e-3` suits f32). Inputs are recorded as parameters,
/// so `f` sees them as ordinary graph values.
///
/// ```
/// use backprop::{gradcheck, Tensor};
/// let x = Tensor::from_vec(vec![0.5, -1.0, 2.0], [3]).unwrap();
/// // L = Σ tanh(x)·x
/// let report = gradcheck(&[x], 1e-3, |g, v| {
///     let t = g.tanh(v[0]);
///     let p = g.mul(t, v[0]);
///     g.sum(p)
/// });
/// assert!(report.passed(1e-2), "{report:?}");
/// ```
///
/// # Panics
/// If `f` does not return a scalar.
pub fn gradcheck(inputs: &[Tensor], h: f32, f: impl Fn(&mut Graph, &[Var]) -> Var) -> GradCheck {
    let mut params = Parameters::new();
    let ids: Vec<ParamId> = inputs
        .iter()
        .enumerate()
        .map(|(i, t)| params.add(format!("input{i}"), t.clone()))
        .collect();
    let mut tape = Tape::new();

    let analytic: Vec<Tensor> = {
        let mut g = Graph::new(&mut tape, &params);
        let vars: Vec<Var> = ids.iter().map(|&id| g.param(id)).collect();
        let loss = f(&mut g, &vars);
        let grads = g.backward(loss);
        ids.iter()
            .zip(inputs)
            .map(|(&id, t)| {
                grads
                    .get(id)
                    .cloned()
                    .unwrap_or_else(|| Tensor::zeros(*t.shape()))
            })
            .collect()
    };

    let mut eval = |params: &Parameters| -> f32 {
        let mut g = Graph::no_grad(&mut tape, params);
        let vars: Vec<Var> = ids.iter().map(|&id| g.param(id)).collect();
        let loss = f(&mut g, &vars);
        g.value(loss).item()
    };

    let mut out = Vec::new();
    for (k, &id) in ids.iter().enumerate() {
        let mut numerical = Tensor::zeros(*inputs[k].shape());
        for j in 0..inputs[k].numel() {
            let x0 = params[id].data()[j];
            params[id].data_mut()[j] = x0 + h;
            let up = eval(&params);
            params[id].data_mut()[j] = x0 - h;
            let down = eval(&params);
            params[id].data_mut()[j] = x0;
            numerical.data_mut()[j] = (up - down) / (2.0 * h);
        }
        let (mut max_abs, mut max_rel) = (0.0f32, 0.0f32);
        for (&a, &n) in analytic[k].data().iter().zip(numerical.data()) {
            let d = (a - n).abs();
            max_abs = max_abs.max(d);
            max_rel = max_rel.max(d / a.abs().max(n.abs()).max(1e-2));
        }
        out.push(GradCheckInput {
            max_abs,
            max_rel,
            analytic: analytic[k].clone(),
            numerical,
        });
    }
    GradCheck { inputs: out }
}

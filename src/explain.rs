//! One step of backpropagation on one sample, shown in the notation of the lecture notes
//! (seed 001, *Learning From Data*).
//!
//! For layer l = 1, …, L with d(l) units:
//!
//! - forward: `s(l) = W(l)ᵀ x(l−1)`, `x(l) = [1; θ(s(l))]` — the leading 1 is the constant input
//!   that the bias multiplies, so `W(l)` is a `(1 + d(l−1)) × d(l)` matrix whose row 0 is the bias;
//! - backward: `δ(l) = ∂e/∂s(l)`, `δ(L) = ∂e/∂x(L) ⊗ θ′(s(L))`,
//!   `δ(l) = θ′(s(l)) ⊗ [W(l+1) δ(l+1)]` without the bias row;
//! - gradient: `∂e/∂W(l) = x(l−1) δ(l)ᵀ`, the same shape as `W(l)`, bias row first;
//! - one gradient-descent step: `W(l) ← W(l) − η ∂e/∂W(l)`.
//!
//! Nothing here is computed by hand: [`explain`] records the network on a [`Graph`], reads s(l)
//! and x(l) from [`Mlp::forward_layers`], δ(l) from [`Gradients::wrt`](crate::Gradients::wrt) and
//! ∂e/∂W(l) from [`Gradients::get`](crate::Gradients::get), and only rearranges our
//! `(out, in)` weight plus separate bias into the seed's layout.
//!
//! ```
//! use backprop::explain::{explain, lfd_example};
//! use backprop::{nn::Mlp, Loss};
//! let (spec, params, x, y) = lfd_example();
//! let net = Mlp::from_params(spec, &params)?;
//! let ex = explain(&net, &params, &x, &y, Loss::SquaredError, 0.1)?;
//! assert!((ex.layers[2].delta[0] - -1.855).abs() < 1e-3); // δ(3), as in the notes
//! println!("{ex}"); // forward table, backward table, ∂e/∂W(l) and the updated W(l)
//! # Ok::<(), backprop::Error>(())
//! ```
//!
//! A network with explicit weights is written as JSON (see [`example_from_json`]): a network
//! description ([`MlpSpec`], the same one `backprop train --arch` reads) whose layers give their
//! values in `init` — `weight` as one row of input weights per unit, PyTorch's `(out, in)` — plus
//! the sample, and optionally the loss and learning rate. Shared biases (`"bias": "shared"`) and
//! frozen parameters (`"trainable"`) are shown as such: a frozen parameter's "updated" value is
//! its old one. Matt Mazur's step-by-step example (E = ½Σ(t − o)², one frozen bias per layer):
//!
//! ```
//! use backprop::explain::{example_from_json, explain};
//! use backprop::nn::Mlp;
//! let ex = example_from_json(r#"{
//!   "input": [0.05, 0.10], "target": [0.01, 0.99], "loss": "half_sse", "lr": 0.5,
//!   "layers": [
//!     {"units": 2, "activation": "sigmoid", "bias": "shared", "trainable": {"bias": false},
//!      "init": {"weight": [[0.15, 0.20], [0.25, 0.30]], "bias": [0.35]}},
//!     {"units": 2, "activation": "sigmoid", "bias": "shared", "trainable": {"bias": false},
//!      "init": {"weight": [[0.40, 0.45], [0.50, 0.55]], "bias": [0.60]}}]
//! }"#)?;
//! let net = Mlp::from_params(ex.spec, &ex.params)?;
//! let e = explain(&net, &ex.params, &ex.input, &ex.target, ex.loss.unwrap(), ex.lr.unwrap())?;
//! assert!((e.error - 0.298371109).abs() < 1e-6);
//! assert!((e.layers[1].updated[0][0] - 0.35891648).abs() < 1e-6); // w5 after the step
//! assert_eq!(e.layers[1].shared_bias.unwrap().updated, 0.6); // frozen
//! # Ok::<(), backprop::Error>(())
//! ```
//!
//! The seed's own layout also works: each layer as `{"activation": …, "W": [[…]]}` with `W`
//! `(1 + inputs)` rows by `units` columns, bias row first:
//!
//! ```
//! let spec = r#"{
//!   "input": [2.0],
//!   "target": [1.0],
//!   "layers": [
//!     {"activation": "tanh", "W": [[0.1, 0.2], [0.3, 0.4]]},
//!     {"activation": "tanh", "W": [[0.2], [1.0], [-3.0]]},
//!     {"activation": "tanh", "W": [[1.0], [2.0]]}
//!   ]
//! }"#;
//! let (spec, params, x, y) = backprop::explain::from_json(spec)?;
//! assert_eq!((spec.in_features, spec.layers.len(), x, y), (1, 3, vec![2.0], vec![1.0]));
//! assert_eq!(params.numel(), 4 + 3 + 2);
//! # Ok::<(), backprop::Error>(())
//! ```
//!
//! In that layout, per layer, `"activation"` is any name [`Activation`] parses; optional
//! `"bias": false` drops the bias row (then `W` has `inputs` rows), and optional
//! `"inputs": [k, …]` makes the layer read the concatenation of earlier outputs (0 = the input
//! x(0), k = x(k)), as in [`MlpSpec::layer_from`]. `"target"` holds the target values, or the
//! class index for cross-entropy and hinge losses.

mod display;
mod json;
pub mod surface;

pub use json::{example_from_json, from_json, to_json, Example};

use crate::autograd::{Gradients, Graph, Tape};
use crate::error::{Error, Result};
use crate::loss::Loss;
use crate::nn::{Activation, Bias, Linear, Mlp, MlpSpec, Tie, Trainable};
use crate::params::{ParamId, Parameters};
use crate::tensor::Tensor;
use serde::Serialize;

/// `v` to `digits` significant digits (1–9) as the tables print it: trailing zeros dropped,
/// scientific notation outside 10⁻⁴…10⁵. For showing single numbers of an [`Explanation`] the
/// way [`Explanation::table`] (and so `backprop explain`) shows them.
///
/// ```
/// use backprop::explain::significant;
/// assert_eq!(significant(-1.854_864, 4), "-1.855");
/// assert_eq!(significant(0.7, 4), "0.7");
/// assert_eq!(significant(1.0e-6, 2), "1.0e-6");
/// ```
pub fn significant(v: f32, digits: usize) -> String {
    display::sig(v, digits)
}

/// A matrix as rows, in the seed's layout: row 0 is the bias (if any), then one row per input;
/// one column per unit.
pub type Rows = Vec<Vec<f32>>;

/// A bias shared by all units of a layer: one value, whose gradient is the sum of the units' δ.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct SharedBias {
    /// b(l).
    pub value: f32,
    /// ∂e/∂b(l) = Σⱼ δ(l)ⱼ.
    pub grad: f32,
    /// b(l) − η ∂e/∂b(l) (unchanged when the bias is frozen).
    pub updated: f32,
}

/// What happened in one layer l during the forward pass, the backward pass and the update.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LayerExplanation {
    /// θ of the layer.
    pub activation: Activation,
    /// The outputs this layer reads (0 = x(0), k = x(k)); `[l − 1]` unless it has skips.
    pub sources: Vec<usize>,
    /// Whether W(l) has a bias row (a per-unit bias).
    pub bias: bool,
    /// The layer's bias when it is one value shared by all units (then W(l) has no bias row).
    pub shared_bias: Option<SharedBias>,
    /// Which parameters the step may change (frozen ones keep their values).
    pub trainable: Trainable,
    /// The layer whose weight this one reuses (1-based), and whether transposed.
    pub tied_to: Option<Tie>,
    /// x(l−1) as this layer sees it: `[1; inputs]` (without the 1 if there is no bias).
    pub input: Vec<f32>,
    /// s(l), the input signal, d(l) values.
    pub s: Vec<f32>,
    /// θ(s(l)), without the constant 1.
    pub x: Vec<f32>,
    /// δ(l) = ∂e/∂s(l).
    pub delta: Vec<f32>,
    /// W(l) before the step, `(1 + d(l−1)) × d(l)`.
    pub weights: Rows,
    /// ∂e/∂W(l) = x(l−1) δ(l)ᵀ, same layout.
    pub grad: Rows,
    /// W(l) − η ∂e/∂W(l), same layout.
    pub updated: Rows,
}

/// Forward pass, backward pass and one gradient-descent step for one sample; `Display` prints
/// them as tables (4 significant digits; [`Explanation::table`] takes another precision), and
/// it serialises to JSON at full f32 precision.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Explanation {
    /// Layers 1, …, L.
    pub layers: Vec<LayerExplanation>,
    /// x(0).
    pub input: Vec<f32>,
    /// y: the target values (or the class index).
    pub target: Vec<f32>,
    /// The loss e was measured with.
    pub loss: Loss,
    /// e, the error on this sample.
    pub error: f32,
    /// η, the learning rate of the step.
    pub lr: f32,
}

/// Runs `net` forward and backward on one sample `x` with target `y` (values, or one class index
/// for class losses) and takes one gradient-descent step of size `lr`, without changing `params`.
///
/// Dropout is off (an evaluation-mode graph), so the numbers are reproducible.
pub fn explain(
    net: &Mlp,
    params: &Parameters,
    x: &[f32],
    y: &[f32],
    loss: Loss,
    lr: f32,
) -> Result<Explanation> {
    check_sample(&net.spec, x, y, loss)?;
    if let Some(i) = net.spec.layers.iter().position(|l| l.batch_norm.is_some()) {
        return Err(Error::network(
            format!("layer {}", i + 1),
            "explain works through the seeds' per-sample formulas, which have no batch norm; \
             batch_norm layers are not explained (fold them first with \
             backprop::nn::fold_batch_norm to explain the equivalent net in evaluation mode)",
        ));
    }
    if !(lr.is_finite() && lr >= 0.0) {
        return Err(Error::invalid("lr", lr, "a finite number ≥ 0"));
    }
    let mut tape = Tape::new();
    let mut g = Graph::new(&mut tape, params);
    g.set_training(false);
    let xv = g.input(&Tensor::from_slice(x, [1, x.len()])?);
    let target = if loss.takes_classes() {
        Tensor::from_slice(y, [1])?
    } else {
        Tensor::from_slice(y, [1, y.len()])?
    };
    let yv = g.input(&target);
    let vars = net.forward_layers(&mut g, xv)?;
    let last = vars.last().expect("validated: at least one layer");
    let out = if net.loss_reads_logits(loss) {
        last.s
    } else {
        last.x
    };
    let e = loss.apply(&mut g, out, yv);
    let error = g.value(e).item();
    let values: Vec<(Vec<f32>, Vec<f32>)> = vars
        .iter()
        .map(|v| (g.value(v.s).to_vec(), g.value(v.x).to_vec()))
        .collect();
    let grads = g.backward(e);

    let mut layers: Vec<LayerExplanation> = Vec::with_capacity(vars.len());
    for (i, (spec, (s, xl))) in net.spec.layers.iter().zip(values).enumerate() {
        let sources = if spec.inputs.is_empty() {
            vec![i]
        } else {
            spec.inputs.clone()
        };
        let per_unit = spec.bias == Bias::PerUnit;
        let mut input = if per_unit { vec![1.0] } else { vec![] };
        for &k in &sources {
            input.extend_from_slice(if k == 0 { x } else { &layers[k - 1].x });
        }
        let delta = grads
            .wrt(vars[i].s)
            .map_or_else(|| vec![0.0; s.len()], Tensor::to_vec);
        let mut layer = layer_explanation(net, params, &grads, i, input, lr);
        (layer.sources, layer.s, layer.x, layer.delta) = (sources, s, xl, delta);
        layers.push(layer);
    }
    Ok(Explanation {
        layers,
        input: x.to_vec(),
        target: y.to_vec(),
        loss,
        error,
        lr,
    })
}

/// One layer's weights, gradients and updated weights (rows: the bias, then each source's
/// inputs), for [`explain`]; `s`, `x`, `δ` and the sources are filled in by the caller.
fn layer_explanation(
    net: &Mlp,
    params: &Parameters,
    grads: &Gradients,
    i: usize,
    input: Vec<f32>,
    lr: f32,
) -> LayerExplanation {
    let (lin, spec) = (&net.layers[i], &net.spec.layers[i]);
    let per_unit = spec.bias == Bias::PerUnit;
    let grad_of = |p| {
        grads
            .get(p)
            .cloned()
            .unwrap_or_else(|| Tensor::zeros(*params[p].shape()))
    };
    let row_bias = |p: Option<ParamId>| p.filter(|_| per_unit);
    let weights = to_rows(
        lin,
        &params[lin.weight],
        row_bias(lin.bias).map(|b| &params[b]),
    );
    let gb = row_bias(lin.bias).map(grad_of);
    let grad = to_rows(lin, &grad_of(lin.weight), gb.as_ref());
    let owner = spec.tie.map_or(spec, |t| &net.spec.layers[t.layer - 1]);
    let (step_w, step_b) = (
        if owner.trainable.weight { lr } else { 0.0 },
        if spec.trainable.bias { lr } else { 0.0 },
    );
    let updated = weights
        .iter()
        .zip(&grad)
        .enumerate()
        .map(|(r, (w, d))| {
            let eta = if per_unit && r == 0 { step_b } else { step_w };
            w.iter().zip(d).map(|(w, d)| w - eta * d).collect()
        })
        .collect();
    let shared_bias = lin.bias.filter(|_| spec.bias == Bias::Shared).map(|b| {
        let (value, grad) = (params[b].data()[0], grad_of(b).data()[0]);
        SharedBias {
            value,
            grad,
            updated: value - step_b * grad,
        }
    });

    LayerExplanation {
        activation: spec.activation,
        sources: vec![],
        bias: per_unit,
        shared_bias,
        trainable: Trainable {
            weight: owner.trainable.weight,
            bias: spec.trainable.bias,
        },
        tied_to: spec.tie,
        input,
        s: vec![],
        x: vec![],
        delta: vec![],
        weights,
        grad,
        updated,
    }
}

fn check_sample(spec: &MlpSpec, x: &[f32], y: &[f32], loss: Loss) -> Result<()> {
    if x.len() != spec.in_features {
        return Err(Error::invalid(
            "input",
            format!(
                "{} values for a network with {} inputs",
                x.len(),
                spec.in_features
            ),
            "one value per input",
        ));
    }
    let k = spec.out_features();
    if loss.takes_classes() {
        let ok = matches!(y, [c] if c.fract() == 0.0 && *c >= 0.0 && (*c as usize) < k);
        if !ok {
            return Err(Error::invalid(
                "target",
                format!("{y:?} for {k} classes"),
                "one class index in 0..classes",
            ));
        }
    } else if y.len() != k {
        return Err(Error::invalid(
            "target",
            format!("{} values for a network with {k} outputs", y.len()),
            "one value per output",
        ));
    }
    Ok(())
}

/// Our `(out, in)` weight (stored `(in, out)` for a transposed tie) and `(out)` bias as the
/// seed's `(1 + in) × out` rows, bias row first.
fn to_rows(lin: &Linear, weight: &Tensor, bias: Option<&Tensor>) -> Rows {
    let (out, inp) = (lin.out_features, lin.in_features);
    let w = weight.data();
    let at = |j: usize, k: usize| {
        if lin.transpose {
            w[k * out + j]
        } else {
            w[j * inp + k]
        }
    };
    bias.map(|b| b.to_vec())
        .into_iter()
        .chain((0..inp).map(|k| (0..out).map(|j| at(j, k)).collect()))
        .collect()
}

/// The seed's rows (bias row first if `bias`) as our `(out, in)` weight and `(out)` bias.
/// The rows must be rectangular, `out` columns each.
fn from_rows(rows: &[Vec<f32>], bias: bool) -> Result<(Tensor, Option<Tensor>)> {
    let out = rows.first().map_or(0, Vec::len);
    let skip = usize::from(bias);
    let inp = rows.len().saturating_sub(skip);
    let mut w = vec![0.0; out * inp];
    for (k, row) in rows[skip..].iter().enumerate() {
        for (j, &v) in row.iter().enumerate() {
            w[j * inp + k] = v;
        }
    }
    let b = bias
        .then(|| Tensor::from_slice(&rows[0], [out]))
        .transpose()?;
    Ok((Tensor::from_vec(w, [out, inp])?, b))
}

/// The worked example of seed 001: x = 2, y = 1, a 1-2-1-1 network with tanh at every layer,
/// `W(1) = [[0.1, 0.2], [0.3, 0.4]]`, `W(2) = [0.2, 1, −3]ᵀ`, `W(3) = [1, 2]ᵀ` (bias rows first),
/// converted to our layout as parameters `layers.{i}.weight` / `layers.{i}.bias`.
///
/// Use it with [`Mlp::from_params`] and [`Loss::SquaredError`], for which e = (x(3) − y)².
pub fn lfd_example() -> (MlpSpec, Parameters, Vec<f32>, Vec<f32>) {
    let ws: [Rows; 3] = [
        vec![vec![0.1, 0.2], vec![0.3, 0.4]],
        vec![vec![0.2], vec![1.0], vec![-3.0]],
        vec![vec![1.0], vec![2.0]],
    ];
    let mut spec = MlpSpec::new(1);
    let mut params = Parameters::new();
    for (i, w) in ws.iter().enumerate() {
        spec = spec.layer(w[0].len(), Activation::Tanh);
        let (weight, bias) = from_rows(w, true).expect("internal error: seed 001 weights");
        params.add(format!("layers.{i}.weight"), weight);
        params.add(format!("layers.{i}.bias"), bias.expect("has a bias"));
    }
    (spec, params, vec![2.0], vec![1.0])
}

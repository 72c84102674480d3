//! Gradient checking of a whole network on data, done so that its verdict can be trusted:
//!
//! - the numerical gradient is the central difference `(E(θ + h) − E(θ − h)) / 2h` of the
//!   network's loss with dropout off and batch norm in training mode (batch statistics, the
//!   function training differentiates), element by element, computed in **f64** by an
//!   independent evaluation of the network (layers, skips, shared biases, ties, batch norm,
//!   activations and every loss written out once more in f64 here), so f32 round-off does not
//!   swamp it; running statistics are not trained and not checked;
//! - an element whose ±h step moves any ReLU, leaky-ReLU or step unit across its kink (the sign
//!   of some s(l) changes) is skipped and counted: there the loss is not differentiable and the
//!   difference quotient measures the jump, not the gradient;
//! - backprop's own gradient is f32: an element passes when
//!   `|analytic − numerical| ≤ tol·max(|analytic|, |numerical|) + noise`, where `noise` is
//!   10⁻⁵ of the largest gradient element of the whole network (f32 keeps about 7 digits, and a
//!   gradient element many orders below the largest carries the larger ones' round-off). Large
//!   losses (targets in the hundreds) no longer fail a correct model.
//!
//! ```
//! use backprop::nn::{check_gradients, Activation, Init, Mlp, MlpSpec};
//! use backprop::{Loss, Parameters, Rng, Tensor};
//! let spec = MlpSpec::from_sizes(&[3, 5, 2], Activation::Tanh, Activation::Identity);
//! let mut params = Parameters::new();
//! let net = Mlp::new(spec, &mut params, Init::PyTorch, &mut Rng::seed(0))?;
//! let x = Tensor::randn([4, 3], 0.0, 1.0, &mut Rng::seed(1));
//! let t = Tensor::randn([4, 2], 0.0, 100.0, &mut Rng::seed(2)); // large targets
//! let report = check_gradients(&net, &params, &x, &t, Loss::Mse, 1e-3, 1e-2)?;
//! assert!(report.passed(), "{report:?}");
//! # Ok::<(), backprop::Error>(())
//! ```

use crate::autograd::{Graph, Tape};
use crate::error::Result;
use crate::loss::Loss;
use crate::nn::{Activation, Mlp, Module};
use crate::params::Parameters;
use crate::tensor::Tensor;

/// The check of one parameter tensor.
#[derive(Clone, Debug, PartialEq)]
pub struct TensorCheck {
    /// Its state-dict name.
    pub name: String,
    /// Elements compared.
    pub checked: usize,
    /// Elements skipped because ±h crossed a kink.
    pub kinks: usize,
    /// Elements outside the tolerance.
    pub failed: usize,
    /// The largest `|analytic − numerical|` among the compared elements.
    pub max_abs: f32,
    /// The largest `|analytic − numerical| / max(|analytic|, |numerical|)` among them.
    pub max_rel: f32,
    /// The largest round-off allowance `noise` used.
    pub noise: f32,
}

/// The check of every parameter tensor.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelCheck {
    /// One entry per parameter tensor, in state-dict order.
    pub tensors: Vec<TensorCheck>,
    /// The loss at θ.
    pub loss: f32,
}

impl ModelCheck {
    /// Whether every compared element is within the tolerance.
    pub fn passed(&self) -> bool {
        self.tensors.iter().all(|t| t.failed == 0)
    }
}

/// Checks backprop's gradient of `loss(net(x), t)` (targets `t` as the loss takes them) against
/// central differences with step `h`; `tol` is the relative tolerance.
pub fn check_gradients(
    net: &Mlp,
    params: &Parameters,
    x: &Tensor,
    t: &Tensor,
    loss: Loss,
    h: f32,
    tol: f32,
) -> Result<ModelCheck> {
    let analytic = analytic_gradients(net, params, x, t, loss)?;
    check_against(net, params, x, t, loss, h, tol, &analytic)
}

/// Backprop's gradient of every parameter (zeros where the loss does not depend on it).
pub fn analytic_gradients(
    net: &Mlp,
    params: &Parameters,
    x: &Tensor,
    t: &Tensor,
    loss: Loss,
) -> Result<Vec<Tensor>> {
    let mut tape = Tape::new();
    // training mode for batch norm's batch statistics; dropout (random) off
    let mut plain = net.clone();
    plain.spec.layers.iter_mut().for_each(|l| l.dropout = 0.0);
    let mut g = Graph::new(&mut tape, params);
    let (xv, tv) = (g.input(x), g.input(t));
    let (_, y) = plain.forward_for_loss(&mut g, xv, loss)?;
    let e = loss.apply(&mut g, y, tv);
    let grads = g.backward(e);
    Ok(params
        .ids()
        .map(|p| {
            grads
                .get(p)
                .cloned()
                .unwrap_or_else(|| Tensor::zeros(*params[p].shape()))
        })
        .collect())
}

/// [`check_gradients`] against a given analytic gradient (one tensor per parameter) — what a
/// test uses to show that a wrong gradient is caught.
#[allow(clippy::too_many_arguments)]
pub fn check_against(
    net: &Mlp,
    params: &Parameters,
    x: &Tensor,
    t: &Tensor,
    loss: Loss,
    h: f32,
    tol: f32,
    analytic: &[Tensor],
) -> Result<ModelCheck> {
    let mut p: Vec<Vec<f64>> = params
        .tensors()
        .iter()
        .map(|t| t.data().iter().map(|&v| v as f64).collect())
        .collect();
    let f64s = |t: &Tensor| t.data().iter().map(|&v| v as f64).collect::<Vec<f64>>();
    let (x, t) = (f64s(x), f64s(t));
    let n = x.len() / net.spec.in_features.max(1);
    let eval = |p: &[Vec<f64>]| f64_loss(net, p, &x, &t, n, loss);
    let (e0, signs0) = eval(&p);
    let largest = analytic
        .iter()
        .flat_map(|a| a.data().iter())
        .fold(0.0f32, |m, v| m.max(v.abs()));
    let noise = 1e-5 * largest;
    let h = h as f64;
    let mut tensors = vec![];
    let stats = net.norms.iter().flatten().map(|bn| bn.stats);
    let buffers: Vec<_> = stats.flat_map(|s| [s.mean, s.var]).collect();
    for (k, id) in params.ids().enumerate() {
        if buffers.contains(&id) {
            continue;
        }
        let mut c = TensorCheck {
            name: params.name(id).to_string(),
            checked: 0,
            kinks: 0,
            failed: 0,
            max_abs: 0.0,
            max_rel: 0.0,
            noise,
        };
        for i in 0..p[k].len() {
            let v = p[k][i];
            p[k][i] = v + h;
            let (ep, sp) = eval(&p);
            p[k][i] = v - h;
            let (em, sm) = eval(&p);
            p[k][i] = v;
            if sp != signs0 || sm != signs0 {
                c.kinks += 1;
                continue;
            }
            let num = ((ep - em) / (2.0 * h)) as f32;
            let ana = analytic[k].data()[i];
            let err = (ana - num).abs();
            let scale = ana.abs().max(num.abs());
            c.checked += 1;
            c.max_abs = c.max_abs.max(err);
            if scale > noise {
                c.max_rel = c.max_rel.max(err / scale);
            }
            if err > tol * scale + noise {
                c.failed += 1;
            }
        }
        tensors.push(c);
    }
    Ok(ModelCheck {
        tensors,
        loss: e0 as f32,
    })
}

/// The network's loss in f64 (evaluation mode) and the signs of the pre-activations of every
/// unit with a kink. `p` holds the parameters in state-dict order; `x` is `n × in_features`.
fn f64_loss(
    net: &Mlp,
    p: &[Vec<f64>],
    x: &[f64],
    t: &[f64],
    n: usize,
    loss: Loss,
) -> (f64, Vec<bool>) {
    let spec = &net.spec;
    let mut outs: Vec<Vec<f64>> = vec![];
    let mut signs = vec![];
    let mut last_s = vec![];
    for (i, (lin, l)) in net.layers.iter().zip(&spec.layers).enumerate() {
        let sources: Vec<usize> = if l.inputs.is_empty() {
            vec![i]
        } else {
            l.inputs.clone()
        };
        let width = |k: usize| {
            if k == 0 {
                spec.in_features
            } else {
                spec.layers[k - 1].out_features
            }
        };
        let (inp, out) = (lin.in_features, lin.out_features);
        let w = &p[lin.weight.0];
        let b = lin.bias.map(|b| &p[b.0]);
        let mut s = vec![0.0; n * out];
        for r in 0..n {
            let mut row = Vec::with_capacity(inp);
            for &k in &sources {
                let src: &[f64] = if k == 0 { x } else { &outs[k - 1] };
                row.extend_from_slice(&src[r * width(k)..(r + 1) * width(k)]);
            }
            for j in 0..out {
                let wj = |c: usize| {
                    if lin.transpose {
                        w[c * out + j]
                    } else {
                        w[j * inp + c]
                    }
                };
                let bias = b.map_or(0.0, |b| if b.len() == out { b[j] } else { b[0] });
                s[r * out + j] = bias + (0..inp).map(|c| wj(c) * row[c]).sum::<f64>();
            }
        }
        if let Some(bn) = &net.norms[i] {
            normalise(
                &mut s,
                out,
                &p[bn.weight.0],
                &p[bn.bias.0],
                bn.stats.eps as f64,
            );
        }
        if matches!(
            l.activation,
            Activation::Relu | Activation::LeakyRelu(_) | Activation::Step
        ) {
            signs.extend(s.iter().map(|&v| v > 0.0));
        }
        let a = activate(l.activation, &s, out);
        last_s = s;
        outs.push(a);
    }
    let y = if net.loss_reads_logits(loss) {
        &last_s
    } else {
        outs.last().expect("a layer")
    };
    (f64_criterion(loss, y, t, n), signs)
}

/// Batch norm in training mode, in place on `s` (`n × d`): per column, the batch mean and
/// biased variance, then `γ·(s − μ)/√(σ² + ε) + β`.
fn normalise(s: &mut [f64], d: usize, gamma: &[f64], beta: &[f64], eps: f64) {
    let n = (s.len() / d) as f64;
    for j in 0..d {
        let mu = s.iter().skip(j).step_by(d).sum::<f64>() / n;
        let var = s
            .iter()
            .skip(j)
            .step_by(d)
            .map(|v| (v - mu).powi(2))
            .sum::<f64>()
            / n;
        let r = 1.0 / (var + eps).sqrt();
        for v in s.iter_mut().skip(j).step_by(d) {
            *v = gamma[j] * (*v - mu) * r + beta[j];
        }
    }
}

fn activate(a: Activation, s: &[f64], width: usize) -> Vec<f64> {
    match a {
        Activation::Softmax => s
            .chunks(width)
            .flat_map(|row| {
                let m = row.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                let z: f64 = row.iter().map(|v| (v - m).exp()).sum();
                row.iter()
                    .map(move |v| (v - m).exp() / z)
                    .collect::<Vec<_>>()
            })
            .collect(),
        a => s
            .iter()
            .map(|&v| match a {
                Activation::Identity => v,
                Activation::Sigmoid => 1.0 / (1.0 + (-v).exp()),
                Activation::Tanh => v.tanh(),
                Activation::Relu => v.max(0.0),
                Activation::LeakyRelu(k) => {
                    if v > 0.0 {
                        v
                    } else {
                        k as f64 * v
                    }
                }
                Activation::Step => {
                    if v >= 0.0 {
                        1.0
                    } else {
                        0.0
                    }
                }
                Activation::Softmax => unreachable!("handled above"),
            })
            .collect(),
    }
}

/// The losses of [`Loss`], in f64: `y` is `n × k`, `t` the targets as the loss takes them.
fn f64_criterion(loss: Loss, y: &[f64], t: &[f64], n: usize) -> f64 {
    let k = y.len() / n.max(1);
    let nn = n as f64;
    let sq = || y.iter().zip(t).map(|(a, b)| (a - b).powi(2)).sum::<f64>();
    match loss {
        Loss::HalfSse => 0.5 * sq(),
        Loss::SquaredError => sq() / nn,
        Loss::Mse => sq() / y.len() as f64,
        Loss::Mae => y.iter().zip(t).map(|(a, b)| (a - b).abs()).sum::<f64>() / y.len() as f64,
        Loss::BceWithLogits => {
            let e: f64 = y
                .iter()
                .zip(t)
                .map(|(&z, &t)| z.max(0.0) - z * t + (-z.abs()).exp().ln_1p())
                .sum();
            e / y.len() as f64
        }
        Loss::CrossEntropy | Loss::Hinge => {
            let mut e = 0.0;
            for (r, row) in y.chunks(k).enumerate() {
                let c = t[r] as usize;
                e += if loss == Loss::CrossEntropy {
                    let m = row.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                    let lse = m + row.iter().map(|v| (v - m).exp()).sum::<f64>().ln();
                    lse - row[c]
                } else {
                    (0..k)
                        .filter(|&j| j != c)
                        .map(|j| (row[j] - row[c] + 1.0).max(0.0))
                        .sum()
                };
            }
            e / nn
        }
    }
}

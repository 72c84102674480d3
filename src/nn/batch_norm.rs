//! Batch normalisation as a layer option (PyTorch's `BatchNorm1d` between a layer's linear map
//! and its activation), and its folding into the linear map for export.
//!
//! A layer with `"batch_norm": true` computes s = W·x + b, then ŝ = (s − μ)/√(σ² + ε) per unit,
//! y = γ·ŝ + β, and x(l) = θ(y). In training mode μ and σ² are the batch's mean and biased
//! variance, and the running statistics move toward them (momentum m, unbiased variance); in
//! evaluation mode (predict, evaluate, validation) the running statistics are used. γ starts at
//! 1, β at 0, the running mean at 0 and the running variance at 1. The four tensors are named
//! as PyTorch would in a `layers.{i}.bn` submodule: `layers.{i}.bn.weight` (γ), `.bn.bias` (β),
//! `.bn.running_mean`, `.bn.running_var`; the running statistics are frozen parameters, so no
//! optimizer (nor weight decay) touches them, and model files and checkpoints keep them.
//! The math of the op is in [`crate::autograd`]'s `batch_norm`.

use crate::autograd::{Graph, RunningStats, Var};
use crate::error::{Error, Result};
use crate::nn::{Bias, Mlp};
use crate::params::{ParamId, Parameters};
use crate::tensor::Tensor;
use serde::{Deserialize, Deserializer, Serialize};

/// The batch-norm option of a layer: `true` (PyTorch's defaults) or
/// `{"momentum": 0.1, "eps": 1e-5}` in a description.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct BatchNormSpec {
    /// m in `running ← (1 − m)·running + m·batch`, in [0, 1] (default 0.1).
    pub momentum: f32,
    /// ε added to the variance, > 0 (default 1e-5).
    pub eps: f32,
}

impl Default for BatchNormSpec {
    fn default() -> BatchNormSpec {
        BatchNormSpec {
            momentum: 0.1,
            eps: 1e-5,
        }
    }
}

impl BatchNormSpec {
    /// Checks momentum ∈ [0, 1] and ε > 0; `at` names the layer.
    pub(crate) fn validate(&self, at: &str) -> Result<()> {
        if !(0.0..=1.0).contains(&self.momentum) {
            return Err(Error::network(
                at,
                format!(
                    "batch_norm momentum {}; expected a number in [0, 1]",
                    self.momentum
                ),
            ));
        }
        if !(self.eps > 0.0 && self.eps.is_finite()) {
            return Err(Error::network(
                at,
                format!("batch_norm eps {}; expected a number > 0", self.eps),
            ));
        }
        Ok(())
    }
}

/// `true`/`false` or `{"momentum": m, "eps": e}` (missing fields take PyTorch's defaults).
pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
    d: D,
) -> std::result::Result<Option<BatchNormSpec>, D::Error> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Fields {
        momentum: Option<f32>,
        eps: Option<f32>,
    }
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Repr {
        On(bool),
        Options(Fields),
    }
    let msg = "batch_norm: expected true, false or {\"momentum\": 0.1, \"eps\": 1e-5}";
    Ok(
        match Repr::deserialize(d).map_err(|_| serde::de::Error::custom(msg))? {
            Repr::On(on) => on.then(BatchNormSpec::default),
            Repr::Options(f) => Some(BatchNormSpec {
                momentum: f.momentum.unwrap_or(0.1),
                eps: f.eps.unwrap_or(1e-5),
            }),
        },
    )
}

/// The handles of one layer's batch norm, named `{layer}.bn`.
#[derive(Clone, Debug, PartialEq)]
pub struct BatchNorm {
    /// `layers.{i}.bn`.
    pub name: String,
    /// γ, `(units)`.
    pub weight: ParamId,
    /// β, `(units)`.
    pub bias: ParamId,
    /// The running statistics and how they move.
    pub stats: RunningStats,
}

impl BatchNorm {
    /// The state-dict names and initial values of a batch norm over `units` units, in order:
    /// γ = 1, β = 0, running mean 0, running variance 1.
    pub fn initial(layer: usize, units: usize) -> [(String, Tensor); 4] {
        let n = |s: &str| format!("layers.{layer}.bn.{s}");
        [
            (n("weight"), Tensor::ones([units])),
            (n("bias"), Tensor::zeros([units])),
            (n("running_mean"), Tensor::zeros([units])),
            (n("running_var"), Tensor::ones([units])),
        ]
    }

    /// Records the normalisation of s(l) on `g`: batch statistics in training mode (an error
    /// naming the layer for a batch of one sample, which has no variance — PyTorch's "Expected
    /// more than 1 value per channel when training"), running statistics in evaluation mode.
    pub fn forward(&self, g: &mut Graph, s: Var, layer: usize) -> Result<Var> {
        let n = g.shape(s).dim(0);
        if g.training() && n < 2 {
            return Err(Error::network(
                format!("layer {layer}"),
                format!(
                    "batch norm needs more than one sample per batch when training, got a batch \
                     of {n} (with N samples and batch size B the last batch has N mod B; choose \
                     another batch size)"
                ),
            ));
        }
        let (gamma, beta) = (g.param(self.weight), g.param(self.bias));
        Ok(g.batch_norm(s, gamma, beta, self.stats))
    }
}

/// The equivalent network with every batch norm folded into its layer's linear map, for export
/// and fast inference: per unit j, with r_j = γ_j/√(σ²_R,j + ε),
/// `W'_j = r_j·W_j` and `b'_j = r_j·(b_j − μ_R,j) + β_j`, so the folded net's output equals the
/// original's in evaluation mode (running statistics) up to f32 round-off. Folded layers get a
/// per-unit bias and a weight of their own (a tied weight is copied, transposed as it was used,
/// then scaled); other layers and all names stay as they were. A net without batch norm comes
/// back unchanged.
///
/// ```
/// use backprop::nn::{fold_batch_norm, Init, Mlp, MlpSpec};
/// use backprop::{Parameters, Rng, Tape, Tensor};
/// let spec = MlpSpec::from_json(r#"{"in_features": 2, "layers": [
///     {"units": 3, "activation": "tanh", "batch_norm": true}, {"units": 1}]}"#)?;
/// let mut params = Parameters::new();
/// let net = Mlp::new(spec, &mut params, Init::PyTorch, &mut Rng::seed(1))?;
/// let (folded, fparams) = fold_batch_norm(&net, &params)?;
/// assert!(folded.spec.layers.iter().all(|l| l.batch_norm.is_none()));
/// let x = Tensor::from_vec(vec![0.5, -1.0, 2.0, 0.25], [2, 2])?;
/// let a = net.predict(&params, &mut Tape::new(), &x)?; // evaluation mode
/// let b = folded.predict(&fparams, &mut Tape::new(), &x)?;
/// assert!(a.max_abs_diff(&b) < 1e-5);
/// # Ok::<(), backprop::Error>(())
/// ```
pub fn fold_batch_norm(net: &Mlp, params: &Parameters) -> Result<(Mlp, Parameters)> {
    let mut spec = net.spec.clone();
    let mut out = Parameters::new();
    for (i, (lin, bn)) in net.layers.iter().zip(&net.norms).enumerate() {
        let l = &mut spec.layers[i];
        // a layer tied to a folded one keeps the unscaled weight, now as its own
        let owner_folded = l.tie.is_some_and(|t| net.norms[t.layer - 1].is_some());
        if bn.is_none() && !owner_folded {
            if l.tie.is_none() {
                out.add(format!("layers.{i}.weight"), params[lin.weight].clone());
            }
            if let Some(b) = lin.bias {
                out.add(format!("layers.{i}.bias"), params[b].clone());
            }
            continue;
        }
        let (inp, units) = (lin.in_features, lin.out_features);
        let w = params[lin.weight].data();
        let at = |j: usize, c: usize| {
            if lin.transpose {
                w[c * units + j]
            } else {
                w[j * inp + c]
            }
        };
        let b = lin.bias.map(|b| params[b].data());
        let bias = |j: usize| b.map_or(0.0, |b| if b.len() == units { b[j] } else { b[0] });
        // (r_j, shift_j): W'_j = r_j·W_j, b'_j = r_j·b_j + shift_j
        let affine: Vec<(f64, f64)> = match bn {
            None => vec![(1.0, 0.0); units],
            Some(bn) => {
                let (gamma, beta) = (params[bn.weight].data(), params[bn.bias].data());
                let (mu, var) = (params[bn.stats.mean].data(), params[bn.stats.var].data());
                (0..units)
                    .map(|j| {
                        let r = gamma[j] as f64 / (var[j] as f64 + bn.stats.eps as f64).sqrt();
                        (r, beta[j] as f64 - r * mu[j] as f64)
                    })
                    .collect()
            }
        };
        let mut fw = Vec::with_capacity(units * inp);
        for (j, &(r, _)) in affine.iter().enumerate() {
            fw.extend((0..inp).map(|c| (r * at(j, c) as f64) as f32));
        }
        out.add(
            format!("layers.{i}.weight"),
            Tensor::from_vec(fw, [units, inp])?,
        );
        if bn.is_some() || lin.bias.is_some() {
            let fb = affine.iter().enumerate();
            let fb = fb.map(|(j, &(r, t))| (r * bias(j) as f64 + t) as f32);
            let fb: Vec<f32> = fb.collect();
            let shared = bn.is_none() && l.bias == Bias::Shared;
            let fb = if shared { vec![fb[0]] } else { fb };
            let n = fb.len();
            out.add(format!("layers.{i}.bias"), Tensor::from_vec(fb, [n])?);
        }
        l.tie = None;
        if bn.is_some() {
            l.bias = Bias::PerUnit;
            l.batch_norm = None;
        }
    }
    let folded = Mlp::from_params(spec, &out)?;
    Ok((folded, out))
}

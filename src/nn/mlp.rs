//! A multi-layer perceptron built from a network description ([`MlpSpec`]): layers may take
//! input from any earlier layer, share one bias, reuse (tie) an earlier layer's weight, start
//! from explicit weights, and keep some parameters frozen.
//!
//! In the seeds' notation x(0) is the input and x(l) = θ(s(l)) the output of layer l, with
//! s(l) = W(l)·[inputs] + b(l). By default layer l reads x(l−1); a layer may instead read any
//! earlier outputs, concatenated along the features — Rumelhart's "connections can skip
//! intermediate layers". The gradient of an output (or a weight) used twice is the sum of both
//! uses. A layer with `batch_norm` normalises s(l) before θ ([`crate::nn::BatchNorm`]): batch
//! statistics on a training graph, running statistics on an evaluation graph.

use crate::autograd::RunningStats;
use crate::autograd::{Graph, Tape, Var};
use crate::error::{Error, Result};
use crate::loss::Loss;
use crate::nn::{Activation, BatchNorm, Bias, Init, Linear, MlpSpec, Module};
use crate::params::{ParamId, Parameters};
use crate::rng::Rng;
use crate::tensor::{Shape, Tensor};

/// A multi-layer perceptron built from an [`MlpSpec`].
///
/// ```
/// use backprop::{nn::{Activation, Init, Mlp, MlpSpec}, Parameters, Rng, Tape, Tensor};
/// // 2 → 3 (tanh) → 1 (sigmoid), where the output also sees the input directly (a skip)
/// let spec = MlpSpec::new(2).layer(3, Activation::Tanh).layer_from(&[1, 0], 1, Activation::Sigmoid);
/// let mut params = Parameters::new();
/// let mlp = Mlp::new(spec, &mut params, Init::XavierUniform, &mut Rng::seed(1)).unwrap();
/// assert_eq!(params[mlp.layers[1].weight].dims(), &[1, 5]);
/// let y = mlp.predict(&params, &mut Tape::new(), &Tensor::zeros([4, 2])).unwrap();
/// assert_eq!(y.dims(), &[4, 1]);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Mlp {
    /// The architecture.
    pub spec: MlpSpec,
    /// One dense layer per spec layer, named `layers.{i}`.
    pub layers: Vec<Linear>,
    /// Each layer's batch norm (`layers.{i}.bn`), if it has one.
    pub norms: Vec<Option<BatchNorm>>,
}

/// The pre-activation s(l) and output x(l) of one layer, as recorded on a graph.
#[derive(Clone, Copy, Debug)]
pub struct LayerVars {
    /// s(l), the layer's input signal (after batch norm, if the layer has it: what θ reads).
    pub s: Var,
    /// x(l) = θ(s(l)), after dropout when training.
    pub x: Var,
}

impl Mlp {
    /// Adds the layers' parameters to `params`: explicit `init` values from the description
    /// where given, otherwise drawn by `init` from `rng` (weight, then bias, layer by layer).
    pub fn new(spec: MlpSpec, params: &mut Parameters, init: Init, rng: &mut Rng) -> Result<Mlp> {
        spec.validate()?;
        for (i, l) in spec.layers.iter().enumerate() {
            let (inp, out) = (spec.layer_in_features(i), l.out_features);
            let given = l.init.as_ref();
            if l.tie.is_none() {
                let w = match given.and_then(|g| g.weight.as_ref()) {
                    Some(rows) => Tensor::from_vec(rows.concat(), [out, inp])?,
                    None => init.tensor([out, inp], rng),
                };
                params.add(format!("layers.{i}.weight"), w);
            }
            if let Some(n) = spec.bias_shape(i) {
                let b = match given.and_then(|g| g.bias.as_ref()) {
                    Some(v) => Tensor::from_slice(v, [n])?,
                    None => init.bias(inp, n, rng),
                };
                params.add(format!("layers.{i}.bias"), b);
            }
            if l.batch_norm.is_some() {
                for (name, t) in BatchNorm::initial(i, out) {
                    params.add(name, t);
                }
            }
        }
        Mlp::from_params(spec, params)
    }

    /// Rebuilds the layer handles for a spec whose parameters are already in `params` (loading).
    pub fn from_params(spec: MlpSpec, params: &Parameters) -> Result<Mlp> {
        spec.validate()?;
        let find = |key: String, shape: Shape| -> Result<ParamId> {
            let id = params.find(&key).ok_or_else(|| {
                Error::invalid("parameters", key.clone(), "a tensor for every layer")
            })?;
            if *params[id].shape() != shape {
                return Err(Error::ShapeMismatch {
                    op: "load parameters",
                    lhs: shape,
                    rhs: *params[id].shape(),
                });
            }
            Ok(id)
        };
        let mut layers: Vec<Linear> = vec![];
        let mut norms = vec![];
        for (i, l) in spec.layers.iter().enumerate() {
            let (inp, out) = (spec.layer_in_features(i), l.out_features);
            let (weight, transpose) = match l.tie {
                Some(t) => (layers[t.layer - 1].weight, t.transpose),
                None => (
                    find(format!("layers.{i}.weight"), Shape::from([out, inp]))?,
                    false,
                ),
            };
            let bias = spec
                .bias_shape(i)
                .map(|n| find(format!("layers.{i}.bias"), Shape::from([n])))
                .transpose()?;
            layers.push(Linear {
                name: format!("layers.{i}"),
                weight,
                bias,
                transpose,
                in_features: inp,
                out_features: out,
            });
            norms.push(match l.batch_norm {
                None => None,
                Some(bn) => {
                    let p = |s: &str| find(format!("layers.{i}.bn.{s}"), Shape::from([out]));
                    Some(BatchNorm {
                        name: format!("layers.{i}.bn"),
                        weight: p("weight")?,
                        bias: p("bias")?,
                        stats: RunningStats {
                            mean: p("running_mean")?,
                            var: p("running_var")?,
                            momentum: bn.momentum,
                            eps: bn.eps,
                        },
                    })
                }
            });
        }
        Ok(Mlp {
            spec,
            layers,
            norms,
        })
    }

    /// Records the forward pass and returns s(l), x(l) of every layer (for `explain`).
    pub fn forward_layers(&self, g: &mut Graph, x: Var) -> Result<Vec<LayerVars>> {
        let shape = g.shape(x);
        if shape.rank() != 2 || shape.dim(1) != self.spec.in_features {
            return Err(Error::LayerInput {
                layer: "input".into(),
                expected: Shape::from([
                    if shape.rank() > 0 { shape.dim(0) } else { 1 },
                    self.spec.in_features,
                ]),
                got: shape,
            });
        }
        let mut outs: Vec<LayerVars> = Vec::with_capacity(self.layers.len());
        for (i, (lin, spec)) in self.layers.iter().zip(&self.spec.layers).enumerate() {
            let src = |k: usize| if k == 0 { x } else { outs[k - 1].x };
            let input = match spec.inputs.as_slice() {
                [] => src(i),
                [k] => src(*k),
                ks => {
                    let vs: Vec<Var> = ks.iter().map(|&k| src(k)).collect();
                    g.concat(&vs)
                }
            };
            let (s, a) = match (&self.norms[i], spec.activation.unary()) {
                // one pass over the output: bias, product and activation (the same graph)
                (None, Some(u)) => lin.forward_unary(g, input, u)?,
                (norm, _) => {
                    let s = lin.forward(g, input)?;
                    let s = match norm {
                        Some(bn) => bn.forward(g, s, i + 1)?,
                        None => s,
                    };
                    (s, spec.activation.apply(g, s))
                }
            };
            let a = if spec.dropout > 0.0 {
                g.dropout(a, spec.dropout)
            } else {
                a
            };
            outs.push(LayerVars { s, x: a });
        }
        Ok(outs)
    }

    /// Inference: the network's output for a batch `x` `(n, in_features)`, recording nothing.
    pub fn predict(&self, params: &Parameters, tape: &mut Tape, x: &Tensor) -> Result<Tensor> {
        let mut g = Graph::no_grad(tape, params);
        let xv = g.input(x);
        let y = self.forward(&mut g, xv)?;
        Ok(g.value(y).clone())
    }

    /// Whether `loss` reads the last layer's s(L) rather than x(L): cross-entropy after a softmax
    /// output and BCE after a sigmoid output take the logits (so softmax is not applied twice,
    /// and the loss stays numerically stable), while predictions still come out as
    /// probabilities.
    pub fn loss_reads_logits(&self, loss: Loss) -> bool {
        matches!(
            (self.spec.output_activation(), loss),
            (Activation::Softmax, Loss::CrossEntropy) | (Activation::Sigmoid, Loss::BceWithLogits)
        )
    }
}

impl Module for Mlp {
    fn forward(&self, g: &mut Graph, x: Var) -> Result<Var> {
        Ok(self
            .forward_layers(g, x)?
            .last()
            .expect("validated: at least one layer")
            .x)
    }

    fn forward_for_loss(&self, g: &mut Graph, x: Var, loss: Loss) -> Result<(Var, Var)> {
        let last = *self
            .forward_layers(g, x)?
            .last()
            .expect("validated: at least one layer");
        Ok((
            last.x,
            if self.loss_reads_logits(loss) {
                last.s
            } else {
                last.x
            },
        ))
    }

    fn parameters(&self) -> Vec<ParamId> {
        let mut ids: Vec<ParamId> = vec![];
        for ((l, spec), bn) in self.layers.iter().zip(&self.spec.layers).zip(&self.norms) {
            if spec.tie.is_none() {
                ids.push(l.weight);
            }
            ids.extend(l.bias);
            if let Some(bn) = bn {
                ids.extend([bn.weight, bn.bias, bn.stats.mean, bn.stats.var]);
            }
        }
        ids
    }

    fn frozen(&self) -> Vec<ParamId> {
        let mut ids = vec![];
        for (l, spec) in self.layers.iter().zip(&self.spec.layers) {
            if !spec.trainable.weight && spec.tie.is_none() {
                ids.push(l.weight);
            }
            if !spec.trainable.bias && spec.bias != Bias::None {
                ids.extend(l.bias);
            }
        }
        // running statistics are not trained: only batch-norm forwards move them
        let stats = self.norms.iter().flatten().map(|bn| bn.stats);
        ids.extend(stats.flat_map(|s| [s.mean, s.var]));
        ids
    }

    fn is_stochastic(&self) -> bool {
        self.spec.layers.iter().any(|l| l.dropout > 0.0)
    }

    fn check_trainable(&self) -> Result<()> {
        match self
            .spec
            .layers
            .iter()
            .position(|l| l.activation == Activation::Step)
        {
            Some(i) => Err(Error::network(
                format!("layer {}", i + 1),
                "step (threshold) units pass no gradient, so backprop cannot train this network; \
                 give its weights by hand (`init`) and run it without training, or use the \
                 perceptron rule (backprop::classic)",
            )),
            None => Ok(()),
        }
    }
}

//! A multi-layer perceptron whose layers may take input from any earlier layer.
//!
//! In the seeds' notation x(0) is the input and x(l) = θ(s(l)) the output of layer l, with
//! s(l) = W(l)·[inputs] + b(l). By default layer l reads x(l−1); a layer may instead read any
//! earlier outputs, concatenated along the features — Rumelhart's "connections can skip
//! intermediate layers". The gradient of an output used twice is the sum of both uses.

use crate::autograd::{Graph, Tape, Var};
use crate::error::{Error, Result};
use crate::nn::{Activation, Init, Linear, Module};
use crate::params::{ParamId, Parameters};
use crate::rng::Rng;
use crate::tensor::{Shape, Tensor};
use serde::{Deserialize, Serialize};

/// One layer of an [`MlpSpec`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LayerSpec {
    /// Number of units.
    pub out_features: usize,
    /// θ of this layer.
    pub activation: Activation,
    /// The outputs this layer reads, concatenated in order: 0 is the network input x(0), k is
    /// the output x(k) of layer k (1-based). Empty means the previous layer.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inputs: Vec<usize>,
    /// Whether the layer has a bias.
    #[serde(default = "yes")]
    pub bias: bool,
    /// Dropout probability applied to this layer's output during training.
    #[serde(default)]
    pub dropout: f32,
}

fn yes() -> bool {
    true
}

/// The architecture of an [`Mlp`]: what a model file stores.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MlpSpec {
    /// Width of the input x(0).
    pub in_features: usize,
    /// The layers, first to last.
    pub layers: Vec<LayerSpec>,
}

impl MlpSpec {
    /// An architecture with no layers yet.
    pub fn new(in_features: usize) -> MlpSpec {
        MlpSpec {
            in_features,
            layers: vec![],
        }
    }

    /// Layer sizes `[in, h1, …, out]`, `hidden` after every hidden layer, `output` at the end.
    pub fn from_sizes(sizes: &[usize], hidden: Activation, output: Activation) -> MlpSpec {
        let mut spec = MlpSpec::new(sizes[0]);
        for (i, &n) in sizes[1..].iter().enumerate() {
            spec = spec.layer(n, if i + 2 == sizes.len() { output } else { hidden });
        }
        spec
    }

    /// Appends a layer reading the previous one.
    pub fn layer(mut self, out_features: usize, activation: Activation) -> MlpSpec {
        self.layers.push(LayerSpec {
            out_features,
            activation,
            inputs: vec![],
            bias: true,
            dropout: 0.0,
        });
        self
    }

    /// Appends a layer reading the concatenation of outputs `inputs` (0 = network input).
    pub fn layer_from(
        mut self,
        inputs: &[usize],
        out_features: usize,
        activation: Activation,
    ) -> MlpSpec {
        self.layers.push(LayerSpec {
            out_features,
            activation,
            inputs: inputs.to_vec(),
            bias: true,
            dropout: 0.0,
        });
        self
    }

    /// Sets dropout on the output of the last added layer.
    pub fn dropout(mut self, p: f32) -> MlpSpec {
        if let Some(l) = self.layers.last_mut() {
            l.dropout = p;
        }
        self
    }

    /// The width of the network's output.
    pub fn out_features(&self) -> usize {
        self.layers
            .last()
            .map_or(self.in_features, |l| l.out_features)
    }

    /// The width of output `k` (0 = input).
    fn width(&self, k: usize) -> usize {
        if k == 0 {
            self.in_features
        } else {
            self.layers[k - 1].out_features
        }
    }

    /// The input width of layer `i` (0-based).
    pub fn layer_in_features(&self, i: usize) -> usize {
        let l = &self.layers[i];
        if l.inputs.is_empty() {
            self.width(i)
        } else {
            l.inputs.iter().map(|&k| self.width(k)).sum()
        }
    }

    /// The state-dict names and shapes of the parameters this architecture has, in order, without
    /// allocating them (so a loader can check a file against them first).
    pub fn param_shapes(&self) -> Vec<(String, Vec<usize>)> {
        let mut out = vec![];
        for (i, l) in self.layers.iter().enumerate() {
            out.push((
                format!("layers.{i}.weight"),
                vec![l.out_features, self.layer_in_features(i)],
            ));
            if l.bias {
                out.push((format!("layers.{i}.bias"), vec![l.out_features]));
            }
        }
        out
    }

    /// Checks sizes, sources (only earlier outputs) and dropout probabilities.
    pub fn validate(&self) -> Result<()> {
        if self.in_features == 0 || self.layers.is_empty() {
            return Err(Error::invalid(
                "architecture",
                format!("{} inputs, {} layers", self.in_features, self.layers.len()),
                "at least one input and one layer",
            ));
        }
        for (i, l) in self.layers.iter().enumerate() {
            if l.out_features == 0 {
                return Err(Error::invalid(
                    "layer size",
                    format!("layers.{i}: 0"),
                    "at least one unit",
                ));
            }
            if let Some(&k) = l.inputs.iter().find(|&&k| k > i) {
                return Err(Error::invalid(
                    "layer input",
                    format!("layers.{i} reads output {k}"),
                    "an earlier output (0 = input, k ≤ layer index)",
                ));
            }
            if !(0.0..1.0).contains(&l.dropout) {
                return Err(Error::invalid(
                    "dropout",
                    format!("layers.{i}: {}", l.dropout),
                    "a probability in [0, 1)",
                ));
            }
        }
        Ok(())
    }
}

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
}

/// The pre-activation s(l) and output x(l) of one layer, as recorded on a graph.
#[derive(Clone, Copy, Debug)]
pub struct LayerVars {
    /// s(l), the layer's input signal.
    pub s: Var,
    /// x(l) = θ(s(l)), after dropout when training.
    pub x: Var,
}

impl Mlp {
    /// Adds the layers' parameters to `params`, weights drawn by `init` from `rng`.
    pub fn new(spec: MlpSpec, params: &mut Parameters, init: Init, rng: &mut Rng) -> Result<Mlp> {
        spec.validate()?;
        let layers = (0..spec.layers.len())
            .map(|i| {
                let l = &spec.layers[i];
                Linear::new(
                    params,
                    &format!("layers.{i}"),
                    spec.layer_in_features(i),
                    l.out_features,
                    l.bias,
                    init,
                    rng,
                )
            })
            .collect();
        Ok(Mlp { spec, layers })
    }

    /// Rebuilds the layer handles for a spec whose parameters are already in `params` (loading).
    pub fn from_params(spec: MlpSpec, params: &Parameters) -> Result<Mlp> {
        spec.validate()?;
        let mut layers = vec![];
        for (i, l) in spec.layers.iter().enumerate() {
            let name = format!("layers.{i}");
            let (inf, outf) = (spec.layer_in_features(i), l.out_features);
            let find = |suffix: &str, shape: Shape| -> Result<ParamId> {
                let key = format!("{name}.{suffix}");
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
            let weight = find("weight", Shape::from([outf, inf]))?;
            let bias = if l.bias {
                Some(find("bias", Shape::from([outf]))?)
            } else {
                None
            };
            layers.push(Linear {
                name,
                weight,
                bias,
                in_features: inf,
                out_features: outf,
            });
        }
        Ok(Mlp { spec, layers })
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
            let s = lin.forward(g, input)?;
            let a = spec.activation.apply(g, s);
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
}

impl Module for Mlp {
    fn forward(&self, g: &mut Graph, x: Var) -> Result<Var> {
        Ok(self
            .forward_layers(g, x)?
            .last()
            .expect("validated: at least one layer")
            .x)
    }

    fn parameters(&self) -> Vec<ParamId> {
        self.layers.iter().flat_map(|l| l.parameters()).collect()
    }
}

//! The network description: one serialisable type that says everything about a feed-forward
//! network's shape — what `backprop train --arch net.json` reads, what a model file stores as its
//! `architecture`, and what [`Mlp`](crate::nn::Mlp), the trainer, `explain` and `summary` are
//! built from.
//!
//! In the seeds' notation layer l (1-based) computes s(l) = W(l)·\[inputs\] + b(l) and
//! x(l) = θ(s(l)); x(0) is the network input. Per layer the description gives:
//!
//! | field | meaning | default |
//! |---|---|---|
//! | `out_features` (or `units`) | d(l), the number of units | required |
//! | `activation` | θ: `identity`, `sigmoid`, `tanh`, `relu`, `leaky_relu:A`, `softmax`, `step` | `identity` |
//! | `inputs` | the outputs the layer reads, concatenated: 0 = x(0), k = x(k) (skip connections) | `[l − 1]` |
//! | `bias` | `per_unit` (one per unit, PyTorch's), `shared` (one for the whole layer), `none` | `per_unit` |
//! | `dropout` | probability of zeroing each output while training | 0 |
//! | `trainable` | `{"weight": bool, "bias": bool}` (or one bool): false = never updated | true |
//! | `tie` | `{"layer": k, "transpose": true}`: reuse W(k) (or W(k)ᵀ) instead of an own weight | none |
//! | `init` | `{"weight": [[…]], "bias": […]}`: explicit initial values, W as `(out, in)` rows | drawn |
//! | `batch_norm` | `true` or `{"momentum": 0.1, "eps": 1e-5}`: PyTorch's `BatchNorm1d` on s(l), before θ ([`crate::nn::fold_batch_norm`]) | off |
//!
//! A tied layer has no weight of its own: its forward reads W(k) and the gradients of both uses
//! add (Rumelhart's shared weights; an autoencoder's W and Wᵀ, seed 003 slide 104).
//!
//! ```
//! use backprop::nn::{Bias, MlpSpec};
//! let spec = MlpSpec::from_json(r#"{
//!   "in_features": 8,
//!   "layers": [
//!     {"units": 3, "activation": "sigmoid"},
//!     {"units": 8, "activation": "sigmoid", "tie": {"layer": 1, "transpose": true},
//!      "bias": "shared", "trainable": {"bias": false}}
//!   ]
//! }"#)?;
//! assert_eq!(spec.layers[1].bias, Bias::Shared);
//! // the tied layer owns only its shared bias
//! let names: Vec<String> = spec.param_shapes().into_iter().map(|(n, _)| n).collect();
//! assert_eq!(names, ["layers.0.weight", "layers.0.bias", "layers.1.bias"]);
//! # Ok::<(), backprop::Error>(())
//! ```

use crate::error::{Error, Result};
use crate::nn::{Activation, BatchNormSpec};
use serde::{Deserialize, Deserializer, Serialize};

/// How a layer's units get their bias.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Bias {
    /// One bias per unit, `(out_features)` — PyTorch's `nn.Linear(bias=True)`.
    #[default]
    PerUnit,
    /// One bias for the whole layer, shape `(1)`, added to every unit.
    Shared,
    /// No bias.
    None,
}

impl<'de> Deserialize<'de> for Bias {
    /// `"per_unit" | "shared" | "none"`, or a bool as version-1 files wrote it.
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Bias, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Repr {
            Bool(bool),
            Name(String),
        }
        match Repr::deserialize(d)? {
            Repr::Bool(true) => Ok(Bias::PerUnit),
            Repr::Bool(false) => Ok(Bias::None),
            Repr::Name(s) => match s.as_str() {
                "per_unit" | "per-unit" | "true" => Ok(Bias::PerUnit),
                "shared" => Ok(Bias::Shared),
                "none" | "false" => Ok(Bias::None),
                _ => Err(serde::de::Error::custom(format!(
                    "bias {s:?}: expected per_unit, shared or none"
                ))),
            },
        }
    }
}

/// Which of a layer's parameters the trainer may change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Trainable {
    /// Whether W(l) is updated.
    pub weight: bool,
    /// Whether b(l) is updated.
    pub bias: bool,
}

impl Default for Trainable {
    fn default() -> Trainable {
        Trainable {
            weight: true,
            bias: true,
        }
    }
}

impl Trainable {
    fn is_default(&self) -> bool {
        *self == Trainable::default()
    }
}

impl<'de> Deserialize<'de> for Trainable {
    /// `{"weight": bool, "bias": bool}` (missing = true), or one bool for both.
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Trainable, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Fields {
            #[serde(default = "yes")]
            weight: bool,
            #[serde(default = "yes")]
            bias: bool,
        }
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Repr {
            Both(bool),
            Each(Fields),
        }
        Ok(match Repr::deserialize(d)? {
            Repr::Both(b) => Trainable { weight: b, bias: b },
            Repr::Each(f) => Trainable {
                weight: f.weight,
                bias: f.bias,
            },
        })
    }
}

fn yes() -> bool {
    true
}

/// A layer that reuses an earlier layer's weight matrix instead of having its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tie {
    /// The layer whose weight is reused, 1-based (layer k owns W(k)).
    pub layer: usize,
    /// Use W(k)ᵀ (an autoencoder's decoder) rather than W(k) itself.
    #[serde(default)]
    pub transpose: bool,
}

/// Explicit initial values for a layer's parameters.
#[derive(Clone, Debug, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LayerInit {
    /// W(l) as `out_features` rows of `in_features` values (PyTorch's `(out, in)` layout).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<Vec<Vec<f32>>>,
    /// b(l): `out_features` values, or one for a shared bias.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bias: Option<Vec<f32>>,
}

/// One layer of an [`MlpSpec`]: its width and activation, and the options below (each field's
/// doc says its meaning and default).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LayerSpec {
    /// Number of units d(l).
    #[serde(alias = "units")]
    pub out_features: usize,
    /// θ of this layer.
    #[serde(default, deserialize_with = "activation")]
    pub activation: Activation,
    /// The outputs this layer reads, concatenated in order: 0 is the network input x(0), k is
    /// the output x(k) of layer k (1-based). Empty means the previous layer.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inputs: Vec<usize>,
    /// Per-unit, shared or no bias.
    #[serde(default)]
    pub bias: Bias,
    /// Dropout probability applied to this layer's output during training.
    #[serde(default)]
    pub dropout: f32,
    /// Which parameters training may change.
    #[serde(default, skip_serializing_if = "Trainable::is_default")]
    pub trainable: Trainable,
    /// Reuse an earlier layer's weight.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tie: Option<Tie>,
    /// Explicit initial values (otherwise drawn by the initialiser).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init: Option<LayerInit>,
    /// Batch normalisation of s(l) before θ (see [`crate::nn::BatchNorm`]).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::nn::batch_norm::deserialize"
    )]
    pub batch_norm: Option<BatchNormSpec>,
}

/// An activation as a name (`"leaky_relu:0.1"`) or in the enum's own form.
fn activation<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Activation, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Repr {
        Name(String),
        Enum(Activation),
    }
    match Repr::deserialize(d)? {
        Repr::Name(s) => s.parse().map_err(serde::de::Error::custom),
        Repr::Enum(a) => Ok(a),
    }
}

impl LayerSpec {
    /// A layer of `out_features` units with θ = `activation`, reading the previous layer.
    pub fn new(out_features: usize, activation: Activation) -> LayerSpec {
        LayerSpec {
            out_features,
            activation,
            inputs: vec![],
            bias: Bias::PerUnit,
            dropout: 0.0,
            trainable: Trainable::default(),
            tie: None,
            init: None,
            batch_norm: None,
        }
    }
}

/// The architecture of a feed-forward network: input width and layers, first to last.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MlpSpec {
    /// Width of the input x(0).
    pub in_features: usize,
    /// The layers, first to last.
    pub layers: Vec<LayerSpec>,
}

/// The most scalar parameters a description may ask for (2³² ≈ 17 GB of f32; on 32-bit targets
/// such as WebAssembly, as many as `usize` counts).
pub(super) const MAX_PARAMS: usize = match usize::BITS {
    32 => usize::MAX,
    _ => (1u64 << 32) as usize,
};

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
        let mut spec = MlpSpec::new(sizes.first().copied().unwrap_or(0));
        for (i, &n) in sizes.iter().skip(1).enumerate() {
            spec = spec.layer(n, if i + 2 == sizes.len() { output } else { hidden });
        }
        spec
    }

    /// Parses a description from JSON and validates it; errors name the layer and what was
    /// expected. Keys that start with `_` (e.g. `"_comment"`) are ignored.
    pub fn from_json(text: &str) -> Result<MlpSpec> {
        let mut v: serde_json::Value = serde_json::from_str(text)
            .map_err(|e| Error::network("network", format!("not JSON: {e}")))?;
        strip_comments(&mut v);
        // each layer on its own first, so an error names the layer it is in
        if let Some(layers) = v.get("layers").and_then(|l| l.as_array()) {
            for (i, l) in layers.iter().enumerate() {
                serde_json::from_value::<LayerSpec>(l.clone())
                    .map_err(|e| Error::network(format!("layer {}", i + 1), e))?;
            }
        }
        let spec: MlpSpec = serde_json::from_value(v).map_err(|e| {
            Error::network(
                "network",
                format!("{e} (expected {{\"in_features\": N, \"layers\": [{{\"units\": N, \"activation\": NAME, …}}]}})"),
            )
        })?;
        spec.validate()?;
        Ok(spec)
    }

    /// The description as pretty-printed JSON (what [`MlpSpec::from_json`] reads).
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("internal error: serialising a description")
    }

    /// Appends a layer reading the previous one.
    pub fn layer(mut self, out_features: usize, activation: Activation) -> MlpSpec {
        self.layers.push(LayerSpec::new(out_features, activation));
        self
    }

    /// Appends a layer reading the concatenation of outputs `inputs` (0 = network input).
    pub fn layer_from(
        mut self,
        inputs: &[usize],
        out_features: usize,
        activation: Activation,
    ) -> MlpSpec {
        let mut l = LayerSpec::new(out_features, activation);
        l.inputs = inputs.to_vec();
        self.layers.push(l);
        self
    }

    fn last(&mut self) -> &mut LayerSpec {
        self.layers
            .last_mut()
            .expect("add a layer before setting its options")
    }

    /// Sets dropout on the output of the last added layer.
    pub fn dropout(mut self, p: f32) -> MlpSpec {
        self.last().dropout = p;
        self
    }

    /// Sets the bias kind of the last added layer.
    pub fn bias(mut self, bias: Bias) -> MlpSpec {
        self.last().bias = bias;
        self
    }

    /// Sets which parameters of the last added layer are trainable.
    pub fn trainable(mut self, weight: bool, bias: bool) -> MlpSpec {
        self.last().trainable = Trainable { weight, bias };
        self
    }

    /// Batch-normalises the last added layer's s(l) before its activation.
    pub fn batch_norm(mut self, bn: BatchNormSpec) -> MlpSpec {
        self.last().batch_norm = Some(bn);
        self
    }

    /// Makes the last added layer reuse W(`layer`) (1-based), transposed if `transpose`.
    pub fn tie(mut self, layer: usize, transpose: bool) -> MlpSpec {
        self.last().tie = Some(Tie { layer, transpose });
        self
    }

    /// Gives the last added layer explicit initial values: `weight` as `(out, in)` rows, and
    /// `bias` (if any).
    pub fn init(mut self, weight: Vec<Vec<f32>>, bias: Option<Vec<f32>>) -> MlpSpec {
        self.last().init = Some(LayerInit {
            weight: Some(weight),
            bias,
        });
        self
    }

    /// The width of the network's output.
    pub fn out_features(&self) -> usize {
        self.layers
            .last()
            .map_or(self.in_features, |l| l.out_features)
    }

    /// θ of the last layer.
    pub fn output_activation(&self) -> Activation {
        self.layers
            .last()
            .map_or(Activation::Identity, |l| l.activation)
    }

    /// Whether any layer has binary threshold (step) units, which pass no gradient.
    pub fn has_step_units(&self) -> bool {
        self.layers.iter().any(|l| l.activation == Activation::Step)
    }

    /// Whether any layer has batch normalisation.
    pub fn has_batch_norm(&self) -> bool {
        self.layers.iter().any(|l| l.batch_norm.is_some())
    }

    /// The same description without explicit initial values (a model file keeps the trained
    /// weights as tensors, not as their starting point).
    pub fn without_init(&self) -> MlpSpec {
        let mut s = self.clone();
        s.layers.iter_mut().for_each(|l| l.init = None);
        s
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

    /// The shape of the bias of layer `i` (0-based), if it has one.
    pub fn bias_shape(&self, i: usize) -> Option<usize> {
        match self.layers[i].bias {
            Bias::PerUnit => Some(self.layers[i].out_features),
            Bias::Shared => Some(1),
            Bias::None => None,
        }
    }

    /// The state-dict names and shapes of the parameters this architecture has, in order,
    /// without allocating them (so a loader can check a file against them first). A tied layer
    /// has no weight of its own.
    pub fn param_shapes(&self) -> Vec<(String, Vec<usize>)> {
        let mut out = vec![];
        for (i, l) in self.layers.iter().enumerate() {
            if l.tie.is_none() {
                out.push((
                    format!("layers.{i}.weight"),
                    vec![l.out_features, self.layer_in_features(i)],
                ));
            }
            if let Some(n) = self.bias_shape(i) {
                out.push((format!("layers.{i}.bias"), vec![n]));
            }
            if l.batch_norm.is_some() {
                for (name, t) in crate::nn::BatchNorm::initial(i, l.out_features) {
                    out.push((name, t.dims().to_vec()));
                }
            }
        }
        out
    }

    /// The state-dict names of the parameters training must leave alone (`trainable` false).
    pub fn frozen_names(&self) -> Vec<String> {
        let mut out = vec![];
        for (i, l) in self.layers.iter().enumerate() {
            if !l.trainable.weight && l.tie.is_none() {
                out.push(format!("layers.{i}.weight"));
            }
            if !l.trainable.bias && l.bias != Bias::None {
                out.push(format!("layers.{i}.bias"));
            }
            if l.batch_norm.is_some() {
                out.push(format!("layers.{i}.bn.running_mean"));
                out.push(format!("layers.{i}.bn.running_var"));
            }
        }
        out
    }
}

/// Removes every object key that starts with `_` (comments in description files), at any depth.
pub(crate) fn strip_comments(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(m) => {
            m.retain(|k, _| !k.starts_with('_'));
            m.values_mut().for_each(strip_comments);
        }
        serde_json::Value::Array(a) => a.iter_mut().for_each(strip_comments),
        _ => {}
    }
}

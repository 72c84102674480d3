//! The ONNX graph builder behind [`super::onnx::export`]: nodes and initializers for each step
//! of a model's inference path (missing values, categories, scaling, every layer, the output).

use crate::data::{Column, ColumnPlan, Scaler};
use crate::error::{Error, Result};
use crate::loss::Loss;
use crate::nn::{Activation, Bias, LayerSpec, MlpSpec, Tie};
use crate::params::Parameters;
use onnx_protobuf::{
    attribute_proto::AttributeType, tensor_proto::DataType, AttributeProto, NodeProto, TensorProto,
};

/// Accumulates nodes and initializers, naming intermediate values `t0`, `t1`, ….
#[derive(Default)]
pub(super) struct Builder {
    pub(super) nodes: Vec<NodeProto>,
    pub(super) inits: Vec<TensorProto>,
    next: usize,
}

impl Builder {
    pub(super) fn fresh(&mut self, hint: &str) -> String {
        self.next += 1;
        format!("{hint}_{}", self.next)
    }

    /// Adds `op(inputs) -> output`.
    pub(super) fn node_to(
        &mut self,
        op: &str,
        inputs: &[&str],
        output: &str,
        attribute: Vec<AttributeProto>,
    ) {
        self.nodes.push(NodeProto {
            name: format!("{op}_{}", self.nodes.len()),
            op_type: op.into(),
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: vec![output.into()],
            attribute,
            ..Default::default()
        });
    }

    /// Adds `op(inputs)` and returns the name of its output.
    pub(super) fn node(
        &mut self,
        op: &str,
        inputs: &[&str],
        attribute: Vec<AttributeProto>,
    ) -> String {
        let out = self.fresh(&op.to_ascii_lowercase());
        self.node_to(op, inputs, &out, attribute);
        out
    }

    /// A float initializer of shape `dims` named `name` (a fresh name if `None`).
    pub(super) fn floats(&mut self, name: Option<&str>, dims: &[usize], data: Vec<f32>) -> String {
        let name = name.map_or_else(|| self.fresh("const"), str::to_string);
        self.inits.push(TensorProto {
            name: name.clone(),
            dims: dims.iter().map(|&d| d as i64).collect(),
            data_type: DataType::FLOAT as i32,
            float_data: data,
            ..Default::default()
        });
        name
    }

    pub(super) fn ints(&mut self, data: Vec<i64>) -> String {
        let name = self.fresh("const");
        self.inits.push(TensorProto {
            name: name.clone(),
            dims: vec![data.len() as i64],
            data_type: DataType::INT64 as i32,
            int64_data: data,
            ..Default::default()
        });
        name
    }

    /// Columns `[a, b)` of `x`.
    pub(super) fn columns(&mut self, x: &str, a: usize, b: usize) -> String {
        let (starts, ends, axes) = (
            self.ints(vec![a as i64]),
            self.ints(vec![b as i64]),
            self.ints(vec![1]),
        );
        self.node("Slice", &[x, &starts, &ends, &axes], vec![])
    }

    /// The raw input columns → the network's features: fill values and one-hot categories.
    pub(super) fn encode(&mut self, plan: &ColumnPlan, x: &str) -> Result<String> {
        let inputs: Vec<&Column> = plan.columns.iter().filter(|c| c.is_feature()).collect();
        let plain = inputs
            .iter()
            .all(|c| c.is_number() && c.number_fill().is_none());
        if plain {
            return Ok(x.to_string());
        }
        let mut pieces: Vec<String> = vec![];
        let mut j = 0;
        while j < inputs.len() {
            match inputs[j] {
                c if c.is_number() => {
                    // a run of numeric (or date) columns: one slice, one fill
                    let start = j;
                    let mut fill = vec![];
                    while let Some(c) = inputs.get(j).filter(|c| c.is_number()) {
                        fill.push(c.number_fill().unwrap_or(f32::NAN));
                        j += 1;
                    }
                    let cols = self.columns(x, start, j);
                    if fill.iter().all(|v| v.is_nan()) {
                        pieces.push(cols);
                    } else {
                        let n = fill.len();
                        let fill = self.floats(None, &[1, n], fill);
                        let nan = self.node("IsNaN", &[&cols], vec![]);
                        pieces.push(self.node("Where", &[&nan, &fill, &cols], vec![]));
                    }
                }
                Column::Categorical {
                    categories, fill, ..
                } => {
                    let mut col = self.columns(x, j, j + 1);
                    let k = categories.len();
                    // a missing value (NaN) becomes the fill level's index; an index that is no
                    // category (an unseen one) matches none: a row of zeros
                    if let Some(i) = fill
                        .as_ref()
                        .and_then(|f| categories.iter().position(|c| c == f))
                    {
                        let fill = self.floats(None, &[1, 1], vec![i as f32]);
                        let nan = self.node("IsNaN", &[&col], vec![]);
                        col = self.node("Where", &[&nan, &fill, &col], vec![]);
                    }
                    let index = self.floats(None, &[1, k], (0..k).map(|i| i as f32).collect());
                    let hot = self.node("Equal", &[&col, &index], vec![]);
                    let to = attr_int("to", DataType::FLOAT as i64);
                    pieces.push(self.node("Cast", &[&hot], vec![to]));
                    j += 1;
                }
                _ => unreachable!("filtered to input columns"),
            }
        }
        let refs: Vec<&str> = pieces.iter().map(String::as_str).collect();
        Ok(match refs.as_slice() {
            [one] => one.to_string(),
            many => self.node("Concat", many, vec![attr_int("axis", 1)]),
        })
    }

    /// The fitted feature scaling.
    pub(super) fn scale(&mut self, scaler: &Scaler, x: &str) -> String {
        let (shift, div) = match scaler {
            Scaler::None => return x.to_string(),
            Scaler::Standard { mean, std } => (mean.clone(), std.clone()),
            Scaler::MinMax { min, max } => {
                let range = min
                    .iter()
                    .zip(max)
                    .map(|(a, b)| if b > a { b - a } else { 1.0 })
                    .collect();
                (min.clone(), range)
            }
        };
        let d = shift.len();
        let shift = self.floats(None, &[1, d], shift);
        let div = self.floats(None, &[1, d], div);
        let centred = self.node("Sub", &[x, &shift], vec![]);
        self.node("Div", &[&centred, &div], vec![])
    }

    /// Every layer of `spec`, reading `x`; returns the last layer's output.
    pub(super) fn layers(
        &mut self,
        spec: &MlpSpec,
        params: &Parameters,
        x: &str,
    ) -> Result<String> {
        let mut outs: Vec<String> = vec![x.to_string()];
        for (i, l) in spec.layers.iter().enumerate() {
            // Every field named: a new layer option is a compile error here until it is exported.
            let LayerSpec {
                out_features,
                activation,
                inputs,
                bias,
                dropout: _,   // the identity at inference
                trainable: _, // training only
                tie,
                init: _, // the starting values; the trained ones are in `params`
                batch_norm,
            } = l;
            let at = format!("layer {}", i + 1);
            if batch_norm.is_some() {
                return Err(Error::network(
                    &at,
                    "batch norm must be folded into the linear layer before export (Model::fold_batch_norm)",
                ));
            }
            let input = match inputs.as_slice() {
                [] => outs[i].clone(),
                [k] => outs[*k].clone(),
                ks => {
                    let names: Vec<&str> = ks.iter().map(|&k| outs[k].as_str()).collect();
                    self.node("Concat", &names, vec![attr_int("axis", 1)])
                }
            };
            let find = |name: String, want: Vec<usize>| -> Result<String> {
                let id = params
                    .find(&name)
                    .ok_or_else(|| Error::network(&at, format!("no parameter {name} to export")))?;
                if params[id].dims() != want.as_slice() {
                    return Err(Error::network(
                        &at,
                        format!(
                            "parameter {name} has shape {:?}, expected {want:?}",
                            params[id].dims()
                        ),
                    ));
                }
                Ok(name)
            };
            let n_in = spec.layer_in_features(i);
            let (w, w_shape, trans_b) = match tie {
                None => (format!("layers.{i}.weight"), vec![*out_features, n_in], 1),
                Some(Tie { layer, transpose }) => {
                    let owner = layer - 1;
                    let shape = vec![
                        spec.layers[owner].out_features,
                        spec.layer_in_features(owner),
                    ];
                    // W(k) is (out_k, in_k); a transposed tie uses it as (in_k, out_k) = (out, in)
                    (
                        format!("layers.{owner}.weight"),
                        shape,
                        i64::from(!transpose),
                    )
                }
            };
            let w = find(w, w_shape)?;
            let b = match bias {
                Bias::PerUnit => Some(find(format!("layers.{i}.bias"), vec![*out_features])?),
                Bias::Shared => Some(find(format!("layers.{i}.bias"), vec![1])?),
                Bias::None => None,
            };
            for name in [Some(&w), b.as_ref()].into_iter().flatten() {
                if !self.inits.iter().any(|t| &t.name == name) {
                    let t = &params[params.find(name).expect("found above")];
                    self.floats(Some(name.as_str()), t.dims(), t.data().to_vec());
                }
            }
            let mut gemm_in = vec![input.as_str(), w.as_str()];
            gemm_in.extend(b.as_deref());
            let s = self.node("Gemm", &gemm_in, vec![attr_int("transB", trans_b)]);
            outs.push(self.activation(*activation, &s));
        }
        Ok(outs.pop().expect("the input at least"))
    }

    /// θ(s) as ONNX ops.
    pub(super) fn activation(&mut self, a: Activation, s: &str) -> String {
        match a {
            Activation::Identity => s.to_string(),
            Activation::Sigmoid => self.node("Sigmoid", &[s], vec![]),
            Activation::Tanh => self.node("Tanh", &[s], vec![]),
            Activation::Relu => self.node("Relu", &[s], vec![]),
            Activation::LeakyRelu(alpha) => {
                self.node("LeakyRelu", &[s], vec![attr_float("alpha", alpha)])
            }
            Activation::Softmax => self.node("Softmax", &[s], vec![attr_int("axis", 1)]),
            Activation::Step => {
                // 1 if s ≥ 0 else 0
                let zero = self.floats(None, &[], vec![0.0]);
                let fires = self.node("GreaterOrEqual", &[s, &zero], vec![]);
                self.node(
                    "Cast",
                    &[&fires],
                    vec![attr_int("to", DataType::FLOAT as i64)],
                )
            }
        }
    }

    /// A classifier's probabilities from the network's output `y`, as [`Model::predict`] reads
    /// them.
    pub(super) fn probabilities(
        &mut self,
        out_act: Activation,
        loss: Loss,
        k: i64,
        y: &str,
    ) -> String {
        if out_act == Activation::Softmax {
            return y.to_string();
        }
        match (loss, k) {
            (Loss::CrossEntropy | Loss::Hinge, _) => {
                self.node("Softmax", &[y], vec![attr_int("axis", 1)])
            }
            (loss, 1) => {
                // one output: P(class 2), from a logit or read as a probability; then [1 − p, p]
                let p = if loss == Loss::BceWithLogits && out_act != Activation::Sigmoid {
                    self.node("Sigmoid", &[y], vec![])
                } else {
                    let lo = self.floats(None, &[], vec![0.0]);
                    let hi = self.floats(None, &[], vec![1.0]);
                    self.node("Clip", &[y, &lo, &hi], vec![])
                };
                let one = self.floats(None, &[], vec![1.0]);
                let q = self.node("Sub", &[&one, &p], vec![]);
                self.node("Concat", &[&q, &p], vec![attr_int("axis", 1)])
            }
            _ => y.to_string(),
        }
    }
}

pub(super) fn attr_int(name: &str, i: i64) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        type_: AttributeType::INT.into(),
        i,
        ..Default::default()
    }
}

pub(super) fn attr_float(name: &str, f: f32) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        type_: AttributeType::FLOAT.into(),
        f,
        ..Default::default()
    }
}

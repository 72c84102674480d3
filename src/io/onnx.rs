//! ONNX export: a model's whole inference path as one ONNX graph, for ONNX Runtime, tract or any
//! other runtime (`backprop export MODEL --onnx model.onnx`).
//!
//! The graph computes what [`Model::predict`] computes, in the same order:
//!
//! | step | math | ONNX ops |
//! |---|---|---|
//! | input | `features` `(n, c)`: one column per input column of the training file | — |
//! | missing values | x ← fill where x is NaN (columns fitted with `--impute`) | `IsNaN`, `Where` |
//! | categories | column j (a category index k) → one-hot e_k over its categories | `Equal`, `Cast` |
//! | scaling | (x − mean)/std or (x − min)/(max − min) | `Sub`, `Div` |
//! | layer l | s(l) = \[inputs\]·W(l)ᵀ + b(l), x(l) = θ(s(l)) | `Concat`, `Gemm`, θ |
//! | output | probabilities (classes) or values (regression) | `Softmax`/`Sigmoid`, `ArgMax` |
//!
//! **The input.** With a column plan (a model trained on a CSV or `.npy` table), `features` has
//! one float column per *input column* of the training file, in file order, without the dropped
//! and target columns (their names are the metadata entry `input_columns`): a numeric column
//! holds its number; a categorical column holds the 0-based index of its category in the sorted
//! list of the metadata entry `categories` (`{"colour": ["blue", "red"]}`: red is 1); a missing
//! value is NaN. The graph fills missing numbers with the fitted value and turns a missing (or
//! unknown) category into a row of zeros, as `predict` does with `--impute`. A graph cannot
//! refuse a row: where the model has no fill value (trained without `--impute`), a missing number
//! gives NaN outputs and a missing category a row of zeros, where `predict` reports an error.
//! Without a column plan (MNIST, the built-in digits, a hand-set network), `features` is the
//! network's input as it is, `in_features` wide.
//!
//! **The outputs.** Classifiers: `probabilities` `(n, classes)` — a softmax or sigmoid applied in
//! the graph when the model stores logits (a cross-entropy model's output layer is linear; a
//! single BCE unit gives P(class 2) and the graph returns both columns) — and `class` `(n)`, the
//! index of the predicted class in the metadata entry `classes` (int64). Regression: `values`
//! `(n, targets)` in the targets' own units (the training's target scaling is already folded
//! into the saved output layer).
//!
//! **Metadata** (`metadata_props`, strings; lists and maps as JSON): `task`, `classes` or
//! `targets`, `target_columns`, `input_columns`, `categories`, `fill_values`, `feature_names`
//! (the encoded features the network reads), `loss` and `architecture` (the network
//! description).
//!
//! The ONNX messages are the `onnx-protobuf` crate's generated types, encoded by `protobuf`;
//! IR version 8, opset 13.
//!
//! ```
//! use backprop::{io::{onnx, Model}, nn::MlpSpec};
//! let and = MlpSpec::from_json(r#"{"in_features": 2, "layers": [{"units": 1,
//!     "activation": "step", "init": {"weight": [[1, 1]], "bias": [-1.5]}}]}"#)?;
//! let bytes = onnx::export(&Model::from_spec(and)?)?;
//! assert!(bytes.len() > 100);
//! # Ok::<(), backprop::Error>(())
//! ```

use crate::data::{Column, ColumnPlan, Scaler};
use crate::error::{Error, Result};
use crate::io::{atomic_write, Model, TaskInfo};
use crate::loss::Loss;
use crate::nn::{Activation, Bias, LayerSpec, MlpSpec, Tie};
use crate::params::Parameters;
use onnx_protobuf::{
    attribute_proto::AttributeType, tensor_proto::DataType, tensor_shape_proto, type_proto,
    AttributeProto, GraphProto, Message, ModelProto, NodeProto, OperatorSetIdProto,
    StringStringEntryProto, TensorProto, TensorShapeProto, TypeProto, ValueInfoProto,
};
use protobuf::MessageField;
use std::path::Path;

/// The ONNX IR version written (ONNX 1.10 and later read it).
pub const IR_VERSION: i64 = 8;
/// The opset of the default domain the graph uses.
pub const OPSET: i64 = 13;

/// The name of the graph's input.
pub const INPUT: &str = "features";
/// The classifier output: class probabilities `(n, classes)`.
pub const PROBABILITIES: &str = "probabilities";
/// The classifier output: the predicted class index `(n)`, int64.
pub const CLASS: &str = "class";
/// The regression output: values `(n, targets)`.
pub const VALUES: &str = "values";

/// The model as ONNX bytes (a serialised `ModelProto`; see the [module docs](self)).
///
/// A layer with an option the exporter does not know is an error naming the layer.
pub fn export(model: &Model) -> Result<Vec<u8>> {
    let proto = model_proto(model)?;
    proto
        .write_to_bytes()
        .map_err(|e| Error::network("network", format!("encoding the ONNX model: {e}")))
}

/// Writes [`export`]'s bytes to `path` (atomically, as model files are written).
pub fn save(model: &Model, path: impl AsRef<Path>) -> Result<()> {
    atomic_write(path.as_ref(), &export(model)?)
}

/// The names of the graph input's columns: the plan's input columns, or the feature names.
pub fn input_columns(model: &Model) -> Vec<String> {
    match &model.meta.columns {
        Some(plan) => plan
            .columns
            .iter()
            .filter(|c| matches!(c, Column::Numeric { .. } | Column::Categorical { .. }))
            .map(|c| c.name().to_string())
            .collect(),
        None => model.meta.feature_names.clone(),
    }
}

fn model_proto(model: &Model) -> Result<ModelProto> {
    // batch norm (eval mode) becomes part of the preceding linear layer: W' = γ/√(σ²+ε)·W, …
    let folded = model.fold_batch_norm()?;
    let model = &folded;
    let meta = &model.meta;
    let mut b = Builder::default();
    let n_in = input_columns(model).len();
    let mut x = INPUT.to_string();
    if let Some(plan) = &meta.columns {
        x = b.encode(plan, &x)?;
    }
    x = b.scale(&meta.scaler, &x);
    let y = b.layers(&meta.architecture, &model.params, &x)?;
    let k = meta.architecture.out_features() as i64;
    let outputs = match &meta.task {
        TaskInfo::Regression { targets } => {
            b.node_to("Identity", &[&y], VALUES, vec![]);
            vec![value_info(
                VALUES,
                DataType::FLOAT,
                &[None, Some(targets.len() as i64)],
            )]
        }
        TaskInfo::Classification { classes } => {
            let probs = b.probabilities(meta.architecture.output_activation(), meta.loss, k, &y);
            b.node_to("Identity", &[&probs], PROBABILITIES, vec![]);
            let attrs = vec![attr_int("axis", 1), attr_int("keepdims", 0)];
            b.node_to("ArgMax", &[PROBABILITIES], CLASS, attrs);
            vec![
                value_info(
                    PROBABILITIES,
                    DataType::FLOAT,
                    &[None, Some(classes.len() as i64)],
                ),
                value_info(CLASS, DataType::INT64, &[None]),
            ]
        }
    };
    let mut input = value_info(INPUT, DataType::FLOAT, &[None, Some(n_in as i64)]);
    input.doc_string = match &meta.columns {
        Some(_) => "one column per input column (metadata input_columns): numbers; a category's 0-based index in metadata categories; NaN for a missing value".into(),
        None => "the network's input features (metadata feature_names)".into(),
    };
    let graph = GraphProto {
        name: "backprop".into(),
        node: b.nodes,
        initializer: b.inits,
        input: vec![input],
        output: outputs,
        ..Default::default()
    };
    Ok(ModelProto {
        ir_version: IR_VERSION,
        opset_import: vec![OperatorSetIdProto {
            domain: String::new(),
            version: OPSET,
            ..Default::default()
        }],
        producer_name: "backprop".into(),
        producer_version: env!("CARGO_PKG_VERSION").into(),
        doc_string: "exported by `backprop export --onnx`".into(),
        graph: MessageField::some(graph),
        metadata_props: metadata(model),
        ..Default::default()
    })
}

fn metadata(model: &Model) -> Vec<StringStringEntryProto> {
    let meta = &model.meta;
    let json = |v: &[String]| serde_json::to_string(v).unwrap_or_default();
    let mut props: Vec<(String, String)> = vec![];
    match &meta.task {
        TaskInfo::Classification { classes } => {
            props.push(("task".into(), "classification".into()));
            props.push(("classes".into(), json(classes)));
        }
        TaskInfo::Regression { targets } => {
            props.push(("task".into(), "regression".into()));
            props.push(("targets".into(), json(targets)));
        }
    }
    if !meta.target_columns.is_empty() {
        props.push(("target_columns".into(), json(&meta.target_columns)));
    }
    props.push(("input_columns".into(), json(&input_columns(model))));
    if let Some(plan) = &meta.columns {
        let mut cats = serde_json::Map::new();
        let mut fills = serde_json::Map::new();
        for c in &plan.columns {
            match c {
                Column::Categorical { name, categories } => {
                    cats.insert(name.clone(), serde_json::json!(categories));
                }
                Column::Numeric {
                    name,
                    impute: Some(v),
                } => {
                    fills.insert(name.clone(), serde_json::json!(v));
                }
                _ => {}
            }
        }
        if !cats.is_empty() {
            props.push((
                "categories".into(),
                serde_json::Value::Object(cats).to_string(),
            ));
        }
        if !fills.is_empty() {
            props.push((
                "fill_values".into(),
                serde_json::Value::Object(fills).to_string(),
            ));
        }
    }
    props.push(("feature_names".into(), json(&meta.feature_names)));
    props.push(("loss".into(), meta.loss.to_string()));
    props.push((
        "architecture".into(),
        serde_json::to_string(&meta.architecture).unwrap_or_default(),
    ));
    props
        .into_iter()
        .map(|(key, value)| StringStringEntryProto {
            key,
            value,
            ..Default::default()
        })
        .collect()
}

/// Accumulates nodes and initializers, naming intermediate values `t0`, `t1`, ….
#[derive(Default)]
struct Builder {
    nodes: Vec<NodeProto>,
    inits: Vec<TensorProto>,
    next: usize,
}

impl Builder {
    fn fresh(&mut self, hint: &str) -> String {
        self.next += 1;
        format!("{hint}_{}", self.next)
    }

    /// Adds `op(inputs) -> output`.
    fn node_to(&mut self, op: &str, inputs: &[&str], output: &str, attribute: Vec<AttributeProto>) {
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
    fn node(&mut self, op: &str, inputs: &[&str], attribute: Vec<AttributeProto>) -> String {
        let out = self.fresh(&op.to_ascii_lowercase());
        self.node_to(op, inputs, &out, attribute);
        out
    }

    /// A float initializer of shape `dims` named `name` (a fresh name if `None`).
    fn floats(&mut self, name: Option<&str>, dims: &[usize], data: Vec<f32>) -> String {
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

    fn ints(&mut self, data: Vec<i64>) -> String {
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
    fn columns(&mut self, x: &str, a: usize, b: usize) -> String {
        let (starts, ends, axes) = (
            self.ints(vec![a as i64]),
            self.ints(vec![b as i64]),
            self.ints(vec![1]),
        );
        self.node("Slice", &[x, &starts, &ends, &axes], vec![])
    }

    /// The raw input columns → the network's features: fill values and one-hot categories.
    fn encode(&mut self, plan: &ColumnPlan, x: &str) -> Result<String> {
        let inputs: Vec<&Column> = plan
            .columns
            .iter()
            .filter(|c| matches!(c, Column::Numeric { .. } | Column::Categorical { .. }))
            .collect();
        let plain = inputs
            .iter()
            .all(|c| matches!(c, Column::Numeric { impute: None, .. }));
        if plain {
            return Ok(x.to_string());
        }
        let mut pieces: Vec<String> = vec![];
        let mut j = 0;
        while j < inputs.len() {
            match inputs[j] {
                Column::Numeric { .. } => {
                    // a run of numeric columns: one slice, one fill
                    let start = j;
                    let mut fill = vec![];
                    while let Some(Column::Numeric { impute, .. }) = inputs.get(j) {
                        fill.push(impute.unwrap_or(f32::NAN));
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
                Column::Categorical { categories, .. } => {
                    let col = self.columns(x, j, j + 1);
                    let k = categories.len();
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
    fn scale(&mut self, scaler: &Scaler, x: &str) -> String {
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
    fn layers(&mut self, spec: &MlpSpec, params: &Parameters, x: &str) -> Result<String> {
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
    fn activation(&mut self, a: Activation, s: &str) -> String {
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
    fn probabilities(&mut self, out_act: Activation, loss: Loss, k: i64, y: &str) -> String {
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

fn attr_int(name: &str, i: i64) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        type_: AttributeType::INT.into(),
        i,
        ..Default::default()
    }
}

fn attr_float(name: &str, f: f32) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        type_: AttributeType::FLOAT.into(),
        f,
        ..Default::default()
    }
}

/// A tensor value's name, element type and shape (`None` = a symbolic batch dimension `n`).
fn value_info(name: &str, elem: DataType, dims: &[Option<i64>]) -> ValueInfoProto {
    let dim = dims
        .iter()
        .map(|d| tensor_shape_proto::Dimension {
            value: Some(match d {
                Some(v) => tensor_shape_proto::dimension::Value::DimValue(*v),
                None => tensor_shape_proto::dimension::Value::DimParam("n".into()),
            }),
            ..Default::default()
        })
        .collect();
    let tensor = type_proto::Tensor {
        elem_type: elem as i32,
        shape: MessageField::some(TensorShapeProto {
            dim,
            ..Default::default()
        }),
        ..Default::default()
    };
    ValueInfoProto {
        name: name.into(),
        type_: MessageField::some(TypeProto {
            value: Some(type_proto::Value::TensorType(tensor)),
            ..Default::default()
        }),
        ..Default::default()
    }
}

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
//! holds its number; a date column its fractional year (`2007-11-09` → 2007.857, as the model
//! reads it); a categorical column holds the 0-based index of its category in the sorted
//! list of the metadata entry `categories` (`{"colour": ["blue", "red"]}`: red is 1); a missing
//! value is NaN. The graph fills missing numbers and dates with the fitted value and a missing
//! category with its fill level (metadata `fill_values`; a row of zeros for a model without
//! one), and turns an unknown category (any index that is not one of its categories, e.g. −1)
//! into a row of zeros, as `predict` does. A graph cannot
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
//! `targets`, `target_columns`, `input_columns`, `categories`, `fill_values` (a category's is
//! its level), `dates` (the date columns, given as fractional years), `feature_names`
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

use super::onnx_graph::{attr_int, Builder};
use crate::data::Column;
use crate::error::{Error, Result};
use crate::io::{atomic_write, Model, TaskInfo};
use onnx_protobuf::{
    tensor_proto::DataType, tensor_shape_proto, type_proto, GraphProto, Message, ModelProto,
    OperatorSetIdProto, StringStringEntryProto, TensorShapeProto, TypeProto, ValueInfoProto,
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
            .filter(|c| c.is_feature())
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
        Some(_) => "one column per input column (metadata input_columns): numbers; a date as its fractional year (2007-11-09 → 2007.857); a category's 0-based index in metadata categories (any other index: an unseen category, all zeros); NaN for a missing value".into(),
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
                Column::Categorical {
                    name,
                    categories,
                    fill,
                } => {
                    cats.insert(name.clone(), serde_json::json!(categories));
                    if let Some(f) = fill {
                        fills.insert(name.clone(), serde_json::json!(f));
                    }
                }
                Column::Numeric {
                    name,
                    impute: Some(v),
                }
                | Column::Date {
                    name,
                    impute: Some(v),
                } => {
                    fills.insert(name.clone(), serde_json::json!(v));
                }
                _ => {}
            }
        }
        let dates: Vec<String> = plan
            .columns
            .iter()
            .filter(|c| matches!(c, Column::Date { .. }))
            .map(|c| c.name().to_string())
            .collect();
        if !dates.is_empty() {
            props.push(("dates".into(), json(&dates)));
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

#![cfg(feature = "onnx")]
//! ONNX export. Each test builds a model, exports it and checks what needs no runtime: the graph
//! reads as an ONNX `ModelProto`, every node's inputs are defined before the node (initializers,
//! the input, earlier outputs), the input is `features (n, columns)` and the outputs are
//! `probabilities (n, classes)` + `class (n)` for a classifier, `values (n, targets)` for a
//! regression; batch norm leaves no node of its own (folded at export).
//!
//! Running the graphs is left to ONNX Runtime, in CI: with `BACKPROP_ONNX_CASES=DIR` each case
//! also writes its graph, its input rows and the library's own `Model::predict` on the same rows
//! to DIR, and `scripts/check-onnx.sh` runs every graph with Python onnxruntime and compares: to
//! 1e-5 relative (|a − b| ≤ 1e-5 · max(|b|, 1): relative above 1, absolute below), and the
//! predicted classes exactly. (A second runtime in Rust, tract, did this inside `cargo test`
//! until it made the test build longer than everything else together.)
//!
//! Cases: a softmax classifier (logits under cross-entropy, softmax added by the graph), a
//! softmax output layer and a hinge classifier; binary classifiers with one sigmoid unit, with
//! one BCE logit and with one MSE unit (clipped); multi-output regression with standardised
//! features and folded target scaling; min-max scaling with a constant feature; skip
//! connections; shared, per-unit and no bias; tied and tied-transposed weights; every activation
//! (identity, sigmoid, tanh, relu, leaky_relu, softmax, step); a CSV with a categorical column,
//! a dropped column and missing values imputed inside the graph; batch norm (folded into the
//! linear layers at export).

use backprop::data::{read_csv_from, CsvOptions, Impute, ScaleKind, Scaler, TargetColumn};
use backprop::io::{onnx, Model, TaskInfo};
use backprop::nn::{Activation, Bias, Init, Mlp, MlpSpec};
use backprop::pipeline::{Network, Pipeline};
use backprop::{Loss, Parameters, Rng, Tensor};
use onnx_protobuf::tensor_shape_proto::dimension::Value as Dim;
use onnx_protobuf::{type_proto, Message, ModelProto, ValueInfoProto};
use std::collections::HashSet;
use std::path::PathBuf;

/// The environment variable naming the directory the cases are written to for ONNX Runtime.
const CASES: &str = "BACKPROP_ONNX_CASES";

/// A value's shape: `None` for a symbolic dimension.
fn shape(v: &ValueInfoProto) -> Vec<Option<i64>> {
    let Some(type_proto::Value::TensorType(t)) = &v.type_.value else {
        panic!("{}: not a tensor", v.name)
    };
    t.shape
        .dim
        .iter()
        .map(|d| match &d.value {
            Some(Dim::DimValue(v)) => Some(*v),
            _ => None,
        })
        .collect()
}

/// Exports `model` and checks the graph's structure; with `BACKPROP_ONNX_CASES` set, writes
/// case `name` for ONNX Runtime: the graph, `raw` (the graph's input, `c` columns) and
/// `model.predict(features)` (the library's input: encoded, unscaled features).
fn check(name: &str, model: &Model, raw: &[f32], c: usize, features: &Tensor) {
    let bytes = onnx::export(model).unwrap();
    let n = raw.len() / c;
    let want = model.predict(features).unwrap();
    let k = want.outputs.shape().last();
    assert_eq!(want.outputs.numel(), n * k);
    let proto = ModelProto::parse_from_bytes(&bytes).expect("the export reads as ONNX");
    let g = proto.graph.as_ref().unwrap();
    // every node reads only what exists before it
    let mut known: HashSet<&str> = g.initializer.iter().map(|t| t.name.as_str()).collect();
    known.extend(g.input.iter().map(|i| i.name.as_str()));
    for node in &g.node {
        assert_ne!(node.op_type, "BatchNormalization", "batch norm is folded");
        for i in node.input.iter().filter(|i| !i.is_empty()) {
            assert!(
                known.contains(i.as_str()),
                "{} reads undefined {i}",
                node.op_type
            );
        }
        known.extend(node.output.iter().map(|o| o.as_str()));
    }
    assert_eq!(g.input.len(), 1);
    assert_eq!(g.input[0].name, "features");
    assert_eq!(shape(&g.input[0]), [None, Some(c as i64)], "input shape");
    let outs: Vec<(&str, Vec<Option<i64>>)> = g
        .output
        .iter()
        .map(|o| (o.name.as_str(), shape(o)))
        .collect();
    for (o, _) in &outs {
        assert!(known.contains(o), "output {o} is computed");
    }
    let k64 = Some(k as i64);
    match &want.classes {
        Some(_) => assert_eq!(
            outs,
            [("probabilities", vec![None, k64]), ("class", vec![None])]
        ),
        None => assert_eq!(outs, [("values", vec![None, k64])]),
    }
    if let Some(dir) = std::env::var_os(CASES) {
        let dir = PathBuf::from(dir);
        std::fs::create_dir_all(&dir).unwrap();
        let f32s = |v: &[f32]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
        std::fs::write(dir.join(format!("{name}.onnx")), &bytes).unwrap();
        std::fs::write(dir.join(format!("{name}.x.f32")), f32s(raw)).unwrap();
        std::fs::write(dir.join(format!("{name}.y.f32")), f32s(want.outputs.data())).unwrap();
        let info = serde_json::json!({ "rows": n, "cols": c, "width": k, "classes": want.classes });
        std::fs::write(dir.join(format!("{name}.json")), info.to_string()).unwrap();
    }
}

/// Rows of standard normal values, seeded.
fn rows(n: usize, d: usize, seed: u64) -> Tensor {
    Tensor::randn([n, d], 0.0, 1.0, &mut Rng::seed(seed))
}

fn random_model(spec: MlpSpec, loss: Loss, task: TaskInfo, scaler: Scaler, seed: u64) -> Model {
    let mut params = Parameters::new();
    let net = Mlp::new(
        spec.clone(),
        &mut params,
        Init::XavierNormal,
        &mut Rng::seed(seed),
    )
    .unwrap();
    // biases away from zero, so that they matter
    for id in params.ids().collect::<Vec<_>>() {
        if params.name(id).ends_with("bias") {
            let v = Tensor::randn(params[id].dims(), 0.0, 1.0, &mut Rng::seed(seed + 7));
            params[id] = v;
        }
    }
    let names = (0..spec.in_features).map(|i| format!("x{i}")).collect();
    let meta = Model::meta(spec, loss, task, names, scaler, Init::XavierNormal, seed);
    Model { meta, net, params }
}

fn classes(k: usize) -> TaskInfo {
    TaskInfo::Classification {
        classes: (0..k).map(|i| format!("c{i}")).collect(),
    }
}

fn targets(k: usize) -> TaskInfo {
    TaskInfo::Regression {
        targets: (0..k).map(|i| format!("y{i}")).collect(),
    }
}

#[test]
fn every_activation_skip_connections_ties_and_bias_kinds() {
    // 5 → tanh 6 → relu 6 → leaky 5 on [x, layer 2] → step 4 (shared bias) → sigmoid 6 on
    // [layer 3, layer 4] (no bias) → softmax 4 → identity 6 tied to layer 6 transposed → a
    // layer tied to layer 1 (untransposed) reading the input, and the output on [7, 8]
    let spec = MlpSpec::new(5)
        .layer(6, Activation::Tanh)
        .layer(6, Activation::Relu)
        .layer_from(&[0, 2], 5, Activation::LeakyRelu(0.2))
        .layer(4, Activation::Step)
        .bias(Bias::Shared)
        .layer_from(&[3, 4], 6, Activation::Sigmoid)
        .bias(Bias::None)
        .layer(4, Activation::Softmax)
        .layer(6, Activation::Identity)
        .tie(6, true)
        .layer_from(&[0], 6, Activation::Tanh)
        .tie(1, false)
        .bias(Bias::Shared)
        .layer_from(&[7, 8], 3, Activation::Identity);
    let scaler = Scaler::Standard {
        mean: vec![0.1, -0.2, 0.3, 0.0, 1.0],
        std: vec![1.5, 0.5, 2.0, 1.0, 3.0],
    };
    let m = random_model(spec, Loss::Mse, targets(3), scaler, 11);
    let x = rows(64, 5, 1);
    check("activations", &m, x.data(), 5, &x);
    // the step units made a difference: some fire, some don't
    let mut tape = backprop::Tape::new();
    let mut g = backprop::Graph::no_grad(&mut tape, &m.params);
    let xv = g.input(&x);
    let outs = m.net.forward_layers(&mut g, xv).unwrap();
    let fired = g
        .value(outs[3].x)
        .data()
        .iter()
        .filter(|&&v| v == 1.0)
        .count();
    assert!(
        (5..=64 * 4 - 5).contains(&fired),
        "{fired} step units fired"
    );
}

#[test]
fn softmax_classifier_from_logits_and_softmax_output() {
    // cross-entropy: the model stores logits, the graph adds the softmax
    let spec = MlpSpec::from_sizes(&[4, 8, 3], Activation::Relu, Activation::Identity);
    let m = random_model(spec, Loss::CrossEntropy, classes(3), Scaler::None, 2);
    let x = rows(40, 4, 2);
    check("softmax_logits", &m, x.data(), 4, &x);
    // a softmax output layer: probabilities already
    let spec = MlpSpec::from_sizes(&[4, 8, 3], Activation::Tanh, Activation::Softmax);
    let m = random_model(spec, Loss::CrossEntropy, classes(3), Scaler::None, 3);
    check("softmax_output", &m, x.data(), 4, &x);
    // hinge: read through a softmax too
    let spec = MlpSpec::from_sizes(&[4, 3], Activation::Tanh, Activation::Identity);
    let m = random_model(spec, Loss::Hinge, classes(3), Scaler::None, 4);
    check("hinge", &m, x.data(), 4, &x);
}

#[test]
fn binary_sigmoid_unit_and_bce_logit() {
    let x = rows(50, 3, 5);
    let minmax = Scaler::MinMax {
        min: vec![-1.0, -2.0, 0.0],
        max: vec![1.0, 2.0, 0.0], // a constant feature divides by 1
    };
    // one sigmoid unit read as P(class 2)
    let spec = MlpSpec::from_sizes(&[3, 5, 1], Activation::Tanh, Activation::Sigmoid);
    let m = random_model(spec, Loss::BceWithLogits, classes(2), minmax.clone(), 6);
    check("sigmoid_unit", &m, x.data(), 3, &x);
    // one linear unit under BCE: a logit, the graph applies the sigmoid
    let spec = MlpSpec::from_sizes(&[3, 5, 1], Activation::Relu, Activation::Identity);
    let m = random_model(spec, Loss::BceWithLogits, classes(2), minmax.clone(), 7);
    check("bce_logit", &m, x.data(), 3, &x);
    // one linear unit under MSE: read as a probability, clipped to [0, 1]
    let m = random_model(
        MlpSpec::from_sizes(&[3, 1], Activation::Relu, Activation::Identity),
        Loss::Mse,
        classes(2),
        minmax,
        8,
    );
    check("mse_binary", &m, x.data(), 3, &x);
}

fn csv(text: &str, opts: &CsvOptions) -> backprop::data::Dataset {
    read_csv_from(text.as_bytes(), "t.csv", opts).unwrap()
}

#[test]
fn trained_regression_with_folded_target_scale() {
    // y0 = 100 + 30·a − 20·b, y1 = a·b: far from standardised units, so the fold matters
    let mut text = String::from("a,b,y0,y1\n");
    let mut rng = Rng::seed(9);
    for _ in 0..120 {
        let (a, b) = (rng.uniform() * 4.0 - 2.0, rng.uniform() * 10.0);
        text += &format!("{a},{b},{},{}\n", 100.0 + 30.0 * a - 20.0 * b, a * b);
    }
    let opts = CsvOptions {
        target: TargetColumn::Name("y0".into()),
        targets: vec![TargetColumn::Name("y1".into())],
        ..CsvOptions::default()
    };
    let data = csv(&text, &opts);
    let mut p = Pipeline {
        network: Network::hidden(&[16]),
        scale: ScaleKind::Standard,
        ..Pipeline::default()
    };
    p.trainer.epochs = 5;
    let out = p.run(&data, None, Default::default()).unwrap();
    let m = out.model;
    assert!(matches!(m.meta.scaler, Scaler::Standard { .. }));
    let x = data.features_tensor();
    check("regression_target_scale", &m, x.data(), 2, &x);
    // in the targets' units: the mean output is near the targets' mean, not near 0
    let y = m.forward(&x).unwrap();
    let mean0 = y.data().iter().step_by(2).sum::<f32>() / 120.0;
    assert!(mean0 > 20.0, "predictions in target units: mean {mean0}");
}

#[test]
fn categories_missing_values_and_dropped_columns_are_inside_the_graph() {
    // id (dropped), colour (categorical: blue, green, red), size (numeric, some missing),
    // weight (numeric), label
    let colours = ["red", "green", "blue", ""];
    let mut text = String::from("id,colour,size,weight,label\n");
    let mut rng = Rng::seed(4);
    for i in 0..80 {
        let c = colours[(rng.uniform() * 4.0) as usize % 4];
        let size = if i % 7 == 3 {
            "NA".to_string()
        } else {
            format!("{:.3}", rng.uniform() * 5.0)
        };
        let w = rng.uniform() * 2.0 - 1.0;
        let label = if c == "red" || w > 0.3 { "yes" } else { "no" };
        text += &format!("{i},{c},{size},{w:.3},{label}\n");
    }
    let opts = CsvOptions {
        drop: vec![TargetColumn::Name("id".into())],
        impute: Impute::Mean,
        ..CsvOptions::default()
    };
    let data = csv(&text, &opts);
    assert_eq!(
        data.feature_names,
        [
            "colour=blue",
            "colour=green",
            "colour=red",
            "size",
            "weight"
        ]
    );
    let mut p = Pipeline {
        network: Network::hidden(&[8]),
        ..Pipeline::default()
    };
    p.trainer.epochs = 3;
    let m = p.run(&data, None, Default::default()).unwrap().model;
    assert_eq!(onnx::input_columns(&m), ["colour", "size", "weight"]);
    // the graph's input: category index (NaN when missing), size (NaN when missing), weight
    let cats = ["blue", "green", "red"];
    let mut raw = vec![];
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        raw.push(
            cats.iter()
                .position(|c| *c == f[1])
                .map_or(f32::NAN, |i| i as f32),
        );
        raw.push(f[2].parse().unwrap_or(f32::NAN));
        raw.push(f[3].parse().unwrap());
    }
    assert!(raw.iter().filter(|v| v.is_nan()).count() > 10);
    let x = data.features_tensor(); // encoded and imputed by the library
    check("categories_missing_dropped", &m, &raw, 3, &x);
}

#[test]
fn metadata_names_the_classes_and_columns() {
    let spec = MlpSpec::from_sizes(&[2, 3], Activation::Relu, Activation::Identity);
    let task = TaskInfo::Classification {
        classes: vec!["setosa".into(), "versicolor".into(), "virginica".into()],
    };
    let mut m = random_model(spec, Loss::CrossEntropy, task, Scaler::None, 1);
    m.meta.target_columns = vec!["species".into()];
    let bytes = onnx::export(&m).unwrap();
    let proto = ModelProto::parse_from_bytes(&bytes).unwrap();
    let meta = |k: &str| {
        proto
            .metadata_props
            .iter()
            .find(|p| p.key == k)
            .map(|p| p.value.clone())
    };
    assert_eq!(
        meta("classes").as_deref(),
        Some(r#"["setosa","versicolor","virginica"]"#)
    );
    assert_eq!(meta("target_columns").as_deref(), Some(r#"["species"]"#));
    assert_eq!(meta("input_columns").as_deref(), Some(r#"["x0","x1"]"#));
    let g = proto.graph.as_ref().unwrap();
    assert_eq!(g.input[0].name, "features");
    let outs: Vec<&str> = g.output.iter().map(|o| o.name.as_str()).collect();
    assert_eq!(outs, ["probabilities", "class"]);
}

#[test]
fn batch_norm_is_folded_into_the_exported_graph() {
    // 4 → relu 6 with batch norm → tanh 5 with batch norm → 3 classes (softmax added by the graph)
    let spec = MlpSpec::new(4)
        .layer(6, Activation::Relu)
        .batch_norm(backprop::nn::BatchNormSpec::default())
        .layer(5, Activation::Tanh)
        .batch_norm(backprop::nn::BatchNormSpec::default())
        .layer(3, Activation::Identity);
    let mut m = random_model(spec, Loss::CrossEntropy, classes(3), Scaler::None, 21);
    // running statistics and γ away from their starting 0/1, so that the fold matters
    let mut rng = Rng::seed(22);
    for id in m.params.ids().collect::<Vec<_>>() {
        let name = m.params.name(id).to_string();
        let dims = m.params[id].dims().to_vec();
        let v = Tensor::randn(&dims[..], 0.0, 1.0, &mut rng);
        if name.ends_with("bn.running_mean") || name.ends_with("bn.weight") {
            m.params[id] = v;
        } else if name.ends_with("bn.running_var") {
            let pos: Vec<f32> = v.data().iter().map(|a| 0.2 + a * a).collect();
            m.params[id] = Tensor::from_vec(pos, &dims[..]).unwrap();
        }
    }
    let x = rows(32, 4, 23);
    check("batch_norm", &m, x.data(), 4, &x);
}

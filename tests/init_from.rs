//! Weights written by real PyTorch (`scripts/make-torch-fixture.py`, fixtures in
//! tests/fixtures/torch_*): loaded onto a description they give PyTorch's own outputs, a
//! mismatch is an error naming the tensor and both shapes, and `backprop train --init-from`
//! fine-tunes from them (starting at PyTorch's low loss, not at a random network's).

use backprop::io::{Model, StateDict};
use backprop::nn::{Activation, Bias, Init, Mlp, MlpSpec};
use backprop::{Parameters, Rng, Tape, Tensor};
use std::path::{Path, PathBuf};
use std::process::Command;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn torch_outputs() -> serde_json::Value {
    let text = std::fs::read_to_string(fixture("torch_outputs.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn matrix(v: &serde_json::Value) -> (Vec<f32>, usize) {
    let rows = v.as_array().unwrap();
    let cols = rows[0].as_array().unwrap().len();
    let data = rows
        .iter()
        .flat_map(|r| {
            r.as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap() as f32)
        })
        .collect();
    (data, cols)
}

/// The network's outputs on the fixture's rows with the file's weights.
fn outputs(spec: &MlpSpec, file: &str) -> Vec<f32> {
    let mut params = Parameters::new();
    let net = Mlp::new(spec.clone(), &mut params, Init::PyTorch, &mut Rng::seed(0)).unwrap();
    StateDict::load(fixture(file))
        .unwrap()
        .assign(spec, &mut params)
        .unwrap();
    let (rows, d) = matrix(&torch_outputs()["rows"]);
    let x = Tensor::from_vec(rows.clone(), [rows.len() / d, d]).unwrap();
    net.predict(&params, &mut Tape::new(), &x)
        .unwrap()
        .data()
        .to_vec()
}

fn assert_close(got: &[f32], want: &[f32]) {
    assert_eq!(got.len(), want.len());
    for (a, b) in got.iter().zip(want) {
        assert!(
            (a - b).abs() <= 1e-5 * b.abs().max(1.0),
            "{a} vs PyTorch's {b}"
        );
    }
}

#[test]
fn sequential_state_dict_gives_pytorchs_outputs() {
    let spec = MlpSpec::from_sizes(&[4, 16, 3], Activation::Relu, Activation::Identity);
    let want = matrix(&torch_outputs()["sequential"]["logits"]).0;
    assert_close(&outputs(&spec, "torch_sequential.safetensors"), &want);
}

#[test]
fn modulelist_state_dict_with_a_bias_free_layer_gives_pytorchs_outputs() {
    let spec = MlpSpec::new(4)
        .layer(8, Activation::Tanh)
        .layer(8, Activation::Tanh)
        .layer(3, Activation::Identity)
        .bias(Bias::None);
    let want = matrix(&torch_outputs()["modulelist"]["outputs"]).0;
    assert_close(&outputs(&spec, "torch_modulelist.safetensors"), &want);
    // without "bias": "none" the missing bias is named
    let with_bias = MlpSpec::from_sizes(&[4, 8, 8, 3], Activation::Tanh, Activation::Identity);
    let err = StateDict::load(fixture("torch_modulelist.safetensors"))
        .unwrap()
        .to_params(&with_bias)
        .unwrap_err()
        .to_string();
    assert!(err.contains("no tensor layers.2.bias"), "{err}");
}

#[test]
fn mismatches_name_the_tensor_and_both_shapes() {
    let sd = StateDict::load(fixture("torch_sequential.safetensors")).unwrap();
    let narrow = MlpSpec::from_sizes(&[4, 8, 3], Activation::Relu, Activation::Identity);
    let err = sd.to_params(&narrow).unwrap_err().to_string();
    assert!(
        err.contains("torch_sequential.safetensors")
            && err.contains("tensor 0.weight")
            && err.contains("[8, 4]")
            && err.contains("[16, 4]"),
        "{err}"
    );
    let deep = MlpSpec::from_sizes(&[4, 16, 16, 3], Activation::Relu, Activation::Identity);
    let err = sd.to_params(&deep).unwrap_err().to_string();
    assert!(
        err.contains("2 linear layer(s) (0, 2)") && err.contains("3 layer(s)"),
        "{err}"
    );
    // names that are not linear layers
    let odd = StateDict::from_tensors(vec![("bn.running_mean".into(), vec![3], vec![0.0; 3])]);
    let err = odd.to_params(&narrow).unwrap_err().to_string();
    assert!(err.contains("tensor bn.running_mean"), "{err}");
}

#[test]
fn a_model_files_own_names_load_too() {
    // a backprop model file is a state dict with layers.{i}.* names
    let spec = MlpSpec::from_sizes(&[4, 16, 3], Activation::Relu, Activation::Identity);
    let mut params = Parameters::new();
    let net = Mlp::new(spec.clone(), &mut params, Init::PyTorch, &mut Rng::seed(0)).unwrap();
    StateDict::load(fixture("torch_sequential.safetensors"))
        .unwrap()
        .assign(&spec, &mut params)
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.safetensors");
    let names = (0..4).map(|i| format!("x{i}")).collect();
    let meta = Model::meta(
        spec.clone(),
        backprop::Loss::CrossEntropy,
        backprop::io::TaskInfo::Classification {
            classes: vec!["0".into(), "1".into(), "2".into()],
        },
        names,
        backprop::data::Scaler::None,
        Init::PyTorch,
        0,
    );
    Model {
        meta,
        net,
        params: params.clone(),
    }
    .save(&path)
    .unwrap();
    let back = StateDict::load(&path).unwrap().to_params(&spec).unwrap();
    assert_eq!(back, params);
}

fn backprop(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_backprop"))
        .args(args)
        .output()
        .unwrap()
}

/// The train loss of the first epoch from `--json` records.
fn first_epoch_loss(stdout: &[u8]) -> f64 {
    let text = String::from_utf8_lossy(stdout);
    let first: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    let loss = first
        .pointer("/train/loss")
        .or_else(|| first.get("train_loss"))
        .unwrap_or_else(|| panic!("no train loss in {first}"));
    loss.as_f64().unwrap()
}

#[test]
fn cli_fine_tunes_from_a_pytorch_state_dict() {
    let dir = tempfile::tempdir().unwrap();
    let data = fixture("torch_blobs.csv");
    let (data, weights) = (
        data.to_str().unwrap(),
        fixture("torch_sequential.safetensors"),
    );
    let model = dir.path().join("m.safetensors");
    let common = [
        "train",
        data,
        "--hidden",
        "16",
        "--scale",
        "none",
        "--epochs",
        "3",
        "--json",
        "-q",
        "--val-split",
        "0",
        "--out",
    ];
    let run = |extra: &[&str]| {
        let mut args: Vec<&str> = common.to_vec();
        args.push(model.to_str().unwrap());
        args.extend(extra);
        let out = backprop(&args);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    };
    let tuned = run(&["--init-from", weights.to_str().unwrap()]);
    let from_torch = first_epoch_loss(&tuned.stdout);
    let torch_loss = torch_outputs()["sequential"]["train_loss"]
        .as_f64()
        .unwrap();
    // fine-tuning starts where PyTorch stopped (0.025), not where a random net starts
    assert!(
        from_torch < 2.0 * torch_loss + 0.02,
        "first epoch loss {from_torch}"
    );
    let fresh = first_epoch_loss(&run(&[]).stdout);
    assert!(
        fresh > 5.0 * from_torch,
        "random start {fresh} vs {from_torch}"
    );

    // the saved model after one frozen epoch predicts PyTorch's probabilities
    let frozen = "layers.0.weight,layers.0.bias,layers.1.weight,layers.1.bias";
    run(&["--init-from", weights.to_str().unwrap(), "--freeze", frozen]);
    let out = backprop(&["predict", model.to_str().unwrap(), data]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let probs: Vec<f32> = text
        .lines()
        .skip(1)
        .take(8)
        .flat_map(|l| {
            l.split(',')
                .skip(1)
                .map(|v| v.parse::<f32>().unwrap())
                .collect::<Vec<_>>()
        })
        .collect();
    let want = matrix(&torch_outputs()["sequential"]["probabilities"]).0;
    for (a, b) in probs.iter().zip(&want) {
        assert!((a - b).abs() <= 1e-6 + 5e-7, "{a} vs PyTorch's {b}"); // printed to 6 decimals
    }

    // a description that does not fit is refused, naming the tensor and both shapes
    let out = backprop(&[
        "train",
        data,
        "--hidden",
        "8",
        "--init-from",
        weights.to_str().unwrap(),
        "-q",
        "--out",
        model.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("0.weight") && err.contains("[8, 4]") && err.contains("[16, 4]"),
        "{err}"
    );
}

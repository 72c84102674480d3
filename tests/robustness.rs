//! Hostile model and checkpoint metadata, closed or full output streams, and runaway losses:
//! each gives one clear error (or a clean stop), never a panic. Each case was a panic or silent
//! loss before (issue 11).

use backprop::data::Scaler;
use backprop::io::{Checkpoint, DataInfo, Model, TaskInfo};
use backprop::nn::{Activation, Init, Mlp, MlpSpec};
use backprop::optim::OptimizerConfig;
use backprop::train::{TrainState, Trainer};
use backprop::{Loss, Parameters, Rng, Tensor};
use std::path::Path;
use std::process::{Command, Stdio};

fn model() -> Model {
    let spec = MlpSpec::from_sizes(&[4, 3, 3], Activation::Tanh, Activation::Identity);
    let mut params = Parameters::new();
    let net = Mlp::new(spec.clone(), &mut params, Init::PyTorch, &mut Rng::seed(1)).unwrap();
    let task = TaskInfo::Classification {
        classes: vec!["a".into(), "b".into(), "c".into()],
    };
    let names = (0..4).map(|i| format!("f{i}")).collect();
    let scaler = Scaler::Standard {
        mean: vec![0.0; 4],
        std: vec![1.0; 4],
    };
    let meta = Model::meta(
        spec,
        Loss::CrossEntropy,
        task,
        names,
        scaler,
        Init::PyTorch,
        1,
    );
    Model { meta, net, params }
}

fn checkpoint() -> Checkpoint {
    let m = model();
    let mut state = TrainState::new(3);
    state.optimizer_state = vec![("momentum_buffer.0".into(), Tensor::ones([3, 4]))];
    Checkpoint {
        model: m,
        trainer: Trainer::new(Loss::CrossEntropy)
            .optimizer(OptimizerConfig::sgd(0.1).with_momentum(0.9)),
        state,
        data: Some(DataInfo {
            fingerprint: "0".into(),
            rows: 1,
            val_split: 0.0,
            test_split: 0.0,
            target_scale: None,
        }),
    }
}

/// The bytes with the JSON metadata under `key` rewritten by `f`.
fn edit(bytes: &[u8], key: &str, f: impl Fn(&mut serde_json::Value)) -> Vec<u8> {
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let mut header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + n]).unwrap();
    let mut meta: serde_json::Value =
        serde_json::from_str(header["__metadata__"][key].as_str().unwrap()).unwrap();
    f(&mut meta);
    header["__metadata__"][key] = serde_json::Value::String(meta.to_string());
    let mut h = header.to_string().into_bytes();
    while !h.len().is_multiple_of(8) {
        h.push(b' ');
    }
    let mut out = (h.len() as u64).to_le_bytes().to_vec();
    out.extend(h);
    out.extend(&bytes[8 + n..]);
    out
}

fn model_err(f: impl Fn(&mut serde_json::Value)) -> String {
    let bytes = edit(&model().to_bytes(), "backprop", f);
    Model::from_bytes(&bytes, Path::new("m.safetensors"))
        .map(|_| ())
        .unwrap_err()
        .to_string()
}

fn ckpt_err(f: impl Fn(&mut serde_json::Value)) -> String {
    let bytes = edit(&checkpoint().to_bytes(), "backprop-checkpoint", f);
    Checkpoint::from_bytes(&bytes, Path::new("c.ckpt"))
        .map(|_| ())
        .unwrap_err()
        .to_string()
}

#[test]
fn the_unedited_files_load() {
    let c = checkpoint();
    let back = Checkpoint::from_bytes(&c.to_bytes(), Path::new("c.ckpt")).unwrap();
    assert_eq!(back.model, c.model);
    Model::from_bytes(&model().to_bytes(), Path::new("m")).unwrap();
}

#[test]
fn model_metadata_is_checked_against_the_architecture() {
    let e = model_err(|m| m["task"]["classification"]["classes"] = serde_json::json!([]));
    assert!(
        e.contains("0 class names for a network with 3 output(s)"),
        "{e}"
    );
    let e = model_err(|m| m["task"]["classification"]["classes"] = serde_json::json!(["x"]));
    assert!(
        e.contains("1 class names") && e.contains("expected 3"),
        "{e}"
    );
    let e = model_err(|m| m["scaler"]["std"] = serde_json::json!([1.0, 1.0]));
    assert!(e.contains("4 mean values but 2 std values"), "{e}");
    let e = model_err(|m| m["scaler"]["std"] = serde_json::json!([1.0, 0.0, 1.0, 1.0]));
    assert!(e.contains("std holds a 0"), "{e}");
    let e = model_err(|m| m["feature_names"] = serde_json::json!(["a", "b"]));
    assert!(e.contains("2 feature names for 4 inputs"), "{e}");
    let e = model_err(|m| m["target_columns"] = serde_json::json!(["y", "z"]));
    assert!(e.contains("2 target column names for 1 target"), "{e}");
}

#[test]
fn checkpoint_metadata_is_checked_before_use() {
    // a non-ASCII generator seed used to panic slicing the string
    let e = ckpt_err(|m| m["rng_seed"] = "é".repeat(32).into());
    assert!(
        e.contains("generator seed") && e.contains("64 hex digits"),
        "{e}"
    );
    let e = ckpt_err(|m| m["rng_seed"] = "zz".repeat(32).into());
    assert!(e.contains("generator seed"), "{e}");
    // the model inside is validated like a model file
    let e = ckpt_err(|m| m["model"]["scaler"]["mean"] = serde_json::json!([0.0, 0.0]));
    assert!(e.contains("2 mean values but 4 std values"), "{e}");
    let e = ckpt_err(|m| {
        m["model"]["scaler"] = serde_json::json!({"kind": "standard", "mean": [0.0], "std": [1.0]})
    });
    assert!(e.contains("scaler fitted on 1 features"), "{e}");
    let e = ckpt_err(|m| m["model"]["feature_names"] = serde_json::json!(["a", "b"]));
    assert!(e.contains("2 feature names for 4 inputs"), "{e}");
}

#[test]
fn optimizer_state_that_does_not_fit_the_model_is_refused() {
    // the state tensor is (3, 4), for layers.0.weight; claim it belongs to layers.0.bias (3)
    let mut c = checkpoint();
    c.state.optimizer_state = vec![("momentum_buffer.1".into(), Tensor::ones([3, 4]))];
    let e = Checkpoint::from_bytes(&c.to_bytes(), Path::new("c.ckpt"))
        .map(|_| ())
        .unwrap_err()
        .to_string();
    assert!(e.contains("optimizer state does not fit the model"), "{e}");
    c.state.optimizer_state = vec![("momentum_buffer.9".into(), Tensor::ones([3]))];
    let e = Checkpoint::from_bytes(&c.to_bytes(), Path::new("c.ckpt"))
        .map(|_| ())
        .unwrap_err()
        .to_string();
    assert!(e.contains("parameter 9"), "{e}");
}

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_backprop"))
}

#[test]
fn a_closed_stderr_does_not_lose_the_model() {
    // `backprop train 2>&1 | head -2` used to panic "failed printing to stderr" and save nothing
    let dir = tempfile::tempdir().unwrap();
    let mut child = bin()
        .current_dir(dir.path())
        .args(["train", "--epochs", "5", "--hidden", "8"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Read;
        let mut first = [0u8; 16];
        let mut err = child.stderr.take().unwrap();
        err.read_exact(&mut first).unwrap();
    } // the read end closes here
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    Model::load(dir.path().join("model.safetensors")).unwrap();
}

#[test]
fn predictions_to_a_closed_or_full_stdout_are_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let arch = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/arch/xor-threshold.json"
    );
    let data = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/data/xor.csv");
    // `>&-`: the runtime reopens fd 1 on /dev/null; the shell does the closing here
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "'{}' predict --arch '{arch}' '{data}' >&-",
            env!("CARGO_BIN_EXE_backprop")
        ))
        .current_dir(dir.path())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("standard output is closed"), "{err}");
    if Path::new("/dev/full").exists() {
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap();
        let out = bin()
            .args(["predict", "--arch", arch, data])
            .stdout(full)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(
            err.contains("writing the predictions to standard output"),
            "{err}"
        );
    }
    // `> /dev/null` is a choice, not an error
    let null = std::fs::File::create("/dev/null").unwrap();
    let out = bin()
        .args(["predict", "--arch", arch, data])
        .stdout(null)
        .output()
        .unwrap();
    assert!(out.status.success());
}

#[test]
fn a_loss_that_explodes_stops_like_a_nan_and_keeps_the_last_good_weights() {
    let dir = tempfile::tempdir().unwrap();
    let mut csv = String::from("a,b,y\n");
    for i in 0..64 {
        let (a, b) = ((i % 8) as f32, (i / 8) as f32);
        csv += &format!("{a},{b},{}\n", 300.0 * a - 200.0 * b);
    }
    std::fs::write(dir.path().join("r.csv"), csv).unwrap();
    let run = |extra: &[&str]| {
        let mut args = vec![
            "train",
            "r.csv",
            "--optimizer",
            "sgd",
            "--lr",
            "0.5",
            "--epochs",
            "50",
            "--hidden",
            "16",
            "--scale",
            "none",
            "--quiet",
        ];
        args.extend_from_slice(extra);
        bin().current_dir(dir.path()).args(&args).output().unwrap()
    };
    let out = run(&[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("diverged") || err.contains("NaN"), "{err}");
    assert!(err.contains("saved them to model.safetensors"), "{err}");
    let m = Model::load(dir.path().join("model.safetensors")).unwrap();
    assert!(m.params.tensors().iter().all(|t| t.is_finite()));
}

#[test]
fn gradcheck_of_a_dropout_model_does_not_panic() {
    let dir = tempfile::tempdir().unwrap();
    let out = bin()
        .current_dir(dir.path())
        .args(["train", "--epochs", "1", "--dropout", "0.3", "--quiet"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let digits = concat!(env!("CARGO_MANIFEST_DIR"), "/data/digits.csv");
    let out = bin()
        .current_dir(dir.path())
        .args(["gradcheck", "model.safetensors", digits, "--rows", "4"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert!(matches!(out.status.code(), Some(0 | 2)), "{err}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("layers.0.weight"));
}

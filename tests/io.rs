//! Model files and checkpoints: bit-identical round trips, deterministic bytes, and a clear error
//! for every kind of damage.

use backprop::data::{ScaleKind, Scaler};
use backprop::io::DataInfo;
use backprop::io::{atomic_write, Checkpoint, Model, TaskInfo};
use backprop::nn::{Activation, Init, Mlp, MlpSpec};
use backprop::optim::LrSchedule;
use backprop::optim::OptimizerConfig;
use backprop::train::{TrainState, Trainer};
use backprop::{Loss, Parameters, Rng, Tensor};

fn model(seed: u64) -> Model {
    let spec = MlpSpec::new(3)
        .layer(4, Activation::Tanh)
        .dropout(0.1)
        .layer_from(&[1, 0], 2, Activation::Identity);
    let mut params = Parameters::new();
    let net = Mlp::new(
        spec.clone(),
        &mut params,
        Init::XavierNormal,
        &mut Rng::seed(seed),
    )
    .unwrap();
    let scaler = Scaler::Standard {
        mean: vec![1.0, 2.0, 3.0],
        std: vec![0.5, 1.0, 2.0],
    };
    let task = TaskInfo::Classification {
        classes: vec!["cat".into(), "dog".into()],
    };
    let names = vec!["a".into(), "b".into(), "c".into()];
    Model {
        meta: Model::meta(
            spec,
            Loss::CrossEntropy,
            task,
            names,
            scaler,
            Init::XavierNormal,
            seed,
        ),
        net,
        params,
    }
}

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

#[test]
fn save_then_load_is_bit_identical() {
    let dir = tmp();
    let path = dir.path().join("m.safetensors");
    let m = model(1);
    m.save(&path).unwrap();
    let back = Model::load(&path).unwrap();
    assert_eq!(back, m);
    for (a, b) in m.params.tensors().iter().zip(back.params.tensors()) {
        assert!(a
            .data()
            .iter()
            .zip(b.data())
            .all(|(x, y)| x.to_bits() == y.to_bits()));
    }
    // and saving again gives the same bytes
    assert_eq!(back.to_bytes(), std::fs::read(&path).unwrap());
    assert_eq!(model(1).to_bytes(), m.to_bytes(), "same seed, same bytes");
    assert_ne!(model(2).to_bytes(), m.to_bytes());
    // no temporary file is left behind
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn predictions_survive_the_round_trip() {
    let dir = tmp();
    let path = dir.path().join("m.safetensors");
    let m = model(3);
    m.save(&path).unwrap();
    let x = Tensor::randn([5, 3], 0.0, 2.0, &mut Rng::seed(0));
    let (p, q) = (
        m.predict(&x).unwrap(),
        Model::load(&path).unwrap().predict(&x).unwrap(),
    );
    assert_eq!(p, q);
    for i in 0..5 {
        assert!((p.outputs.row(i).iter().sum::<f32>() - 1.0).abs() < 1e-5);
    }
}

fn err(bytes: &[u8]) -> String {
    let dir = tmp();
    let path = dir.path().join("bad.safetensors");
    std::fs::write(&path, bytes).unwrap();
    let e = Model::load(&path).unwrap_err().to_string();
    assert!(
        e.contains("bad.safetensors"),
        "the error names the file: {e}"
    );
    e
}

fn with_meta(f: impl Fn(&mut serde_json::Value)) -> Vec<u8> {
    let m = model(1);
    let bytes = m.to_bytes();
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let mut header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + n]).unwrap();
    let mut meta: serde_json::Value =
        serde_json::from_str(header["__metadata__"]["backprop"].as_str().unwrap()).unwrap();
    f(&mut meta);
    header["__metadata__"]["backprop"] = serde_json::Value::String(meta.to_string());
    let mut h = header.to_string().into_bytes();
    while !h.len().is_multiple_of(8) {
        h.push(b' ');
    }
    let mut out = (h.len() as u64).to_le_bytes().to_vec();
    out.extend(h);
    out.extend(&bytes[8 + n..]);
    out
}

#[test]
fn version_1_files_still_load() {
    // version 1 wrote `"bias": true/false` and had no bias kinds, ties or trainable flags
    let dir = tmp();
    let v1 = with_meta(|m| {
        m["version"] = 1.into();
        for l in m["architecture"]["layers"].as_array_mut().unwrap() {
            l["bias"] = true.into();
        }
    });
    let path = dir.path().join("v1.safetensors");
    std::fs::write(&path, &v1).unwrap();
    let back = Model::load(&path).unwrap();
    assert_eq!(back.params, model(1).params);
    assert_eq!(back.meta.version, 1);
    assert!(back
        .meta
        .architecture
        .layers
        .iter()
        .all(|l| l.bias == backprop::nn::Bias::PerUnit));
}

#[test]
fn damaged_files_give_clear_errors() {
    assert!(err(b"").contains("not a valid safetensors file"));
    assert!(err(b"hello world, not a model").contains("not a valid safetensors file"));
    let good = model(1).to_bytes();
    let e = err(&good[..good.len() - 10]);
    assert!(e.contains("not a valid safetensors file"), "truncated: {e}");
    let e = err(&with_meta(|m| m["version"] = 99.into()));
    assert!(
        e.contains("version 99") && e.contains("reads versions 1 to 2"),
        "{e}"
    );
    let e = err(&with_meta(|m| m["format"] = "something-else".into()));
    assert!(e.contains("not a backprop-model file"), "{e}");
    // the architecture says 5 hidden units but the tensors hold 4
    let e = err(&with_meta(|m| {
        m["architecture"]["layers"][0]["out_features"] = 5.into()
    }));
    assert!(
        e.contains("layers.0.weight") && e.contains("[4, 3]") && e.contains("[5, 3]"),
        "{e}"
    );
    // a huge architecture is refused by comparing shapes, before any allocation of that size
    let e = err(&with_meta(|m| {
        m["architecture"]["layers"][0]["out_features"] = 4_000_000_000u64.into()
    }));
    assert!(
        e.contains("3×4000000000 weights") && e.contains("parameters"),
        "{e}"
    );
    let e = err(&with_meta(|m| {
        m["feature_names"] = serde_json::json!(["a"])
    }));
    assert!(e.contains("1 feature names for 3 inputs"), "{e}");
    let e = err(&with_meta(
        |m| m["scaler"] = serde_json::json!({"kind": "standard", "mean": [0.0], "std": [1.0]}),
    ));
    assert!(e.contains("scaler"), "{e}");
    let e = err(&with_meta(|m| {
        m["architecture"]["layers"][1]["inputs"] = serde_json::json!([2])
    }));
    assert!(e.contains("earlier output"), "{e}");
}

#[test]
fn a_missing_file_names_the_path() {
    let e = Model::load("/nonexistent/model.safetensors")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("/nonexistent/model.safetensors") && e.contains("No such file"),
        "{e}"
    );
}

#[test]
fn atomic_write_replaces_whole_files_only() {
    let dir = tmp();
    let path = dir.path().join("f.bin");
    atomic_write(&path, b"first").unwrap();
    atomic_write(&path, b"second").unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), b"second");
    assert!(atomic_write(&dir.path().join("no/such/dir/f.bin"), b"x").is_err());
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn checkpoint_round_trip_keeps_everything() {
    let dir = tmp();
    let path = dir.path().join("c.ckpt");
    let m = model(4);
    let mut state = TrainState::new(9);
    let _ = state.rng.normal();
    state.epoch = 7;
    state.best = Some((0.25, 5));
    state.best_params = Some(m.params.clone());
    state.bad_epochs = 2;
    state.optimizer_state = vec![("momentum_buffer.0".into(), Tensor::ones([4, 3]))];
    state.lr = Some(0.0125);
    let mut schedule: LrSchedule = "warmup:2,cosine:10".parse().unwrap();
    let mut opt = OptimizerConfig::sgd(0.05).build().unwrap();
    schedule.start(&mut opt);
    backprop::optim::LrScheduler::step(&mut schedule, &mut opt, Some(1.0));
    state.schedule = Some(schedule);
    state.first_loss = Some(2.5);
    let trainer = Trainer::new(Loss::CrossEntropy)
        .optimizer(OptimizerConfig::sgd(0.05).with_momentum(0.9))
        .lr_schedule("step:3".parse().unwrap());
    let data = DataInfo {
        fingerprint: "00ff".into(),
        rows: 10,
        val_split: 0.1,
        test_split: 0.2,
        target_scale: None,
    };
    let c = Checkpoint {
        model: m.clone(),
        trainer,
        state,
        data: Some(data),
    };
    c.save(&path).unwrap();
    let back = Checkpoint::load(&path).unwrap();
    assert_eq!(back.model, m);
    assert_eq!(back.trainer, c.trainer);
    assert_eq!(back.data, c.data);
    assert_eq!(back.state.optimizer_state, c.state.optimizer_state);
    assert_eq!(back.state.lr, Some(0.0125));
    assert_eq!(back.state.schedule, c.state.schedule);
    assert_eq!(back.state.first_loss, Some(2.5));
    assert_eq!(
        (back.state.epoch, back.state.best, back.state.bad_epochs),
        (7, Some((0.25, 5)), 2)
    );
    assert_eq!(back.state.best_params, c.state.best_params);
    assert_eq!(back.state.rng.state(), c.state.rng.state());
    assert_eq!(back.to_bytes(), c.to_bytes());
    // a model file is not a checkpoint
    m.save(dir.path().join("m.safetensors")).unwrap();
    let e = Checkpoint::load(dir.path().join("m.safetensors"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("backprop-checkpoint"), "{e}");
    let _ = ScaleKind::None;
}

/// `Model::forward` runs rows in chunks (bounded memory): the result equals running every row
/// on its own, across a chunk boundary.
#[test]
fn chunked_prediction_equals_row_by_row() {
    let m = model(2);
    let n = backprop::io::PREDICT_CHUNK + 37;
    let x = Tensor::randn([n, 3], 0.0, 1.0, &mut Rng::seed(11));
    let all = m.forward(&x).unwrap();
    assert_eq!(all.dims(), &[n, 2]);
    for i in [
        0,
        1,
        backprop::io::PREDICT_CHUNK - 1,
        backprop::io::PREDICT_CHUNK,
        n - 1,
    ] {
        let one = m
            .forward(&Tensor::from_slice(x.row(i), [1, 3]).unwrap())
            .unwrap();
        for (a, b) in one.data().iter().zip(all.row(i)) {
            assert!(
                (a - b).abs() <= 1e-5 * a.abs().max(1.0),
                "row {i}: {a} vs {b}"
            );
        }
    }
}

//! The one training loop, driven step by step: `Trainer::start` → `Session::next_epoch` →
//! `finish`, the observer, `Prepared`, cross-validation, and the settings every run checks.

use backprop::data::{read_csv_from, CsvOptions, Dataset, Features, Targets};
use backprop::nn::{Activation, Init, LayerSpec, Mlp, MlpSpec};
use backprop::optim::OptimizerConfig;
use backprop::pipeline::{Hooks, Network, Pipeline};
use backprop::train::{
    Control, EarlyStopping, Event, Fit, Observer, StopReason, TrainState, Trainer,
};
use backprop::{Loss, Parameters, Rng};

fn blobs(n: usize, seed: u64) -> Dataset {
    let mut rng = Rng::seed(seed);
    let (mut x, mut labels) = (vec![], vec![]);
    for i in 0..n {
        let c = (i % 3) as u32;
        x.push(c as f32 + rng.normal() * 0.4);
        x.push((c as f32 * 2.0).sin() + rng.normal() * 0.4);
        labels.push(c);
    }
    let names = vec!["a".into(), "b".into(), "c".into()];
    Dataset::new(Features::F32(x), 2, Targets::Classes { labels, names }).unwrap()
}

fn net(seed: u64, dropout: f32) -> (Mlp, Parameters) {
    let mut params = Parameters::new();
    let mut spec = MlpSpec::from_sizes(&[2, 8, 3], Activation::Tanh, Activation::Identity);
    spec.layers[0] = LayerSpec {
        dropout,
        ..spec.layers[0].clone()
    };
    let net = Mlp::new(spec, &mut params, Init::XavierUniform, &mut Rng::seed(seed)).unwrap();
    (net, params)
}

fn trainer(epochs: usize) -> Trainer {
    Trainer {
        epochs,
        batch_size: 16,
        validation_split: 0.2,
        early_stopping: Some(EarlyStopping::new(3)),
        ..Trainer::new(Loss::CrossEntropy)
    }
}

fn bytes(p: &Parameters) -> Vec<u32> {
    p.ids()
        .flat_map(|id| p[id].data().iter().map(|v| v.to_bits()).collect::<Vec<_>>())
        .collect()
}

#[test]
fn a_session_stepped_by_hand_is_fit() {
    let data = blobs(120, 1);
    let t = trainer(40);
    let (m, mut fitted) = net(2, 0.0);
    let h1 = t.fit(&m, &mut fitted, &data).unwrap();

    let (m, mut stepped) = net(2, 0.0);
    let mut s = t.start(&m, &mut stepped, &data, Fit::default()).unwrap();
    let mut reports = vec![];
    while let Some(r) = s.next_epoch().unwrap() {
        reports.push(r);
    }
    assert!(
        s.next_epoch().unwrap().is_none(),
        "a finished session stays finished"
    );
    let h2 = s.finish();
    assert_eq!(bytes(&fitted), bytes(&stepped));
    assert_eq!(h1.stop, h2.stop);
    assert_eq!(h1.best_epoch, h2.best_epoch);
    assert_eq!(reports.len(), h2.epochs.len());
    for (a, b) in reports.iter().zip(&h1.epochs) {
        assert_eq!(
            (a.epoch, a.train.loss, &a.val),
            (b.epoch, b.train.loss, &b.val)
        );
    }
}

#[test]
fn stopping_early_and_resuming_from_the_state_is_one_run() {
    let data = blobs(90, 3);
    let t = Trainer {
        early_stopping: None,
        ..trainer(12)
    };
    let (m, mut whole) = net(4, 0.0);
    t.fit(&m, &mut whole, &data).unwrap();

    let (m, mut parts) = net(4, 0.0);
    let mut s = t.start(&m, &mut parts, &data, Fit::default()).unwrap();
    for _ in 0..5 {
        s.next_epoch().unwrap().expect("an epoch");
    }
    let (h, state): (_, TrainState) = s.finish_with_state();
    assert_eq!(h.stop, StopReason::Callback, "ended by the caller");
    assert_eq!(state.epoch, 5);
    let fit = Fit {
        resume: Some(state),
        ..Fit::default()
    };
    let h = t.fit_with(&m, &mut parts, &data, fit).unwrap();
    assert_eq!(h.epochs.len(), 12);
    assert_eq!(bytes(&whole), bytes(&parts));
}

/// An observer with state of its own: no `RefCell` needed.
#[derive(Default)]
struct Counter {
    batches: usize,
    epochs: usize,
    stop_after: usize,
}

impl Observer for Counter {
    fn on_event(&mut self, e: Event) -> Control {
        match e {
            Event::Batch { .. } => self.batches += 1,
            Event::Epoch { .. } => self.epochs += 1,
        }
        if self.epochs == self.stop_after {
            Control::Stop
        } else {
            Control::Continue
        }
    }
}

#[test]
fn an_observer_sees_every_batch_and_epoch_and_can_stop() {
    let data = blobs(64, 5);
    let t = Trainer {
        validation_split: 0.0,
        early_stopping: None,
        ..trainer(10)
    };
    let (m, mut p) = net(6, 0.0);
    let mut c = Counter {
        stop_after: 4,
        ..Counter::default()
    };
    let fit = Fit {
        observer: Some(&mut c),
        ..Fit::default()
    };
    let h = t.fit_with(&m, &mut p, &data, fit).unwrap();
    assert_eq!(h.stop, StopReason::Callback);
    assert_eq!(h.epochs.len(), 4);
    assert_eq!((c.epochs, c.batches), (4, 4 * 4)); // 64 rows in batches of 16
}

#[test]
fn hostile_settings_are_refused_before_training() {
    let data = blobs(30, 7);
    let (m, mut p) = net(8, 0.0);
    let before = bytes(&p);
    for (t, what) in [
        (trainer(3).clip_grad_value(-1.0), "clip_grad_value"),
        (trainer(3).clip_grad_norm(-1.0), "clip_grad_norm"),
        (trainer(3).clip_grad_norm(f32::INFINITY), "clip_grad_norm"),
        (trainer(3).validation_split(1.5), "validation_split"),
    ] {
        let e = t.start(&m, &mut p, &data, Fit::default()).err();
        let e = e.unwrap_or_else(|| panic!("{what} accepted")).to_string();
        assert!(e.contains(what), "{e}");
    }
    // L-BFGS with dropout: its line search would compare different random networks
    let (m, mut pd) = net(8, 0.5);
    let lbfgs = trainer(3).optimizer(OptimizerConfig::default_for("lbfgs", None).unwrap());
    let e = lbfgs.start(&m, &mut pd, &data, Fit::default()).err();
    assert!(e.expect("refused").to_string().contains("dropout"));
    assert_eq!(bytes(&p), before, "nothing trained");
}

fn xor_csv() -> Dataset {
    let csv = format!("a,b,y\n{}", "0,0,0\n0,1,1\n1,0,1\n1,1,0\n".repeat(10));
    read_csv_from(csv.as_bytes(), "xor.csv", &CsvOptions::default()).unwrap()
}

#[test]
fn prepared_runs_are_the_pipeline_and_cv_folds_are_prepared_runs() {
    let data = xor_csv();
    let mut p = Pipeline {
        network: Network::hidden(&[6]),
        ..Pipeline::default()
    };
    p.trainer.epochs = 7;
    let a = p.run(&data, None, Hooks::default()).unwrap();
    let prepared = p.prepare(&data, None).unwrap();
    assert_eq!(prepared.sizes(), [40, 0, 0]);
    assert_eq!(prepared.trainer.epochs, 7);
    assert!(
        prepared.small_data.is_some(),
        "40 rows: the small-data rule"
    );
    let b = prepared.run(Hooks::default()).unwrap();
    assert_eq!(bytes(&a.model.params), bytes(&b.model.params));

    let cv = p.cross_validation(&data, 4).unwrap();
    assert_eq!(cv.len(), 4);
    let mut seen = vec![];
    for i in 0..cv.len() {
        let f = cv.prepare(i).unwrap();
        assert_eq!(f.sizes()[2], cv.fold(i).len(), "the fold is the test part");
        assert!(
            f.out.is_none() && f.checkpoint.is_none(),
            "cv saves nothing"
        );
        seen.extend_from_slice(cv.fold(i));
    }
    seen.sort_unstable();
    assert_eq!(seen, (0..40).collect::<Vec<_>>());
}

#[test]
fn the_pipeline_splits_once() {
    let data = xor_csv();
    let mut p = Pipeline::default();
    p.trainer.validation_split = 0.2;
    let e = p.prepare(&data, None).expect_err("refused");
    assert!(e.to_string().contains("val_split"), "{e}");
}

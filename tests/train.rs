//! Convergence tests that run in seconds, and the training loop's rules.

use backprop::classic::{Adaline, MultiClassPerceptron, Perceptron};
use backprop::data::{Dataset, Features, Targets};
use backprop::nn::{Activation, Init, Mlp, MlpSpec, Module};
use backprop::optim::OptimizerConfig;
use backprop::train::{Control, EarlyStopping, Event, Fit, Monitor, StopReason, Trainer};
use backprop::{Error, Loss, Parameters, Rng, Tape, Tensor};

fn xor() -> Dataset {
    let x = vec![0., 0., 0., 1., 1., 0., 1., 1.];
    Dataset::new(
        Features::F32(x),
        2,
        Targets::Classes {
            labels: vec![0, 1, 1, 0],
            names: vec!["0".into(), "1".into()],
        },
    )
    .unwrap()
}

/// A network of the given sizes with PyTorch's default initialisation from `seed`.
fn pytorch_mlp(
    sizes: &[usize],
    hidden: Activation,
    output: Activation,
    seed: u64,
) -> (Mlp, Parameters) {
    let mut params = Parameters::new();
    let net = Mlp::new(
        MlpSpec::from_sizes(sizes, hidden, output),
        &mut params,
        Init::PyTorch,
        &mut Rng::seed(seed),
    )
    .unwrap();
    (net, params)
}

/// A training configuration: loss, epochs and batch size (0 = full batch), other fields default.
fn config(loss: Loss, epochs: usize, batch_size: usize) -> Trainer {
    Trainer {
        epochs,
        batch_size,
        ..Trainer::new(loss)
    }
}

#[test]
fn perceptron_learns_and_and_or_but_not_xor() {
    let x = Tensor::from_vec(vec![0., 0., 0., 1., 1., 0., 1., 1.], [4, 2]).unwrap();
    for (name, labels) in [("AND", [0, 0, 0, 1]), ("OR", [0, 1, 1, 1])] {
        let p = Perceptron::train(&x, &labels, 100);
        assert!(p.converged, "{name} not learned");
        assert_eq!(p.predict(&x), labels.to_vec(), "{name}");
    }
    let p = Perceptron::train(&x, &[0, 1, 1, 0], 1000);
    assert!(!p.converged, "XOR is not linearly separable");
    let right = p
        .predict(&x)
        .iter()
        .zip([0, 1, 1, 0])
        .filter(|(a, b)| **a == *b)
        .count();
    assert!(right < 4);
}

#[test]
fn multiclass_perceptron_separates_three_clusters() {
    let x = Tensor::from_vec(
        vec![0., 0., 0.2, 0.1, 5., 5., 5.2, 4.9, 0., 5., 0.1, 5.2],
        [6, 2],
    )
    .unwrap();
    let labels = [0, 0, 1, 1, 2, 2];
    let p = MultiClassPerceptron::train(&x, &labels, 3, 100);
    assert!(p.converged);
    assert_eq!(p.predict(&x), labels.to_vec());
}

#[test]
fn adaline_lms_error_decreases_to_the_least_squares_fit() {
    let x = Tensor::from_vec(vec![0., 1., 2., 3., 4.], [5, 1]).unwrap();
    let t = [1.0, 3.1, 4.9, 7.2, 8.8]; // least squares: slope 1.97, intercept 1.06
    let a = Adaline::train(&x, &t, 0.02, 2000);
    assert!(a.mse.windows(2).take(50).all(|w| w[1] <= w[0] + 1e-6));
    // online LMS hovers near the least-squares solution
    assert!(
        (a.weights[0] - 1.97).abs() < 0.05 && (a.bias - 1.06).abs() < 0.1,
        "{:?}",
        a
    );
}

#[test]
fn xor_2_2_1_sigmoid_network_learns_xor_by_backprop() {
    let data = xor();
    let spec = MlpSpec::from_sizes(&[2, 2, 1], Activation::Sigmoid, Activation::Sigmoid);
    let mut params = Parameters::new();
    let net = Mlp::new(spec, &mut params, Init::Uniform(1.0), &mut Rng::seed(3)).unwrap();
    let opt = OptimizerConfig::sgd(0.5).with_momentum(0.9);
    let cfg = config(Loss::Mse, 2000, 0);
    let h = cfg
        .clone()
        .optimizer(opt.clone())
        .fit_with(&net, &mut params, &data, Fit { ..Fit::default() })
        .unwrap();
    let last = h.epochs.last().unwrap();
    assert_eq!(
        last.train.accuracy,
        Some(1.0),
        "final loss {}",
        last.train.loss
    );
    let y = net
        .predict(&params, &mut Tape::new(), &data.features_tensor())
        .unwrap();
    for (out, want) in y.data().iter().zip([0.0, 1.0, 1.0, 0.0]) {
        assert!((out - want).abs() < 0.2, "{:?}", y);
    }
}

#[test]
fn encoder_8_3_8_learns_the_identity() {
    // eight one-hot patterns through three hidden units (Rumelhart et al.'s encoder problem)
    let mut x = vec![0.0; 64];
    for i in 0..8 {
        x[i * 9] = 1.0;
    }
    let names = (0..8).map(|i| format!("y{i}")).collect();
    let data = Dataset::new(
        Features::F32(x.clone()),
        8,
        Targets::Values { data: x, names },
    )
    .unwrap();
    let spec = MlpSpec::from_sizes(&[8, 3, 8], Activation::Sigmoid, Activation::Sigmoid);
    let mut params = Parameters::new();
    let net = Mlp::new(spec, &mut params, Init::XavierUniform, &mut Rng::seed(1)).unwrap();
    let opt = OptimizerConfig::adam(0.05);
    let cfg = config(Loss::Mse, 3000, 0);
    cfg.clone()
        .optimizer(opt.clone())
        .fit_with(&net, &mut params, &data, Fit { ..Fit::default() })
        .unwrap();
    let y = net
        .predict(&params, &mut Tape::new(), &data.features_tensor())
        .unwrap();
    assert_eq!(y.argmax_rows(), (0..8).collect::<Vec<_>>(), "{:?}", y);
}

#[test]
fn online_and_minibatch_and_full_batch_update_counts() {
    let data = xor();
    let spec = MlpSpec::from_sizes(&[2, 3, 1], Activation::Tanh, Activation::Identity);
    for (bs, batches) in [(1, 4), (3, 2), (0, 1)] {
        let mut params = Parameters::new();
        let net = Mlp::new(spec.clone(), &mut params, Init::PyTorch, &mut Rng::seed(0)).unwrap();
        let opt = OptimizerConfig::sgd(0.1);
        let mut cfg = Trainer::new(Loss::Mse);
        cfg.epochs = 2;
        cfg.batch_size = bs;
        let mut seen = vec![];
        cfg.clone()
            .optimizer(opt.clone())
            .fit_with(
                &net,
                &mut params,
                &data,
                Fit {
                    observer: Some(&mut |e: Event| {
                        if let Event::Batch { batches, .. } = e {
                            seen.push(batches);
                        }
                        Control::Continue
                    }),
                    ..Fit::default()
                },
            )
            .unwrap();
        assert_eq!(seen, vec![batches; 2 * batches], "batch size {bs}");
    }
}

#[test]
fn same_seed_same_run() {
    let run = |seed| {
        let data = xor();
        let mut params = Parameters::new();
        let net = Mlp::new(
            MlpSpec::from_sizes(&[2, 4, 1], Activation::Tanh, Activation::Sigmoid).dropout(0.0),
            &mut params,
            Init::PyTorch,
            &mut Rng::seed(seed),
        )
        .unwrap();
        let opt = OptimizerConfig::sgd(0.3);
        let mut cfg = config(Loss::Mse, 30, 1);
        cfg.seed = seed;
        cfg.clone()
            .optimizer(opt.clone())
            .fit_with(&net, &mut params, &data, Fit { ..Fit::default() })
            .unwrap();
        params
    };
    assert_eq!(run(5), run(5));
    assert_ne!(run(5), run(6));
}

#[test]
fn early_stopping_restores_the_best_weights() {
    // training loss of a regression that can only get worse once the lr makes it oscillate
    let data = xor();
    let (net, mut params) = pytorch_mlp(&[2, 4, 1], Activation::Tanh, Activation::Sigmoid, 2);
    let opt = OptimizerConfig::sgd(0.5);
    let mut cfg = config(Loss::Mse, 10_000, 0);
    cfg.early_stopping = Some(EarlyStopping {
        monitor: Monitor::ValLoss,
        patience: 3,
        min_delta: 0.1,
        restore_best: true,
    });
    let mut best_params = None;
    let h = cfg
        .clone()
        .optimizer(opt.clone())
        .fit_with(
            &net,
            &mut params,
            &data,
            Fit {
                validation: Some(&data),
                observer: Some(&mut |e: Event| {
                    if let Event::Epoch { state, params, .. } = e {
                        if state.best.map(|b| b.1) == Some(state.epoch) {
                            best_params = Some(params.clone());
                        }
                    }
                    Control::Continue
                }),
                ..Fit::default()
            },
        )
        .unwrap();
    assert_eq!(h.stop, StopReason::EarlyStopping);
    let best = h.best_epoch.unwrap();
    assert_eq!(
        h.epochs.len(),
        best + 3,
        "stops after `patience` epochs without a 0.1 improvement"
    );
    assert_eq!(Some(params), best_params);
}

#[test]
fn target_loss_stops_early() {
    let data = xor();
    let (net, mut params) = pytorch_mlp(&[2, 4, 1], Activation::Tanh, Activation::Identity, 2);
    let opt = OptimizerConfig::adam(0.05);
    let mut cfg = config(Loss::BceWithLogits, 5000, 0);
    cfg.target_loss = Some(0.3);
    let h = cfg
        .clone()
        .optimizer(opt.clone())
        .fit_with(&net, &mut params, &data, Fit { ..Fit::default() })
        .unwrap();
    assert_eq!(h.stop, StopReason::TargetLoss);
    assert!(h.epochs.len() < 5000 && h.epochs.last().unwrap().train.loss <= 0.3);
}

#[test]
fn a_nan_loss_stops_with_an_error_and_keeps_the_last_good_weights() {
    let data = xor();
    let (net, mut params) = pytorch_mlp(&[2, 8, 1], Activation::Relu, Activation::Identity, 0);
    let opt = OptimizerConfig::sgd(1e4); // diverges
    let cfg = config(Loss::Mse, 1000, 1);
    let mut last_good = params.clone();
    let err = cfg
        .clone()
        .optimizer(opt.clone())
        .fit_with(
            &net,
            &mut params,
            &data,
            Fit {
                observer: Some(&mut |e: Event| {
                    if let Event::Epoch { params, .. } = e {
                        last_good = params.clone();
                    }
                    Control::Continue
                }),
                ..Fit::default()
            },
        )
        .unwrap()
        .check()
        .unwrap_err();
    assert!(matches!(err, Error::NonFiniteLoss { .. }), "{err}");
    assert!(err.to_string().contains("last good weights"));
    assert_eq!(params, last_good);
    assert!(params.tensors().iter().all(|t| t.is_finite()));
}

#[test]
fn skip_connection_network_trains_and_its_gradient_checks() {
    // x(0) → 4 tanh → 1, where the output layer also reads x(0) directly
    let spec =
        MlpSpec::new(2)
            .layer(4, Activation::Tanh)
            .layer_from(&[1, 0], 1, Activation::Sigmoid);
    let mut params = Parameters::new();
    let net = Mlp::new(spec, &mut params, Init::XavierUniform, &mut Rng::seed(4)).unwrap();
    let x = Tensor::randn([5, 2], 0.0, 1.0, &mut Rng::seed(8));
    let inputs: Vec<Tensor> = params.tensors().to_vec();
    let report = backprop::gradcheck(&inputs, 1e-3, |g, v| {
        // rebuild the network's forward with the checked tensors as its parameters
        let xv = g.input(&x);
        let h = g.linear(xv, v[0], Some(v[1]));
        let h = g.tanh(h);
        let cat = g.concat(&[h, xv]);
        let o = g.linear(cat, v[2], Some(v[3]));
        let o = g.sigmoid(o);
        g.sum(o)
    });
    assert!(report.passed(1e-2), "{report:?}");
    // and the module computes exactly that forward
    let mut tape = Tape::new();
    let y = net.predict(&params, &mut tape, &x).unwrap();
    assert_eq!(y.dims(), &[5, 1]);
    let data = xor();
    let opt = OptimizerConfig::adam(0.05);
    let cfg = config(Loss::BceWithLogits, 400, 0);
    let h = cfg
        .clone()
        .optimizer(opt.clone())
        .fit_with(&net, &mut params, &data, Fit { ..Fit::default() })
        .unwrap();
    assert!(h.epochs.last().unwrap().train.loss < h.epochs[0].train.loss);
}

#[test]
fn dropout_is_active_in_training_and_off_in_eval() {
    let spec = MlpSpec::new(4)
        .layer(64, Activation::Relu)
        .dropout(0.5)
        .layer(1, Activation::Identity);
    let mut params = Parameters::new();
    let net = Mlp::new(spec, &mut params, Init::PyTorch, &mut Rng::seed(0)).unwrap();
    let x = Tensor::ones([2, 4]);
    let mut tape = Tape::new();
    let eval1 = net.predict(&params, &mut tape, &x).unwrap();
    let eval2 = net.predict(&params, &mut tape, &x).unwrap();
    assert_eq!(eval1, eval2, "eval mode is deterministic");
    tape.set_rng(Rng::seed(1));
    let train = {
        let mut g = backprop::Graph::new(&mut tape, &params);
        let xv = g.input(&x);
        let y = net.forward(&mut g, xv).unwrap();
        g.value(y).clone()
    };
    assert_ne!(train, eval1, "training mode drops units");
}

#[test]
fn wrong_output_width_or_loss_is_a_clear_error() {
    let data = xor();
    let (net, mut params) = pytorch_mlp(&[2, 3, 3], Activation::Tanh, Activation::Identity, 0);
    let opt = OptimizerConfig::sgd(0.1);
    let cfg = Trainer::new(Loss::CrossEntropy);
    let err = cfg
        .clone()
        .optimizer(opt.clone())
        .fit_with(&net, &mut params, &data, Fit { ..Fit::default() })
        .unwrap_err()
        .to_string();
    assert!(err.contains("output width") && err.contains('3'), "{err}");
}

/// The UCI digits (embedded in `data/`): ≥ 97 % accuracy on a stratified held-out 20 %.
#[test]
fn digits_reach_97_percent_on_held_out_data() {
    use backprop::data::{read_csv, split, CsvOptions, ScaleKind, Scaler, SplitSizes};
    use backprop::train::evaluate;
    let data = read_csv(
        concat!(env!("CARGO_MANIFEST_DIR"), "/data/digits.csv"),
        &CsvOptions::default(),
    )
    .unwrap();
    assert_eq!(
        (data.len(), data.n_features(), data.num_classes()),
        (1797, 64, Some(10))
    );
    for seed in [0, 1, 3] {
        let mut rng = Rng::seed(seed);
        let (mut train, _, mut test) = split(
            &data,
            SplitSizes::Fractions {
                val: 0.0,
                test: 0.2,
            },
            &mut rng,
        )
        .unwrap();
        let scaler = Scaler::fit(ScaleKind::Standard, &train);
        scaler.transform(&mut train);
        scaler.transform(&mut test);
        let mut params = Parameters::new();
        let spec = MlpSpec::from_sizes(&[64, 128, 10], Activation::Relu, Activation::Identity);
        let net = Mlp::new(spec, &mut params, Init::KaimingUniform, &mut rng).unwrap();
        let opt = OptimizerConfig::adam(1e-3);
        let mut cfg = Trainer::new(Loss::CrossEntropy);
        cfg.epochs = 40;
        cfg.seed = seed;
        cfg.clone()
            .optimizer(opt.clone())
            .fit_with(&net, &mut params, &train, Fit { ..Fit::default() })
            .unwrap();
        let acc = evaluate(&net, &params, Loss::CrossEntropy, &test)
            .unwrap()
            .accuracy
            .unwrap();
        eprintln!("digits seed {seed}: held-out accuracy {:.2} %", 100.0 * acc);
        assert!(acc >= 0.97, "seed {seed}: {acc}");
    }
}

#[test]
fn an_ensemble_averages_its_members() {
    use backprop::train::Ensemble;
    let data = xor();
    let mut ens = Ensemble::new(Loss::CrossEntropy);
    let mut rng = Rng::seed(10);
    for k in 0..3 {
        let mut params = Parameters::new();
        let net = Mlp::new(
            MlpSpec::from_sizes(&[2, 8, 2], Activation::Tanh, Activation::Identity),
            &mut params,
            Init::XavierUniform,
            &mut rng,
        )
        .unwrap();
        let opt = OptimizerConfig::adam(0.05);
        let mut cfg = config(Loss::CrossEntropy, 300, 0);
        cfg.seed = k;
        cfg.clone()
            .optimizer(opt.clone())
            .fit_with(&net, &mut params, &data, Fit { ..Fit::default() })
            .unwrap();
        ens.push(net, params);
    }
    let x = data.features_tensor();
    let avg = ens.predict(&x).unwrap();
    let mut tape = Tape::new();
    let members: Vec<Tensor> = (0..3)
        .map(|i| ens.member_output(i, &mut tape, &x).unwrap())
        .collect();
    for j in 0..avg.numel() {
        let mean = members.iter().map(|m| m.data()[j]).sum::<f32>() / 3.0;
        assert!((avg.data()[j] - mean).abs() < 1e-6);
    }
    // averaged class probabilities still sum to one, and the ensemble solves XOR
    for i in 0..4 {
        assert!((avg.row(i).iter().sum::<f32>() - 1.0).abs() < 1e-5);
    }
    assert_eq!(avg.argmax_rows(), vec![0, 1, 1, 0]);
}

/// `n` rows of two well-separated classes in 2-D (seeded).
fn blobs(n: usize) -> Dataset {
    let mut rng = Rng::seed(7);
    let (mut x, mut labels) = (Vec::new(), Vec::new());
    for i in 0..n {
        let c = i % 2;
        let centre = if c == 0 { -2.0 } else { 2.0 };
        x.push(centre + rng.normal());
        x.push(rng.normal());
        labels.push(c as u32);
    }
    Dataset::new(
        Features::F32(x),
        2,
        Targets::Classes {
            labels,
            names: vec!["a".into(), "b".into()],
        },
    )
    .unwrap()
}

/// The pipeline's small-data default: below 1,000 rows no validation part, at most 100 epochs
/// and a stop on the training loss; from 1,000 rows the 10 % validation split and the epochs
/// asked for; and off when `small_data` is `None`.
#[test]
fn pipeline_small_data_rule() {
    use backprop::pipeline::{Network, Pipeline};
    let mut p = Pipeline {
        network: Network::hidden(&[4]),
        ..Pipeline::default()
    };
    p.trainer.epochs = 300;
    let small = blobs(120);
    assert!(p.small_data_for(&small).is_some());
    let out = p.run(&small, None, Default::default()).unwrap();
    assert_eq!(out.sizes, [120, 0, 0]);
    let n = out.history.epochs.len();
    assert!((1..=100).contains(&n), "{n} epochs");
    assert!(out.history.epochs.iter().all(|e| e.val.is_none()));
    // the rule can be turned off: the validation split and the epochs are the pipeline's
    p.small_data = None;
    p.trainer.epochs = 2;
    let out = p.run(&small, None, Default::default()).unwrap();
    assert_eq!(out.sizes[1], 12);
    // a large data set keeps the validation split
    let mut p = Pipeline {
        network: Network::hidden(&[4]),
        ..Pipeline::default()
    };
    p.trainer.epochs = 1;
    let large = blobs(1000);
    assert!(p.small_data_for(&large).is_none());
    let out = p.run(&large, None, Default::default()).unwrap();
    assert_eq!(out.sizes, [900, 100, 0]);
    assert!(out.history.epochs[0].val.is_some());
}

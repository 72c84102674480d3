//! Batch normalisation: PyTorch's `BatchNorm1d` numbers on a batch worked by hand, gradient
//! checks, train/eval modes, running statistics (never touched by the optimizer, saved in model
//! files), folding for export, the errors, and a run of the real binary.

use backprop::autograd::RunningStats;
use backprop::data::{Dataset, Features, Targets};
use backprop::io::{Model, TaskInfo};
use backprop::nn::{check_gradients, fold_batch_norm, Init, Mlp, MlpSpec, Module};
use backprop::optim::OptimizerConfig;
use backprop::train::{Pretrain, Trainer};
use backprop::{Graph, Loss, Parameters, Rng, Tape, Tensor};

fn close(got: &[f32], want: &[f32], tol: f32, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}");
    for (g, w) in got.iter().zip(want) {
        assert!(
            (g - w).abs() <= tol * w.abs().max(1.0),
            "{what}: {got:?} vs {want:?}"
        );
    }
}

/// s `(4, 2)`, γ = (2, 0.5), β = (1, −1), running statistics at PyTorch's start (0, 1).
fn hand_batch() -> (Parameters, RunningStats) {
    let mut ps = Parameters::new();
    let s = [1., 0., 2., 4., 3., 4., 6., 0.];
    ps.add("s", Tensor::from_vec(s.to_vec(), [4, 2]).unwrap());
    ps.add("gamma", Tensor::from_vec(vec![2.0, 0.5], [2]).unwrap());
    ps.add("beta", Tensor::from_vec(vec![1.0, -1.0], [2]).unwrap());
    let mean = ps.add("running_mean", Tensor::zeros([2]));
    let var = ps.add("running_var", Tensor::ones([2]));
    let stats = RunningStats {
        mean,
        var,
        momentum: 0.1,
        eps: 1e-5,
    };
    (ps, stats)
}

#[test]
fn equals_pytorch_batchnorm1d_on_a_batch_worked_by_hand() {
    // By hand (ε = 1e-5, momentum 0.1), per column of s = [[1, 0], [2, 4], [3, 4], [6, 0]]:
    //   column 0: μ = (1+2+3+6)/4 = 3; deviations −2, −1, 0, 3; Σ dev² = 14;
    //             biased σ² = 14/4 = 3.5, unbiased 14/3; r = 1/√3.50001 = 0.534522;
    //             ŝ = −1.069043, −0.534522, 0, 1.603566; y = 2ŝ + 1 = −1.138087, −0.069043, 1, 4.207131
    //   column 1: μ = 2; deviations −2, 2, 2, −2; σ² = 16/4 = 4, unbiased 16/3; r = 1/√4.00001;
    //             ŝ ≈ ∓1; y = 0.5ŝ − 1 ≈ −1.5, −0.5, −0.5, −1.5
    //   running mean = 0.9·0 + 0.1·μ = (0.3, 0.2);
    //   running var  = 0.9·1 + 0.1·unbiased = (0.9 + 1.4/3, 0.9 + 1.6/3) = (1.366667, 1.433333)
    // Backward of E = Σ g⊙y with g = [[1, 2], [0, −1], [−1, 0], [2, 1]]:
    //   ∂E/∂β = Σ_i g = (2, 2);  ∂E/∂γ = Σ_i g·ŝ = (2.138087, −4·0.9999988)
    //   ∂E/∂s = γr/n·(n·g − Σg − ŝ·Σgŝ); column 1: 0.5·0.5/4·(4g − 2 + 4ŝ) = ±0.125
    //     (0.0625·(8−2−4), 0.0625·(−4−2+4), 0.0625·(0−2+4), 0.0625·(4−2−4))
    // The literals are PyTorch 2.x's own (torch.nn.BatchNorm1d(2) with the same weight, bias,
    // input and upstream gradient, train() then eval(), run once with /tmp/peers-venv's torch);
    // they agree with the hand values above.
    let torch_y = [
        -1.138_086_8,
        -1.499_999_4,
        -0.069_043_4,
        -0.500_000_66,
        1.0,
        -0.500_000_66,
        4.207_130_4,
        -1.499_999_4,
    ];
    let torch_ds = [
        1.145_401_8,
        0.125_000_46,
        -0.229_081_65,
        -0.125_000_46,
        -1.603_565_1,
        0.124_999_22,
        0.687_244_9,
        -0.124_999_22,
    ];
    let (torch_dgamma, torch_dbeta) = ([2.138_086_8, -3.999_995], [2.0, 2.0]);
    let (torch_rm, torch_rv) = ([0.3, 0.2], [1.366_666_7, 1.433_333_3]);
    // after that step, model.eval() on [[1, 0], [2, 4]] uses the running statistics
    let torch_eval: [f32; 4] = [2.197_554, -1.083_526_6, 3.908_345_7, 0.587_005_7];

    let (mut ps, stats) = hand_batch();
    let ids: Vec<_> = ps.ids().collect();
    let mut tape = Tape::new();
    let mut g = Graph::new(&mut tape, &ps);
    let (s, gamma, beta) = (g.param(ids[0]), g.param(ids[1]), g.param(ids[2]));
    let y = g.batch_norm(s, gamma, beta, stats);
    close(g.value(y).data(), &torch_y, 1e-5, "y");
    let up = [1., 2., 0., -1., -1., 0., 2., 1.];
    let up = g.input(&Tensor::from_vec(up.to_vec(), [4, 2]).unwrap());
    let e = g.mul(y, up);
    let e = g.sum(e);
    let grads = g.backward(e);
    close(grads.get(ids[0]).unwrap().data(), &torch_ds, 1e-5, "∂E/∂s");
    close(
        grads.get(ids[1]).unwrap().data(),
        &torch_dgamma,
        1e-5,
        "∂E/∂γ",
    );
    close(
        grads.get(ids[2]).unwrap().data(),
        &torch_dbeta,
        1e-5,
        "∂E/∂β",
    );
    assert!(grads.get(stats.mean).is_none() && grads.get(stats.var).is_none());

    assert_eq!(tape.update_running_stats(&mut ps), 1);
    close(ps[stats.mean].data(), &torch_rm, 1e-6, "running_mean");
    close(ps[stats.var].data(), &torch_rv, 1e-6, "running_var");
    assert_eq!(tape.update_running_stats(&mut ps), 0, "applied once");

    let mut g = Graph::no_grad(&mut tape, &ps);
    let x = g.input(&Tensor::from_vec(vec![1., 0., 2., 4.], [2, 2]).unwrap());
    let (gamma, beta) = (g.param(ids[1]), g.param(ids[2]));
    let y = g.batch_norm(x, gamma, beta, stats);
    close(g.value(y).data(), &torch_eval, 1e-5, "eval-mode y");
}

#[test]
fn eval_mode_op_passes_gradcheck() {
    let (ps, stats) = hand_batch();
    let inputs: Vec<Tensor> = ps.tensors().to_vec();
    let report = backprop::gradcheck(&inputs, 1e-3, |g, v| {
        g.set_training(false);
        let y = g.batch_norm(v[0], v[1], v[2], stats);
        let r = g.input(&Tensor::randn([4, 2], 0.0, 1.0, &mut Rng::seed(3)));
        let p = g.mul(y, r);
        g.sum(p)
    });
    // s, γ and β (the running statistics are constants of the op: no gradient is claimed)
    for (k, c) in report.inputs[..3].iter().enumerate() {
        assert!(c.max_rel <= 1e-2, "input {k}: {c:?}");
    }
}

fn bn_net(seed: u64) -> (Mlp, Parameters) {
    // 3 → 4 (tanh, bn) → 3 (relu, bn, reads layer 1 and the input, shared bias) → 2
    let spec = MlpSpec::from_json(
        r#"{"in_features": 3, "layers": [
            {"units": 4, "activation": "tanh", "batch_norm": true},
            {"units": 3, "activation": "relu", "inputs": [1, 0], "bias": "shared",
             "batch_norm": {"momentum": 0.2, "eps": 1e-3}},
            {"units": 2}]}"#,
    )
    .unwrap();
    let mut params = Parameters::new();
    let net = Mlp::new(spec, &mut params, Init::PyTorch, &mut Rng::seed(seed)).unwrap();
    (net, params)
}

/// Sets γ, β and the running statistics to random values (as after some training).
fn randomise_bn(net: &Mlp, params: &mut Parameters, rng: &mut Rng) {
    for bn in net.norms.iter().flatten() {
        let d = params[bn.weight].numel();
        params[bn.weight] = Tensor::rand_uniform([d], 0.5, 2.0, rng);
        params[bn.bias] = Tensor::randn([d], 0.0, 1.0, rng);
        params[bn.stats.mean] = Tensor::randn([d], 0.0, 1.0, rng);
        params[bn.stats.var] = Tensor::rand_uniform([d], 0.3, 3.0, rng);
    }
}

#[test]
fn bn_net_passes_the_model_gradcheck_and_a_wrong_gamma_gradient_fails_it() {
    let (net, mut params) = bn_net(1);
    randomise_bn(&net, &mut params, &mut Rng::seed(2));
    let x = Tensor::randn([6, 3], 0.0, 1.0, &mut Rng::seed(4));
    let t = Tensor::randn([6, 2], 0.0, 1.0, &mut Rng::seed(5));
    let report = check_gradients(&net, &params, &x, &t, Loss::Mse, 1e-3, 1e-2).unwrap();
    assert!(report.passed(), "{report:?}");
    let names: Vec<&str> = report.tensors.iter().map(|t| t.name.as_str()).collect();
    assert!(names.contains(&"layers.1.bn.weight"), "{names:?}");
    assert!(!names.iter().any(|n| n.contains("running")), "{names:?}");
    let bn_checked: usize = report
        .tensors
        .iter()
        .filter(|t| t.name.contains(".bn."))
        .map(|t| t.checked)
        .sum();
    assert!(bn_checked >= 10, "{report:?}");
    // the eval-mode gradient (running statistics) is not the training gradient the check wants
    let mut analytic = backprop::nn::analytic_gradients(&net, &params, &x, &t, Loss::Mse).unwrap();
    let k = params.find("layers.0.bn.weight").unwrap().0;
    analytic[k] = analytic[k].map(|v| v * 1.5 + 0.1);
    let bad = backprop::nn::check_against(&net, &params, &x, &t, Loss::Mse, 1e-3, 1e-2, &analytic);
    assert!(!bad.unwrap().passed());
}

#[test]
fn eval_mode_uses_the_running_statistics_and_differs_from_training_mode() {
    let spec = MlpSpec::from_json(
        r#"{"in_features": 2, "layers": [{"units": 2, "batch_norm": true,
            "init": {"weight": [[1, 2], [-1, 0.5]], "bias": [0.5, -0.25]}}]}"#,
    )
    .unwrap();
    let mut params = Parameters::new();
    let net = Mlp::new(spec, &mut params, Init::Zeros, &mut Rng::seed(0)).unwrap();
    let bn = net.norms[0].clone().unwrap();
    let (rm, rv) = ([0.5f32, -1.0], [2.0f32, 0.25]);
    params[bn.stats.mean] = Tensor::from_slice(&rm, [2]).unwrap();
    params[bn.stats.var] = Tensor::from_slice(&rv, [2]).unwrap();
    params[bn.weight] = Tensor::from_slice(&[1.5, -2.0], [2]).unwrap();
    params[bn.bias] = Tensor::from_slice(&[0.1, 0.2], [2]).unwrap();
    let xs = [1.0f32, 2.0, -1.0, 0.0, 0.5, 0.5];
    let x = Tensor::from_slice(&xs, [3, 2]).unwrap();
    let eval = net.predict(&params, &mut Tape::new(), &x).unwrap();
    // by hand: s = x·Wᵀ + b, then γ(s − μ_R)/√(σ²_R + ε) + β
    let (w, b, gm, bt) = (
        [[1.0, 2.0], [-1.0, 0.5]],
        [0.5, -0.25],
        [1.5, -2.0],
        [0.1, 0.2],
    );
    let mut want = vec![];
    for r in xs.chunks(2) {
        for j in 0..2 {
            let s = w[j][0] * r[0] + w[j][1] * r[1] + b[j];
            want.push(gm[j] * (s - rm[j]) / (rv[j] + 1e-5).sqrt() + bt[j]);
        }
    }
    close(eval.data(), &want, 1e-6, "eval mode");
    let mut tape = Tape::new();
    let mut g = Graph::new(&mut tape, &params);
    let xv = g.input(&x);
    let y = net.forward(&mut g, xv).unwrap();
    let train = g.value(y).clone();
    assert!(train.max_abs_diff(&eval) > 0.1, "{train:?} vs {eval:?}");
    // training mode: every unit's output has the batch mean β
    let mean0 = (train.data()[0] + train.data()[2] + train.data()[4]) / 3.0;
    assert!((mean0 - 0.1).abs() < 1e-5);
}

fn regression(n: usize, seed: u64) -> Dataset {
    let mut rng = Rng::seed(seed);
    let x = Tensor::randn([n, 2], 1.0, 2.0, &mut rng).into_vec();
    let y: Vec<f32> = x.chunks(2).map(|r| r[0] - 0.5 * r[1]).collect();
    let names = vec!["y".into()];
    Dataset::new(Features::F32(x), 2, Targets::Values { data: y, names }).unwrap()
}

#[test]
fn running_statistics_follow_pytorchs_rule_and_the_optimizer_never_touches_them() {
    // layer 1's weights are frozen, so its s is the same every epoch: after 3 full-batch epochs
    // running_mean = (1 − 0.9³)·μ and running_var = 0.9³ + (1 − 0.9³)·σ²(unbiased), exactly as
    // if no optimizer (with weight decay 1, and momentum) had touched them.
    let spec = MlpSpec::from_json(
        r#"{"in_features": 2, "layers": [
            {"units": 2, "activation": "tanh", "batch_norm": true, "trainable": false},
            {"units": 1}]}"#,
    )
    .unwrap();
    let mut params = Parameters::new();
    let net = Mlp::new(spec, &mut params, Init::PyTorch, &mut Rng::seed(3)).unwrap();
    let data = regression(10, 1);
    let opt = OptimizerConfig::sgd(0.1)
        .with_momentum(0.9)
        .with_weight_decay(1.0);
    let w0 = params[net.layers[0].weight].clone();
    let x = data.features_tensor();
    let s = x.matmul(&w0.t());
    let bias = params[net.layers[0].bias.unwrap()].clone();
    Trainer::new(Loss::Mse)
        .optimizer(opt)
        .epochs(3)
        .batch_size(0)
        .fit(&net, &mut params, &data)
        .unwrap();
    let bn = net.norms[0].clone().unwrap();
    let keep = 0.9f64.powi(3);
    for j in 0..2 {
        let col: Vec<f64> = (0..10)
            .map(|i| (s.data()[i * 2 + j] + bias.data()[j]) as f64)
            .collect();
        let mu = col.iter().sum::<f64>() / 10.0;
        let var = col.iter().map(|v| (v - mu).powi(2)).sum::<f64>() / 9.0;
        let (rm, rv) = (
            params[bn.stats.mean].data()[j],
            params[bn.stats.var].data()[j],
        );
        assert!(((1.0 - keep) * mu - rm as f64).abs() < 1e-5, "{rm} vs {mu}");
        assert!(
            (keep + (1.0 - keep) * var - rv as f64).abs() < 1e-5,
            "{rv} vs {var}"
        );
    }
    assert_ne!(params[bn.weight], Tensor::ones([2]), "γ trains");
}

#[test]
fn lbfgs_trains_a_bn_net_and_moves_its_running_statistics() {
    let (net, mut params) = bn_net(2);
    let data = {
        let mut rng = Rng::seed(9);
        let x = Tensor::randn([12, 3], 0.0, 1.0, &mut rng).into_vec();
        let y = x.chunks(3).flat_map(|r| [r[0] * r[1], r[2]]).collect();
        let names = vec!["a".into(), "b".into()];
        Dataset::new(Features::F32(x), 3, Targets::Values { data: y, names }).unwrap()
    };
    let h = Trainer::new(Loss::Mse)
        .optimizer(OptimizerConfig::default_for("lbfgs", None).unwrap())
        .epochs(3)
        .fit(&net, &mut params, &data)
        .unwrap();
    let losses: Vec<f32> = h.epochs.iter().map(|e| e.train.loss).collect();
    assert!(losses[2] < losses[0], "{losses:?}");
    let bn = net.norms[0].clone().unwrap();
    assert_ne!(params[bn.stats.mean], Tensor::zeros([4]));
}

fn model_of(net: &Mlp, params: Parameters) -> Model {
    let task = TaskInfo::Regression {
        targets: vec!["a".into(), "b".into()],
    };
    let names = vec!["x0".into(), "x1".into(), "x2".into()];
    let scaler = backprop::data::Scaler::None;
    let meta = Model::meta(
        net.spec.clone(),
        Loss::Mse,
        task,
        names,
        scaler,
        Init::PyTorch,
        1,
    );
    Model {
        meta,
        net: net.clone(),
        params,
    }
}

#[test]
fn save_and_load_keep_the_running_statistics_and_the_predictions() {
    let (net, mut params) = bn_net(4);
    randomise_bn(&net, &mut params, &mut Rng::seed(6));
    let m = model_of(&net, params);
    let bytes = m.to_bytes();
    let back = Model::from_bytes(&bytes, std::path::Path::new("bn.safetensors")).unwrap();
    assert_eq!(back.params, m.params);
    let names: Vec<&str> = back.params.named().map(|(n, _)| n).collect();
    for n in ["weight", "bias", "running_mean", "running_var"] {
        assert!(
            names.contains(&format!("layers.0.bn.{n}").as_str()),
            "{names:?}"
        );
    }
    let x = Tensor::randn([5, 3], 0.0, 1.0, &mut Rng::seed(8));
    assert_eq!(back.forward(&x).unwrap(), m.forward(&x).unwrap());
    assert_eq!(back.meta.architecture, m.meta.architecture);
    let arch = serde_json::to_string(&back.meta.architecture).unwrap();
    assert!(
        arch.contains(r#""batch_norm":{"momentum":0.2,"eps":0.001}"#),
        "{arch}"
    );
}

#[test]
fn folded_net_equals_the_bn_net_in_eval_mode() {
    // also a layer tied (transposed) to a bn layer, and one tied to a bn layer without its own bn
    let tied = MlpSpec::from_json(
        r#"{"in_features": 3, "layers": [
            {"units": 2, "activation": "sigmoid", "batch_norm": true, "bias": "none"},
            {"units": 3, "activation": "tanh", "tie": {"layer": 1, "transpose": true},
             "batch_norm": true},
            {"units": 2, "tie": {"layer": 1}, "inputs": [0]},
            {"units": 2, "inputs": [2, 3]}]}"#,
    )
    .unwrap();
    let mut ps = Parameters::new();
    let tied = Mlp::new(tied, &mut ps, Init::PyTorch, &mut Rng::seed(5)).unwrap();
    let (net, params) = bn_net(7);
    for (k, (net, mut params)) in [(net, params), (tied, ps)].into_iter().enumerate() {
        randomise_bn(&net, &mut params, &mut Rng::seed(10 + k as u64));
        let (folded, fparams) = fold_batch_norm(&net, &params).unwrap();
        assert!(!folded.spec.has_batch_norm());
        assert!(fparams.named().all(|(n, _)| !n.contains(".bn.")));
        let x = Tensor::randn([16, 3], 0.0, 2.0, &mut Rng::seed(11));
        let a = net.predict(&params, &mut Tape::new(), &x).unwrap();
        let b = folded.predict(&fparams, &mut Tape::new(), &x).unwrap();
        close(b.data(), a.data(), 1e-5, "folded vs eval mode");
        let m = model_of(&net, params.clone());
        if k == 0 {
            let mf = m.fold_batch_norm().unwrap();
            close(
                mf.forward(&x).unwrap().data(),
                a.data(),
                1e-5,
                "Model::fold_batch_norm",
            );
            // the folded model is a plain model file
            let back = Model::from_bytes(&mf.to_bytes(), std::path::Path::new("f")).unwrap();
            assert_eq!(back.params, mf.params);
        }
    }
    // a net without batch norm folds to itself
    let spec = MlpSpec::from_sizes(
        &[3, 4, 2],
        backprop::nn::Activation::Relu,
        backprop::nn::Activation::Identity,
    );
    let mut ps = Parameters::new();
    let plain = Mlp::new(spec, &mut ps, Init::PyTorch, &mut Rng::seed(1)).unwrap();
    let (same, sp) = fold_batch_norm(&plain, &ps).unwrap();
    assert_eq!((same, sp), (plain, ps));
}

fn net_error(json: &str) -> String {
    MlpSpec::from_json(json).unwrap_err().to_string()
}

#[test]
fn bad_batch_norm_options_name_the_layer() {
    let e = net_error(
        r#"{"in_features": 2, "layers": [{"units": 1, "activation": "step", "batch_norm": true}]}"#,
    );
    assert!(e.contains("layer 1") && e.contains("step"), "{e}");
    let e = net_error(
        r#"{"in_features": 2, "layers": [{"units": 2}, {"units": 1, "batch_norm": {"momentum": 1.5}}]}"#,
    );
    assert!(e.contains("layer 2") && e.contains("momentum 1.5"), "{e}");
    let e = net_error(r#"{"in_features": 2, "layers": [{"units": 1, "batch_norm": {"eps": 0}}]}"#);
    assert!(e.contains("layer 1") && e.contains("eps 0"), "{e}");
    let e = net_error(r#"{"in_features": 2, "layers": [{"units": 1, "batch_norm": "yes"}]}"#);
    assert!(e.contains("layer 1") && e.contains("batch_norm"), "{e}");
    let e = net_error(r#"{"in_features": 2, "layers": [{"units": 1, "batch_norm": {"mom": 1}}]}"#);
    assert!(e.contains("layer 1") && e.contains("batch_norm"), "{e}");
    // `false` is no batch norm, and is not written back
    let off =
        MlpSpec::from_json(r#"{"in_features": 2, "layers": [{"units": 1, "batch_norm": false}]}"#)
            .unwrap();
    assert!(!off.has_batch_norm() && !off.to_json().contains("batch_norm"));
}

#[test]
fn a_training_batch_of_one_sample_is_a_clear_error() {
    let spec = MlpSpec::from_json(
        r#"{"in_features": 2, "layers": [{"units": 3, "activation": "relu"},
            {"units": 2, "activation": "relu", "batch_norm": true}, {"units": 1}]}"#,
    )
    .unwrap();
    let mut params = Parameters::new();
    let net = Mlp::new(spec, &mut params, Init::PyTorch, &mut Rng::seed(0)).unwrap();
    // 5 samples in batches of 4: the last batch has 1
    let e = Trainer::new(Loss::Mse)
        .batch_size(4)
        .epochs(1)
        .fit(&net, &mut params, &regression(5, 2))
        .unwrap_err()
        .to_string();
    assert!(e.contains("layer 2") && e.contains("batch of 1"), "{e}");
    // evaluation mode takes a single sample
    let one = Tensor::from_vec(vec![0.5, 0.5], [1, 2]).unwrap();
    assert!(net.predict(&params, &mut Tape::new(), &one).is_ok());
}

#[test]
fn pretraining_and_explain_refuse_bn_nets_clearly() {
    let (net, mut params) = bn_net(1);
    let data = {
        let x = Tensor::randn([8, 3], 0.0, 1.0, &mut Rng::seed(1)).into_vec();
        let y = vec![0.0; 16];
        let names = vec!["a".into(), "b".into()];
        Dataset::new(Features::F32(x), 3, Targets::Values { data: y, names }).unwrap()
    };
    let e = Pretrain::new(2)
        .run(&net, &mut params, &data)
        .unwrap_err()
        .to_string();
    assert!(e.contains("layer 1") && e.contains("batch_norm"), "{e}");
    let e =
        backprop::explain::explain(&net, &params, &[0.1, 0.2, 0.3], &[0.0, 1.0], Loss::Mse, 0.1)
            .unwrap_err()
            .to_string();
    assert!(e.contains("layer 1") && e.contains("not explained"), "{e}");
    let m = model_of(&net, params);
    let text = m.summary();
    assert!(
        text.contains("bn, tanh") && text.contains("14 running statistics"),
        "{text}"
    );
}

#[test]
fn the_binary_trains_predicts_summarises_and_gradchecks_a_bn_net() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let data = format!("{}/examples/data/six.csv", env!("CARGO_MANIFEST_DIR"));
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_backprop"))
            .current_dir(d)
            .args(args)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            err,
        )
    };
    let (code, _, err) = run(&[
        "train",
        &data,
        "--target",
        "y",
        "--hidden",
        "8,4",
        "--batch-norm",
        "--epochs",
        "5",
        "--batch-size",
        "16",
        "--out",
        "bn.safetensors",
        "--quiet",
    ]);
    assert_eq!(code, Some(0), "{err}");
    let m = Model::load(d.join("bn.safetensors")).unwrap();
    let (rv0, rv1) = (
        m.params.find("layers.0.bn.running_var").unwrap(),
        m.params.find("layers.1.bn.running_var").unwrap(),
    );
    assert_ne!(
        m.params[rv0],
        Tensor::ones([8]),
        "running statistics were updated and saved"
    );
    assert_eq!(m.params[rv1].numel(), 4);
    assert!(
        m.params.find("layers.2.bn.weight").is_none(),
        "no bn on the output layer"
    );
    let (code, out, err) = run(&["predict", "bn.safetensors", &data]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(out.lines().count(), 65, "{out}");
    let (code, out, err) = run(&["summary", "bn.safetensors"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("bn, relu"), "{out}");
    let (code, out, err) = run(&["gradcheck", "bn.safetensors", &data, "--rows", "16"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(
        out.contains("layers.0.bn.weight") && out.contains("PASS"),
        "{out}"
    );
    let (code, _, err) = run(&[
        "train",
        &data,
        "--target",
        "y",
        "--arch",
        "net.json",
        "--batch-norm",
    ]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("--batch-norm"), "{err}");
}

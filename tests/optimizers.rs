//! L-BFGS against reference values (the Rosenbrock minimum, scipy's L-BFGS-B iterates), Quickprop
//! and L-BFGS through the trainer and the command line, and their configs.

use std::path::Path;
use std::process::{Command, Output};

use backprop::data::{Dataset, Features, Targets};
use backprop::nn::{Activation, Init, Mlp, MlpSpec};
use backprop::optim::{
    AnyOptimizer, Lbfgs, LbfgsConfig, LearningRate, OptimizerConfig, QuickpropConfig,
};
use backprop::train::{Fit, StopReason, TrainState, Trainer};
use backprop::{Graph, Loss, Parameters, Result, Rng, Tape, Tensor};

/// One parameter holding the point `x`.
fn point(x: &[f32]) -> Parameters {
    let mut ps = Parameters::new();
    ps.add("x", Tensor::from_vec(x.to_vec(), [x.len()]).unwrap());
    ps
}

fn at(ps: &Parameters) -> Vec<f32> {
    ps.tensors()[0].to_vec()
}

/// f = (1 − x)² + 100(y − x²)², ∂f/∂x = −2(1 − x) − 400x(y − x²), ∂f/∂y = 200(y − x²); computed
/// in f64 (the f32 point widened) so that rounding of x² does not swamp the gradient near (1, 1).
fn rosenbrock(ps: &Parameters) -> Result<(f32, Vec<Tensor>)> {
    let v = ps.tensors()[0].data();
    let (x, y) = (v[0] as f64, v[1] as f64);
    let f = (1.0 - x).powi(2) + 100.0 * (y - x * x).powi(2);
    let gx = -2.0 * (1.0 - x) - 400.0 * x * (y - x * x);
    let gy = 200.0 * (y - x * x);
    let g = Tensor::from_vec(vec![gx as f32, gy as f32], [2])?;
    Ok((f as f32, vec![g]))
}

#[test]
fn lbfgs_finds_the_rosenbrock_minimum() {
    // From the classic start (−1.2, 1), one call of up to 100 iterations: it takes 36 (45
    // evaluations) and ends at (1.000003, 1.0000056), f = 2.2e-11.
    let mut ps = point(&[-1.2, 1.0]);
    let mut opt = Lbfgs::new(LbfgsConfig {
        max_iter: 100,
        max_eval: Some(1000),
        ..LbfgsConfig::default()
    })
    .unwrap();
    let loss = opt.step_closure(&mut ps, &mut rosenbrock).unwrap();
    let x = at(&ps);
    let iters = opt.n_iter();
    assert!(
        (x[0] - 1.0).abs() < 1e-4 && (x[1] - 1.0).abs() < 1e-4,
        "ended at {x:?} after {iters} iterations, loss {loss}"
    );
    assert!(iters <= 100, "{iters} iterations");
    assert!(loss < 1e-8, "{loss}");
    assert!(
        opt.func_evals() >= iters,
        "one evaluation or more per iteration"
    );
}

#[test]
fn lbfgs_calls_continue_one_run() {
    // Twenty calls of 5 iterations each reach the same minimum: the history carries over.
    let mut ps = point(&[-1.2, 1.0]);
    let mut opt = Lbfgs::new(LbfgsConfig {
        max_iter: 5,
        ..LbfgsConfig::default()
    })
    .unwrap();
    for _ in 0..20 {
        opt.step_closure(&mut ps, &mut rosenbrock).unwrap();
    }
    let x = at(&ps);
    assert!(
        (x[0] - 1.0).abs() < 1e-4 && (x[1] - 1.0).abs() < 1e-4,
        "ended at {x:?} after {} iterations",
        opt.n_iter()
    );
}

/// f = ½xᵀAx − bᵀx − f* with A = [[3, 1, 0], [1, 4, 1], [0, 1, 2]], b = [1, −2, 3]; ∇f = Ax − b.
/// The minimum f* = −½bᵀA⁻¹b = −90/19 is subtracted so that the f32 loss resolves the last
/// iterations' decreases (a constant changes no iterate).
fn quadratic(ps: &Parameters) -> Result<(f32, Vec<Tensor>)> {
    const A: [[f64; 3]; 3] = [[3.0, 1.0, 0.0], [1.0, 4.0, 1.0], [0.0, 1.0, 2.0]];
    const B: [f64; 3] = [1.0, -2.0, 3.0];
    const F_MIN: f64 = -90.0 / 19.0;
    let x: Vec<f64> = ps.tensors()[0].data().iter().map(|&v| v as f64).collect();
    let ax: Vec<f64> = A
        .iter()
        .map(|r| (0..3).map(|j| r[j] * x[j]).sum())
        .collect();
    let f = (0..3)
        .map(|i| 0.5 * x[i] * ax[i] - B[i] * x[i])
        .sum::<f64>()
        - F_MIN;
    let g: Vec<f32> = (0..3).map(|i| (ax[i] - B[i]) as f32).collect();
    Ok((f as f32, vec![Tensor::from_vec(g, [3])?]))
}

#[test]
fn lbfgs_follows_scipy_lbfgsb_iterates_on_a_quadratic() {
    // scipy 1.17.1, scipy.optimize.minimize(f, x0=[2, −1, 1.5], jac=True, method="L-BFGS-B",
    // options=dict(maxcor=10, gtol=1e-12, ftol=1e-15, maxiter=50)) with the f above, the iterate
    // x_k recorded by `callback` after each iteration (float64, printed by numpy). Every one of
    // these iterations took one evaluation: the line search accepted its first trial step
    // (1/‖g₀‖₂ at first, 1 afterwards), as ours does here, so the iterates are the same. (The
    // eighth, [0.7368421, −1.21052632, 2.10526317], is a move of 2e-7, the f32 spacing near 2.1;
    // ours stops instead: its slope along the search direction, g·d ≈ −1e-13, is above
    // −tolerance_change.)
    let scipy: [[f64; 3]; 7] = [
        [1.088_315_39, -1.341_881_73, 1.727_921_15],
        [0.721_537, -1.191_769_45, 2.029_648_96],
        [0.724_967_21, -1.194_425_39, 2.078_849_86],
        [0.734_334_15, -1.208_862_51, 2.104_733_17],
        [0.736_958_11, -1.210_424_48, 2.105_282_07],
        [0.736_835_12, -1.210_541_49, 2.105_268_8],
        [0.736_842_07, -1.210_526_35, 2.105_263_39],
    ];
    let mut ps = point(&[2.0, -1.0, 1.5]);
    let mut opt = Lbfgs::new(LbfgsConfig {
        max_iter: 1,
        ..LbfgsConfig::default()
    })
    .unwrap();
    for (k, want) in scipy.iter().enumerate() {
        let evals = opt.func_evals();
        opt.step_closure(&mut ps, &mut quadratic).unwrap();
        // one evaluation at the start of the call, one in the line search
        assert_eq!(opt.func_evals() - evals, 2, "iteration {}", k + 1);
        let x = at(&ps);
        for (a, b) in x.iter().zip(want) {
            assert!(
                (*a as f64 - b).abs() < 2e-6,
                "iteration {}: {x:?} vs scipy {want:?}",
                k + 1
            );
        }
    }
    // The solution A⁻¹b = [14, −23, 40]/19.
    let evals = opt.func_evals();
    opt.step_closure(&mut ps, &mut quadratic).unwrap();
    assert_eq!(
        opt.func_evals() - evals,
        1,
        "no line search without descent"
    );
    let x = at(&ps);
    let exact = [14.0 / 19.0, -23.0 / 19.0, 40.0 / 19.0];
    assert!(
        x.iter().zip(exact).all(|(a, b)| (a - b).abs() < 1e-6),
        "{x:?}"
    );
}

#[test]
fn lbfgs_first_step_is_scaled_gradient_descent() {
    // g₀ = [3, 4], ‖g₀‖ = 5 > 1, so the first trial step is lr/5 along −g₀: with lr 1 (and f =
    // ½‖x‖² + [3, 4]·x shifted so g₀ = x + c) the single fixed step of Lbfgs::step_fixed gives
    // x = [0, 0] − [3, 4]/5 = [−0.6, −0.8].
    let mut ps = point(&[0.0, 0.0]);
    let mut opt = Lbfgs::new(LbfgsConfig::default()).unwrap();
    let mut tape = Tape::new();
    let mut g = Graph::new(&mut tape, &ps);
    let x = g.param(ps.find("x").unwrap());
    let c = g.input(&Tensor::from_vec(vec![3.0, 4.0], [2]).unwrap());
    let sq = g.square(x);
    let half = g.scale(sq, 0.5);
    let cx = g.mul(c, x);
    let terms = g.add(half, cx);
    let l = g.sum(terms);
    let grads = g.backward(l);
    opt.step_fixed(&mut ps, &grads).unwrap();
    let x = at(&ps);
    assert!(
        (x[0] + 0.6).abs() < 1e-6 && (x[1] + 0.8).abs() < 1e-6,
        "{x:?}"
    );
    assert_eq!(opt.n_iter(), 1);
}

#[test]
fn lbfgs_rejects_gradients_that_do_not_fit() {
    let mut ps = point(&[1.0, 2.0]);
    let mut opt = Lbfgs::new(LbfgsConfig::default()).unwrap();
    let e = opt
        .step_closure(&mut ps, &mut |_: &Parameters| {
            Ok((1.0, vec![Tensor::zeros([3])]))
        })
        .unwrap_err()
        .to_string();
    assert!(e.contains("gradient") && e.contains("[3]"), "{e}");
    assert!(Lbfgs::new(LbfgsConfig {
        history_size: 0,
        ..LbfgsConfig::default()
    })
    .is_err());
    assert!(Lbfgs::new(LbfgsConfig {
        lr: 0.0,
        ..LbfgsConfig::default()
    })
    .is_err());
}

#[test]
fn lbfgs_does_not_move_when_the_line_search_finds_no_lower_point() {
    // f = x² with the gradient's sign flipped: every step along d = −g goes uphill, so the line
    // search shrinks its trial step until the bracket is below tolerance_change (11 trials),
    // finds nothing below f(x), and leaves x where it was, with no (s, y) pair remembered; the
    // call then stops, since x did not move.
    let mut ps = point(&[1.0]);
    let mut opt = Lbfgs::new(LbfgsConfig {
        max_iter: 3,
        ..LbfgsConfig::default()
    })
    .unwrap();
    let mut wrong = |p: &Parameters| {
        let x = p.tensors()[0].data()[0];
        Ok((x * x, vec![Tensor::from_vec(vec![-2.0 * x], [1])?]))
    };
    let loss = opt.step_closure(&mut ps, &mut wrong).unwrap();
    assert_eq!((at(&ps), loss), (vec![1.0], 1.0));
    assert_eq!(opt.func_evals(), 1 + 11);
    assert!(opt.state().iter().all(|(n, _)| !n.starts_with("history")));
}

#[test]
fn lbfgs_state_round_trip_continues_bit_identically() {
    let mut a = point(&[-1.2, 1.0]);
    let mut opt_a = Lbfgs::new(LbfgsConfig {
        max_iter: 3,
        ..LbfgsConfig::default()
    })
    .unwrap();
    for _ in 0..4 {
        opt_a.step_closure(&mut a, &mut rosenbrock).unwrap();
    }
    let mut b = point(&[-1.2, 1.0]);
    let mut opt_b = Lbfgs::new(LbfgsConfig {
        max_iter: 3,
        ..LbfgsConfig::default()
    })
    .unwrap();
    for _ in 0..2 {
        opt_b.step_closure(&mut b, &mut rosenbrock).unwrap();
    }
    let saved = opt_b.state();
    let names: Vec<&str> = saved.iter().map(|(n, _)| n.as_str()).collect();
    assert!(
        names.contains(&"prev_grad.0") && names.contains(&"history_s_0.0"),
        "{names:?}"
    );
    let mut opt_c = Lbfgs::new(LbfgsConfig {
        max_iter: 3,
        ..LbfgsConfig::default()
    })
    .unwrap();
    opt_c.load_state_checked(&b, &saved).unwrap();
    assert_eq!(opt_c.state(), saved);
    for _ in 0..2 {
        opt_c.step_closure(&mut b, &mut rosenbrock).unwrap();
    }
    let bits = |p: &Parameters| at(p).iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&a), bits(&b));
    // State for other parameters is refused.
    let other = point(&[0.0, 0.0, 0.0]);
    assert!(Lbfgs::new(LbfgsConfig::default())
        .unwrap()
        .load_state_checked(&other, &saved)
        .is_err());
}

// ---- through the trainer ----

fn xor() -> Dataset {
    Dataset::new(
        Features::F32(vec![0., 0., 0., 1., 1., 0., 1., 1.]),
        2,
        Targets::Values {
            data: vec![0., 1., 1., 0.],
            names: vec!["y".into()],
        },
    )
    .unwrap()
}

fn xor_net(seed: u64) -> (Mlp, Parameters) {
    let mut params = Parameters::new();
    let spec = MlpSpec::from_sizes(&[2, 2, 1], Activation::Sigmoid, Activation::Sigmoid);
    let net = Mlp::new(spec, &mut params, Init::Uniform(1.0), &mut Rng::seed(seed)).unwrap();
    (net, params)
}

fn trainer(opt: OptimizerConfig, epochs: usize) -> Trainer {
    Trainer {
        epochs,
        batch_size: 0,
        ..Trainer::new(Loss::Mse).optimizer(opt)
    }
}

#[test]
fn lbfgs_trains_xor_full_batch() {
    // Seed 3 (the xor example's): each epoch is one L-BFGS step of up to 20 iterations.
    let (net, mut params) = xor_net(3);
    let t = trainer(OptimizerConfig::default_for("lbfgs", None).unwrap(), 30);
    let h = t.fit(&net, &mut params, &xor()).unwrap();
    let last = h.epochs.last().unwrap().train.loss;
    assert!(last < 1e-3, "loss {last} after {} epochs", h.epochs.len());
    // Losses never rise: every accepted step satisfies the sufficient-decrease condition.
    for w in h.epochs.windows(2) {
        assert!(w[1].train.loss <= w[0].train.loss, "{:?}", h.epochs);
    }
}

#[test]
fn lbfgs_ignores_the_batch_size_and_keeps_frozen_parameters() {
    let lbfgs = OptimizerConfig::default_for("lbfgs", None).unwrap();
    let run = |batch_size: usize| {
        let (net, mut params) = xor_net(3);
        let t = Trainer {
            batch_size,
            freeze: vec!["layers.0.bias".into()],
            ..trainer(lbfgs.clone(), 5)
        };
        let before = params.clone();
        t.fit(&net, &mut params, &xor()).unwrap();
        (before, params)
    };
    let (before, full) = run(0);
    let (_, online) = run(1);
    assert_eq!(full, online, "the batch size does not matter to L-BFGS");
    let b = before.find("layers.0.bias").unwrap();
    assert_eq!(full[b], before[b], "a frozen parameter stays put");
    let w = before.find("layers.0.weight").unwrap();
    assert_ne!(full[w], before[w]);
}

#[test]
fn lbfgs_refuses_gradient_clipping() {
    let (net, mut params) = xor_net(3);
    let t = Trainer {
        clip_grad_norm: Some(1.0),
        ..trainer(OptimizerConfig::default_for("lbfgs", None).unwrap(), 2)
    };
    let e = t.fit(&net, &mut params, &xor()).unwrap_err().to_string();
    assert!(e.contains("clipping") && e.contains("lbfgs"), "{e}");
}

#[test]
fn a_resumed_run_equals_an_uninterrupted_one() {
    for name in ["lbfgs", "quickprop"] {
        let opt = OptimizerConfig::default_for(name, None).unwrap();
        let (net, mut straight) = xor_net(3);
        trainer(opt.clone(), 6)
            .fit(&net, &mut straight, &xor())
            .unwrap();
        let (net, mut resumed) = xor_net(3);
        let mut saved: Option<TrainState> = None;
        let mut keep = |e: backprop::train::Event| {
            if let backprop::train::Event::Epoch { state, .. } = e {
                saved = Some(state.clone());
            }
            backprop::train::Control::Continue
        };
        let fit = Fit {
            observer: Some(&mut keep),
            ..Fit::default()
        };
        trainer(opt.clone(), 3)
            .fit_with(&net, &mut resumed, &xor(), fit)
            .unwrap();
        let state = saved.expect("an epoch ran");
        assert!(!state.optimizer_state.is_empty(), "{name} saves state");
        let fit = Fit {
            resume: Some(state),
            ..Fit::default()
        };
        let h = trainer(opt, 6)
            .fit_with(&net, &mut resumed, &xor(), fit)
            .unwrap();
        assert_eq!(h.stop, StopReason::Completed);
        assert_eq!(straight, resumed, "{name}: resumed run differs");
    }
}

#[test]
fn quickprop_learns_the_encoder() {
    // The 8-3-8 encoder (examples/), ε = 1: docs/optimizers.md's sweep has a median of 37.5
    // epochs to MSE 0.01 over 20 seeds, none failing; plain gradient descent with the same
    // rate is far from it after the same 100 epochs.
    let names: Vec<String> = (0..8).map(|i| format!("y{i}")).collect();
    let opts = backprop::data::CsvOptions {
        target: backprop::data::TargetColumn::Name(names[0].clone()),
        targets: names[1..]
            .iter()
            .map(|n| backprop::data::TargetColumn::Name(n.clone()))
            .collect(),
        task: backprop::data::Task::Regression,
        ..Default::default()
    };
    let data = backprop::data::read_csv(examples("data/encoder.csv"), &opts).unwrap();
    let spec = std::fs::read_to_string(examples("arch/encoder-8-3-8.json")).unwrap();
    for seed in 0..3 {
        let fit = |opt: OptimizerConfig| {
            let mut params = Parameters::new();
            let spec = MlpSpec::from_json(&spec).unwrap();
            let net =
                Mlp::new(spec, &mut params, Init::Uniform(1.0), &mut Rng::seed(seed)).unwrap();
            let t = Trainer {
                target_loss: Some(0.01),
                ..trainer(opt, 100)
            };
            t.fit(&net, &mut params, &data).unwrap()
        };
        let h = fit(OptimizerConfig::default_for("quickprop", Some(1.0)).unwrap());
        assert_eq!(
            h.stop,
            StopReason::TargetLoss,
            "seed {seed}: {:?}",
            h.epochs.last()
        );
        let sgd = fit(OptimizerConfig::sgd(1.0));
        assert!(sgd.epochs.last().unwrap().train.loss > 0.05, "seed {seed}");
    }
}

// ---- the configs ----

#[test]
fn every_named_optimizer_builds_and_keeps_its_name() {
    for name in OptimizerConfig::NAMES {
        let cfg = OptimizerConfig::default_for(name, Some(0.5)).unwrap();
        assert_eq!(cfg.name(), name);
        assert_eq!(cfg.lr(), 0.5);
        let opt = cfg.build().unwrap();
        assert_eq!(opt.lr(), 0.5);
        let json = serde_json::to_string(&cfg).unwrap();
        let back: OptimizerConfig = serde_json::from_str(&json).unwrap();
        assert_eq!(back, cfg, "{json}");
    }
    let q = OptimizerConfig::default_for("quickprop", None).unwrap();
    assert_eq!(q, OptimizerConfig::Quickprop(QuickpropConfig::default()));
    assert_eq!(
        QuickpropConfig::default(),
        QuickpropConfig {
            lr: 0.1,
            mu: 1.75,
            weight_decay: 0.0
        }
    );
    let l = OptimizerConfig::default_for("lbfgs", None)
        .unwrap()
        .with_history_size(5);
    match l {
        OptimizerConfig::Lbfgs(LbfgsConfig {
            lr,
            max_iter,
            history_size,
            ..
        }) => assert_eq!((lr, max_iter, history_size), (1.0, 20, 5)),
        other => panic!("{other:?}"),
    }
    assert!(l.is_full_batch_closure() && !q.is_full_batch_closure());
    assert!(matches!(l.build().unwrap(), AnyOptimizer::Lbfgs(_)));
    assert!(matches!(q.build().unwrap(), AnyOptimizer::Gradient(_)));
    assert!(OptimizerConfig::default_for("lbfgs", None)
        .unwrap()
        .with_history_size(0)
        .build()
        .is_err());
}

/// The JSON that checkpoints have always held, byte for byte, for every optimizer with its
/// defaults: the same field names, in the same order, beside the name (`adamw` included).
#[test]
fn optimizer_json_is_the_checkpoint_format() {
    let want = [
        r#"{"name":"sgd","lr":0.01,"momentum":0.0,"dampening":0.0,"weight_decay":0.0,"nesterov":false}"#,
        r#"{"name":"adagrad","lr":0.01,"lr_decay":0.0,"weight_decay":0.0,"initial_accumulator_value":0.0,"eps":1e-10}"#,
        r#"{"name":"rmsprop","lr":0.01,"alpha":0.99,"eps":1e-8,"weight_decay":0.0,"momentum":0.0,"centered":false}"#,
        r#"{"name":"adam","lr":0.001,"betas":[0.9,0.999],"eps":1e-8,"weight_decay":0.0,"amsgrad":false}"#,
        r#"{"name":"adamw","lr":0.001,"betas":[0.9,0.999],"eps":1e-8,"weight_decay":0.01,"amsgrad":false}"#,
        r#"{"name":"rprop","lr":0.1,"etas":[0.5,1.2],"step_sizes":[0.000001,50.0]}"#,
        r#"{"name":"quickprop","lr":0.1,"mu":1.75,"weight_decay":0.0}"#,
        r#"{"name":"lbfgs","lr":1.0,"max_iter":20,"max_eval":null,"tolerance_grad":1e-7,"tolerance_change":1e-9,"history_size":10}"#,
    ];
    for (name, want) in OptimizerConfig::NAMES.iter().zip(want) {
        let cfg = OptimizerConfig::default_for(name, None).unwrap();
        assert_eq!(serde_json::to_string(&cfg).unwrap(), want);
        let back: OptimizerConfig = serde_json::from_str(want).unwrap();
        assert_eq!(back, cfg);
    }
    // AdamW read as Adam with decoupled decay; the flag may also be written out on "adam"
    let w: OptimizerConfig = serde_json::from_str(want_adamw()).unwrap();
    assert!(matches!(w, OptimizerConfig::Adam(c) if c.decoupled_weight_decay));
    let flag = r#"{"name":"adam","lr":0.001,"betas":[0.9,0.999],"eps":1e-8,"weight_decay":0.01,"amsgrad":false,"decoupled_weight_decay":true}"#;
    assert_eq!(serde_json::from_str::<OptimizerConfig>(flag).unwrap(), w);
}

fn want_adamw() -> &'static str {
    r#"{"name":"adamw","lr":0.001,"betas":[0.9,0.999],"eps":1e-8,"weight_decay":0.01,"amsgrad":false}"#
}

/// An optimizer read from a file is checked as one built in code: each bad value is refused
/// with the crate's error, naming the field and the range it must be in.
#[test]
fn optimizer_json_with_bad_values_is_refused() {
    let cases = [
        (
            r#"{"name":"sgd","lr":-0.1,"momentum":0.0,"dampening":0.0,"weight_decay":0.0,"nesterov":false}"#,
            "invalid lr: -0.1 (must be >= 0)",
        ),
        (
            r#"{"name":"sgd","lr":0.1,"momentum":-0.9,"dampening":0.0,"weight_decay":0.0,"nesterov":false}"#,
            "invalid momentum: -0.9 (must be >= 0)",
        ),
        (
            r#"{"name":"sgd","lr":0.1,"momentum":0.0,"dampening":0.0,"weight_decay":-1.0,"nesterov":false}"#,
            "invalid weight_decay: -1 (must be >= 0)",
        ),
        (
            r#"{"name":"sgd","lr":0.1,"momentum":0.0,"dampening":0.0,"weight_decay":0.0,"nesterov":true}"#,
            "invalid nesterov",
        ),
        (
            r#"{"name":"adagrad","lr":0.01,"lr_decay":0.0,"weight_decay":0.0,"initial_accumulator_value":0.0,"eps":-1e-10}"#,
            "invalid eps: -0.0000000001 (must be >= 0)",
        ),
        (
            r#"{"name":"rmsprop","lr":0.01,"alpha":0.99,"eps":1e-8,"weight_decay":0.0,"momentum":-0.5,"centered":false}"#,
            "invalid momentum: -0.5 (must be >= 0)",
        ),
        (
            r#"{"name":"adam","lr":0.001,"betas":[1.0,0.999],"eps":1e-8,"weight_decay":0.0,"amsgrad":false}"#,
            "invalid beta1: 1 (must be in [0, 1))",
        ),
        (
            r#"{"name":"adam","lr":0.001,"betas":[0.9,-0.5],"eps":1e-8,"weight_decay":0.0,"amsgrad":false}"#,
            "invalid beta2: -0.5 (must be in [0, 1))",
        ),
        (
            r#"{"name":"adamw","lr":0.001,"betas":[0.9,0.999],"eps":1e-8,"weight_decay":-0.01,"amsgrad":false}"#,
            "invalid weight_decay: -0.01 (must be >= 0)",
        ),
        (
            r#"{"name":"adamw","lr":-1.0,"betas":[0.9,0.999],"eps":1e-8,"weight_decay":0.01,"amsgrad":false}"#,
            "invalid lr: -1 (must be >= 0)",
        ),
        (
            r#"{"name":"rprop","lr":0.1,"etas":[1.5,1.2],"step_sizes":[0.000001,50.0]}"#,
            "invalid etas",
        ),
        (
            r#"{"name":"rprop","lr":0.1,"etas":[0.5,1.2],"step_sizes":[2.0,1.0]}"#,
            "invalid step_sizes",
        ),
        (
            r#"{"name":"quickprop","lr":0.1,"mu":0.0,"weight_decay":0.0}"#,
            "invalid mu: 0 (must be > 0 and finite)",
        ),
        (
            r#"{"name":"lbfgs","lr":0.0,"max_iter":20,"max_eval":null,"tolerance_grad":1e-7,"tolerance_change":1e-9,"history_size":10}"#,
            "invalid lr: 0 (must be > 0 and finite)",
        ),
        (
            r#"{"name":"lbfgs","lr":1.0,"max_iter":20,"max_eval":null,"tolerance_grad":1e-7,"tolerance_change":1e-9,"history_size":0}"#,
            "invalid history_size: 0 (must be >= 1)",
        ),
        (
            r#"{"name":"lbfgs","lr":1.0,"max_iter":20,"max_eval":0,"tolerance_grad":1e-7,"tolerance_change":1e-9,"history_size":10}"#,
            "invalid max_eval: 0 (must be >= 1)",
        ),
    ];
    for (json, want) in cases {
        let e = serde_json::from_str::<OptimizerConfig>(json)
            .unwrap_err()
            .to_string();
        assert!(e.contains(want), "{json}: {e}");
    }
}

// ---- the command line ----

fn run(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_backprop"))
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap()
}

fn examples(p: &str) -> String {
    format!("{}/examples/{p}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn cli_trains_with_quickprop_and_lbfgs() {
    let dir = tempfile::tempdir().unwrap();
    let (data, arch) = (examples("data/xor.csv"), examples("arch/xor-2-2-1.json"));
    let common = [
        "train",
        data.as_str(),
        "--arch",
        arch.as_str(),
        "--loss",
        "mse",
        "--val-split",
        "0",
        "--epochs",
        "5",
        "--seed",
        "3",
    ];
    for extra in [
        &[
            "--optimizer",
            "quickprop",
            "--lr",
            "2",
            "--batch-size",
            "full",
        ][..],
        &["--optimizer", "lbfgs", "--history-size", "4"][..],
        &["--optimizer", "lbfgs", "--batch-size", "full"][..],
    ] {
        let out = run(dir.path(), &[&common[..], extra].concat());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{extra:?}: {err}");
    }
    let bad: [(&[&str], &str); 3] = [
        (&["--optimizer", "lbfgs", "--batch-size", "2"], "full batch"),
        (
            &["--optimizer", "adam", "--history-size", "4"],
            "--history-size",
        ),
        (
            &["--optimizer", "lbfgs", "--weight-decay", "0.1"],
            "--weight-decay",
        ),
    ];
    for (extra, says) in bad {
        let out = run(dir.path(), &[&common[..], extra].concat());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && err.contains(says),
            "{extra:?}: {err}"
        );
    }
}

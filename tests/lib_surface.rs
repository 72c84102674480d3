//! The training surface at library level: tied and shared parameters against hand-built graphs
//! and finite differences, frozen parameters, schedules, the stop flag and divergence in
//! `Trainer::fit`, and the classic nets' description files in `examples/arch/`.

use backprop::data::{Dataset, Features, Targets};
use backprop::nn::{Activation, Bias, Init, Mlp, MlpSpec, Module};
use backprop::optim::OptimizerConfig;
use backprop::train::{Control, Event, Fit, StopReason, Trainer};
use backprop::{gradcheck, Graph, Loss, ParamId, Parameters, Rng, Tape, Tensor, Var};
use std::sync::atomic::{AtomicBool, Ordering};

const TIED: &str = include_str!("../examples/arch/autoencoder-tied.json");
const THRESHOLD: &str = include_str!("../examples/arch/xor-threshold.json");

/// XOR as four rows with a numeric 0/1 target `y`.
fn xor_values() -> Dataset {
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

/// `Σ (y − t)²` on the graph.
fn sse(g: &mut Graph, y: Var, t: &Tensor) -> Var {
    let tv = g.input(t);
    let d = g.sub(y, tv);
    let sq = g.mul(d, d);
    g.sum(sq)
}

fn id(params: &Parameters, name: &str) -> ParamId {
    params
        .find(name)
        .unwrap_or_else(|| panic!("no parameter {name}"))
}

fn max_abs_diff(a: &Tensor, b: &Tensor) -> f32 {
    assert_eq!(a.dims(), b.dims());
    a.data()
        .iter()
        .zip(b.data())
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

fn max_abs(a: &Tensor) -> f32 {
    a.data().iter().map(|x| x.abs()).fold(0.0, f32::max)
}

/// The tied autoencoder (`examples/arch/autoencoder-tied.json`): 8 → 3 sigmoid → 8 sigmoid whose
/// decoder reads W(1)ᵀ. A hand-built forward that uses W once directly and once through
/// `g.transpose` passes a finite-difference check; the `Mlp` built from the description computes
/// the same output, and its gradient for the shared W is that of the hand-built graph — the sum
/// of the encoder's and the decoder's contributions, each computed separately on an untied copy.
#[test]
fn tied_transposed_weight_gradient_is_the_sum_of_both_uses() {
    let spec = MlpSpec::from_json(TIED).unwrap();
    let mut params = Parameters::new();
    let net = Mlp::new(spec, &mut params, Init::XavierUniform, &mut Rng::seed(5)).unwrap();
    let names: Vec<&str> = params.named().map(|(n, _)| n).collect();
    assert_eq!(names, ["layers.0.weight", "layers.0.bias", "layers.1.bias"]);
    let (w, b1, b2) = (
        id(&params, "layers.0.weight"),
        id(&params, "layers.0.bias"),
        id(&params, "layers.1.bias"),
    );
    assert_eq!(params[w].dims(), &[3, 8]);
    let x = Tensor::rand_uniform([5, 8], 0.0, 1.0, &mut Rng::seed(11));
    let t = Tensor::rand_uniform([5, 8], 0.0, 1.0, &mut Rng::seed(12));

    // the hand-built forward: h = σ(x·Wᵀ + b1), o = σ(h·W + b2) = σ(h·(Wᵀ)ᵀ + b2)
    let hand = |g: &mut Graph, w: Var, b1: Var, b2: Var| -> Var {
        let xv = g.input(&x);
        let h = g.linear(xv, w, Some(b1));
        let h = g.sigmoid(h);
        let wt = g.transpose(w);
        let o = g.linear(h, wt, Some(b2));
        g.sigmoid(o)
    };
    let inputs = vec![params[w].clone(), params[b1].clone(), params[b2].clone()];
    // h = 5e-3: with h = 1e-3 the f32 central differences of a sum of 40 squares are
    // dominated by round-off (max relative error ≈ 2e-2 on the smallest entries)
    let report = gradcheck(&inputs, 5e-3, |g, v| {
        let o = hand(g, v[0], v[1], v[2]);
        sse(g, o, &t)
    });
    assert!(report.passed(1e-2), "{report:?}");

    // the Mlp's forward and backward on the same parameters
    let mut tape = Tape::new();
    let (mlp_y, mlp_gw, mlp_gb1, mlp_gb2) = {
        let mut g = Graph::new(&mut tape, &params);
        let xv = g.input(&x);
        let y = net.forward(&mut g, xv).unwrap();
        let yv = g.value(y).clone();
        let l = sse(&mut g, y, &t);
        let grads = g.backward(l);
        (
            yv,
            grads.get(w).unwrap().clone(),
            grads.get(b1).unwrap().clone(),
            grads.get(b2).unwrap().clone(),
        )
    };
    let (hand_y, hand_gw, hand_gb1, hand_gb2) = {
        let mut g = Graph::new(&mut tape, &params);
        let (wv, b1v, b2v) = (g.param(w), g.param(b1), g.param(b2));
        let y = hand(&mut g, wv, b1v, b2v);
        let yv = g.value(y).clone();
        let l = sse(&mut g, y, &t);
        let grads = g.backward(l);
        (
            yv,
            grads.get(w).unwrap().clone(),
            grads.get(b1).unwrap().clone(),
            grads.get(b2).unwrap().clone(),
        )
    };
    assert!(
        max_abs_diff(&mlp_y, &hand_y) < 1e-6,
        "{mlp_y:?} vs {hand_y:?}"
    );
    assert!(
        max_abs_diff(&mlp_gw, &hand_gw) < 1e-5,
        "{mlp_gw:?} vs {hand_gw:?}"
    );
    assert!(max_abs_diff(&mlp_gb1, &hand_gb1) < 1e-5);
    assert!(max_abs_diff(&mlp_gb2, &hand_gb2) < 1e-5);
    // the numerical gradient agrees with the Mlp's too
    assert!(
        max_abs_diff(&mlp_gw, &report.inputs[0].numerical) < 1e-2,
        "{mlp_gw:?} vs {:?}",
        report.inputs[0].numerical
    );

    // untie: the encoder and the decoder each get their own copy of W
    let mut untied = Parameters::new();
    let enc = untied.add("enc", params[w].clone());
    let dec = untied.add("dec", params[w].clone());
    let ub1 = untied.add("b1", params[b1].clone());
    let ub2 = untied.add("b2", params[b2].clone());
    let (g_enc, g_dec) = {
        let mut g = Graph::new(&mut tape, &untied);
        let xv = g.input(&x);
        let (e, d, c1, c2) = (g.param(enc), g.param(dec), g.param(ub1), g.param(ub2));
        let h = g.linear(xv, e, Some(c1));
        let h = g.sigmoid(h);
        let dt = g.transpose(d);
        let o = g.linear(h, dt, Some(c2));
        let o = g.sigmoid(o);
        let l = sse(&mut g, o, &t);
        let grads = g.backward(l);
        (
            grads.get(enc).unwrap().clone(),
            grads.get(dec).unwrap().clone(),
        )
    };
    // both uses contribute, and neither alone is the tied gradient
    assert!(max_abs(&g_enc) > 1e-3 && max_abs(&g_dec) > 1e-3);
    assert!(max_abs_diff(&mlp_gw, &g_enc) > 1e-3);
    assert!(max_abs_diff(&mlp_gw, &g_dec) > 1e-3);
    let sum = g_enc.zip_map(&g_dec, |a, b| a + b);
    assert!(
        max_abs_diff(&mlp_gw, &sum) < 1e-5,
        "tied {mlp_gw:?}\nenc + dec {sum:?}"
    );
}

/// A layer with one shared bias: a finite-difference check of the hand-built forward
/// (s = x·Wᵀ + b·1), the `Mlp` computing the same, and ∂E/∂b = Σ δ over the batch and the units
/// (δ read off a zero per-unit "probe" bias added to s, whose gradient is Σ over the batch of δ).
#[test]
fn shared_bias_gradient_is_the_sum_of_the_deltas() {
    let spec = MlpSpec::from_json(
        r#"{"in_features": 3, "layers": [
            {"units": 4, "activation": "tanh", "bias": "shared"},
            {"units": 2, "activation": "sigmoid", "bias": "shared"}]}"#,
    )
    .unwrap();
    assert_eq!(spec.layers[0].bias, Bias::Shared);
    let mut params = Parameters::new();
    let net = Mlp::new(spec, &mut params, Init::XavierUniform, &mut Rng::seed(21)).unwrap();
    let [w0, b0, w1, b1] = [
        "layers.0.weight",
        "layers.0.bias",
        "layers.1.weight",
        "layers.1.bias",
    ]
    .map(|n| id(&params, n));
    assert_eq!(params[b0].dims(), &[1]);
    assert_eq!(params[b1].dims(), &[1]);
    // non-zero shared biases, so a forward that dropped them would differ
    params[b0].data_mut()[0] = 0.3;
    params[b1].data_mut()[0] = -0.2;
    let x = Tensor::randn([6, 3], 0.0, 1.0, &mut Rng::seed(22));
    let t = Tensor::rand_uniform([6, 2], 0.0, 1.0, &mut Rng::seed(23));

    let hand = |g: &mut Graph, v: &[Var], probes: Option<(Var, Var)>| -> Var {
        let xv = g.input(&x);
        let s = g.linear(xv, v[0], probes.map(|p| p.0));
        let s = g.add(s, v[1]);
        let h = g.tanh(s);
        let s = g.linear(h, v[2], probes.map(|p| p.1));
        let s = g.add(s, v[3]);
        g.sigmoid(s)
    };
    let inputs: Vec<Tensor> = [w0, b0, w1, b1]
        .iter()
        .map(|&i| params[i].clone())
        .collect();
    let report = gradcheck(&inputs, 5e-3, |g, v| {
        let o = hand(g, v, None);
        sse(g, o, &t)
    });
    assert!(report.passed(1e-2), "{report:?}");

    let mut tape = Tape::new();
    let (y, gb0, gb1) = {
        let mut g = Graph::new(&mut tape, &params);
        let xv = g.input(&x);
        let y = net.forward(&mut g, xv).unwrap();
        let yv = g.value(y).clone();
        let l = sse(&mut g, y, &t);
        let grads = g.backward(l);
        (
            yv,
            grads.get(b0).unwrap().clone(),
            grads.get(b1).unwrap().clone(),
        )
    };
    assert_eq!(gb0.dims(), &[1]);
    for (k, gb) in [(1, &gb0), (3, &gb1)] {
        assert!(
            (gb.item() - report.inputs[k].numerical.item()).abs() < 1e-2,
            "bias {k}: {gb:?} vs {:?}",
            report.inputs[k].numerical
        );
    }

    // probes: zero per-unit biases on the same network
    let mut probed = params.clone();
    let z0 = probed.add("z0", Tensor::zeros([4]));
    let z1 = probed.add("z1", Tensor::zeros([2]));
    let (hy, gz0, gz1) = {
        let mut g = Graph::new(&mut tape, &probed);
        let v: Vec<Var> = [w0, b0, w1, b1].iter().map(|&i| g.param(i)).collect();
        let (p0, p1) = (g.param(z0), g.param(z1));
        let y = hand(&mut g, &v, Some((p0, p1)));
        let yv = g.value(y).clone();
        let l = sse(&mut g, y, &t);
        let grads = g.backward(l);
        (
            yv,
            grads.get(z0).unwrap().clone(),
            grads.get(z1).unwrap().clone(),
        )
    };
    assert!(max_abs_diff(&y, &hy) < 1e-6, "{y:?} vs {hy:?}");
    // the per-unit δ sums differ between units, so Σ over units is not one of them
    assert!((gz1.data()[0] - gz1.data()[1]).abs() > 1e-4, "{gz1:?}");
    let sum0: f32 = gz0.data().iter().sum();
    let sum1: f32 = gz1.data().iter().sum();
    assert!((gb0.item() - sum0).abs() < 1e-5, "{gb0:?} vs Σδ {sum0}");
    assert!((gb1.item() - sum1).abs() < 1e-5, "{gb1:?} vs Σδ {sum1}");
}

/// Parameters frozen by the description (`trainable`) and by `Trainer::freeze` keep their exact
/// values through `Trainer::fit` — even under decoupled weight decay — while the others change.
#[test]
fn frozen_parameters_do_not_change_in_fit() {
    let spec = MlpSpec::from_json(
        r#"{"in_features": 2, "layers": [
            {"units": 4, "activation": "tanh", "trainable": {"bias": false}},
            {"units": 1, "activation": "sigmoid"}]}"#,
    )
    .unwrap();
    let mut params = Parameters::new();
    let net = Mlp::new(spec, &mut params, Init::XavierUniform, &mut Rng::seed(2)).unwrap();
    assert_eq!(net.frozen(), vec![id(&params, "layers.0.bias")]);
    // a non-zero start, so weight decay would visibly move it
    let b0 = id(&params, "layers.0.bias");
    params[b0]
        .data_mut()
        .copy_from_slice(&[0.5, -0.25, 0.125, 1.0]);
    let before = params.clone();
    let h = Trainer::new(Loss::Mse)
        .optimizer(
            OptimizerConfig::default_for("adamw", Some(0.05))
                .unwrap()
                .with_weight_decay(0.1),
        )
        .epochs(30)
        .batch_size(1)
        .freeze(&["layers.1.weight"])
        .fit(&net, &mut params, &xor_values())
        .unwrap();
    assert_eq!(h.epochs.len(), 30);
    for name in ["layers.0.bias", "layers.1.weight"] {
        let i = id(&params, name);
        assert_eq!(params[i], before[i], "{name} changed");
    }
    for name in ["layers.0.weight", "layers.1.bias"] {
        let i = id(&params, name);
        assert_ne!(params[i], before[i], "{name} did not change");
    }
    // a name that is not a parameter is an error naming it
    let err = Trainer::new(Loss::Mse)
        .freeze(&["layers.7.bias"])
        .fit(&net, &mut params, &xor_values())
        .unwrap_err()
        .to_string();
    assert!(err.contains("layers.7.bias"), "{err}");
}

/// `lr_schedule` is stepped once per epoch and each report carries the rate that epoch used.
#[test]
fn step_schedule_halves_the_rate_each_epoch() {
    let spec = MlpSpec::from_sizes(&[2, 3, 1], Activation::Tanh, Activation::Identity);
    let mut params = Parameters::new();
    let net = Mlp::new(spec, &mut params, Init::XavierUniform, &mut Rng::seed(1)).unwrap();
    let h = Trainer::new(Loss::Mse)
        .optimizer(OptimizerConfig::sgd(1.0))
        .epochs(3)
        .batch_size(0)
        .lr_schedule("step:1:0.5".parse().unwrap())
        .fit(&net, &mut params, &xor_values())
        .unwrap();
    let lrs: Vec<f32> = h.epochs.iter().map(|e| e.lr).collect();
    assert_eq!(lrs, [1.0, 0.5, 0.25]);
    assert_eq!(h.stop, StopReason::Completed);
}

/// A stop flag set from the callback during epoch 2, batch 3 ends the run right after that
/// batch with `Interrupted { epoch: 2 }`; only epoch 1 is reported.
#[test]
fn stop_flag_interrupts_after_the_current_batch() {
    let spec = MlpSpec::from_sizes(&[2, 3, 1], Activation::Tanh, Activation::Sigmoid);
    let mut params = Parameters::new();
    let net = Mlp::new(spec, &mut params, Init::XavierUniform, &mut Rng::seed(1)).unwrap();
    let flag = AtomicBool::new(false);
    let mut batches = 0;
    let mut callback = |e: Event| {
        if let Event::Batch { epoch, batch, .. } = e {
            batches += 1;
            if epoch == 2 && batch == 3 {
                flag.store(true, Ordering::Relaxed);
            }
        }
        Control::Continue
    };
    let h = Trainer::new(Loss::Mse)
        .optimizer(OptimizerConfig::sgd(0.1))
        .epochs(50)
        .batch_size(1)
        .fit_with(
            &net,
            &mut params,
            &xor_values(),
            Fit {
                observer: Some(&mut callback),
                stop: Some(&flag),
                ..Fit::default()
            },
        )
        .unwrap();
    assert_eq!(h.stop, StopReason::Interrupted { epoch: 2 });
    assert_eq!(h.epochs.len(), 1);
    assert_eq!(batches, 4 + 3);
}

/// SGD with lr 10⁴ blows up; the run stops as diverged (or on a non-finite loss) and leaves
/// finite weights — those of the last complete epoch.
#[test]
fn divergence_stops_with_finite_weights() {
    let spec = MlpSpec::from_sizes(&[2, 8, 1], Activation::Relu, Activation::Identity);
    let mut params = Parameters::new();
    let net = Mlp::new(spec, &mut params, Init::PyTorch, &mut Rng::seed(0)).unwrap();
    let mut last_epoch = params.clone();
    let mut callback = |e: Event| {
        if let Event::Epoch { params, .. } = e {
            last_epoch = params.clone();
        }
        Control::Continue
    };
    let h = Trainer::new(Loss::Mse)
        .optimizer(OptimizerConfig::sgd(1e4))
        .epochs(1000)
        .batch_size(1)
        .fit_with(
            &net,
            &mut params,
            &xor_values(),
            Fit {
                observer: Some(&mut callback),
                ..Fit::default()
            },
        )
        .unwrap();
    assert!(
        matches!(
            h.stop,
            StopReason::Diverged { .. } | StopReason::NonFiniteLoss { .. }
        ),
        "{:?}",
        h.stop
    );
    assert!(h.epochs.len() < 1000);
    assert!(params.tensors().iter().all(|t| t.is_finite()));
    assert_eq!(params, last_epoch);
    assert!(h.check().is_err());
}

/// The hand-set McCulloch–Pitts net (`examples/arch/xor-threshold.json`) computes XOR with its
/// `init` weights as given, marks every parameter frozen, and backprop refuses to train it.
#[test]
fn threshold_xor_description_computes_xor_and_is_not_trainable() {
    let spec = MlpSpec::from_json(THRESHOLD).unwrap();
    assert!(spec.has_step_units());
    assert_eq!(spec.frozen_names().len(), 4);
    let mut params = Parameters::new();
    // the initialiser must not matter: every value is given
    let net = Mlp::new(spec, &mut params, Init::Uniform(5.0), &mut Rng::seed(9)).unwrap();
    let x = Tensor::from_vec(vec![0., 0., 0., 1., 1., 0., 1., 1.], [4, 2]).unwrap();
    let y = net.predict(&params, &mut Tape::new(), &x).unwrap();
    assert_eq!(y.data(), &[0.0, 1.0, 1.0, 0.0]);
    let err = Trainer::new(Loss::Mse)
        .fit(&net, &mut params, &xor_values())
        .unwrap_err()
        .to_string();
    assert!(err.contains("layer 1") && err.contains("step"), "{err}");
}

/// Every description in `examples/arch/` parses and validates.
#[test]
fn every_example_description_is_valid() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/arch");
    let mut n = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "json") {
            let text = std::fs::read_to_string(&path).unwrap();
            MlpSpec::from_json(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            n += 1;
        }
    }
    assert!(n >= 6, "{n} description files");
}

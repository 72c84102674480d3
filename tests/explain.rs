//! `backprop::explain` on the worked example of seed 001: the numbers are the independent f64
//! values of `tests/golden.rs`, the layout is the seed's (bias row first).

use backprop::explain::{explain, from_json, lfd_example, to_json, Explanation};
use backprop::nn::{Activation, Init, Mlp, MlpSpec};
use backprop::{Loss, Parameters, Rng};

fn close(got: f32, want: f64) -> bool {
    ((got as f64) - want).abs() <= 1e-4 * want.abs().max(1e-3)
}

fn check(name: &str, got: &[f32], want: &[f64]) {
    assert_eq!(got.len(), want.len(), "{name}: {got:?} vs {want:?}");
    for (g, w) in got.iter().zip(want) {
        assert!(close(*g, *w), "{name}: {got:?} vs {want:?}");
    }
}

fn lfd(lr: f32) -> Explanation {
    let (spec, params, x, y) = lfd_example();
    let net = Mlp::from_params(spec, &params).unwrap();
    explain(&net, &params, &x, &y, Loss::SquaredError, lr).unwrap()
}

#[test]
fn lfd_example_matches_the_golden_values() {
    let ex = lfd(0.1);
    let l = &ex.layers;
    assert_eq!(l.len(), 3);
    check("s(1)", &l[0].s, &[0.7, 1.0]);
    check("x(1)", &l[0].x, &[0.604_367_777, 0.761_594_156]);
    check("s(2)", &l[1].s, &[-1.480_414_691]);
    check("x(2)", &l[1].x, &[-0.901_545_653]);
    check("s(3)", &l[2].s, &[-0.803_091_307]);
    check("x(3)", &l[2].x, &[-0.665_761_435]);
    check("δ(3)", &l[2].delta, &[-1.854_864_374]);
    check("δ(2)", &l[1].delta, &[-0.694_518_481]);
    check("δ(1)", &l[0].delta, &[-0.440_838_376, 0.875_039_825]);
    // e = (x(3) − y)²
    check("e", &[ex.error], &[(-0.665_761_435f64 - 1.0).powi(2)]);
    // x(l−1) as each layer sees it, with the constant 1 first
    check("x(0)", &l[0].input, &[1.0, 2.0]);
    check("x(1) in", &l[1].input, &[1.0, 0.604_367_777, 0.761_594_156]);
    // ∂e/∂W(l) = x(l−1)·δ(l)ᵀ, rows: bias, then inputs
    let grads: [&[&[f64]]; 3] = [
        &[
            &[-0.440_838_376, 0.875_039_825],
            &[-0.881_676_752, 1.750_079_650],
        ],
        &[&[-0.694_518_481], &[-0.419_744_590], &[-0.528_941_216]],
        &[&[-1.854_864_374], &[1.672_244_914]],
    ];
    for (i, want) in grads.iter().enumerate() {
        assert_eq!(l[i].grad.len(), want.len(), "∂e/∂W({}) rows", i + 1);
        for (r, (g, w)) in l[i].grad.iter().zip(*want).enumerate() {
            check(&format!("∂e/∂W({}) row {r}", i + 1), g, w);
        }
    }
    // the seed's W(l), bias row first
    let weights: [&[&[f32]]; 3] = [
        &[&[0.1, 0.2], &[0.3, 0.4]],
        &[&[0.2], &[1.0], &[-3.0]],
        &[&[1.0], &[2.0]],
    ];
    for (layer, want) in l.iter().zip(weights) {
        assert_eq!(
            layer.weights,
            want.iter().map(|r| r.to_vec()).collect::<Vec<_>>()
        );
    }
}

#[test]
fn updated_weights_are_one_gradient_step() {
    for lr in [0.1, 0.5] {
        let ex = lfd(lr);
        assert_eq!(ex.lr, lr);
        for layer in &ex.layers {
            for ((w, g), u) in layer.weights.iter().zip(&layer.grad).zip(&layer.updated) {
                for ((w, g), u) in w.iter().zip(g).zip(u) {
                    assert!((u - (w - lr * g)).abs() < 1e-6, "{u} vs {w} − {lr}·{g}");
                }
            }
        }
        // e.g. W(1) bias weight of unit 1: 0.1 − η·(−0.440838)
        check(
            "W(1)[0][0]",
            &[ex.layers[0].updated[0][0]],
            &[0.1 + lr as f64 * 0.440_838_376],
        );
    }
}

#[test]
fn display_shows_the_seeds_numbers() {
    let text = lfd(0.1).to_string();
    for want in [
        "s(l)",
        "x(l)",
        "δ(l)",
        "[1, 2]",              // x(0) with its constant 1
        "[0.7, 1]",            // s(1)
        "[1, 0.6044, 0.7616]", // x(1), the seed's [1, 0.6, 0.76]
        "[-1.48]",             // s(2)
        "[1, -0.9015]",        // x(2)
        "[-0.6658]",           // x(3), the seed's −0.66
        "[-1.855]",            // δ(3)
        "[-0.6945]",           // δ(2)
        "[-0.4408, 0.875]",    // δ(1)
        "-0.8817",             // ∂e/∂W(1), input row
        "1.672",               // ∂e/∂W(3)
        "0.1441",              // W(1) − η·∂e/∂W(1): 0.1 + 0.1·0.4408
        "∂e/∂W(2)",
        "W(3) − η·∂e/∂W(3)",
        "η = 0.1",
        "squared_error",
    ] {
        assert!(text.contains(want), "missing {want:?} in\n{text}");
    }
    // matrix columns are right-aligned: the bias row and the input row of W(1) end together
    let row = |start: &str, has: &str| {
        text.lines()
            .find(|l| l.trim_start().starts_with(start) && l.contains(has))
            .unwrap_or_else(|| panic!("no row {start}…{has} in\n{text}"))
    };
    let (bias, input) = (row("1 ", "0.1441"), row("x(0)_1", "0.3882"));
    let end = |line: &str, pat: &str| line.find(pat).unwrap() + pat.len();
    assert_eq!(end(bias, " 0.2"), end(input, " 0.4"), "{bias}\n{input}");
    assert_eq!(end(bias, " 0.875"), end(input, " 1.75"), "{bias}\n{input}");
    assert!(text.contains("layer 2 (1 unit, reads x(1))"), "{text}");
}

#[test]
fn json_round_trips_the_lfd_example() {
    let (spec, params, x, y) = lfd_example();
    let net = Mlp::from_params(spec.clone(), &params).unwrap();
    let text = to_json(&net, &params, &x, &y);
    assert!(text.contains("\"W\""), "{text}");
    let (spec2, params2, x2, y2) = from_json(&text).unwrap();
    assert_eq!((spec2, x2, y2), (spec, x, y));
    assert_eq!(params2, params);
    // the documented example of the module docs is the same network
    let doc = r#"{"input": [2.0], "target": [1.0], "layers": [
        {"activation": "tanh", "W": [[0.1, 0.2], [0.3, 0.4]]},
        {"activation": "tanh", "W": [[0.2], [1.0], [-3.0]]},
        {"activation": "tanh", "W": [[1.0], [2.0]]}]}"#;
    assert_eq!(from_json(doc).unwrap().1, params);
}

#[test]
fn json_round_trips_skips_without_bias() {
    let spec = MlpSpec::new(2)
        .layer(3, Activation::LeakyRelu(0.1))
        .layer_from(&[1, 0], 2, Activation::Identity);
    let mut spec = spec;
    spec.layers[1].bias = backprop::nn::Bias::None;
    let mut params = Parameters::new();
    let net = Mlp::new(
        spec.clone(),
        &mut params,
        Init::XavierUniform,
        &mut Rng::seed(5),
    )
    .unwrap();
    let text = to_json(&net, &params, &[0.5, -1.0], &[1.0, 0.0]);
    let (spec2, params2, _, _) = from_json(&text).unwrap();
    assert_eq!((spec2, params2), (spec, params.clone()));
    // W(2) reads x(1) and x(0) (3 + 2 inputs), no bias row
    let ex = explain(&net, &params, &[0.5, -1.0], &[1.0, 0.0], Loss::Mse, 0.1).unwrap();
    assert_eq!(ex.layers[1].grad.len(), 5);
    assert_eq!(ex.layers[1].sources, vec![1, 0]);
    assert!(ex.to_string().contains("x(0)_2"));
}

#[test]
fn bad_json_specs_give_clear_errors() {
    let err = |text: &str| from_json(text).unwrap_err().to_string();
    // W(2) has 2 rows, but 2 inputs + a bias row need 3
    let e = err(r#"{"input": [2.0], "target": [1.0], "layers": [
        {"activation": "tanh", "W": [[0.1, 0.2], [0.3, 0.4]]},
        {"activation": "tanh", "W": [[0.2], [1.0]]}]}"#);
    assert!(
        e.contains("W(2) is 2×1") && e.contains("layer 2") && e.contains("needs 3×1"),
        "{e}"
    );
    let e = err(r#"{"input": [2.0], "target": [1.0], "layers": [
        {"activation": "tanh", "W": [[0.1, 0.2], [0.3]]}]}"#);
    assert!(e.contains("W(1) row 1 has 1 values"), "{e}");
    let e = err(
        r#"{"input": [2.0], "target": [1.0], "layers": [{"activation": "tanhh", "W": [[1.0], [2.0]]}]}"#,
    );
    assert!(e.contains("layer 1") && e.contains("tanhh"), "{e}");
    let e = err(
        r#"{"input": [2.0], "target": [1.0], "layers": [{"activation": "tanh", "w": [[1.0]]}]}"#,
    );
    assert!(e.contains("unknown field `w`"), "{e}");
    let e = err("{");
    assert!(e.starts_with("invalid network spec"), "{e}");
}

#[test]
fn explain_checks_the_sample() {
    let (spec, params, _, _) = lfd_example();
    let net = Mlp::from_params(spec, &params).unwrap();
    let e = explain(&net, &params, &[1.0, 2.0], &[1.0], Loss::SquaredError, 0.1).unwrap_err();
    assert!(
        e.to_string()
            .contains("2 values for a network with 1 inputs"),
        "{e}"
    );
    let e = explain(&net, &params, &[1.0], &[1.0, 2.0], Loss::SquaredError, 0.1).unwrap_err();
    assert!(e.to_string().contains("target"), "{e}");
    let e = explain(&net, &params, &[1.0], &[3.0], Loss::CrossEntropy, 0.1).unwrap_err();
    assert!(e.to_string().contains("class"), "{e}");
    assert!(explain(&net, &params, &[1.0], &[1.0], Loss::SquaredError, f32::NAN).is_err());
}

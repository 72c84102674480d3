//! The speed options change speed, not results (or, for bf16, only by the rounding they
//! promise): the optimizer applied inside backward gives the same bytes as backward then step,
//! and bf16 products equal f32 products of bf16-rounded operands and train as well as f32.

use backprop::data::{Dataset, Features, Targets};
use backprop::nn::{Activation, Init, Mlp, MlpSpec};
use backprop::optim::{backward_step, Optimizer, OptimizerConfig, Sgd, SgdConfig};
use backprop::tensor::{round_bf16, set_precision, Precision};
use backprop::train::{evaluate, Trainer};
use backprop::{Graph, Loss, Parameters, Rng, Tape, Tensor};

/// `n` samples of `d` features in [0, 1) with 4 classes: the argmax of `x·R` for a fixed random
/// R, a problem a small MLP learns to ~90 % and more.
fn data(n: usize, d: usize, seed: u64) -> Dataset {
    let mut rng = Rng::seed(1);
    let r: Vec<f32> = (0..d * 4).map(|_| rng.uniform_in(-1.0, 1.0)).collect();
    let mut rng = Rng::seed(seed);
    let x = Tensor::rand_uniform([n, d], 0.0, 1.0, &mut rng).to_vec();
    let labels = x
        .chunks_exact(d)
        .map(|x| {
            let mut s = [0.0f32; 4];
            for (&v, rr) in x.iter().zip(r.chunks_exact(4)) {
                for (s, &w) in s.iter_mut().zip(rr) {
                    *s += v * w;
                }
            }
            (0..4).fold(0, |b, j| if s[j] > s[b] { j } else { b }) as u32
        })
        .collect();
    let names = (0..4).map(|c| c.to_string()).collect();
    Dataset::new(Features::F32(x), d, Targets::Classes { labels, names }).unwrap()
}

fn bits(params: &Parameters) -> Vec<u32> {
    params
        .named()
        .flat_map(|(_, t)| t.data().iter().map(|v| v.to_bits()).collect::<Vec<_>>())
        .collect()
}

/// Trains a fresh 20-64-32-4 ReLU net; returns the trained parameters.
fn train(trainer: &Trainer, data: &Dataset) -> (Mlp, Parameters) {
    let spec = MlpSpec::from_sizes(&[20, 64, 32, 4], Activation::Relu, Activation::Identity);
    let mut params = Parameters::new();
    let net = Mlp::new(spec, &mut params, Init::PyTorch, &mut Rng::seed(7)).unwrap();
    trainer.fit(&net, &mut params, data).unwrap();
    (net, params)
}

#[test]
fn optimizer_in_backward_gives_the_same_bytes() {
    let d = data(200, 20, 2);
    for opt in [
        OptimizerConfig::sgd(0.05).with_momentum(0.9),
        OptimizerConfig::sgd(0.1),
        OptimizerConfig::adam(1e-2),
        OptimizerConfig::default_for("adamw", Some(1e-2)).unwrap(),
        // every gradient optimizer updates each parameter on its own, so all may run fused
        OptimizerConfig::sgd(0.05)
            .with_momentum(0.9)
            .with_nesterov(true)
            .with_weight_decay(1e-3),
        OptimizerConfig::default_for("adagrad", Some(0.05)).unwrap(),
        OptimizerConfig::default_for("rmsprop", Some(1e-3))
            .unwrap()
            .with_momentum(0.5),
        OptimizerConfig::default_for("rprop", Some(0.01)).unwrap(),
        OptimizerConfig::default_for("quickprop", Some(0.05))
            .unwrap()
            .with_weight_decay(1e-4),
    ] {
        for batch in [1, 16] {
            let t = Trainer::new(Loss::CrossEntropy)
                .optimizer(opt.clone())
                .epochs(3)
                .batch_size(batch)
                .seed(2);
            let (_, fused) = train(&t, &d);
            let (_, unfused) = train(&t.clone().optimizer_in_backward(false), &d);
            let (_, fresh) = train(&t.clone().epochs(0), &d);
            assert_ne!(bits(&fused), bits(&fresh), "{opt:?}: nothing trained");
            assert!(
                bits(&fused) == bits(&unfused),
                "{opt:?} batch {batch}: weights differ with the update inside backward"
            );
        }
    }
}

/// A weight used twice (its gradient is the sum of two contributions) and a parameter the
/// loss does not use: `optim::backward_step` equals `backward` then `step`, and leaves the
/// unused one alone.
#[test]
fn backward_step_with_shared_and_unused_weights() {
    let mut rng = Rng::seed(3);
    let mut ps = Parameters::new();
    let w = ps.add("w", Tensor::randn([8, 8], 0.0, 0.5, &mut rng));
    let unused = ps.add("u", Tensor::randn([3], 0.0, 1.0, &mut rng));
    let x = Tensor::randn([5, 8], 0.0, 1.0, &mut rng);
    let record = |g: &mut Graph| {
        let xv = g.input(&x);
        let wv = g.param(w);
        let h = g.linear(xv, wv, None);
        let h = g.tanh(h);
        let h = g.linear(h, wv, None);
        let sq = g.square(h);
        g.sum(sq)
    };
    let (mut a, mut b) = (ps.clone(), ps.clone());
    let momentum = SgdConfig {
        lr: 0.01,
        momentum: 0.9,
        ..SgdConfig::default()
    };
    let (mut oa, mut ob) = (Sgd::new(momentum).unwrap(), Sgd::new(momentum).unwrap());
    let mut tape = Tape::new();
    for _ in 0..3 {
        let mut g = Graph::new(&mut tape, &a);
        let l = record(&mut g);
        let grads = g.backward(l);
        oa.step(&mut a, &grads);
        let mut g = Graph::new(&mut tape, &b);
        let l = record(&mut g);
        backward_step(&mut tape, l, &mut b, &mut ob).unwrap();
    }
    assert!(bits(&a) == bits(&b));
    assert_ne!(a[w].to_vec(), ps[w].to_vec());
    assert_eq!(b[unused].to_vec(), ps[unused].to_vec());
    // Misuse is an error, not a panic.
    let mut g = Graph::no_grad(&mut tape, &b);
    let l = record(&mut g);
    assert!(backward_step(&mut tape, l, &mut b, &mut ob).is_err());
}

/// bf16 products against a scalar reference: f64 sums of the operands rounded to bf16 with
/// round-to-nearest-even, at shapes that take each product path (plain loop, one- and two-row
/// kernels, the outer product, GEMM), transposed or not. The f32 result must differ from it (so
/// the rounding really happened) and the bf16 one match it to f32 summation error.
#[test]
fn bf16_products_match_a_rounded_scalar_reference() {
    let mut rng = Rng::seed(9);
    let mut differs = 0;
    for &(m, k, n) in &[
        (2, 3, 4),
        (1, 300, 40),
        (2, 77, 50),
        (40, 1, 30),
        (64, 200, 96),
    ] {
        for at in [false, true] {
            let a = Tensor::randn(if at { [k, m] } else { [m, k] }, 0.0, 1.0, &mut rng);
            let b = Tensor::randn([k, n], 0.0, 1.0, &mut rng);
            let a2 = if at { a.t() } else { a.clone() };
            let (ad, bd) = (a2.data(), b.data());
            let mut want = vec![0.0f64; m * n];
            let mut scale = vec![0.0f64; m * n];
            for i in 0..m {
                for j in 0..n {
                    for p in 0..k {
                        let prod =
                            round_bf16(ad[i * k + p]) as f64 * round_bf16(bd[p * n + j]) as f64;
                        want[i * n + j] += prod;
                        scale[i * n + j] += prod.abs();
                    }
                }
            }
            let lhs = if at { a.t() } else { a.clone() };
            let f32c = lhs.matmul(&b);
            let before = set_precision(Precision::Bf16);
            let bf = lhs.matmul(&b);
            set_precision(before);
            for ((&c, &w), &s) in bf.data().iter().zip(&want).zip(&scale) {
                assert!(
                    (c as f64 - w).abs() <= 1e-6 * (s + 1.0),
                    "{m}x{k}x{n}: {c} vs {w}"
                );
            }
            differs += f32c
                .data()
                .iter()
                .zip(&want)
                .filter(|(&c, &w)| (c as f64 - w).abs() > 1e-4 * (1.0 + w.abs()))
                .count();
        }
    }
    assert!(differs > 100, "f32 and bf16 products agree: no rounding?");
}

/// bf16 training on a small problem reaches the accuracy of f32 training (within 3 points on
/// held-out data of 500 samples, where one sample is 0.2 pt), with different weights (the products really were rounded).
#[test]
fn bf16_training_matches_f32_accuracy() {
    let (train_set, test_set) = (data(1000, 20, 2), data(500, 20, 3));
    let t = Trainer::new(Loss::CrossEntropy)
        .optimizer(OptimizerConfig::sgd(0.05).with_momentum(0.9))
        .epochs(30)
        .batch_size(16)
        .seed(2);
    let (net, p32) = train(&t, &train_set);
    let (_, p16) = train(&t.clone().precision(Precision::Bf16), &train_set);
    let acc = |p: &Parameters| {
        evaluate(&net, p, Loss::CrossEntropy, &test_set)
            .unwrap()
            .accuracy
            .unwrap()
    };
    let (a32, a16) = (acc(&p32), acc(&p16));
    assert!(a32 > 0.85, "f32 accuracy {a32}");
    eprintln!("test accuracy: f32 {a32}, bf16 {a16}");
    assert!((a32 - a16).abs() <= 0.03, "f32 {a32} vs bf16 {a16}");
    assert_ne!(bits(&p32), bits(&p16));
}

/// `backprop bench` prints the FMA peak (positive) and, for each cell, the fraction of it:
/// the printed fraction is the printed work GFLOP/s (the flops performed, fewer than the
/// peer's `6 × MACs` convention) over the printed peak of the cell's threads.
#[test]
fn bench_prints_the_peak_and_each_cells_fraction_of_it() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_backprop"))
        .args([
            "bench",
            "--synthetic",
            "--batch-sizes",
            "1",
            "--epochs",
            "1",
        ])
        .args(["--steps", "20", "--no-xor", "--threads", "1"])
        .output()
        .unwrap();
    let s = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{s}");
    let f32_line = s.lines().find(|l| l.starts_with("FMA peak f32")).unwrap();
    if f32_line.contains("not measured") {
        return eprintln!("skipped: no FMA on this CPU");
    }
    // "FMA peak f32 (vfmadd231ps zmm): 1 thread(s) 123.4 GFLOP/s, 2 thread(s) …"
    let peak1: f64 = f32_line
        .split("1 thread(s) ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .unwrap()
        .parse()
        .unwrap();
    assert!(peak1 > 0.0, "{f32_line}");
    let header = s
        .lines()
        .position(|l| l.contains("% peak") && l.contains("batch"))
        .unwrap();
    let row: Vec<&str> = s
        .lines()
        .nth(header + 1)
        .unwrap()
        .split_whitespace()
        .collect();
    let (convention, gflops, pct): (f64, f64, f64) = (
        row[4].parse().unwrap(),
        row[5].parse().unwrap(),
        row[6].trim_end_matches('%').parse().unwrap(),
    );
    assert!(gflops < convention, "{s}");
    let want = 100.0 * gflops / peak1;
    assert!(
        (pct - want).abs() <= 0.051,
        "{pct}% vs {gflops} / {peak1}: {s}"
    );
    let json: serde_json::Value = serde_json::from_str(s.lines().last().unwrap()).unwrap();
    assert!(json["fma_peak"]["f32"]["1"].as_f64().unwrap() > 0.0);
}

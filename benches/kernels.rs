//! Micro-benchmarks: matrix products on the MLP's shapes, one dense layer forward + backward, one
//! training step of the 784-256-128-10 MLP, the SGD update and the XOR step.
//!
//! `cargo bench --bench kernels` (criterion; `-- <filter>` to run a subset).

use backprop::nn::{Activation, Init, Mlp, MlpSpec, Module};
use backprop::optim::{Optimizer, Sgd, SgdConfig};
use backprop::{Graph, Loss, Parameters, Rng, Tape, Tensor};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::hint::black_box;

/// `(m, k, n)` of the forward products of the MLP at batch 1, 32, 128, 1024, and square ones.
const SHAPES: &[(usize, usize, usize)] = &[
    (1, 784, 256),
    (32, 784, 256),
    (128, 784, 256),
    (1024, 784, 256),
    (128, 256, 128),
    (128, 128, 10),
    (256, 256, 256),
];

fn matmul(c: &mut Criterion) {
    let mut g = c.benchmark_group("matmul");
    let mut rng = Rng::seed(0);
    for &(m, k, n) in SHAPES {
        let a = Tensor::randn([m, k], 0.0, 1.0, &mut rng);
        let b = Tensor::randn([k, n], 0.0, 1.0, &mut rng);
        // FLOPs reported as elements: criterion prints "Kelem/s" = thousand FLOP/s
        g.throughput(Throughput::Elements(2 * (m * k * n) as u64));
        g.bench_with_input(
            BenchmarkId::from_parameter(format!("{m}x{k}x{n}")),
            &(a, b),
            |bch, (a, b)| bch.iter(|| black_box(a.matmul(b))),
        );
    }
    g.finish();
}

struct Step {
    net: Mlp,
    params: Parameters,
    opt: Sgd,
    tape: Tape,
    x: Tensor,
    y: Vec<f32>,
}

impl Step {
    fn new(batch: usize) -> Step {
        let mut rng = Rng::seed(1);
        let mut params = Parameters::new();
        let spec =
            MlpSpec::from_sizes(&[784, 256, 128, 10], Activation::Relu, Activation::Identity);
        let net = Mlp::new(spec, &mut params, Init::PyTorch, &mut rng).unwrap();
        let x = Tensor::rand_uniform([batch, 784], 0.0, 1.0, &mut rng);
        let y = (0..batch).map(|i| (i % 10) as f32).collect();
        let opt = Sgd::new(SgdConfig {
            lr: 0.01,
            momentum: 0.9,
            ..SgdConfig::default()
        })
        .unwrap();
        Step {
            net,
            params,
            opt,
            tape: Tape::new(),
            x,
            y,
        }
    }

    fn run(&mut self) -> f32 {
        let b = self.y.len();
        let mut g = Graph::new(&mut self.tape, &self.params);
        let x = g.input_with([b, 784], |buf| buf.copy_from_slice(self.x.data()));
        let t = g.input_with([b], |buf| buf.copy_from_slice(&self.y));
        let out = self.net.forward(&mut g, x).unwrap();
        let l = Loss::CrossEntropy.apply(&mut g, out, t);
        let lv = g.value(l).item();
        let grads = g.backward(l);
        self.opt.step(&mut self.params, &grads);
        lv
    }
}

fn mlp_step(c: &mut Criterion) {
    let mut g = c.benchmark_group("mlp_step");
    for &b in &[1usize, 32, 128, 1024] {
        let mut s = Step::new(b);
        g.throughput(Throughput::Elements(b as u64));
        g.bench_function(BenchmarkId::from_parameter(b), |bch| bch.iter(|| s.run()));
    }
    g.finish();
}

fn layer(c: &mut Criterion) {
    let mut g = c.benchmark_group("linear_relu_fwd_bwd");
    for &b in &[1usize, 32, 128, 1024] {
        let mut rng = Rng::seed(2);
        let mut ps = Parameters::new();
        let w = ps.add("w", Tensor::randn([256, 784], 0.0, 0.05, &mut rng));
        let bias = ps.add("b", Tensor::zeros([256]));
        let x = Tensor::rand_uniform([b, 784], 0.0, 1.0, &mut rng);
        let mut tape = Tape::new();
        g.throughput(Throughput::Elements(b as u64));
        g.bench_function(BenchmarkId::from_parameter(b), |bch| {
            bch.iter(|| {
                let mut gr = Graph::new(&mut tape, &ps);
                let xv = gr.input_with([b, 784], |buf| buf.copy_from_slice(x.data()));
                let (wv, bv) = (gr.param(w), gr.param(bias));
                let h = gr.linear(xv, wv, Some(bv));
                let h = gr.relu(h);
                let l = gr.sum(h);
                let grads = gr.backward(l);
                black_box(grads.get(w).is_some())
            })
        });
    }
    g.finish();
}

fn sgd(c: &mut Criterion) {
    // one SGD-with-momentum update of the MLP's 235,146 parameters
    let mut s = Step::new(1);
    s.run();
    c.bench_function("sgd_momentum_update_235k", |bch| {
        let mut g = Graph::new(&mut s.tape, &s.params);
        let x = g.input_with([1, 784], |buf| buf.copy_from_slice(s.x.data()));
        let t = g.input_with([1], |buf| buf.copy_from_slice(&s.y));
        let out = s.net.forward(&mut g, x).unwrap();
        let l = Loss::CrossEntropy.apply(&mut g, out, t);
        let grads = g.backward(l);
        let mut params = s.params.clone();
        bch.iter(|| s.opt.step(&mut params, &grads))
    });
}

fn xor(c: &mut Criterion) {
    c.bench_function("xor_step", |bch| {
        let mut params = Parameters::new();
        let spec = MlpSpec::from_sizes(&[2, 2, 1], Activation::Sigmoid, Activation::Sigmoid);
        let net = Mlp::new(spec, &mut params, Init::PyTorch, &mut Rng::seed(3)).unwrap();
        let mut opt = Sgd::new(SgdConfig {
            lr: 0.5,
            ..SgdConfig::default()
        })
        .unwrap();
        let mut tape = Tape::new();
        let xs = [0., 0., 0., 1., 1., 0., 1., 1.];
        let ts = [0., 1., 1., 0.];
        bch.iter(|| {
            let mut g = Graph::new(&mut tape, &params);
            let x = g.input_with([4, 2], |b| b.copy_from_slice(&xs));
            let t = g.input_with([4, 1], |b| b.copy_from_slice(&ts));
            let y = net.forward(&mut g, x).unwrap();
            let l = Loss::Mse.apply(&mut g, y, t);
            let grads = g.backward(l);
            opt.step(&mut params, &grads);
        })
    });
}

criterion_group!(benches, matmul, layer, mlp_step, sgd, xor);
criterion_main!(benches);

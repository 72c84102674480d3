//! Micro-benchmarks: matrix products on the MLP's shapes, one dense layer forward + backward, one
//! training step of the 784-256-128-10 MLP, the SGD update and the XOR step.
//!
//! `cargo bench --bench kernels` (`-- <filter>` runs the benchmarks whose name contains it).
//!
//! A small timing loop of our own (no benchmark framework to compile for the tests): each
//! benchmark is warmed up, the number of calls per sample is chosen so that a sample takes about
//! 20 ms, and the median of 15 samples is reported per call, with the fastest and slowest
//! sample beside it (their spread is the noise of this machine at that moment).

use backprop::nn::{Activation, Init, Mlp, MlpSpec, Module};
use backprop::optim::{Optimizer, Sgd, SgdConfig};
use backprop::{Graph, Loss, Parameters, Rng, Tape, Tensor};
use std::hint::black_box;
use std::time::{Duration, Instant};

/// Samples per benchmark; the median of them is reported.
const SAMPLES: usize = 15;
/// The target length of one sample.
const SAMPLE_TIME: Duration = Duration::from_millis(20);
/// How long each benchmark runs before it is measured.
const WARM_UP: Duration = Duration::from_millis(200);

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

/// The benchmarks to run (`cargo bench -- <filter>`) and the timing loop.
struct Bench {
    /// Only names containing one of these run; empty = all.
    filters: Vec<String>,
}

impl Bench {
    fn from_args() -> Bench {
        // cargo passes `--bench` (and libtest flags a user may add); the rest are filters
        let filters = std::env::args()
            .skip(1)
            .filter(|a| !a.starts_with("--"))
            .collect();
        Bench { filters }
    }

    /// Times `f` and prints one line: the median time per call, the fastest and slowest sample,
    /// and, when `per_call` is given (a count and its unit), the rate.
    fn run(&self, name: &str, per_call: Option<(f64, &str)>, mut f: impl FnMut()) {
        if !self.filters.is_empty() && !self.filters.iter().any(|p| name.contains(p.as_str())) {
            return;
        }
        // warm up, counting calls to estimate the time of one
        let start = Instant::now();
        let mut calls = 0u64;
        while start.elapsed() < WARM_UP || calls == 0 {
            f();
            calls += 1;
        }
        let per = start.elapsed().as_secs_f64() / calls as f64;
        let iters = ((SAMPLE_TIME.as_secs_f64() / per) as u64).max(1);
        let mut times: Vec<f64> = (0..SAMPLES)
            .map(|_| {
                let t = Instant::now();
                for _ in 0..iters {
                    f();
                }
                t.elapsed().as_secs_f64() / iters as f64
            })
            .collect();
        times.sort_by(f64::total_cmp);
        let median = times[SAMPLES / 2];
        let rate = match per_call {
            Some((count, unit)) => format!("  {}", si(count / median, unit)),
            None => String::new(),
        };
        println!(
            "{name:<36} {:>10}  [{} .. {}]{rate}",
            time(median),
            time(times[0]),
            time(times[SAMPLES - 1])
        );
    }
}

/// Seconds in the unit that suits them.
fn time(s: f64) -> String {
    match s {
        s if s < 1e-6 => format!("{:.1} ns", s * 1e9),
        s if s < 1e-3 => format!("{:.2} µs", s * 1e6),
        s if s < 1.0 => format!("{:.3} ms", s * 1e3),
        s => format!("{s:.3} s"),
    }
}

/// A rate with an SI prefix: `si(2.5e9, "FLOP/s")` = "2.50 GFLOP/s".
fn si(v: f64, unit: &str) -> String {
    let (v, p) = match v {
        v if v >= 1e9 => (v / 1e9, "G"),
        v if v >= 1e6 => (v / 1e6, "M"),
        v if v >= 1e3 => (v / 1e3, "k"),
        v => (v, ""),
    };
    format!("{v:.2} {p}{unit}")
}

fn matmul(b: &Bench) {
    let mut rng = Rng::seed(0);
    for &(m, k, n) in SHAPES {
        let x = Tensor::randn([m, k], 0.0, 1.0, &mut rng);
        let w = Tensor::randn([k, n], 0.0, 1.0, &mut rng);
        let flop = 2.0 * (m * k * n) as f64;
        b.run(
            &format!("matmul/{m}x{k}x{n}"),
            Some((flop, "FLOP/s")),
            || {
                black_box(x.matmul(&w));
            },
        );
    }
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

fn mlp_step(b: &Bench) {
    for &n in &[1usize, 32, 128, 1024] {
        let mut s = Step::new(n);
        b.run(
            &format!("mlp_step/{n}"),
            Some((n as f64, "samples/s")),
            || {
                black_box(s.run());
            },
        );
    }
}

fn layer(b: &Bench) {
    for &n in &[1usize, 32, 128, 1024] {
        let mut rng = Rng::seed(2);
        let mut ps = Parameters::new();
        let w = ps.add("w", Tensor::randn([256, 784], 0.0, 0.05, &mut rng));
        let bias = ps.add("b", Tensor::zeros([256]));
        let x = Tensor::rand_uniform([n, 784], 0.0, 1.0, &mut rng);
        let mut tape = Tape::new();
        b.run(
            &format!("linear_relu_fwd_bwd/{n}"),
            Some((n as f64, "samples/s")),
            || {
                let mut gr = Graph::new(&mut tape, &ps);
                let xv = gr.input_with([n, 784], |buf| buf.copy_from_slice(x.data()));
                let (wv, bv) = (gr.param(w), gr.param(bias));
                let h = gr.linear(xv, wv, Some(bv));
                let h = gr.relu(h);
                let l = gr.sum(h);
                let grads = gr.backward(l);
                black_box(grads.get(w).is_some());
            },
        );
    }
}

fn sgd(b: &Bench) {
    // one SGD-with-momentum update of the MLP's 235,146 parameters
    let mut s = Step::new(1);
    s.run();
    let mut g = Graph::new(&mut s.tape, &s.params);
    let x = g.input_with([1, 784], |buf| buf.copy_from_slice(s.x.data()));
    let t = g.input_with([1], |buf| buf.copy_from_slice(&s.y));
    let out = s.net.forward(&mut g, x).unwrap();
    let l = Loss::CrossEntropy.apply(&mut g, out, t);
    let grads = g.backward(l);
    let mut params = s.params.clone();
    b.run("sgd_momentum_update_235k", None, || {
        s.opt.step(&mut params, &grads)
    });
}

fn xor(b: &Bench) {
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
    b.run("xor_step", None, || {
        let mut g = Graph::new(&mut tape, &params);
        let x = g.input_with([4, 2], |b| b.copy_from_slice(&xs));
        let t = g.input_with([4, 1], |b| b.copy_from_slice(&ts));
        let y = net.forward(&mut g, x).unwrap();
        let l = Loss::Mse.apply(&mut g, y, t);
        let grads = g.backward(l);
        opt.step(&mut params, &grads);
    });
}

fn main() {
    let b = Bench::from_args();
    println!(
        "{:<36} {:>10}  [fastest .. slowest sample]",
        "benchmark", "median"
    );
    matmul(&b);
    layer(&b);
    mlp_step(&b);
    sgd(&b);
    xor(&b);
}

//! The training benchmark: the workloads of the PyTorch peer (`../shared/bench/torch_mlp.py`),
//! run through backprop's own training loop, so the two can be compared as ratios in one run.
//!
//! - [`mlp_epoch`]: MLP 784-256-128-10, ReLU, softmax cross-entropy, SGD lr 0.05 momentum 0.9,
//!   shuffled mini-batches of 60,000 samples (MNIST, or synthetic data of the same shape). One
//!   warm-up epoch, then `epochs` timed epochs. Batch 1 follows the peer: `batch1_warmup` steps,
//!   then each repeat times `batch1_steps` steps and scales to 60,000 samples. Achieved GFLOP/s
//!   uses the peer's convention, `6 × forward MACs × samples/s`.
//! - [`xor_step`]: a 2-2-1 sigmoid net, MSE, the full batch of the 4 XOR cases, plain SGD lr 0.5:
//!   µs per forward + backward + update.
//! - [`peak_rss_mib`]: the process's peak resident memory (`VmHWM` of `/proc/self/status`).
//!
//! Every function returns numbers and prints nothing; `backprop bench` (src/bin/backprop/bench.rs) prints the table.

use backprop::data::{read_mnist_dir, Dataset, Features, Targets};
use backprop::nn::{Activation, Init, Mlp, MlpSpec, Module};
use backprop::optim::{Optimizer, OptimizerConfig, Sgd, SgdConfig};
use backprop::tensor::Precision;
use backprop::train::{evaluate, Control, Event, Fit, Trainer};
use backprop::Loss;
use backprop::Parameters;
use backprop::Result;
use backprop::Rng;
use backprop::{Graph, Tape};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::Instant;

/// Samples per epoch (MNIST's training set).
pub const SAMPLES: usize = 60_000;
/// Layer sizes of the benchmark MLP.
pub const SIZES: [usize; 4] = [784, 256, 128, 10];
/// Forward multiply-adds per sample: 784·256 + 256·128 + 128·10.
pub const MACS: usize = 784 * 256 + 256 * 128 + 128 * 10;
/// Multiply-adds one training sample really costs: forward, the weight gradients, and the
/// input gradients of every layer but the first (nothing wants ∂E/∂x of the pixels), so
/// `3 × MACS − 784·256`. The peer's `6 × MACS` convention counts that last product too.
pub const WORK_MACS: usize = 3 * MACS - 784 * 256;

/// What to run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BenchConfig {
    /// Mini-batch sizes of the MLP benchmark.
    pub batch_sizes: Vec<usize>,
    /// Timed epochs after the warm-up epoch (timed repeats for batch 1 and XOR).
    pub epochs: usize,
    /// Threads for matrix products (0 = all cores).
    pub threads: usize,
    /// A folder with the MNIST IDX files; `None` (or a folder without them) = synthetic data.
    pub data_dir: Option<PathBuf>,
    /// Seed of the initial weights and the shuffling.
    pub seed: u64,
    /// Batch 1: steps per timed repeat (scaled to an epoch).
    pub batch1_steps: usize,
    /// Batch 1: untimed steps before the first repeat.
    pub batch1_warmup: usize,
    /// XOR: steps per timed repeat.
    pub xor_steps: usize,
    /// The products' precision.
    pub precision: Precision,
    /// Whether updates may run inside backward (`Trainer::optimizer_in_backward`).
    pub fused: bool,
}

impl Default for BenchConfig {
    /// The peer's defaults: batches 1, 32, 128, 1024; 3 timed epochs; all cores;
    /// `../shared/datasets/mnist`; 5000 single-sample steps after 500; 100,000 XOR steps.
    fn default() -> BenchConfig {
        BenchConfig {
            batch_sizes: vec![1, 32, 128, 1024],
            epochs: 3,
            threads: 0,
            data_dir: Some(PathBuf::from("../shared/datasets/mnist")),
            seed: 42,
            batch1_steps: 5000,
            batch1_warmup: 500,
            xor_steps: 100_000,
            precision: Precision::F32,
            fused: true,
        }
    }
}

/// The training and test sets of the benchmark.
pub struct BenchData {
    /// 60,000 training samples of 784 features, 10 classes.
    pub train: Dataset,
    /// The 10,000 MNIST test images (none for synthetic data).
    pub test: Option<Dataset>,
    /// `"mnist"` or `"synthetic"`.
    pub kind: &'static str,
}

/// MNIST from `cfg.data_dir` if its files are there, else synthetic data of the same shape:
/// pixels uniform in `[0, 1]` (stored as bytes, like MNIST), label = argmax of `x·R` for a fixed
/// random `R` in `[-1, 1)` (the peer's recipe; its numbers come from numpy, ours from [`Rng`]).
pub fn load_data(cfg: &BenchConfig) -> Result<BenchData> {
    if let Some(dir) = &cfg.data_dir {
        if dir.join("train-labels-idx1-ubyte.gz").is_file()
            || dir.join("train-labels-idx1-ubyte").is_file()
        {
            return Ok(BenchData {
                train: read_mnist_dir(dir, true)?,
                test: Some(read_mnist_dir(dir, false)?),
                kind: "mnist",
            });
        }
    }
    let (d, k) = (SIZES[0], SIZES[3]);
    let mut rng = Rng::seed(cfg.seed);
    let pixels: Vec<u8> = (0..SAMPLES * d).map(|_| rng.below(256) as u8).collect();
    let r: Vec<f32> = (0..d * k).map(|_| rng.uniform_in(-1.0, 1.0)).collect();
    let labels = pixels
        .chunks_exact(d)
        .map(|x| {
            let mut s = [0.0f32; 10];
            for (&p, rr) in x.iter().zip(r.chunks_exact(k)) {
                for (s, &w) in s.iter_mut().zip(rr) {
                    *s += p as f32 * w;
                }
            }
            (0..k).fold(0, |b, j| if s[j] > s[b] { j } else { b }) as u32
        })
        .collect();
    let train = Dataset::new(
        Features::U8 {
            data: pixels,
            scale: 1.0 / 255.0,
        },
        d,
        Targets::Classes {
            labels,
            names: (0..k).map(|c| c.to_string()).collect(),
        },
    )?;
    Ok(BenchData {
        train,
        test: None,
        kind: "synthetic",
    })
}

/// The result of [`mlp_epoch`] for one batch size.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MlpBenchResult {
    /// Samples per step.
    pub batch: usize,
    /// Threads used for matrix products.
    pub threads: usize,
    /// `"mnist"` or `"synthetic"`.
    pub data: String,
    /// Seconds per epoch of 60,000 samples, one per timed repeat (batch 1: scaled).
    pub epoch_s: Vec<f64>,
    /// Median of `epoch_s`.
    pub median_s: f64,
    /// Fastest repeat.
    pub min_s: f64,
    /// Slowest repeat.
    pub max_s: f64,
    /// `60,000 / median_s`.
    pub samples_per_s: f64,
    /// `6 × MACS × samples_per_s / 1e9` (the peer's convention).
    pub gflops: f64,
    /// `2 × WORK_MACS × samples_per_s / 1e9`: the flops performed, what the FMA peak bounds.
    pub work_gflops: f64,
    /// The loss of the last step.
    pub final_loss: f32,
    /// Accuracy on the MNIST test images after training (`None` for synthetic data).
    pub test_accuracy: Option<f32>,
    /// Epochs trained before the accuracy was taken (`None` for batch 1, which trains
    /// `batch1_warmup + epochs × batch1_steps` steps).
    pub epochs_trained: Option<usize>,
    /// Batch 1: the steps each repeat timed.
    pub extrapolated_from_steps: Option<usize>,
    /// The process's peak resident memory after the run, MiB.
    pub peak_rss_mib: f64,
}

/// Median, min and max.
fn stats(v: &[f64]) -> (f64, f64, f64) {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    let med = if n % 2 == 1 {
        s[n / 2]
    } else {
        0.5 * (s[n / 2 - 1] + s[n / 2])
    };
    (med, s[0], s[n - 1])
}

/// Trains a fresh 784-256-128-10 MLP at one batch size through the library's trainer and times it.
pub fn mlp_epoch(cfg: &BenchConfig, data: &BenchData, batch: usize) -> Result<MlpBenchResult> {
    backprop::set_num_threads(cfg.threads);
    let mut rng = Rng::seed(cfg.seed);
    let mut params = Parameters::new();
    let spec = MlpSpec::from_sizes(&SIZES, Activation::Relu, Activation::Identity);
    let net = Mlp::new(spec, &mut params, Init::PyTorch, &mut rng)?;
    let mut tc = Trainer::new(Loss::CrossEntropy)
        .optimizer(OptimizerConfig::sgd(0.05).with_momentum(0.9))
        .batch_size(batch)
        .seed(cfg.seed + 1)
        .precision(cfg.precision)
        .optimizer_in_backward(cfg.fused);
    let repeats = cfg.epochs.max(1);
    let (times, last_loss, epochs_trained, steps) = if batch == 1 {
        let (times, last_loss) = time_batch1(cfg, data, &mut tc, &net, &mut params)?;
        (times, last_loss, None, Some(cfg.batch1_steps.max(1)))
    } else {
        let (times, last_loss) = time_epochs(data, &mut tc, &net, &mut params, repeats)?;
        (times, last_loss, Some(1 + repeats), None)
    };
    let (median_s, min_s, max_s) = stats(&times);
    let test_accuracy = match &data.test {
        Some(t) => evaluate(&net, &params, Loss::CrossEntropy, t)?.accuracy,
        None => None,
    };
    let samples_per_s = SAMPLES as f64 / median_s;
    Ok(MlpBenchResult {
        batch,
        threads: backprop::num_threads(),
        data: data.kind.to_string(),
        epoch_s: times,
        median_s,
        min_s,
        max_s,
        samples_per_s,
        gflops: 6.0 * MACS as f64 * samples_per_s / 1e9,
        work_gflops: 2.0 * WORK_MACS as f64 * samples_per_s / 1e9,
        final_loss: last_loss,
        test_accuracy,
        epochs_trained,
        extrapolated_from_steps: steps,
        peak_rss_mib: peak_rss_mib(),
    })
}

/// Batch 1, the peer's protocol: warm-up steps, then `repeats` blocks of `steps` steps, each
/// timed and scaled to an epoch, all inside one epoch of the training loop. The times and the
/// last batch loss.
fn time_batch1(
    cfg: &BenchConfig,
    data: &BenchData,
    tc: &mut Trainer,
    net: &Mlp,
    params: &mut Parameters,
) -> Result<(Vec<f64>, f32)> {
    let (mut times, mut last_loss, mut mark) = (vec![], f32::NAN, Instant::now());
    let (warm, steps) = (cfg.batch1_warmup, cfg.batch1_steps.max(1));
    let stop_at = warm + cfg.epochs.max(1) * steps;
    tc.epochs = stop_at.div_ceil(data.train.len());
    let mut done = 0usize;
    if warm == 0 {
        mark = Instant::now();
    }
    let mut cb = |ev: Event| {
        if let Event::Batch { loss, .. } = ev {
            done += 1;
            last_loss = loss;
            if done == warm {
                mark = Instant::now();
            } else if done > warm && (done - warm).is_multiple_of(steps) {
                let now = Instant::now();
                times.push((now - mark).as_secs_f64() * SAMPLES as f64 / steps as f64);
                mark = now;
            }
            if done >= stop_at {
                return Control::Stop;
            }
        }
        Control::Continue
    };
    let fit = Fit {
        observer: Some(&mut cb),
        ..Fit::default()
    };
    tc.fit_with(net, params, &data.train, fit)?;
    Ok((times, last_loss))
}

/// One warm-up epoch, then `repeats` timed epochs. The times and the last batch loss.
fn time_epochs(
    data: &BenchData,
    tc: &mut Trainer,
    net: &Mlp,
    params: &mut Parameters,
    repeats: usize,
) -> Result<(Vec<f64>, f32)> {
    let (mut times, mut last_loss, mut mark) = (vec![], f32::NAN, Instant::now());
    tc.epochs = 1 + repeats;
    let mut cb = |ev: Event| {
        match ev {
            Event::Batch { loss, .. } => last_loss = loss,
            Event::Epoch { report, .. } => {
                let now = Instant::now();
                if report.epoch > 1 {
                    times.push((now - mark).as_secs_f64());
                }
                mark = now;
            }
        }
        Control::Continue
    };
    let fit = Fit {
        observer: Some(&mut cb),
        ..Fit::default()
    };
    tc.fit_with(net, params, &data.train, fit)?;
    Ok((times, last_loss))
}

/// The result of [`xor_bench`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct XorBenchResult {
    /// Steps per timed repeat.
    pub steps: usize,
    /// µs per step, one per repeat.
    pub us_per_step: Vec<f64>,
    /// Median of `us_per_step`.
    pub median_us: f64,
    /// Fastest repeat.
    pub min_us: f64,
    /// Slowest repeat.
    pub max_us: f64,
    /// The loss after the last step.
    pub final_loss: f32,
}

/// A 2-2-1 sigmoid network on the 4 XOR cases with MSE and plain SGD lr 0.5.
struct Xor {
    net: Mlp,
    params: Parameters,
    opt: Sgd,
    tape: Tape,
}

const XOR_X: [f32; 8] = [0., 0., 0., 1., 1., 0., 1., 1.];
const XOR_T: [f32; 4] = [0., 1., 1., 0.];

impl Xor {
    fn new(seed: u64) -> Xor {
        let mut params = Parameters::new();
        let spec = MlpSpec::from_sizes(&[2, 2, 1], Activation::Sigmoid, Activation::Sigmoid);
        let net = Mlp::new(spec, &mut params, Init::PyTorch, &mut Rng::seed(seed))
            .expect("internal error: the XOR spec is valid");
        Xor {
            net,
            params,
            opt: Sgd::new(SgdConfig {
                lr: 0.5,
                ..SgdConfig::default()
            })
            .expect("internal error: lr 0.5 is valid"),
            tape: Tape::new(),
        }
    }

    /// One forward + backward + update; returns the loss before the update.
    fn step(&mut self) -> f32 {
        let mut g = Graph::new(&mut self.tape, &self.params);
        let x = g.input_with([4, 2], |b| b.copy_from_slice(&XOR_X));
        let t = g.input_with([4, 1], |b| b.copy_from_slice(&XOR_T));
        let y = self
            .net
            .forward(&mut g, x)
            .expect("internal error: the XOR input fits");
        let l = Loss::Mse.apply(&mut g, y, t);
        let loss = g.value(l).item();
        let grads = g.backward(l);
        self.opt.step(&mut self.params, &grads);
        loss
    }
}

/// µs per XOR training step (forward + backward + SGD update), averaged over `steps` steps after
/// 1000 warm-up steps.
#[cfg(test)]
pub fn xor_step(steps: usize) -> f64 {
    let mut x = Xor::new(42);
    for _ in 0..1000 {
        x.step();
    }
    let t0 = Instant::now();
    for _ in 0..steps {
        std::hint::black_box(x.step());
    }
    t0.elapsed().as_secs_f64() * 1e6 / steps.max(1) as f64
}

/// The peer's XOR protocol: 1000 warm-up steps, then `cfg.epochs` repeats of `cfg.xor_steps`.
pub fn xor_bench(cfg: &BenchConfig) -> XorBenchResult {
    backprop::set_num_threads(cfg.threads);
    let mut x = Xor::new(cfg.seed);
    for _ in 0..1000 {
        x.step();
    }
    let steps = cfg.xor_steps.max(1);
    let mut us = vec![];
    let mut loss = f32::NAN;
    for _ in 0..cfg.epochs.max(1) {
        let t0 = Instant::now();
        for _ in 0..steps {
            loss = x.step();
        }
        us.push(t0.elapsed().as_secs_f64() * 1e6 / steps as f64);
    }
    let (median_us, min_us, max_us) = stats(&us);
    XorBenchResult {
        steps,
        us_per_step: us,
        median_us,
        min_us,
        max_us,
        final_loss: loss,
    }
}

/// The process's peak resident memory in MiB (`VmHWM` of `/proc/self/status`; 0 where there is
/// no such file).
pub fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(0.0, |kib| kib / 1024.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synthetic_data_and_a_short_run() {
        let cfg = BenchConfig {
            batch_sizes: vec![1],
            epochs: 1,
            data_dir: None,
            batch1_steps: 20,
            batch1_warmup: 5,
            xor_steps: 10,
            ..BenchConfig::default()
        };
        let data = load_data(&cfg).unwrap();
        assert_eq!(data.kind, "synthetic");
        assert_eq!(data.train.len(), SAMPLES);
        let r = mlp_epoch(&cfg, &data, 1).unwrap();
        assert_eq!(r.epoch_s.len(), 1);
        assert!(r.samples_per_s > 0.0 && r.final_loss.is_finite());
        assert!(xor_step(10) > 0.0);
        assert!(peak_rss_mib() > 0.0);
    }
}

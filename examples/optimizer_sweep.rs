//! How many epochs SGD with momentum, RPROP, Quickprop and L-BFGS need on two classic problems,
//! over 20 seeds: the table in docs/optimizers.md.
//!
//!     cargo run --release --example optimizer_sweep
//!
//! Problems: the 8-3-8 encoder (examples/arch/encoder-8-3-8.json on examples/data/encoder.csv)
//! and XOR 2-2-1 (examples/arch/xor-2-2-1.json on examples/data/xor.csv), sigmoid units, weights
//! drawn uniformly from ±1 (Fahlman's range) with seeds 0–19, full-batch training on the MSE
//! loss (mean over samples and outputs). A run succeeds at the first epoch whose training MSE —
//! measured before that epoch's update — is at most 0.01; "epochs" counts the updates made
//! before it (so 0 would mean the initial weights already did); a run that has not succeeded
//! after 5,000 epochs is a failure. For L-BFGS an epoch is one iteration (`max_iter` 1): one
//! line search; "evals" also counts its forward+backward passes over the training set,
//! including the one every call makes at its starting point. Each optimizer runs a small grid of
//! learning rates; the summary keeps the best (fewest failures, then lowest median). Medians are
//! over the runs that succeeded.

use backprop::data::{read_csv, CsvOptions, Dataset, TargetColumn, Task};
use backprop::nn::{Init, Mlp, MlpSpec};
use backprop::optim::{AnyOptimizer, OptimizerConfig};
use backprop::train::{Control, Event, Fit, StopReason, Trainer};
use backprop::{Loss, Parameters, Rng};

const SEEDS: u64 = 20;
const MAX_EPOCHS: usize = 5000;
const TARGET_MSE: f32 = 0.01;

struct Problem {
    name: &'static str,
    arch: &'static str,
    data: &'static str,
    targets: &'static [&'static str],
}

const PROBLEMS: [Problem; 2] = [
    Problem {
        name: "8-3-8 encoder",
        arch: "examples/arch/encoder-8-3-8.json",
        data: "examples/data/encoder.csv",
        targets: &["y0", "y1", "y2", "y3", "y4", "y5", "y6", "y7"],
    },
    Problem {
        name: "XOR 2-2-1",
        arch: "examples/arch/xor-2-2-1.json",
        data: "examples/data/xor.csv",
        targets: &["y"],
    },
];

/// An optimizer and the learning rates tried.
fn candidates() -> Vec<(&'static str, Vec<f32>)> {
    vec![
        ("sgd+momentum 0.9", vec![0.3, 1.0, 3.0, 10.0, 30.0]),
        ("rprop", vec![0.01, 0.1, 1.0]),
        ("quickprop", vec![0.1, 0.3, 1.0, 3.0, 10.0, 30.0]),
        ("lbfgs", vec![1.0]),
    ]
}

fn config(name: &str, lr: f32) -> OptimizerConfig {
    match name {
        "sgd+momentum 0.9" => OptimizerConfig::sgd(lr).with_momentum(0.9),
        "lbfgs" => OptimizerConfig::default_for("lbfgs", Some(lr))
            .unwrap()
            .with_max_iter(1),
        other => OptimizerConfig::default_for(other, Some(lr)).unwrap(),
    }
}

/// Epochs (updates) and evaluations to reach the target, or `None` on failure.
fn run(p: &Problem, data: &Dataset, opt: &OptimizerConfig, seed: u64) -> Option<(usize, u64)> {
    let text = std::fs::read_to_string(p.arch).unwrap();
    let spec = MlpSpec::from_json(&text).unwrap();
    let mut params = Parameters::new();
    let net = Mlp::new(spec, &mut params, Init::Uniform(1.0), &mut Rng::seed(seed)).unwrap();
    let trainer = Trainer {
        epochs: MAX_EPOCHS,
        batch_size: 0,
        target_loss: Some(TARGET_MSE),
        seed,
        ..Trainer::new(Loss::Mse).optimizer(opt.clone())
    };
    // evaluations after each epoch (L-BFGS counts its own; the others make one per epoch)
    let mut evals = vec![0u64];
    let mut count = |e: Event| {
        if let Event::Epoch {
            report, optimizer, ..
        } = e
        {
            let n = match optimizer {
                AnyOptimizer::Lbfgs(l) => l.func_evals(),
                AnyOptimizer::Gradient(_) => report.epoch as u64,
            };
            evals.push(n);
        }
        Control::Continue
    };
    let fit = Fit {
        callback: Some(&mut count),
        ..Fit::default()
    };
    let h = trainer.fit_with(&net, &mut params, data, fit).unwrap();
    if h.stop != StopReason::TargetLoss {
        return None;
    }
    let k = h.epochs.len(); // the epoch whose starting loss met the target
    Some((k - 1, evals[k - 1] + 1))
}

fn median(v: &mut [f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

struct Row {
    optimizer: &'static str,
    lr: f32,
    failures: usize,
    epochs: Option<f64>,
    evals: Option<f64>,
}

fn fmt(v: Option<f64>) -> String {
    v.map_or("–".into(), |v| format!("{v}"))
}

fn main() {
    backprop::set_num_threads(1); // nets this small gain nothing from threads
    let mut summary = Vec::new();
    println!("All runs: {SEEDS} seeds, target MSE <= {TARGET_MSE}, at most {MAX_EPOCHS} epochs\n");
    println!("| problem | optimizer | lr | failures | median epochs* | median evals* |");
    println!("|---|---|---|---|---|---|");
    for p in &PROBLEMS {
        let opts = CsvOptions {
            target: TargetColumn::Name(p.targets[0].into()),
            targets: p.targets[1..]
                .iter()
                .map(|t| TargetColumn::Name(t.to_string()))
                .collect(),
            task: Task::Regression,
            ..CsvOptions::default()
        };
        let data = read_csv(p.data, &opts).unwrap();
        let mut best: Vec<Row> = Vec::new();
        for (name, lrs) in candidates() {
            let mut keep: Option<Row> = None;
            for lr in lrs {
                let opt = config(name, lr);
                let runs: Vec<_> = (0..SEEDS).map(|s| run(p, &data, &opt, s)).collect();
                let ok: Vec<_> = runs.iter().flatten().collect();
                let mut e: Vec<f64> = ok.iter().map(|r| r.0 as f64).collect();
                let mut v: Vec<f64> = ok.iter().map(|r| r.1 as f64).collect();
                let row = Row {
                    optimizer: name,
                    lr,
                    failures: runs.len() - ok.len(),
                    epochs: median(&mut e),
                    evals: median(&mut v),
                };
                println!(
                    "| {} | {} | {} | {} | {} | {} |",
                    p.name,
                    name,
                    lr,
                    row.failures,
                    fmt(row.epochs),
                    fmt(row.evals)
                );
                let better = keep.as_ref().is_none_or(|k| {
                    (row.failures, row.epochs.unwrap_or(f64::INFINITY))
                        < (k.failures, k.epochs.unwrap_or(f64::INFINITY))
                });
                if better {
                    keep = Some(row);
                }
            }
            best.extend(keep);
        }
        summary.push((p.name, best));
    }
    println!(
        "\nBest learning rate of each optimizer (fewest failures, then lowest median epochs)\n"
    );
    println!("| problem | optimizer | lr | failures / {SEEDS} | median epochs* | median evals* |");
    println!("|---|---|---|---|---|---|");
    for (name, rows) in summary {
        for r in rows {
            println!(
                "| {name} | {} | {} | {} | {} | {} |",
                r.optimizer,
                r.lr,
                r.failures,
                fmt(r.epochs),
                fmt(r.evals)
            );
        }
    }
    println!("\n* over the runs that reached the target");
}

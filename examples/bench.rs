//! The training benchmark (see `backprop::bench`): prints a table, then one JSON line.
//!
//! ```sh
//! cargo run --release --example bench -- [--batch 1,32,128,1024] [--epochs 3] [--threads N]
//!     [--data ../shared/datasets/mnist | --synthetic] [--steps 5000] [--xor-steps 100000]
//!     [--no-mlp] [--no-xor]
//! ```

use backprop::bench::{self, BenchConfig};
use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let mut cfg = BenchConfig::default();
    let (mut mlp, mut xor) = (true, true);
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = || args.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--batch" => {
                cfg.batch_sizes = val()?
                    .split(',')
                    .map(str::parse)
                    .collect::<Result<_, _>>()?
            }
            "--epochs" => cfg.epochs = val()?.parse()?,
            "--threads" => {
                cfg.threads = val()?.parse()?;
            }
            "--data" => cfg.data_dir = Some(PathBuf::from(val()?)),
            "--synthetic" => cfg.data_dir = None,
            "--steps" => cfg.batch1_steps = val()?.parse()?,
            "--xor-steps" => cfg.xor_steps = val()?.parse()?,
            "--seed" => cfg.seed = val()?.parse()?,
            "--no-mlp" => mlp = false,
            "--no-xor" => xor = false,
            _ => return Err(format!("unknown argument {a}").into()),
        }
    }
    backprop::set_num_threads(cfg.threads);
    let mut json = serde_json::Map::new();
    json.insert("lib".into(), "backprop".into());
    json.insert("version".into(), env!("CARGO_PKG_VERSION").into());
    if mlp {
        let data = bench::load_data(&cfg)?;
        println!(
            "MLP 784-256-128-10 on {} ({} samples/epoch), {} timed epoch(s)",
            data.kind,
            bench::SAMPLES,
            cfg.epochs
        );
        println!(
            "{:>6} {:>7} {:>10} {:>12} {:>9} {:>9} {:>9}",
            "batch", "threads", "s/epoch", "samples/s", "GFLOP/s", "test acc", "RSS MiB"
        );
        let mut rows = vec![];
        for &b in &cfg.batch_sizes {
            let r = bench::mlp_epoch(&cfg, &data, b)?;
            println!(
                "{:>6} {:>7} {:>10.4} {:>12.0} {:>9.2} {:>9} {:>9.1}",
                r.batch,
                r.threads,
                r.median_s,
                r.samples_per_s,
                r.gflops,
                r.test_accuracy
                    .map_or("-".into(), |a| format!("{:.2}%", 100.0 * a)),
                r.peak_rss_mib
            );
            rows.push(r);
        }
        json.insert("mlp".into(), serde_json::to_value(&rows)?);
    }
    if xor {
        let r = bench::xor_bench(&cfg);
        println!(
            "XOR 2-2-1 step (forward+backward+update): {:.3} µs median of {} × {} steps",
            r.median_us,
            r.us_per_step.len(),
            r.steps
        );
        json.insert("xor".into(), serde_json::to_value(&r)?);
    }
    json.insert("threads".into(), backprop::num_threads().into());
    json.insert("peak_rss_mib".into(), bench::peak_rss_mib().into());
    println!("{}", serde_json::Value::Object(json));
    Ok(())
}

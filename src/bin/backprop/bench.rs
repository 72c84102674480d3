//! `backprop bench`: the training benchmark of `benchmark.rs` as a table, then one JSON line
//! (what `scripts/bench.sh` records beside PyTorch's line).

use crate::args::BenchArgs;
use crate::benchmark::{self as bench, BenchConfig};
use crate::{out, outln};
use anyhow::{Context, Result};

pub fn run(a: &BenchArgs) -> Result<()> {
    let cfg = config(a)?;
    let mut json = serde_json::Map::new();
    json.insert("lib".into(), "backprop".into());
    json.insert("version".into(), env!("CARGO_PKG_VERSION").into());
    if !a.no_mlp {
        json.insert("mlp".into(), mlp_table(&cfg)?);
    }
    if !a.no_xor {
        let r = bench::xor_bench(&cfg);
        outln!(
            "XOR 2-2-1 step (forward+backward+update): {:.3} µs median of {} × {} steps",
            r.median_us,
            r.us_per_step.len(),
            r.steps
        )?;
        json.insert("xor".into(), serde_json::to_value(&r)?);
    }
    json.insert("threads".into(), backprop::num_threads().into());
    json.insert("precision".into(), cfg.precision.to_string().into());
    json.insert("optimizer_in_backward".into(), cfg.fused.into());
    json.insert("peak_rss_mib".into(), bench::peak_rss_mib().into());
    out!("{}\n", serde_json::Value::Object(json))?;
    Ok(())
}

/// The benchmark's settings from the flags.
fn config(a: &BenchArgs) -> Result<BenchConfig> {
    Ok(BenchConfig {
        batch_sizes: a
            .batch_sizes
            .split(',')
            .map(|b| b.trim().parse::<usize>().ok().filter(|&b| b > 0))
            .collect::<Option<_>>()
            .with_context(|| {
                format!(
                    "--batch-sizes {:?}: expected positive sizes like 1,32,128",
                    a.batch_sizes
                )
            })?,
        epochs: a.epochs.max(1),
        threads: a.threads,
        data_dir: (!a.synthetic).then(|| a.data.clone()),
        batch1_steps: a.steps.max(1),
        xor_steps: a.xor_steps.max(1),
        seed: a.seed,
        precision: a.precision,
        fused: !a.unfused,
        ..BenchConfig::default()
    })
}

/// The MLP 784-256-128-10 benchmark at each batch size as a table; the rows as JSON.
fn mlp_table(cfg: &BenchConfig) -> Result<serde_json::Value> {
    let data = bench::load_data(cfg)?;
    outln!(
        "MLP 784-256-128-10 on {} ({} samples/epoch), {} timed epoch(s)",
        data.kind,
        bench::SAMPLES,
        cfg.epochs
    )?;
    outln!(
        "{:>6} {:>7} {:>10} {:>12} {:>9} {:>9} {:>9}",
        "batch",
        "threads",
        "s/epoch",
        "samples/s",
        "GFLOP/s",
        "test acc",
        "RSS MiB"
    )?;
    let mut rows = vec![];
    for &b in &cfg.batch_sizes {
        let r = bench::mlp_epoch(cfg, &data, b)?;
        let acc = r
            .test_accuracy
            .map_or("-".into(), |a| format!("{:.2}%", 100.0 * a));
        outln!(
            "{:>6} {:>7} {:>10.4} {:>12.0} {:>9.2} {:>9} {:>9.1}",
            r.batch,
            r.threads,
            r.median_s,
            r.samples_per_s,
            r.gflops,
            acc,
            r.peak_rss_mib
        )?;
        rows.push(r);
    }
    Ok(serde_json::to_value(&rows)?)
}

//! `backprop bench`: the training benchmark of `benchmark.rs` as a table, then one JSON line
//! (what `scripts/bench.sh` records beside PyTorch's line).

use crate::args::BenchArgs;
use crate::benchmark::{self as bench, BenchConfig};
use crate::{out, outln};
use anyhow::{Context, Result};
use backprop::tensor::{core_round_trip, fma_peak, Peak, PeakKind, Precision};

pub fn run(a: &BenchArgs) -> Result<()> {
    let cfg = config(a)?;
    let mut json = serde_json::Map::new();
    json.insert("lib".into(), "backprop".into());
    json.insert("version".into(), env!("CARGO_PKG_VERSION").into());
    let peaks = Peaks::measure(&cfg);
    peaks.print()?;
    json.insert("fma_peak".into(), peaks.json());
    let mut trips = serde_json::Map::new();
    round_trip("start", &mut trips)?;
    if !a.no_mlp {
        json.insert("mlp".into(), mlp_table(&cfg, &peaks)?);
        round_trip("end", &mut trips)?;
    }
    json.insert("core_round_trip_ns".into(), trips.into());
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

/// Measures and prints the pool's core-to-core round trip ([`core_round_trip`]) — on a VM the
/// host's placement of the vCPUs, which decides what a second thread is worth — and records it
/// under `when` ("start" or "end" of the run: the placement can change while it runs).
fn round_trip(when: &str, json: &mut serde_json::Map<String, serde_json::Value>) -> Result<()> {
    match core_round_trip() {
        Some(t) => {
            let ns = t.as_secs_f64() * 1e9;
            outln!("core-to-core round trip ({when}): {ns:.0} ns (one cache line between the pool's first two threads)")?;
            json.insert(when.into(), ns.into());
        }
        None => outln!("core-to-core round trip ({when}): not measured (one core, or the two threads did not run at once)")?,
    }
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

/// The machine's multiply-add peaks, f32 and (where the CPU has `vdpbf16ps`) bf16, on 1 thread,
/// 2 threads and the benchmark's thread count (at most the cores).
struct Peaks {
    f32: Vec<Peak>,
    bf16: Vec<Peak>,
}

impl Peaks {
    fn measure(cfg: &BenchConfig) -> Peaks {
        let before = backprop::num_threads();
        backprop::set_num_threads(cfg.threads);
        let mut counts = vec![1, 2, backprop::num_threads()];
        backprop::set_num_threads(before);
        counts.sort_unstable();
        counts.dedup();
        let run = |kind| {
            let mut v: Vec<Peak> = counts.iter().filter_map(|&t| fma_peak(kind, t)).collect();
            v.dedup_by_key(|p| p.threads); // thread counts beyond the cores are clamped
            v
        };
        Peaks {
            f32: run(PeakKind::F32),
            bf16: run(PeakKind::Bf16),
        }
    }

    /// The peak a cell of `precision` on `threads` threads is read against: bf16's where the
    /// CPU has the instruction (the bf16 products use it), else f32's.
    fn for_cell(&self, precision: Precision, threads: usize) -> Option<&Peak> {
        let list = if precision == Precision::Bf16 && !self.bf16.is_empty() {
            &self.bf16
        } else {
            &self.f32
        };
        list.iter().find(|p| p.threads == threads)
    }

    fn print(&self) -> Result<()> {
        for (name, list) in [("f32", &self.f32), ("bf16", &self.bf16)] {
            let Some(first) = list.first() else {
                outln!("FMA peak {name}: not measured (the CPU has no such instruction)")?;
                continue;
            };
            let cells: Vec<String> = list
                .iter()
                .map(|p| format!("{} thread(s) {:.1} GFLOP/s", p.threads, p.gflops))
                .collect();
            let scaling = list
                .iter()
                .find(|p| p.threads == 2)
                .map_or(String::new(), |p| {
                    format!("; 2-thread scaling {:.2}×", p.gflops / first.gflops)
                });
            outln!(
                "FMA peak {name} ({}): {}{scaling}",
                first.instruction,
                cells.join(", ")
            )?;
        }
        Ok(())
    }

    fn json(&self) -> serde_json::Value {
        let side = |list: &Vec<Peak>| {
            serde_json::Value::Object(
                list.iter()
                    .map(|p| (p.threads.to_string(), p.gflops.into()))
                    .collect(),
            )
        };
        serde_json::json!({ "f32": side(&self.f32), "bf16": side(&self.bf16) })
    }
}

/// The MLP 784-256-128-10 benchmark at each batch size as a table; the rows as JSON.
fn mlp_table(cfg: &BenchConfig, peaks: &Peaks) -> Result<serde_json::Value> {
    let data = bench::load_data(cfg)?;
    outln!(
        "MLP 784-256-128-10 on {} ({} samples/epoch), {} timed epoch(s)",
        data.kind,
        bench::SAMPLES,
        cfg.epochs
    )?;
    outln!("GFLOP/s: 6 × forward MACs per sample (the peers' convention); work GF/s: the flops done (2 × (3 × MACs − 784·256): no gradient for the pixels); % peak: work ÷ FMA peak")?;
    outln!(
        "{:>6} {:>7} {:>10} {:>12} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "batch",
        "threads",
        "s/epoch",
        "samples/s",
        "GFLOP/s",
        "work GF/s",
        "% peak",
        "test acc",
        "RSS MiB"
    )?;
    let mut rows = vec![];
    for &b in &cfg.batch_sizes {
        let r = bench::mlp_epoch(cfg, &data, b)?;
        let acc = r
            .test_accuracy
            .map_or("-".into(), |a| format!("{:.2}%", 100.0 * a));
        let peak = peaks.for_cell(cfg.precision, r.threads);
        // the fraction of the figures as printed, so a reader can redo the division
        let printed_gflops = format!("{:.2}", r.gflops);
        let printed_work = format!("{:.2}", r.work_gflops);
        let fraction = peak.map(|p| {
            printed_work.parse::<f64>().unwrap_or(r.work_gflops)
                / format!("{:.1}", p.gflops)
                    .parse::<f64>()
                    .unwrap_or(p.gflops)
        });
        outln!(
            "{:>6} {:>7} {:>10.4} {:>12.0} {:>9} {:>9} {:>9} {:>9} {:>9.1}",
            r.batch,
            r.threads,
            r.median_s,
            r.samples_per_s,
            printed_gflops,
            printed_work,
            fraction.map_or("-".into(), |f| format!("{:.1}%", 100.0 * f)),
            acc,
            r.peak_rss_mib
        )?;
        let mut row = serde_json::to_value(&r)?;
        if let (Some(p), Some(f), Some(obj)) = (peak, fraction, row.as_object_mut()) {
            obj.insert("peak_gflops".into(), p.gflops.into());
            obj.insert("peak_fraction".into(), f.into());
        }
        rows.push(row);
    }
    Ok(serde_json::Value::Array(rows))
}

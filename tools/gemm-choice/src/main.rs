//! gemm-choice: measure candidate f32 GEMM crates on the shapes a 784-256-128-10 MLP runs.
//!
//! Run from the repository root:
//!
//!     cargo run --release --manifest-path tools/gemm-choice/Cargo.toml
//!
//! The binary is its own driver. Cargo features are fixed per build, so the driver (no
//! GEMM_CHOICE_WORKER in the environment) builds this same crate with three feature sets and runs
//! each build as a worker process:
//!
//!   build "base"  (default features)              gemm 0.19 default features (AVX2/FMA kernels),
//!                                                 matrixmultiply with AVX-512 kernel, no threading
//!   build "v4"    (--features x86-v4,mm-threading) gemm with AVX-512 kernels,
//!                                                 matrixmultiply + threading, MATMUL_NUM_THREADS=1 and =2
//!   build "noavx512" (--no-default-features)      matrixmultiply without its AVX-512 kernel
//!
//! All kernels are picked at run time by CPU feature detection inside the crates; nothing here
//! uses target-cpu=native. Workers print tab-separated records; the driver prints markdown.
//!
//! Options for the driver (environment):
//!   GEMM_CHOICE_MIN_TIME   seconds of timed repetitions per table cell (default 0.2)
//!   GEMM_CHOICE_SWEEP_TIME seconds per threshold-sweep cell (default 0.1)
//!   GEMM_CHOICE_QUIET_BUDGET seconds each worker may spend waiting for other processes to go
//!                          quiet before timing (default 240); load is measured and reported per cell
//!   GEMM_CHOICE_NUMPY      path of a python with numpy; if set, ../shared/bench/gemm.py is run
//!                          for the plain forward shapes at 1 and 2 threads in the same run.

use std::collections::BTreeMap;
use std::process::Command;
use std::time::Instant;

// ---------------------------------------------------------------------------------------------
// Shapes
// ---------------------------------------------------------------------------------------------

/// C[m×n] (row-major, contiguous) = A[m×k] · B[k×n], with A and B addressed through strides.
#[derive(Clone, Debug)]
struct Shape {
    name: String,
    m: usize,
    k: usize,
    n: usize,
    a_rs: isize,
    a_cs: isize,
    b_rs: isize,
    b_cs: isize,
}

impl Shape {
    fn mkn(&self) -> usize {
        self.m * self.k * self.n
    }
    fn flops(&self) -> f64 {
        2.0 * self.mkn() as f64
    }
    /// Plain row-major A (m×k) and B (k×n).
    fn plain(m: usize, k: usize, n: usize) -> Shape {
        Shape {
            name: format!("{m}x{k}x{n}"),
            m,
            k,
            n,
            a_rs: k as isize,
            a_cs: 1,
            b_rs: n as isize,
            b_cs: 1,
        }
    }
    /// Forward Y[b×out] = X[b×in] · Wᵀ, W stored (out, in) row-major: B = Wᵀ via strides.
    fn fwd(batch: usize, inp: usize, out: usize) -> Shape {
        Shape {
            name: format!("Y=X·Wᵀ {inp}→{out} b{batch}"),
            m: batch,
            k: inp,
            n: out,
            a_rs: inp as isize,
            a_cs: 1,
            b_rs: 1,
            b_cs: inp as isize,
        }
    }
    /// dX[b×in] = dY[b×out] · W[out×in], both row-major.
    fn dx(batch: usize, inp: usize, out: usize) -> Shape {
        Shape {
            name: format!("dX=dY·W {inp}→{out} b{batch}"),
            m: batch,
            k: out,
            n: inp,
            a_rs: out as isize,
            a_cs: 1,
            b_rs: inp as isize,
            b_cs: 1,
        }
    }
    /// dW[out×in] = dYᵀ[out×b] · X[b×in]; dY stored (b, out) row-major: A = dYᵀ via strides.
    fn dw(batch: usize, inp: usize, out: usize) -> Shape {
        Shape {
            name: format!("dW=dYᵀ·X {inp}→{out} b{batch}"),
            m: out,
            k: batch,
            n: inp,
            a_rs: 1,
            a_cs: out as isize,
            b_rs: inp as isize,
            b_cs: 1,
        }
    }
    fn dims(&self) -> String {
        format!("{}×{}×{}", self.m, self.k, self.n)
    }
}

fn table_shapes() -> Vec<Shape> {
    let mut v = vec![
        Shape::plain(32, 784, 256),
        Shape::plain(128, 784, 256),
        Shape::plain(1024, 784, 256),
        Shape::plain(128, 256, 128),
        Shape::plain(128, 128, 10),
        Shape::plain(1, 784, 256),
        Shape::plain(4, 2, 2),
    ];
    for &(b, i, o) in &[(32, 784, 256), (128, 784, 256), (1024, 784, 256), (128, 256, 128)] {
        v.push(Shape::fwd(b, i, o));
        v.push(Shape::dx(b, i, o));
        v.push(Shape::dw(b, i, o));
    }
    v
}

fn sweep_shapes() -> Vec<Shape> {
    let mut v = Vec::new();
    for &(i, o) in &[(784, 256), (256, 128), (128, 10)] {
        for p in 0..=10 {
            let b = 1usize << p;
            v.push(Shape::fwd(b, i, o));
            v.push(Shape::dx(b, i, o));
            v.push(Shape::dw(b, i, o));
        }
    }
    v
}

// ---------------------------------------------------------------------------------------------
// Backends
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq)]
enum Backend {
    /// gemm::gemm with Parallelism::None
    Gemm1,
    /// gemm::gemm with Parallelism::Rayon(2)
    Gemm2,
    /// matrixmultiply::sgemm (thread count is fixed by the build + MATMUL_NUM_THREADS)
    Mm,
    /// naive triple loop, f64 accumulation (reference)
    Naive,
}

/// C = A·B (acc = false) or C = A·B + C (acc = true). C is m×n row-major contiguous.
fn run(be: Backend, s: &Shape, a: &[f32], b: &[f32], c: &mut [f32], acc: bool) {
    assert!(a.len() >= s.m * s.k && b.len() >= s.k * s.n && c.len() >= s.m * s.n);
    match be {
        Backend::Gemm1 | Backend::Gemm2 => {
            let par = if be == Backend::Gemm1 {
                gemm::Parallelism::None
            } else {
                gemm::Parallelism::Rayon(2)
            };
            // gemm 0.19: dst := alpha·dst + beta·lhs·rhs; dst is not read when read_dst == false
            // (alpha is then ignored). Dimension order is (m, n, k); strides are (col, row).
            unsafe {
                gemm::gemm(
                    s.m,
                    s.n,
                    s.k,
                    c.as_mut_ptr(),
                    1,              // dst_cs
                    s.n as isize,   // dst_rs
                    acc,            // read_dst
                    a.as_ptr(),
                    s.a_cs,
                    s.a_rs,
                    b.as_ptr(),
                    s.b_cs,
                    s.b_rs,
                    1.0f32,         // alpha: coefficient of the old dst
                    1.0f32,         // beta: coefficient of lhs·rhs
                    false,
                    false,
                    false,
                    par,
                )
            }
        }
        Backend::Mm => {
            // matrixmultiply 0.3: C ← alpha·A·B + beta·C; C is not read when beta == 0.
            unsafe {
                matrixmultiply::sgemm(
                    s.m,
                    s.k,
                    s.n,
                    1.0,
                    a.as_ptr(),
                    s.a_rs,
                    s.a_cs,
                    b.as_ptr(),
                    s.b_rs,
                    s.b_cs,
                    if acc { 1.0 } else { 0.0 },
                    c.as_mut_ptr(),
                    s.n as isize,
                    1,
                )
            }
        }
        Backend::Naive => {
            for i in 0..s.m {
                for j in 0..s.n {
                    let mut sum = 0f64;
                    for p in 0..s.k {
                        let x = a[(i as isize * s.a_rs + p as isize * s.a_cs) as usize];
                        let y = b[(p as isize * s.b_rs + j as isize * s.b_cs) as usize];
                        sum += x as f64 * y as f64;
                    }
                    let d = &mut c[i * s.n + j];
                    *d = if acc { (*d as f64 + sum) as f32 } else { sum as f32 };
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Data, timing, hashing
// ---------------------------------------------------------------------------------------------

fn data(len: usize, seed: u64) -> Vec<f32> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            ((x >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

fn bits_hash(c: &[f32]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for v in c {
        for byte in v.to_bits().to_le_bytes() {
            h ^= byte as u64;
            h = h.wrapping_mul(0x100_0000_01b3);
        }
    }
    h
}

/// Median seconds per call for several closures, timed round-robin (one sample of each in turn)
/// so that all of them see the same background load. Each closure is warmed up (>= 30 ms or 3
/// calls), a sample is `inner` calls lasting >= ~2 ms, and sampling goes on until every closure has
/// >= `min_time` seconds of timed calls and >= 11 samples.
fn time_interleaved(min_time: f64, fs: &mut [Box<dyn FnMut() + '_>]) -> Vec<f64> {
    let mut inner = Vec::new();
    for f in fs.iter_mut() {
        let t0 = Instant::now();
        let mut warm = 0usize;
        while warm < 3 || (t0.elapsed().as_secs_f64() < 0.03 && warm < 1_000_000) {
            f();
            warm += 1;
        }
        let per = t0.elapsed().as_secs_f64() / warm as f64;
        inner.push(((2e-3 / per).ceil() as usize).max(1));
    }
    let n = fs.len();
    let mut samples: Vec<Vec<f64>> = vec![Vec::new(); n];
    let mut total = vec![0f64; n];
    loop {
        let mut done = true;
        for i in 0..n {
            if total[i] >= min_time && samples[i].len() >= 11 {
                continue;
            }
            done = false;
            let t = Instant::now();
            for _ in 0..inner[i] {
                (fs[i])();
            }
            let dt = t.elapsed().as_secs_f64();
            total[i] += dt;
            samples[i].push(dt / inner[i] as f64);
        }
        if done {
            break;
        }
    }
    samples
        .iter_mut()
        .map(|v| {
            v.sort_by(|x, y| x.partial_cmp(y).unwrap());
            v[v.len() / 2]
        })
        .collect()
}

/// CPU time (clock ticks) used by all processes (from /proc/stat) and by this process (all its
/// threads, from /proc/self/stat), with the wall time. Used to measure load from other processes
/// (e.g. a compiler running beside us on this 2-core machine), which ruins 2-thread figures.
#[derive(Clone, Copy)]
struct CpuSnap {
    busy: u64,
    own: u64,
    at: Instant,
}

fn cpu_snap() -> CpuSnap {
    let at = Instant::now();
    let busy = std::fs::read_to_string("/proc/stat")
        .ok()
        .and_then(|t| {
            let l = t.lines().next()?.to_string();
            let v: Vec<u64> = l.split_whitespace().skip(1).filter_map(|x| x.parse().ok()).collect();
            // user nice system idle iowait irq softirq steal
            Some(v[0] + v[1] + v[2] + v[5] + v[6] + v.get(7).copied().unwrap_or(0))
        })
        .unwrap_or(0);
    let own = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|t| {
            let rest = &t[t.rfind(')')? + 2..];
            let f: Vec<&str> = rest.split_whitespace().collect();
            // fields 14 and 15 of the full line (utime, stime) are 11 and 12 after the comm field
            Some(f[11].parse::<u64>().ok()? + f[12].parse::<u64>().ok()?)
        })
        .unwrap_or(0);
    CpuSnap { busy, own, at }
}

/// CPU ticks of waited-for children of this process (cutime + cstime).
fn children_ticks() -> u64 {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|t| {
            let rest = &t[t.rfind(')')? + 2..];
            let f: Vec<&str> = rest.split_whitespace().collect();
            Some(f[13].parse::<u64>().ok()? + f[14].parse::<u64>().ok()?)
        })
        .unwrap_or(0)
}

/// Cores' worth of CPU used by other processes between two snapshots (ticks are 1/100 s).
fn foreign_load(a: CpuSnap, b: CpuSnap) -> f64 {
    let wall = (b.at - a.at).as_secs_f64().max(1e-3);
    let other = b.busy.saturating_sub(a.busy) as f64 - b.own.saturating_sub(a.own) as f64;
    (other / 100.0 / wall).max(0.0)
}

/// Wait (up to `max_s` seconds) until other processes use < 0.05 core over a 0.3 s window.
fn wait_quiet(max_s: f64) -> f64 {
    let t0 = Instant::now();
    loop {
        let a = cpu_snap();
        std::thread::sleep(std::time::Duration::from_millis(300));
        let f = foreign_load(a, cpu_snap());
        if f < 0.05 || t0.elapsed().as_secs_f64() > max_s {
            return f;
        }
    }
}

/// Time the closures interleaved; if other processes used >= 0.1 core meanwhile, wait for a
/// quiet moment and retry (up to 4 attempts), keeping the attempt with the least foreign load.
/// Returns (median seconds per call for each closure, foreign load in cores during the attempt).
/// Total waiting allowed per worker process is GEMM_CHOICE_QUIET_BUDGET seconds (default 240);
/// once spent, cells are measured once, as they come, and flagged in the report.
fn time_quiet(min_time: f64, fs: &mut [Box<dyn FnMut() + '_>]) -> (Vec<f64>, f64) {
    use std::sync::atomic::{AtomicU64, Ordering};
    static WAITED_MS: AtomicU64 = AtomicU64::new(0);
    let budget = env_f64("GEMM_CHOICE_QUIET_BUDGET", 240.0);
    let mut best: Option<(Vec<f64>, f64)> = None;
    for _ in 0..4 {
        let left = budget - WAITED_MS.load(Ordering::Relaxed) as f64 / 1e3;
        if left <= 0.0 && best.is_some() {
            break;
        }
        let t = Instant::now();
        if left > 0.0 {
            wait_quiet(left.min(20.0));
        }
        WAITED_MS.fetch_add(t.elapsed().as_millis() as u64, Ordering::Relaxed);
        let a = cpu_snap();
        let secs = time_interleaved(min_time, fs);
        let f = foreign_load(a, cpu_snap());
        if best.as_ref().map_or(true, |b| f < b.1) {
            best = Some((secs, f));
        }
        if f < 0.1 {
            break;
        }
    }
    best.unwrap()
}

fn env_f64(name: &str, default: f64) -> f64 {
    std::env::var(name).ok().and_then(|s| s.parse().ok()).unwrap_or(default)
}

// ---------------------------------------------------------------------------------------------
// Worker
// ---------------------------------------------------------------------------------------------

fn gemm_label() -> &'static str {
    if cfg!(feature = "x86-v4") {
        "gemm x86-v4"
    } else {
        "gemm default"
    }
}

fn mm_label() -> String {
    let kern = if cfg!(feature = "mm-avx512") { "" } else { " no-avx512" };
    if cfg!(feature = "mm-threading") {
        format!("matrixmultiply{kern} threading")
    } else {
        format!("matrixmultiply{kern}")
    }
}

fn mm_threads() -> usize {
    if cfg!(feature = "mm-threading") {
        std::env::var("MATMUL_NUM_THREADS").ok().and_then(|s| s.parse().ok()).unwrap_or(0)
    } else {
        1
    }
}

fn worker() {
    let parts: Vec<String> = std::env::var("GEMM_CHOICE_WORKER")
        .unwrap()
        .split(',')
        .map(|s| s.to_string())
        .collect();
    let has = |p: &str| parts.iter().any(|x| x == p);
    let min_time = env_f64("GEMM_CHOICE_MIN_TIME", 0.2);
    let sweep_time = env_f64("GEMM_CHOICE_SWEEP_TIME", 0.1);

    println!(
        "INFO\tavx512f={} fma={} gemm_threading_threshold_default={} mm_threads={}",
        std::is_x86_feature_detected!("avx512f"),
        std::is_x86_feature_detected!("fma"),
        gemm::DEFAULT_THREADING_THRESHOLD,
        mm_threads()
    );

    let mut backends: Vec<(Backend, String, usize)> = Vec::new();
    if has("gemm") {
        backends.push((Backend::Gemm1, gemm_label().to_string(), 1));
        backends.push((Backend::Gemm2, gemm_label().to_string(), 2));
    }
    if has("mm") {
        backends.push((Backend::Mm, mm_label(), mm_threads()));
    }

    // --- correctness: every backend vs the naive reference, overwrite and accumulate forms ---
    if has("check") {
        for s in table_shapes() {
            let a = data(s.m * s.k, 1);
            let b = data(s.k * s.n, 2);
            let c0 = data(s.m * s.n, 3);
            let mut r = vec![0f32; s.m * s.n];
            run(Backend::Naive, &s, &a, &b, &mut r, false);
            let mut racc = c0.clone();
            run(Backend::Naive, &s, &a, &b, &mut racc, true);
            for (be, label, t) in &backends {
                // overwrite form: C starts as NaN, must not be read
                let mut c = vec![f32::NAN; s.m * s.n];
                run(*be, &s, &a, &b, &mut c, false);
                let e1 = rel_err(&c, &r);
                // accumulate form: C = A·B + C
                let mut c = c0.clone();
                run(*be, &s, &a, &b, &mut c, true);
                let e2 = rel_err(&c, &racc);
                let ok = e1 <= 1e-3 && e2 <= 1e-3;
                println!(
                    "CHECK\t{label}\t{t}\t{}\t{e1:.3e}\t{e2:.3e}\t{}",
                    s.name,
                    if ok { "ok" } else { "FAIL" }
                );
                assert!(ok, "{label} {t}T disagrees with the naive loop on {}", s.name);
            }
        }
    }

    // --- table + determinism hashes ---
    if has("table") {
        for s in table_shapes() {
            let a = data(s.m * s.k, 1);
            let b = data(s.k * s.n, 2);
            let mut c = vec![0f32; s.m * s.n];
            for (be, label, t) in &backends {
                // determinism: hash of the overwrite result, computed 5 times
                let mut hs = Vec::new();
                for _ in 0..5 {
                    c.fill(f32::NAN);
                    run(*be, &s, &a, &b, &mut c, false);
                    hs.push(bits_hash(&c));
                }
                let stable = hs.iter().all(|h| *h == hs[0]);
                println!("HASH\t{label}\t{t}\t{}\t{:016x}\t{}", s.name, hs[0], stable);
            }
            let (secs, load) = {
                let mut cs: Vec<Vec<f32>> = backends.iter().map(|_| vec![0f32; s.m * s.n]).collect();
                let mut fs: Vec<Box<dyn FnMut() + '_>> = Vec::new();
                for ((be, _, _), c) in backends.iter().zip(cs.iter_mut()) {
                    let (a, b, s) = (&a, &b, &s);
                    fs.push(Box::new(move || run(*be, s, a, b, c, false)));
                }
                time_quiet(min_time, &mut fs)
            };
            for ((_, label, t), sec) in backends.iter().zip(&secs) {
                println!(
                    "CELL\t{label}\t{t}\t{}\t{}\t{:.3}\t{:.3e}\t{:.2}",
                    s.name,
                    s.mkn(),
                    s.flops() / sec / 1e9,
                    sec,
                    load
                );
            }
        }
    }

    // --- threshold sweep ---
    if has("sweep") {
        let mut sweep_backends = backends.clone();
        if has("gemm") {
            sweep_backends.push((Backend::Gemm2, format!("{} forced", gemm_label()), 2));
        }
        let forced_flag = std::cell::Cell::new(false);
        for s in sweep_shapes() {
            let a = data(s.m * s.k, 1);
            let b = data(s.k * s.n, 2);
            let (secs, load) = {
                let mut cs: Vec<Vec<f32>> =
                    sweep_backends.iter().map(|_| vec![0f32; s.m * s.n]).collect();
                let mut fs: Vec<Box<dyn FnMut() + '_>> = Vec::new();
                for ((be, label, _), c) in sweep_backends.iter().zip(cs.iter_mut()) {
                    let (a, b, s) = (&a, &b, &s);
                    let forced = label.ends_with("forced");
                    let ff = &forced_flag;
                    fs.push(Box::new(move || {
                        // gemm's threading threshold is a global; set it for this closure only
                        if forced != ff.get() {
                            gemm::set_threading_threshold(if forced {
                                0
                            } else {
                                gemm::DEFAULT_THREADING_THRESHOLD
                            });
                            ff.set(forced);
                        }
                        run(*be, s, a, b, c, false)
                    }));
                }
                time_quiet(sweep_time, &mut fs)
            };
            for ((_, label, t), sec) in sweep_backends.iter().zip(&secs) {
                println!(
                    "SWEEP\t{label}\t{t}\t{}\t{}\t{:.3}\t{:.3e}\t{:.2}",
                    s.name,
                    s.mkn(),
                    s.flops() / sec / 1e9,
                    sec,
                    load
                );
            }
        }
        gemm::set_threading_threshold(gemm::DEFAULT_THREADING_THRESHOLD);
    }
}

fn rel_err(c: &[f32], r: &[f32]) -> f64 {
    let scale = r.iter().fold(0f64, |m, x| m.max(x.abs() as f64)).max(1e-30);
    let mut e = 0f64;
    for (x, y) in c.iter().zip(r) {
        let d = (*x as f64 - *y as f64).abs();
        if !d.is_finite() {
            return f64::INFINITY;
        }
        e = e.max(d);
    }
    e / scale
}

// ---------------------------------------------------------------------------------------------
// Driver
// ---------------------------------------------------------------------------------------------

struct Rec {
    label: String,
    threads: usize,
    shape: String,
    cols: Vec<String>,
}

fn parse(out: &str, tag: &str) -> Vec<Rec> {
    out.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            if f[0] != tag || f.len() < 4 {
                return None;
            }
            Some(Rec {
                label: f[1].to_string(),
                threads: f[2].parse().unwrap(),
                shape: f[3].to_string(),
                cols: f[4..].iter().map(|s| s.to_string()).collect(),
            })
        })
        .collect()
}

fn build_and_run(
    cargo: &str,
    manifest: &str,
    features: &[&str],
    runs: &[(&str, Option<&str>)],
) -> Vec<String> {
    let mut cmd = Command::new(cargo);
    cmd.args(["build", "--release", "--quiet", "--manifest-path", manifest]);
    if features.contains(&"--no-default-features") {
        cmd.arg("--no-default-features");
    }
    let feats: Vec<&str> = features.iter().copied().filter(|f| !f.starts_with("--")).collect();
    if !feats.is_empty() {
        cmd.arg("--features").arg(feats.join(","));
    }
    let st = cmd.status().expect("cargo build");
    assert!(st.success(), "cargo build failed for features {features:?}");
    let dir = std::path::Path::new(manifest).parent().unwrap().join("target/release");
    let src = dir.join("gemm-choice");
    let tag = if features.is_empty() { "base".to_string() } else { features.join("_").replace("--", "") };
    let dst = dir.join(format!("gemm-choice-worker-{tag}"));
    std::fs::copy(&src, &dst).expect("copy worker");
    let mut outs = Vec::new();
    for (what, mt) in runs {
        eprintln!("[gemm-choice] worker features={features:?} MATMUL_NUM_THREADS={mt:?} parts={what}");
        let mut c = Command::new(&dst);
        c.env("GEMM_CHOICE_WORKER", what);
        match mt {
            Some(v) => {
                c.env("MATMUL_NUM_THREADS", v);
            }
            None => {
                c.env_remove("MATMUL_NUM_THREADS");
            }
        }
        let o = c.output().expect("run worker");
        let s = String::from_utf8_lossy(&o.stdout).to_string();
        if !o.status.success() {
            eprintln!("{s}\n{}", String::from_utf8_lossy(&o.stderr));
            panic!("worker failed");
        }
        outs.push(s);
    }
    outs
}

fn main() {
    if std::env::var_os("GEMM_CHOICE_WORKER").is_some() {
        worker();
        return;
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");
    let t_start = Instant::now();

    let mut all = String::new();
    // base: gemm default features (FMA kernels), matrixmultiply (AVX-512 kernel) single-threaded
    for o in build_and_run(&cargo, manifest, &[], &[("gemm,mm,check,table,sweep", None)]) {
        all += &o;
    }
    // v4: gemm AVX-512 kernels; matrixmultiply with threading at 1 and 2 threads
    for o in build_and_run(
        &cargo,
        manifest,
        &["x86-v4", "mm-threading"],
        &[("gemm,mm,check,table,sweep", Some("1")), ("mm,check,table,sweep", Some("2"))],
    ) {
        all += &o;
    }
    // matrixmultiply without its AVX-512 kernel (1 thread), for comparison
    for o in build_and_run(&cargo, manifest, &["--no-default-features"], &[("mm,check,table", None)]) {
        all += &o;
    }

    report(&all);

    if let Ok(py) = std::env::var("GEMM_CHOICE_NUMPY") {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/bench/gemm.py");
        let shapes = "32x784x256,128x784x256,1024x784x256,128x256x128,128x128x10,1x784x256,4x2x2";
        println!("\n### numpy SGEMM (same run, `{script}`)\n");
        println!("| shape | threads | numpy version | median GFLOP/s | min | max |");
        println!("|---|---|---|---|---|---|");
        for t in ["1", "2"] {
            wait_quiet(60.0);
            let child_before = children_ticks() as f64 / 100.0;
            let snap = cpu_snap();
            let o = Command::new(&py)
                .args([script, "--lib", "numpy", "--threads", t, "--shapes", shapes])
                .output();
            match o {
                Ok(o) if o.status.success() => {
                    for l in String::from_utf8_lossy(&o.stdout).lines() {
                        let g = |k: &str| json_field(l, k);
                        println!(
                            "| {} | {} | {} | {} | {} | {} |",
                            g("shape"),
                            g("threads"),
                            g("version"),
                            g("gflops_median"),
                            g("gflops_min"),
                            g("gflops_max")
                        );
                    }
                }
                _ => println!("(numpy run failed)"),
            }
            println!("| (foreign load during the {t}-thread numpy run: {:.2} cores) | | | | | |", {
                // the numpy child counts as foreign load in /proc/stat; subtract its own CPU time
                let after = cpu_snap();
                let wall = (after.at - snap.at).as_secs_f64();
                let child = children_ticks() as f64 / 100.0;
                ((after.busy - snap.busy) as f64 / 100.0 - (after.own - snap.own) as f64 / 100.0 - (child - child_before))
                    .max(0.0)
                    / wall
            });
        }
    }
    eprintln!("[gemm-choice] total {:.0} s", t_start.elapsed().as_secs_f64());
}

fn json_field(line: &str, key: &str) -> String {
    let pat = format!("\"{key}\": ");
    match line.find(&pat) {
        Some(i) => {
            let rest = &line[i + pat.len()..];
            let end = rest.find([',', '}']).unwrap_or(rest.len());
            rest[..end].trim_matches('"').to_string()
        }
        None => "?".into(),
    }
}

fn report(all: &str) {
    for l in all.lines().filter(|l| l.starts_with("INFO")) {
        println!("<!-- {} -->", &l[5..]);
    }
    let cells = parse(all, "CELL");
    let shapes = table_shapes();

    // column order
    let mut cols: Vec<(String, usize)> = Vec::new();
    for r in &cells {
        let key = (r.label.clone(), r.threads);
        if !cols.contains(&key) {
            cols.push(key);
        }
    }
    let val: BTreeMap<(String, usize, String), f64> = cells
        .iter()
        .map(|r| ((r.label.clone(), r.threads, r.shape.clone()), r.cols[1].parse().unwrap()))
        .collect();
    let prb: BTreeMap<(String, usize, String), f64> = cells
        .iter()
        .map(|r| ((r.label.clone(), r.threads, r.shape.clone()), r.cols[3].parse().unwrap()))
        .collect();

    println!("\n### GFLOP/s (median; higher is better; 2·m·k·n / time)\n");
    let mut h = String::from("| shape | m×k×n |");
    let mut sep = String::from("|---|---|");
    for (l, t) in &cols {
        h += &format!(" {l} {t}T |");
        sep += "---:|";
    }
    println!("{h}\n{sep}");
    for s in &shapes {
        let mut row = format!("| {} | {} |", s.name, s.dims());
        let best = cols
            .iter()
            .filter_map(|(l, t)| val.get(&(l.clone(), *t, s.name.clone())))
            .fold(0f64, |m, v| m.max(*v));
        for (l, t) in &cols {
            let key = (l.clone(), *t, s.name.clone());
            let mark = match prb.get(&key) {
                Some(p) if *p >= 0.1 => format!(" ⚠{p:.2}"),
                _ => String::new(),
            };
            match val.get(&key) {
                Some(v) if *v == best => row += &format!(" **{v:.1}**{mark} |"),
                Some(v) => row += &format!(" {v:.1}{mark} |"),
                None => row += " – |",
            }
        }
        println!("{row}");
    }

    let mut pv: Vec<f64> = cells.iter().map(|r| r.cols[3].parse().unwrap()).collect();
    pv.sort_by(|a, b| a.partial_cmp(b).unwrap());
    if !pv.is_empty() {
        println!(
            "\nLoad from other processes during the timed cells (cores, from /proc/stat minus this process; \
             each shape waits for a quiet moment and is retried up to 4 times when >= 0.1 core): min {:.2}, median {:.2}, \
             max {:.2}. Cells marked ⚠x still ran beside x cores of foreign load.",
            pv[0],
            pv[pv.len() / 2],
            pv[pv.len() - 1]
        );
    }

    // correctness
    let checks = parse(all, "CHECK");
    let worst = checks.iter().fold((0f64, 0f64), |m, r| {
        (m.0.max(r.cols[0].parse().unwrap()), m.1.max(r.cols[1].parse().unwrap()))
    });
    let fails = checks.iter().filter(|r| r.cols[2] != "ok").count();
    println!(
        "\nCorrectness vs naive f64 loop: {} backend×shape checks, {} failures; worst max|err|/max|ref| \
         overwrite {:.2e}, accumulate (C = A·B + C) {:.2e}. Overwrite form run with C pre-filled with NaN.",
        checks.len(),
        fails,
        worst.0,
        worst.1
    );

    // determinism
    let hashes = parse(all, "HASH");
    let hmap: BTreeMap<(String, usize, String), (String, bool)> = hashes
        .iter()
        .map(|r| {
            ((r.label.clone(), r.threads, r.shape.clone()), (r.cols[0].clone(), r.cols[1] == "true"))
        })
        .collect();
    println!("\n### Determinism (bit-identical results)\n");
    println!("| comparison | shape | identical? |");
    println!("|---|---|---|");
    let det_shapes: Vec<String> = shapes.iter().map(|s| s.name.clone()).collect();
    let gl: Vec<String> = cols.iter().filter(|c| c.0.starts_with("gemm")).map(|c| c.0.clone()).collect();
    let mut pairs: Vec<((String, usize), (String, usize))> = Vec::new();
    let mut seen = Vec::new();
    for l in gl {
        if !seen.contains(&l) {
            seen.push(l.clone());
            pairs.push(((l.clone(), 1), (l, 2)));
        }
    }
    pairs.push((("matrixmultiply threading".into(), 1), ("matrixmultiply threading".into(), 2)));
    pairs.push((("matrixmultiply".into(), 1), ("matrixmultiply threading".into(), 2)));
    for (x, y) in &pairs {
        let mut all_same = true;
        let mut any = false;
        for s in &det_shapes {
            if let (Some(a), Some(b)) =
                (hmap.get(&(x.0.clone(), x.1, s.clone())), hmap.get(&(y.0.clone(), y.1, s.clone())))
            {
                any = true;
                let same = a.0 == b.0;
                all_same &= same;
                if s == "1024x784x256" || s.starts_with("dW") {
                    println!(
                        "| {} {}T vs {} {}T | {} | {} |",
                        x.0,
                        x.1,
                        y.0,
                        y.1,
                        s,
                        if same { "yes" } else { "no" }
                    );
                }
            }
        }
        if any {
            println!(
                "| {} {}T vs {} {}T | all {} table shapes | {} |",
                x.0,
                x.1,
                y.0,
                y.1,
                det_shapes.len(),
                if all_same { "yes" } else { "no" }
            );
        }
    }
    let unstable: Vec<String> = hmap
        .iter()
        .filter(|(_, v)| !v.1)
        .map(|(k, _)| format!("{} {}T {}", k.0, k.1, k.2))
        .collect();
    println!(
        "\nRun-to-run (5 repeats of each product in one process): {}",
        if unstable.is_empty() { "all bit-identical".to_string() } else { format!("differ: {unstable:?}") }
    );

    // threshold sweep
    let sw = parse(all, "SWEEP");
    if sw.is_empty() {
        return;
    }
    let sv: BTreeMap<(String, usize, String), (usize, f64, f64)> = sw
        .iter()
        .map(|r| {
            (
                (r.label.clone(), r.threads, r.shape.clone()),
                (r.cols[0].parse().unwrap(), r.cols[1].parse().unwrap(), r.cols[3].parse::<f64>().unwrap()),
            )
        })
        .collect();
    let pairs: Vec<(&str, (&str, usize), (&str, usize))> = vec![
        ("gemm x86-v4, Rayon(2) with gemm's internal threshold", ("gemm x86-v4", 1), ("gemm x86-v4", 2)),
        ("gemm x86-v4, Rayon(2) forced (set_threading_threshold(0))", ("gemm x86-v4", 1), ("gemm x86-v4 forced", 2)),
        ("gemm default, Rayon(2) with gemm's internal threshold", ("gemm default", 1), ("gemm default", 2)),
        ("gemm default, Rayon(2) forced", ("gemm default", 1), ("gemm default forced", 2)),
        ("matrixmultiply threading, MATMUL_NUM_THREADS 2 vs 1", ("matrixmultiply threading", 1), ("matrixmultiply threading", 2)),
    ];
    println!("\n### 2-thread speed-up (1T time / 2T time) by m·k·n — threshold sweep\n");
    println!("Layers 784→256, 256→128, 128→10; batch 1, 2, 4, …, 1024; forward Y=X·Wᵀ, dX=dY·W, dW=dYᵀ·X.");
    println!("Columns: 1T GFLOP/s of the 1-thread run, then speed-up of the 2-thread run.\n");
    let mut sep = String::from("|---:|---|");
    for _ in &pairs {
        sep += "---:|---:|";
    }
    let mut shapes_sorted = sweep_shapes();
    shapes_sorted.sort_by(|x, y| x.mkn().cmp(&y.mkn()).then(x.name.cmp(&y.name)));
    let mut titles = String::from("| m·k·n | shape |");
    for (title, _, _) in &pairs {
        titles += &format!(" {title}: 1T GFLOP/s | speed-up |");
    }
    println!("{titles}\n{sep}");
    let mut summary = Vec::new();
    let mut per_pair: Vec<Vec<(usize, f64)>> = vec![Vec::new(); pairs.len()];
    for s in &shapes_sorted {
        let mut row = format!("| {} | {} |", s.mkn(), s.name);
        for (pi, (_, one, two)) in pairs.iter().enumerate() {
            match (
                sv.get(&(one.0.to_string(), one.1, s.name.clone())),
                sv.get(&(two.0.to_string(), two.1, s.name.clone())),
            ) {
                (Some(a), Some(b)) => {
                    let p = a.2.max(b.2);
                    let mark = if p >= 0.1 { format!(" ⚠{p:.2}") } else { String::new() };
                    row += &format!(" {:.1} | {:.2}{mark} |", a.1, b.1 / a.1);
                    per_pair[pi].push((a.0, b.1 / a.1));
                }
                _ => row += " – | – |",
            }
        }
        println!("{row}");
    }
    for (pi, (title, _, _)) in pairs.iter().enumerate() {
        let rows = &per_pair[pi];
        if rows.is_empty() {
            continue;
        }
        // smallest m·k·n from which on every shape gains >= 1.10x from 2 threads
        let last_miss = rows.iter().filter(|r| r.1 < 1.10).map(|r| r.0).max();
        let thr = rows.iter().map(|r| r.0).filter(|m| last_miss.map_or(true, |x| *m > x)).min();
        let largest_loss = rows.iter().filter(|r| r.1 < 0.95).map(|r| r.0).max();
        let smallest_gain = rows.iter().filter(|r| r.1 >= 1.10).map(|r| r.0).min();
        summary.push(format!(
            "- {title}: smallest m·k·n with a ≥ 1.10× gain: {}; every shape with m·k·n ≥ {} gains ≥ 1.10×; \
             largest m·k·n where 2T was ≥ 5% slower than 1T: {}",
            smallest_gain.map(|t| t.to_string()).unwrap_or("none".into()),
            thr.map(|t| t.to_string()).unwrap_or("none".into()),
            largest_loss.map(|t| t.to_string()).unwrap_or("none".into())
        ));
    }
    println!("\n### Threshold summary\n");
    for s in summary {
        println!("{s}");
    }
}

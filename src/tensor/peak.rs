//! The machine's multiply-add peak: the ceiling the benchmark's GFLOP/s are read against.
//!
//! Each thread of the pool runs a short timed loop of independent multiply-adds on the widest
//! vector the CPU has (detected at run time): f32 `vfmadd231ps` on zmm (AVX-512F) or ymm
//! (AVX2 + FMA) registers, and bf16 `vdpbf16ps` on zmm where the CPU has AVX-512 BF16. Sixteen
//! (twelve on ymm) accumulator chains per thread hide the instruction's latency, so the loop is
//! bound by the FMA units alone. The threads start together (a barrier), and the figure is all
//! threads' flops over the time from the first start to the last end, best of a few repeats.
//! Flops count 2 per multiply-add, as the benchmark's `6 × MACs` convention does.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Which multiply-add the peak is measured for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PeakKind {
    /// f32 `vfmadd231ps`, 2 flops per lane.
    F32,
    /// bf16 pairs into f32 lanes, `vdpbf16ps`: 4 flops per f32 lane.
    Bf16,
}

/// A measured peak.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Peak {
    /// The instruction and register measured, e.g. `"vfmadd231ps zmm"`.
    pub instruction: &'static str,
    /// Threads that ran the loop at the same time.
    pub threads: usize,
    /// Billions of floating-point operations per second, all threads together.
    pub gflops: f64,
}

/// Loop iterations per thread and repeat (16 multiply-adds each: 1–3 ms).
const ITERS: usize = 1 << 19;
/// Repeats; the fastest counts (short repeats, many of them: on a shared machine some fall
/// into a quiet moment).
const REPEATS: usize = 11;

/// The instruction the CPU runs for `kind`, with its flops per instruction and the loop: `None`
/// where the CPU has no such instruction (no FMA, or no AVX-512 BF16 for [`PeakKind::Bf16`]).
type Loop = fn(usize) -> f32;
fn kernel(kind: PeakKind) -> Option<(&'static str, f64, Loop)> {
    #[cfg(target_arch = "x86_64")]
    {
        match kind {
            PeakKind::F32 if is_x86_feature_detected!("avx512f") => {
                Some(("vfmadd231ps zmm", 16.0 * 32.0, x86::f32_zmm as Loop))
            }
            PeakKind::F32
                if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") =>
            {
                Some(("vfmadd231ps ymm", 12.0 * 16.0, x86::f32_ymm as Loop))
            }
            PeakKind::Bf16 if super::has_bf16_hardware() => {
                Some(("vdpbf16ps zmm", 16.0 * 64.0, x86::bf16_zmm as Loop))
            }
            _ => None,
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = kind;
        None
    }
}

/// Measures the peak of `kind` on `threads` threads of the pool (at most the machine's cores);
/// `None` where the CPU lacks the instruction. Takes a few tens of ms per call. Changes the
/// process's [`super::num_threads`] for its duration (and restores it).
///
/// ```
/// use backprop::tensor::{fma_peak, PeakKind};
/// if let Some(p) = fma_peak(PeakKind::F32, 1) {
///     assert!(p.gflops > 0.0 && p.threads == 1);
/// }
/// ```
pub fn fma_peak(kind: PeakKind, threads: usize) -> Option<Peak> {
    let (instruction, flops_per_iter, f) = kernel(kind)?;
    let threads = threads.clamp(1, super::pool::cores());
    let before = super::gemm::threads_setting();
    super::set_num_threads(threads);
    let best = (0..REPEATS)
        .map(|_| timed(threads, f))
        .min()
        .unwrap_or(Duration::MAX);
    super::set_num_threads(before);
    let flops = flops_per_iter * (ITERS * threads) as f64;
    Some(Peak {
        instruction,
        threads,
        gflops: flops / best.as_secs_f64().max(1e-9) / 1e9,
    })
}

/// One repeat: `threads` parts of [`ITERS`] iterations; the time from the first start to the
/// last end.
fn timed(threads: usize, f: Loop) -> Duration {
    let arrived = AtomicUsize::new(0);
    let spans: Mutex<Vec<(Instant, Instant)>> = Mutex::new(Vec::with_capacity(threads));
    super::pool::run(threads, &|_| {
        // wait (briefly) for the other threads, so that the parts run at the same time; a pool
        // busy elsewhere runs the parts one after the other, and the span says so
        arrived.fetch_add(1, Ordering::SeqCst);
        let wait = Instant::now();
        while arrived.load(Ordering::SeqCst) < threads && wait.elapsed() < Duration::from_millis(50)
        {
            std::hint::spin_loop();
        }
        let t0 = Instant::now();
        std::hint::black_box(f(std::hint::black_box(ITERS)));
        let t1 = Instant::now();
        spans
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((t0, t1));
    });
    let spans = spans.into_inner().unwrap_or_else(|e| e.into_inner());
    let start = spans.iter().map(|s| s.0).min();
    let end = spans.iter().map(|s| s.1).max();
    match (start, end) {
        (Some(s), Some(e)) => e - s,
        _ => Duration::MAX,
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    /// The three loops' safe entry points: each checks its feature first (the caller already did).
    pub(super) fn f32_zmm(iters: usize) -> f32 {
        assert!(is_x86_feature_detected!("avx512f"));
        // SAFETY: AVX-512F is present (checked above).
        unsafe { zmm(iters) }
    }

    pub(super) fn f32_ymm(iters: usize) -> f32 {
        assert!(is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma"));
        // SAFETY: AVX2 and FMA are present (checked above).
        unsafe { ymm(iters) }
    }

    pub(super) fn bf16_zmm(iters: usize) -> f32 {
        assert!(crate::tensor::has_bf16_hardware());
        // SAFETY: AVX-512F and AVX-512 BF16 are present (checked above).
        unsafe { dp(iters) }
    }

    /// 16 chains of `acc = acc·m + c`.
    #[target_feature(enable = "avx512f")]
    unsafe fn zmm(iters: usize) -> f32 {
        let (m, c) = (_mm512_set1_ps(0.999_999), _mm512_set1_ps(1e-7));
        let mut acc: [__m512; 16] = std::array::from_fn(|i| _mm512_set1_ps(1.0 + i as f32 * 1e-3));
        for _ in 0..iters {
            for a in acc.iter_mut() {
                *a = _mm512_fmadd_ps(*a, m, c);
            }
        }
        let s = acc
            .iter()
            .fold(_mm512_setzero_ps(), |s, &a| _mm512_add_ps(s, a));
        _mm512_reduce_add_ps(s)
    }

    /// 12 chains of `acc = acc·m + c` (16 ymm registers: 12 chains and the two constants).
    #[target_feature(enable = "avx2,fma")]
    unsafe fn ymm(iters: usize) -> f32 {
        let (m, c) = (_mm256_set1_ps(0.999_999), _mm256_set1_ps(1e-7));
        let mut acc: [__m256; 12] = std::array::from_fn(|i| _mm256_set1_ps(1.0 + i as f32 * 1e-3));
        for _ in 0..iters {
            for a in acc.iter_mut() {
                *a = _mm256_fmadd_ps(*a, m, c);
            }
        }
        let s = acc
            .iter()
            .fold(_mm256_setzero_ps(), |s, &a| _mm256_add_ps(s, a));
        let mut out = [0.0f32; 8];
        _mm256_storeu_ps(out.as_mut_ptr(), s);
        out.iter().sum()
    }

    /// 16 chains of `acc += a₁b₁ + a₀b₀` on bf16 pairs (1.0 · 2⁻¹⁰: no subnormals, no overflow).
    #[target_feature(enable = "avx512f,avx512bf16")]
    unsafe fn dp(iters: usize) -> f32 {
        let a: __m512bh = std::mem::transmute(_mm512_set1_epi32(0x3f80_3f80));
        let b: __m512bh = std::mem::transmute(_mm512_set1_epi32(0x3a80_3a80));
        let mut acc: [__m512; 16] = std::array::from_fn(|i| _mm512_set1_ps(1.0 + i as f32));
        for _ in 0..iters {
            for x in acc.iter_mut() {
                *x = _mm512_dpbf16_ps(*x, a, b);
            }
        }
        let s = acc
            .iter()
            .fold(_mm512_setzero_ps(), |s, &x| _mm512_add_ps(s, x));
        _mm512_reduce_add_ps(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_peak_is_positive_where_measured() {
        for kind in [PeakKind::F32, PeakKind::Bf16] {
            if let Some(p) = fma_peak(kind, 2) {
                assert!(p.gflops > 0.0 && p.gflops.is_finite(), "{p:?}");
                assert!(p.threads >= 1 && p.threads <= 2);
            }
        }
        #[cfg(target_arch = "x86_64")]
        if is_x86_feature_detected!("fma") {
            assert!(
                fma_peak(PeakKind::F32, 1).is_some(),
                "an FMA CPU has a peak"
            );
        }
    }
}

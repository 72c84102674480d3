//! The `vdpbf16ps` microkernel (AVX-512 BF16): a 12×32 tile of C in 24 f32 accumulators.
//!
//! Per pair of k: two vectors of B's panel (32 columns, a bf16 pair each), and for each of the
//! 12 rows A's pair broadcast to all lanes, each multiplied into both accumulators of its row —
//! 24 independent `vdpbf16ps` (their latency is hidden), 14 loads.

use super::bf16_gemm::{has_bf16_hardware, Micro, MR, NR};
use std::arch::x86_64::*;

/// The hardware microkernel; exists only where the CPU has AVX-512F and AVX-512 BF16.
pub(crate) struct Hw(());

impl Hw {
    /// The kernel, if this CPU runs it.
    pub(crate) fn new() -> Option<Hw> {
        has_bf16_hardware().then_some(Hw(()))
    }
}

impl Micro for Hw {
    unsafe fn tile(
        &self,
        kp: usize,
        a: *const u32,
        b: *const u32,
        c: *mut f32,
        ldc: usize,
        load: bool,
    ) {
        // SAFETY: a `Hw` exists only where the features were detected; bounds per `Micro`.
        tile(kp, a, b, c, ldc, load)
    }
}

/// # Safety
/// As [`Micro::tile`]; the CPU has AVX-512F and AVX-512 BF16.
#[target_feature(enable = "avx512f,avx512bf16")]
unsafe fn tile(kp: usize, a: *const u32, b: *const u32, c: *mut f32, ldc: usize, load: bool) {
    const _: () = assert!(NR == 32);
    let mut acc = [[_mm512_setzero_ps(); 2]; MR];
    if load {
        for (i, row) in acc.iter_mut().enumerate() {
            row[0] = _mm512_loadu_ps(c.add(i * ldc));
            row[1] = _mm512_loadu_ps(c.add(i * ldc + 16));
        }
    }
    let (mut a, mut b) = (a, b);
    for _ in 0..kp {
        let b0: __m512bh = std::mem::transmute(_mm512_loadu_si512(b as *const __m512i));
        let b1: __m512bh = std::mem::transmute(_mm512_loadu_si512(b.add(16) as *const __m512i));
        for (i, row) in acc.iter_mut().enumerate() {
            let ai: __m512bh = std::mem::transmute(_mm512_set1_epi32(*a.add(i) as i32));
            // A first: the instruction's NaN priority, as the model has it
            row[0] = _mm512_dpbf16_ps(row[0], ai, b0);
            row[1] = _mm512_dpbf16_ps(row[1], ai, b1);
        }
        a = a.add(MR);
        b = b.add(NR);
    }
    for (i, row) in acc.iter().enumerate() {
        _mm512_storeu_ps(c.add(i * ldc), row[0]);
        _mm512_storeu_ps(c.add(i * ldc + 16), row[1]);
    }
}

//! The `vdpbf16ps` microkernel (AVX-512 BF16): a 12×32 tile of C in 24 f32 accumulators.
//!
//! Per pair of k: two vectors of B's panel (32 columns, a bf16 pair each), and for each of the
//! 12 rows A's pair broadcast to all lanes, each multiplied into both accumulators of its row —
//! 24 independent `vdpbf16ps` (their latency is hidden), 14 loads.

use std::arch::x86_64::*;

/// Rows of the tile.
pub(crate) const MR: usize = 12;
/// Columns of the tile (two 16-lane vectors).
pub(crate) const NR: usize = 32;

/// `C[i][j]` (row stride `ldc`; from C's value if `load`, else 0) chained through `kp` pairs:
/// `a` holds `kp·MR` packed words (pair p of row i at `p·MR + i`, or at `i·kp + p` if
/// `A_ROWS`), `b` `kp·NR` (`p·NR + j`).
///
/// # Safety
/// The buffers hold what is said above, no other thread touches the tile, and the CPU has
/// AVX-512F and AVX-512 BF16.
#[target_feature(enable = "avx512f,avx512bf16")]
pub(crate) unsafe fn tile<const A_ROWS: bool>(
    kp: usize,
    a: *const u32,
    b: *const u32,
    c: *mut f32,
    ldc: usize,
    load: bool,
) {
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
            let ai = *a.add(if A_ROWS { i * kp } else { i });
            let ai: __m512bh = std::mem::transmute(_mm512_set1_epi32(ai as i32));
            // A first: the instruction's NaN priority, as the model has it
            row[0] = _mm512_dpbf16_ps(row[0], ai, b0);
            row[1] = _mm512_dpbf16_ps(row[1], ai, b1);
        }
        a = a.add(if A_ROWS { 1 } else { MR });
        b = b.add(NR);
    }
    for (i, row) in acc.iter().enumerate() {
        _mm512_storeu_ps(c.add(i * ldc), row[0]);
        _mm512_storeu_ps(c.add(i * ldc + 16), row[1]);
    }
}

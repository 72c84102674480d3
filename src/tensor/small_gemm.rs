//! Products too small for the `gemm` crate: the row kernels (outer products, dot products,
//! sums of scaled rows, SIMD through [`simd`]) and the plain loop, which can start each sum from
//! a bias row (XOR-sized layers). [`matmul_into`](super::matmul_into) and
//! [`matmul_around`](super::matmul_around) choose them by shape.

use super::matref::MatRef;
use super::simd;

/// The row kernels, for layouts where they stream contiguous memory; `false` if none applies.
///
/// - `k == 1`, B's row contiguous: the outer product `C[i] (+)= A[i,0] · B[0]` (dW at batch 1).
/// - B's columns contiguous (B is a transposed row-major matrix, as Wᵀ in `x·Wᵀ`) and A's rows
///   contiguous: one dot product per output, `C[i][j] = A[i]·Bᵀ[j]`.
/// - B's rows contiguous: `C[i] = Σ_p A[i,p] · B[p]`, a sum of scaled rows (`δ·W`).
pub(super) fn small(a: MatRef, b: MatRef, c: &mut [f32], accumulate: bool) -> bool {
    let (k, n) = (a.cols, b.cols);
    if k == 1 && b.cs == 1 {
        let brow = &b.data[..n];
        for (i, crow) in c.chunks_exact_mut(n).enumerate() {
            let s = a.data[i * a.rs];
            simd::dispatch(ScaledRow(crow, s, brow, accumulate));
        }
        return true;
    }
    if b.rs == 1 && a.cs == 1 {
        for (i, crow) in c.chunks_exact_mut(n).enumerate() {
            let arow = &a.data[i * a.rs..i * a.rs + k];
            dots(crow, arow, b.data, b.cs, accumulate);
        }
        return true;
    }
    if b.cs == 1 {
        for (i, crow) in c.chunks_exact_mut(n).enumerate() {
            if !accumulate {
                crow.fill(0.0);
            }
            for p in 0..k {
                let s = a.data[i * a.rs + p * a.cs];
                if s != 0.0 {
                    let brow = &b.data[p * b.rs..p * b.rs + n];
                    simd::dispatch(ScaledRow(crow, s, brow, true));
                }
            }
        }
        return true;
    }
    false
}

/// `c += s·b`, vectorised: the row kernel of `δ·W` (also run by the optimizer-in-backward
/// path, which must compute the same bits).
pub(crate) fn scaled_row_add(c: &mut [f32], s: f32, b: &[f32]) {
    simd::dispatch(ScaledRow(c, s, b, true))
}

/// `c = s·b`, or `c += s·b` when accumulating.
struct ScaledRow<'a>(&'a mut [f32], f32, &'a [f32], bool);

impl simd::Kernel for ScaledRow<'_> {
    type Out = ();
    #[inline(always)]
    fn run(self) {
        let ScaledRow(c, s, b, accumulate) = self;
        scaled_row(c, s, b, accumulate)
    }
}

#[inline(always)]
fn scaled_row(c: &mut [f32], s: f32, b: &[f32], accumulate: bool) {
    let b = &b[..c.len()];
    if accumulate {
        for (c, &b) in c.iter_mut().zip(b) {
            *c += s * b;
        }
    } else if s == 0.0 {
        c.fill(0.0);
    } else {
        for (c, &b) in c.iter_mut().zip(b) {
            *c = s * b;
        }
    }
}

/// `c[j] (+)= a · rows[j·stride .. j·stride + a.len()]` for every j, at the CPU's widest level.
fn dots(c: &mut [f32], a: &[f32], rows: &[f32], stride: usize, accumulate: bool) {
    let k = a.len();
    assert!(c.is_empty() || (c.len() - 1) * stride + k <= rows.len());
    #[cfg(target_arch = "x86_64")]
    match simd::level() {
        // SAFETY: the level was detected on this CPU; the assert above bounds every row.
        simd::Level::Avx512 => return unsafe { x86::dots_avx512(c, a, rows, stride, accumulate) },
        simd::Level::Avx2 => return unsafe { x86::dots_avx2(c, a, rows, stride, accumulate) },
        simd::Level::Base => {}
    }
    for (j, c) in c.iter_mut().enumerate() {
        let row = &rows[j * stride..j * stride + k];
        let mut acc = [0.0f32; 8];
        let (ac, rc) = (a.chunks_exact(8), row.chunks_exact(8));
        let (ar, rr) = (ac.remainder(), rc.remainder());
        for (x, y) in ac.zip(rc) {
            for l in 0..8 {
                acc[l] += x[l] * y[l];
            }
        }
        for (l, (x, y)) in ar.iter().zip(rr).enumerate() {
            acc[l] += x * y;
        }
        let d = ((acc[0] + acc[4]) + (acc[2] + acc[6])) + ((acc[1] + acc[5]) + (acc[3] + acc[7]));
        *c = if accumulate { *c + d } else { d };
    }
}

/// Dot-product kernels with explicit intrinsics: compilers will not reassociate a float sum on
/// their own, so the independent partial sums are written out.
#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    /// # Safety
    /// The CPU must have AVX-512F; rows `j·stride .. j·stride + a.len()` must lie in `rows` for
    /// every `j < c.len()`.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn dots_avx512(
        c: &mut [f32],
        a: &[f32],
        rows: &[f32],
        stride: usize,
        accumulate: bool,
    ) {
        let k = a.len();
        let tail = (1u32 << (k % 16)) as u16 - 1;
        let pa = a.as_ptr();
        for (j, c) in c.iter_mut().enumerate() {
            let pb = rows.as_ptr().add(j * stride);
            let mut acc = [_mm512_setzero_ps(); 4];
            let mut i = 0;
            while i + 64 <= k {
                for (r, acc) in acc.iter_mut().enumerate() {
                    let x = _mm512_loadu_ps(pa.add(i + 16 * r));
                    let y = _mm512_loadu_ps(pb.add(i + 16 * r));
                    *acc = _mm512_fmadd_ps(x, y, *acc);
                }
                i += 64;
            }
            while i + 16 <= k {
                let x = _mm512_loadu_ps(pa.add(i));
                let y = _mm512_loadu_ps(pb.add(i));
                acc[0] = _mm512_fmadd_ps(x, y, acc[0]);
                i += 16;
            }
            if tail != 0 {
                let x = _mm512_maskz_loadu_ps(tail, pa.add(i));
                let y = _mm512_maskz_loadu_ps(tail, pb.add(i));
                acc[1] = _mm512_fmadd_ps(x, y, acc[1]);
            }
            let s = _mm512_add_ps(_mm512_add_ps(acc[0], acc[1]), _mm512_add_ps(acc[2], acc[3]));
            let d = _mm512_reduce_add_ps(s);
            *c = if accumulate { *c + d } else { d };
        }
    }

    /// # Safety
    /// The CPU must have AVX2 and FMA; bounds as for [`dots_avx512`].
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn dots_avx2(
        c: &mut [f32],
        a: &[f32],
        rows: &[f32],
        stride: usize,
        accumulate: bool,
    ) {
        let k = a.len();
        let pa = a.as_ptr();
        for (j, c) in c.iter_mut().enumerate() {
            let pb = rows.as_ptr().add(j * stride);
            let mut acc = [_mm256_setzero_ps(); 4];
            let mut i = 0;
            while i + 32 <= k {
                for (r, acc) in acc.iter_mut().enumerate() {
                    let x = _mm256_loadu_ps(pa.add(i + 8 * r));
                    let y = _mm256_loadu_ps(pb.add(i + 8 * r));
                    *acc = _mm256_fmadd_ps(x, y, *acc);
                }
                i += 32;
            }
            while i + 8 <= k {
                let x = _mm256_loadu_ps(pa.add(i));
                let y = _mm256_loadu_ps(pb.add(i));
                acc[0] = _mm256_fmadd_ps(x, y, acc[0]);
                i += 8;
            }
            let s = _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3]));
            let mut lanes = [0.0f32; 8];
            _mm256_storeu_ps(lanes.as_mut_ptr(), s);
            let mut d = ((lanes[0] + lanes[4]) + (lanes[2] + lanes[6]))
                + ((lanes[1] + lanes[5]) + (lanes[3] + lanes[7]));
            while i < k {
                d += *pa.add(i) * *pb.add(i);
                i += 1;
            }
            *c = if accumulate { *c + d } else { d };
        }
    }
}

/// What each output of [`naive`] starts from before its sum is added.
#[derive(Clone, Copy)]
pub(super) enum Start<'a> {
    /// Nothing: `c = s`.
    Set,
    /// The output's own value: `c = c + s`.
    Add,
    /// Element j of a row (a bias): `c[i][j] = row[j] + s`, the bits of copying the row into C
    /// and then adding.
    Row(&'a [f32]),
}

/// The plain loop, for products too small for any setup to pay (XOR-sized): each output is one
/// sum `s = 0; s += a[i,p]·b[p,j]` for p in order, then written (or added).
pub(super) fn naive(a: MatRef, b: MatRef, c: &mut [f32], accumulate: bool) {
    naive_from(a, b, c, if accumulate { Start::Add } else { Start::Set })
}

/// [`naive`] with each output starting from `start`.
pub(super) fn naive_from(a: MatRef, b: MatRef, c: &mut [f32], start: Start) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    if m == 0 || n == 0 {
        return;
    }
    // Bounds, once: the largest index each operand's strides reach, and C's and the row's extent.
    assert!(
        c.len() >= m * n
            && (k == 0
                || (m - 1) * a.rs + (k - 1) * a.cs < a.data.len()
                    && (k - 1) * b.rs + (n - 1) * b.cs < b.data.len())
            && !matches!(start, Start::Row(r) if r.len() < n),
        "matmul: operands shorter than their shapes"
    );
    let (pa, pb) = (a.data.as_ptr(), b.data.as_ptr());
    let mut at = 0;
    for i in 0..m {
        for j in 0..n {
            let (mut ia, mut ib) = (i * a.rs, j * b.cs);
            let mut s = 0.0f32;
            for _ in 0..k {
                // SAFETY: ia ≤ (m−1)·rs + (k−1)·cs and ib ≤ (k−1)·rs + (n−1)·cs, inside the
                // slices by the assert above. Unchecked because a checked index per term was
                // most of the cost of a tiny product (about 40 instructions per output).
                s += unsafe { *pa.add(ia) * *pb.add(ib) };
                ia += a.cs;
                ib += b.rs;
            }
            c[at] = match start {
                Start::Set => s,
                Start::Add => c[at] + s,
                Start::Row(r) => r[j] + s,
            };
            at += 1;
        }
    }
}

//! Matrix multiply: the one function every product in backprop goes through.
//!
//! `C (m×n) = A (m×k) · B (k×n)`, or `C += A·B` when accumulating (gradients add in place).
//! Either operand may be a transposed view (strides swapped), so `X·Wᵀ`, `dY·W` and `dYᵀ·X` — the
//! forward and both backward products of a linear layer — need no transposed copy here (the
//! linear op may still copy Wᵀ into its scratch buffer where that runs faster, see
//! `transposed_rhs_pays`).
//! Large products go to the `gemm` crate (run-time CPU feature detection, AVX-512/AVX2/FMA
//! kernels; without the `gemm` feature, to the loops below); tiny ones (XOR-sized) use a plain loop, where the call overhead would dominate.
//! Products with one or two rows, or an inner dimension of 1 — batch-1 training: `x·Wᵀ`, `δ·W`
//! and the outer product `δᵀ·x` — run in backprop's own vectorised loops (dot products, row
//! sums, scaled rows), which stream the weights once and need no packing.
//! Threading splits the output into blocks, never the reduction, so the result does not depend on
//! the thread count (tested in `tests/determinism.rs`): each block is one single-threaded `gemm`
//! call on a worker of backprop's own pool (`pool.rs`).

use super::bf16::{precision, with_rounded, Precision};
use super::bf16_gemm;
pub(crate) use super::matref::MatRef;
use super::pool::cores;
pub(crate) use super::small_gemm::scaled_row_add;
use super::small_gemm::{naive, naive_from, small, Start};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Below this many multiply-adds (m·k·n) a product runs on one thread. 2²⁰ (from the batch-32
/// products of the benchmark MLP on, 32×256×128 = 2²⁰), chosen by reasoning — a job starts on a
/// spinning worker of `pool.rs` in well under a µs, where rayon's sleeping workers needed 2²⁴ —
/// NOT yet by a sweep (the machine was too loaded to measure; see docs/perf.md). Tests lower it
/// through [`set_parallel_threshold`].
const PARALLEL_THRESHOLD: usize = 1 << 20;
/// Below this many multiply-adds the plain loop beats the GEMM call overhead.
pub(crate) const NAIVE_THRESHOLD: usize = 512;
/// Products with at most this many rows use the row kernels (`small`) instead of GEMM.
const SMALL_ROWS: usize = 2;

static THREADS: AtomicUsize = AtomicUsize::new(0);
/// The threshold in effect; `PARALLEL_THRESHOLD` unless a test changed it.
static PARALLEL_MACS: AtomicUsize = AtomicUsize::new(PARALLEL_THRESHOLD);
/// How many products have been handed to the `gemm` crate with more than one thread.
static PARALLEL_PRODUCTS: AtomicUsize = AtomicUsize::new(0);

/// Internal, for tests: sets how many multiply-adds (m·k·n) a product needs before it may use
/// more than one thread; `0` restores the default (2²⁰). Process-wide, like
/// [`set_num_threads`]. It exists so that a test can make the small products of a quick
/// training run take the multi-threaded path and check that the result is the same; it
/// changes speed, never results. Not part of the stable API.
#[doc(hidden)]
pub fn set_parallel_threshold(macs: usize) {
    let macs = if macs == 0 { PARALLEL_THRESHOLD } else { macs };
    PARALLEL_MACS.store(macs, Ordering::Relaxed);
}

/// Internal, for tests: how many matrix products so far (in this process) were run with more
/// than one thread. Lets a test assert that the multi-threaded path really ran. Not part of
/// the stable API.
#[doc(hidden)]
pub fn parallel_products() -> usize {
    PARALLEL_PRODUCTS.load(Ordering::Relaxed)
}

/// Sets how many threads large matrix products may use (0 = all cores, the default).
///
/// Results are bit-identical for any thread count: threads split the output, not the sums.
///
/// ```
/// backprop::set_num_threads(1);
/// assert_eq!(backprop::num_threads(), 1);
/// backprop::set_num_threads(0);
/// ```
pub fn set_num_threads(n: usize) {
    THREADS.store(n, Ordering::Relaxed);
}

/// How many threads large matrix products use: the number given to [`set_num_threads`], or
/// every core when that is 0 (the default).
///
/// ```
/// use backprop::{num_threads, set_num_threads, Tensor};
/// assert!(num_threads() >= 1); // the default: all cores
/// let a = Tensor::from_vec((0..128 * 128).map(|i| (i % 7) as f32 * 0.3 - 1.0).collect(), [128, 128])?;
/// set_num_threads(1);
/// assert_eq!(num_threads(), 1);
/// let one = a.matmul(&a);
/// set_num_threads(2);
/// assert_eq!(num_threads(), 2);
/// assert_eq!(a.matmul(&a), one); // bit-identical for any thread count
/// set_num_threads(0);
/// # Ok::<(), backprop::Error>(())
/// ```
pub fn num_threads() -> usize {
    match threads_setting() {
        0 => cores(),
        n => n,
    }
}

/// The number last given to [`set_num_threads`] (0 = all cores).
pub(crate) fn threads_setting() -> usize {
    THREADS.load(Ordering::Relaxed)
}

/// Whether `A·Bᵀ` (B stored row-major `n×k`, as a weight `(out, in)`) is faster done as
/// `A·(copy of Bᵀ)`: the `gemm` crate runs the transposed-view layout at 40–70 % of the speed of
/// a plain row-major right operand when A has few rows (measured 1.5–2.5× at 32 rows on the
/// MLP's shapes), and the copy costs one pass over B. From a few hundred rows on the two
/// layouts are equally fast, so the copy would be wasted; one- and two-row products use the
/// dot-product kernel, which wants the layout as it is.
pub(crate) fn transposed_rhs_pays(m: usize, k: usize, n: usize) -> bool {
    m > SMALL_ROWS && m <= 256 && m * k * n >= NAIVE_THRESHOLD
}

/// `c = a·b` or, with `accumulate`, `c += a·b`; `c` is row-major `a.rows × b.cols`. With this
/// thread's [`Precision::Bf16`], the `vdpbf16ps` kernel where the CPU has it (`bf16_gemm.rs`),
/// else the f32 kernels on operands rounded to bf16 (`bf16.rs`).
pub(crate) fn matmul_into(a: MatRef, b: MatRef, c: &mut [f32], accumulate: bool) {
    if precision() == Precision::Bf16 {
        if bf16_gemm::matmul(a, b, c, accumulate, bf16_threads(a, b)) {
            return;
        }
        return with_rounded(a.data, b.data, |ra, rb| {
            let a = MatRef { data: ra, ..a };
            let b = MatRef { data: rb, ..b };
            matmul_f32(a, b, c, accumulate)
        });
    }
    matmul_f32(a, b, c, accumulate)
}

/// How many threads the bf16 kernel may split a product over.
fn bf16_threads(a: MatRef, b: MatRef) -> usize {
    if a.rows * a.cols * b.cols >= PARALLEL_MACS.load(Ordering::Relaxed) {
        num_threads()
    } else {
        1
    }
}

/// [`matmul_into`] in f32.
fn matmul_f32(a: MatRef, b: MatRef, c: &mut [f32], accumulate: bool) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    assert_eq!(
        k, b.rows,
        "matmul: inner dimensions {k} and {} differ",
        b.rows
    );
    assert_eq!(
        c.len(),
        m * n,
        "matmul: output holds {} values, expected {m}×{n}",
        c.len()
    );
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            c.fill(0.0);
        }
        return;
    }
    let work = m * k * n;
    if work < NAIVE_THRESHOLD {
        return naive(a, b, c, accumulate);
    }
    if (m <= SMALL_ROWS || k == 1) && small(a, b, c, accumulate) {
        return;
    }
    // SAFETY: the asserts above check that every index the strides reach lies inside the slices:
    // a spans (m-1)·rs + (k-1)·cs < len, likewise b, and c is exactly m×n row-major.
    assert!(
        (m - 1) * a.rs + (k - 1) * a.cs < a.data.len()
            && (k - 1) * b.rs + (n - 1) * b.cs < b.data.len()
    );
    let threads = num_threads();
    if threads > 1 && work >= PARALLEL_MACS.load(Ordering::Relaxed) {
        PARALLEL_PRODUCTS.fetch_add(1, Ordering::Relaxed);
        return split(a, b, c, accumulate, threads, None);
    }
    // SAFETY: bounds checked above; c is m×n.
    unsafe { gemm_block(a, b, (0, m), (0, n), Out(c.as_mut_ptr()), n, accumulate) }
}

/// The output pointer of a product, shared by the threads that write disjoint blocks of it.
#[derive(Clone, Copy)]
struct Out(*mut f32);
// SAFETY: each thread writes only its own block (see `split`).
unsafe impl Send for Out {}
unsafe impl Sync for Out {}

/// `c = a·b` on `threads` threads of the pool, each computing one block of the OUTPUT — a range
/// of rows of C when it has at least as many rows as columns, else a range of columns — with
/// one single-threaded `gemm` call. The `gemm` crate picks its k-blocking from k and the cache
/// sizes alone, so each output value is the same sum whichever block (and thread) it is in:
/// results are bit-identical for any thread count (tests/determinism.rs). With `around`, each
/// block is first filled with the bias and, once computed, handed to the epilogue, on the
/// thread that computed it (see [`matmul_around`]).
fn split(
    a: MatRef,
    b: MatRef,
    c: &mut [f32],
    accumulate: bool,
    threads: usize,
    around: Option<&Around>,
) {
    let (m, n) = (a.rows, b.cols);
    // by rows wherever each part gets 64 rows or more: parts then write disjoint cache lines
    // of C (a split by columns shares a line per row at each boundary when C is not 64-byte
    // aligned, which made 2 threads at batch 128 slower than 1 in about half the processes:
    // 0.46 or 0.82 s/epoch, against 0.46 in 5 of 6 runs split by rows)
    let by_rows = m >= n || m >= 64 * threads;
    let len = if by_rows { m } else { n };
    // blocks of whole 16-wide register tiles
    let step = len.div_ceil(threads).div_ceil(16) * 16;
    let parts = len.div_ceil(step);
    let out = Out(c.as_mut_ptr());
    let accumulate = accumulate || around.is_some_and(|ar| ar.fill.is_some());
    super::pool::run(parts, &|i| {
        let r = (i * step, ((i + 1) * step).min(len));
        let (rows, cols) = if by_rows { (r, (0, n)) } else { ((0, m), r) };
        // SAFETY: bounds checked by the caller; blocks of different parts are disjoint, and the
        // row segments below lie inside this part's block.
        unsafe {
            let seg = |i: usize| {
                std::slice::from_raw_parts_mut(out.0.add(i * n + cols.0), cols.1 - cols.0)
            };
            if let Some(fill) = around.and_then(|ar| ar.fill) {
                (rows.0..rows.1).for_each(|i| seg(i).copy_from_slice(&fill[cols.0..cols.1]));
            }
            gemm_block(a, b, rows, cols, out, n, accumulate);
            if let Some(then) = around.and_then(|ar| ar.then) {
                (rows.0..rows.1).for_each(|i| then(seg(i), i * n + cols.0));
            }
        }
    });
}

/// An epilogue over finished output: a segment of a row of C and its offset in C.
pub(crate) type Then<'a> = &'a (dyn Fn(&[f32], usize) + Sync);

/// What a dense layer's forward does around its product `C = A·B`.
pub(crate) struct Around<'a> {
    /// Copied into every row of C before the product is added to it (the bias).
    pub(crate) fill: Option<&'a [f32]>,
    /// Called with each finished segment of a row of C and its offset in C (the activation,
    /// writing its own output).
    pub(crate) then: Option<Then<'a>>,
}

/// `c = fill + a·b` (or `c = a·b` without a fill), then `then` over every element of c: where
/// the product is split over the pool or runs on the bf16 kernel, inside each output block,
/// while the block is in its cache (one pass over the output, on every thread); elsewhere after
/// the product, split into element ranges over the pool. Each element gets the same operations either way (the fill,
/// then the product's sums added, then `then`), so the bits do not depend on the path.
pub(crate) fn matmul_around(a: MatRef, b: MatRef, c: &mut [f32], around: &Around) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    let work = m * k * n;
    if work < NAIVE_THRESHOLD
        && k > 0
        && k == b.rows
        && c.len() == m * n
        && around.fill.is_none_or(|f| f.len() == n)
        && precision() == Precision::F32
    {
        // XOR-sized: the plain loop starts each sum from the bias (no row copies), the same
        // bits as the fill-then-accumulate below
        naive_from(a, b, c, around.fill.map_or(Start::Set, Start::Row));
        if let Some(then) = around.then {
            then(c, 0);
        }
        return;
    }
    if precision() == Precision::Bf16 {
        // the kernel fills, computes and finishes each output block while it is in cache
        let ep = bf16_gemm::Epilogue {
            fill: around.fill,
            then: around.then,
        };
        if bf16_gemm::matmul_around(a, b, c, false, bf16_threads(a, b), ep) {
            return;
        }
    }
    let threads = num_threads();
    let splits = precision() == Precision::F32
        && k == b.rows
        && c.len() == m * n
        && m > SMALL_ROWS
        && k > 1
        && n > 0
        && work >= NAIVE_THRESHOLD.max(PARALLEL_MACS.load(Ordering::Relaxed))
        && threads > 1
        && (m - 1) * a.rs + (k - 1) * a.cs < a.data.len()
        && (k - 1) * b.rs + (n - 1) * b.cs < b.data.len();
    if splits {
        PARALLEL_PRODUCTS.fetch_add(1, Ordering::Relaxed);
        return split(a, b, c, false, threads, Some(around));
    }
    if let Some(fill) = around.fill {
        for row in c.chunks_exact_mut(n.max(1)) {
            row.copy_from_slice(fill);
        }
    }
    matmul_into(a, b, c, around.fill.is_some());
    if let Some(then) = around.then {
        let c = &*c;
        if c.len() < 1 << 16 {
            return then(c, 0); // one range: no pool job to set up
        }
        super::pool::ranges(c.len(), 1 << 15, &|r| then(&c[r.clone()], r.start));
    }
}

/// `C[rows, cols] (+)= A[rows, :] · B[:, cols]` with one single-threaded `gemm` call.
///
/// # Safety
/// `a`'s and `b`'s strides must stay inside their slices for the full product, and `c` must
/// point to a row-major `a.rows × ldc` matrix no other thread writes in this block.
unsafe fn gemm_block(
    a: MatRef,
    b: MatRef,
    (r0, r1): (usize, usize),
    (c0, c1): (usize, usize),
    c: Out,
    ldc: usize,
    accumulate: bool,
) {
    let k = a.cols;
    gemm::gemm(
        r1 - r0,
        c1 - c0,
        k,
        c.0.add(r0 * ldc + c0),
        1,
        ldc as isize,
        accumulate,
        a.data.as_ptr().add(r0 * a.rs),
        a.cs as isize,
        a.rs as isize,
        b.data.as_ptr().add(c0 * b.cs),
        b.cs as isize,
        b.rs as isize,
        1.0,
        1.0,
        false,
        false,
        false,
        gemm::Parallelism::None,
    );
}

/// Without the `gemm` feature (the WebAssembly build): the `gemm` crate's entry point as
/// [`matmul_into`] calls it, served by the row kernels where one applies, else the plain loop.
/// Slower on large products, the same up to round-off; one thread.
#[cfg(not(feature = "gemm"))]
#[allow(clippy::module_inception)] // named as the crate it stands in for
mod gemm {
    use super::MatRef;

    #[allow(dead_code)] // `Rayon`'s count only matters to the real crate
    pub enum Parallelism {
        None,
        Rayon(usize),
    }

    /// # Safety
    /// As the `gemm` crate's: every index the strides reach lies inside the buffers, `dst` is
    /// row-major `m×n` (column stride 1, row stride n), alpha and beta are 1.
    #[allow(clippy::too_many_arguments)]
    pub unsafe fn gemm(
        m: usize,
        n: usize,
        k: usize,
        dst: *mut f32,
        dst_cs: isize,
        dst_rs: isize,
        read_dst: bool,
        lhs: *const f32,
        lhs_cs: isize,
        lhs_rs: isize,
        rhs: *const f32,
        rhs_cs: isize,
        rhs_rs: isize,
        alpha: f32,
        beta: f32,
        _conj_dst: bool,
        _conj_lhs: bool,
        _conj_rhs: bool,
        _parallelism: Parallelism,
    ) {
        assert!(dst_cs == 1 && dst_rs == n as isize && alpha == 1.0 && beta == 1.0);
        let view = |p: *const f32, rows: usize, cols: usize, rs: isize, cs: isize| {
            let (rs, cs) = (rs as usize, cs as usize);
            let len = (rows - 1) * rs + (cols - 1) * cs + 1;
            MatRef {
                data: std::slice::from_raw_parts(p, len),
                rows,
                cols,
                rs,
                cs,
            }
        };
        let (a, b) = (
            view(lhs, m, k, lhs_rs, lhs_cs),
            view(rhs, k, n, rhs_rs, rhs_cs),
        );
        let c = std::slice::from_raw_parts_mut(dst, m * n);
        if !super::small(a, b, c, read_dst) {
            super::naive(a, b, c, read_dst);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Rng, Tensor};

    fn reference(a: &Tensor, at: bool, b: &Tensor, bt: bool) -> Vec<f32> {
        let a = if at { a.t() } else { a.clone() };
        let b = if bt { b.t() } else { b.clone() };
        let (m, k, n) = (a.dims()[0], a.dims()[1], b.dims()[1]);
        let mut c = vec![0.0f64; m * n];
        for i in 0..m {
            for j in 0..n {
                for p in 0..k {
                    c[i * n + j] += a.data()[i * k + p] as f64 * b.data()[p * n + j] as f64;
                }
            }
        }
        c.into_iter().map(|x| x as f32).collect()
    }

    /// Products below `NAIVE_THRESHOLD`, with a bias fill and an epilogue: the bits of the sum
    /// written out here (s = 0, the terms in order, then bias + s), for every layout, and the
    /// epilogue sees the finished output once.
    #[test]
    fn tiny_products_with_a_bias_are_bias_plus_the_sum() {
        let mut rng = Rng::seed(5);
        for &(m, k, n) in &[(4, 2, 2), (4, 2, 1), (3, 5, 7), (1, 4, 3), (2, 1, 3)] {
            for &(at, bt) in &[(false, false), (true, false), (false, true), (true, true)] {
                let a = Tensor::randn(if at { [k, m] } else { [m, k] }, 0.0, 1.0, &mut rng);
                let b = Tensor::randn(if bt { [n, k] } else { [k, n] }, 0.0, 1.0, &mut rng);
                let bias = Tensor::randn([n], 0.0, 1.0, &mut rng);
                let (la, lb) = (
                    if at { a.t() } else { a.clone() },
                    if bt { b.t() } else { b.clone() },
                );
                let mut want = vec![0u32; m * n];
                for i in 0..m {
                    for j in 0..n {
                        let mut s = 0.0f32;
                        for p in 0..k {
                            s += la.data()[i * k + p] * lb.data()[p * n + j];
                        }
                        want[i * n + j] = (bias.data()[j] + s).to_bits();
                    }
                }
                let seen = std::sync::Mutex::new(vec![]);
                let then = |seg: &[f32], at: usize| seen.lock().unwrap().push((seg.to_vec(), at));
                let around = Around {
                    fill: Some(bias.data()),
                    then: Some(&then),
                };
                let mut c = vec![f32::NAN; m * n];
                matmul_around(MatRef::new(&a, at), MatRef::new(&b, bt), &mut c, &around);
                let got: Vec<u32> = c.iter().map(|x| x.to_bits()).collect();
                assert_eq!(got, want, "{m}x{k}x{n} {at} {bt}");
                assert_eq!(seen.into_inner().unwrap(), vec![(c.clone(), 0)]);
            }
        }
    }

    #[test]
    fn all_transpose_combinations_small_and_large() {
        let mut rng = Rng::seed(0);
        for &(m, k, n) in &[
            (2, 3, 2),
            (33, 70, 17),
            (64, 128, 96),
            (1, 300, 40),
            (2, 77, 50),
            (40, 1, 300),
        ] {
            for &(at, bt) in &[(false, false), (true, false), (false, true), (true, true)] {
                let a = Tensor::randn(if at { [k, m] } else { [m, k] }, 0.0, 1.0, &mut rng);
                let b = Tensor::randn(if bt { [n, k] } else { [k, n] }, 0.0, 1.0, &mut rng);
                let want = reference(&a, at, &b, bt);
                let mut c = vec![1.0; m * n];
                matmul_into(MatRef::new(&a, at), MatRef::new(&b, bt), &mut c, false);
                for (x, y) in c.iter().zip(&want) {
                    assert!(
                        (x - y).abs() < 1e-3 * (1.0 + y.abs()),
                        "{m}x{k}x{n} {at} {bt}: {x} vs {y}"
                    );
                }
                matmul_into(MatRef::new(&a, at), MatRef::new(&b, bt), &mut c, true);
                for (x, y) in c.iter().zip(&want) {
                    assert!(
                        (x - 2.0 * y).abs() < 2e-3 * (1.0 + y.abs()),
                        "accumulate: {x} vs {}",
                        2.0 * y
                    );
                }
            }
        }
    }
}

//! Matrix multiply: the one function every product in backprop goes through.
//!
//! `C (m×n) = A (m×k) · B (k×n)`, or `C += A·B` when accumulating (gradients add in place).
//! Either operand may be a transposed view (strides swapped), so `X·Wᵀ`, `dY·W` and `dYᵀ·X` — the
//! forward and both backward products of a linear layer — never materialise a transpose.
//! Large products go to the `gemm` crate (run-time CPU feature detection, AVX-512/AVX2/FMA
//! kernels); tiny ones (XOR-sized) use a plain loop, where the call overhead would dominate.
//! Threading splits the output into blocks, never the reduction, so the result does not depend on
//! the thread count (tested in `tests/determinism.rs`).

use super::Tensor;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Below this many multiply-adds (m·k·n) a product runs on one thread.
const PARALLEL_THRESHOLD: usize = 1 << 21;
/// Below this many multiply-adds the plain loop beats the GEMM call overhead.
const NAIVE_THRESHOLD: usize = 512;

static THREADS: AtomicUsize = AtomicUsize::new(0);

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

/// How many threads large matrix products use.
pub fn num_threads() -> usize {
    match THREADS.load(Ordering::Relaxed) {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    }
}

/// A read-only matrix view: row-major data seen either as is or transposed.
#[derive(Clone, Copy)]
pub(crate) struct MatRef<'a> {
    pub data: &'a [f32],
    pub rows: usize,
    pub cols: usize,
    /// Distance between consecutive rows / columns of the logical matrix.
    pub rs: usize,
    pub cs: usize,
}

impl<'a> MatRef<'a> {
    /// A rank-2 tensor (or any tensor folded to a matrix), transposed if `t`.
    pub fn new(x: &'a Tensor, t: bool) -> MatRef<'a> {
        let (r, c) = x.shape().as_matrix();
        MatRef::from_slice(x.data(), r, c, t)
    }

    /// A row-major `r×c` block of data, transposed if `t`.
    pub fn from_slice(data: &'a [f32], r: usize, c: usize, t: bool) -> MatRef<'a> {
        if t {
            MatRef {
                data,
                rows: c,
                cols: r,
                rs: 1,
                cs: c,
            }
        } else {
            MatRef {
                data,
                rows: r,
                cols: c,
                rs: c,
                cs: 1,
            }
        }
    }
}

/// `c = a·b` or, with `accumulate`, `c += a·b`; `c` is row-major `a.rows × b.cols`.
pub(crate) fn matmul_into(a: MatRef, b: MatRef, c: &mut [f32], accumulate: bool) {
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
    let threads = num_threads();
    let par = if threads > 1 && work >= PARALLEL_THRESHOLD {
        gemm::Parallelism::Rayon(threads)
    } else {
        gemm::Parallelism::None
    };
    // SAFETY: the asserts above check that every index the strides reach lies inside the slices:
    // a spans (m-1)·rs + (k-1)·cs < len, likewise b, and c is exactly m×n row-major.
    debug_assert!((m - 1) * a.rs + (k - 1) * a.cs < a.data.len());
    debug_assert!((k - 1) * b.rs + (n - 1) * b.cs < b.data.len());
    assert!(
        (m - 1) * a.rs + (k - 1) * a.cs < a.data.len()
            && (k - 1) * b.rs + (n - 1) * b.cs < b.data.len()
    );
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            c.as_mut_ptr(),
            1,
            n as isize,
            accumulate,
            a.data.as_ptr(),
            a.cs as isize,
            a.rs as isize,
            b.data.as_ptr(),
            b.cs as isize,
            b.rs as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            par,
        );
    }
}

fn naive(a: MatRef, b: MatRef, c: &mut [f32], accumulate: bool) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    for i in 0..m {
        for j in 0..n {
            let mut s = 0.0f32;
            for p in 0..k {
                s += a.data[i * a.rs + p * a.cs] * b.data[p * b.rs + j * b.cs];
            }
            let o = &mut c[i * n + j];
            *o = if accumulate { *o + s } else { s };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Rng;

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

    #[test]
    fn all_transpose_combinations_small_and_large() {
        let mut rng = Rng::seed(0);
        for &(m, k, n) in &[(2, 3, 2), (33, 70, 17), (64, 128, 96)] {
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

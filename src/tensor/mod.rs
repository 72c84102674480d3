//! Tensors: plain f32 numbers in row-major order. No graph, no gradients — those live in
//! [`crate::autograd`], built on top of this module.
//!
//! ```
//! use backprop::{Rng, Tensor};
//! let x = Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], [2, 3])?; // 2 rows of 3
//! assert_eq!(x.row(1), &[4.0, 5.0, 6.0]);
//! let w = Tensor::from_vec(vec![1.0, 0.0, -1.0], [3, 1])?;
//! assert_eq!(x.matmul(&w).to_vec(), vec![-2.0, -2.0]);
//! assert_eq!(x.map(|v| 2.0 * v).sum(), 42.0);
//! assert_eq!(x.argmax_rows(), vec![2, 2]);
//! assert_eq!(x.reshape([3, 2])?.row(0), &[1.0, 2.0]);
//! assert!(x.reshape([4, 2]).is_err()); // 6 values do not make 4×2
//! // random tensors come from a seeded generator, so they are reproducible
//! let a = Tensor::randn([2, 2], 0.0, 1.0, &mut Rng::seed(1));
//! assert_eq!(a, Tensor::randn([2, 2], 0.0, 1.0, &mut Rng::seed(1)));
//! # Ok::<(), backprop::Error>(())
//! ```

mod bf16;
mod bf16_gemm;
mod bf16_pack;
#[cfg(target_arch = "x86_64")]
mod bf16_x86;
mod gemm;
mod latency;
mod matref;
mod peak;
pub(crate) mod pool;
mod reduce;
pub(crate) mod shape;
pub(crate) mod simd;
mod small_gemm;

pub use bf16::{dpbf16, precision, round_bf16, set_precision, Precision};
pub use bf16_gemm::has_bf16_hardware;
#[doc(hidden)]
pub use bf16_gemm::{bf16_matmul, Bf16Kernel};
pub use latency::core_round_trip;
pub use peak::{fma_peak, Peak, PeakKind};
pub use shape::{Shape, MAX_RANK};

pub(crate) use gemm::{
    matmul_around, matmul_into, scaled_row_add, transposed_rhs_pays, Around, MatRef, Then,
    NAIVE_THRESHOLD,
};
pub use gemm::{num_threads, set_num_threads};
#[doc(hidden)]
pub use gemm::{parallel_products, set_parallel_threshold};
#[doc(hidden)]
pub use pool::worker_parts;
pub(crate) use reduce::{max_dim_into, sum_dim_into, sum_rows_into};

use crate::error::{Error, Result};
use crate::rng::Rng;

/// An n-dimensional array of `f32` (rank ≤ 4), row-major.
///
/// ```
/// use backprop::Tensor;
/// let a = Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0], [2, 2]).unwrap();
/// let b = Tensor::ones([2, 1]);
/// assert_eq!(a.matmul(&b).to_vec(), vec![3.0, 7.0]);
/// assert_eq!(a.t().to_vec(), vec![1.0, 3.0, 2.0, 4.0]);
/// assert_eq!(a.sum_dim(0, false).to_vec(), vec![4.0, 6.0]);
/// ```
#[derive(Clone, PartialEq, Default)]
pub struct Tensor {
    shape: Shape,
    data: Vec<f32>,
}

impl Tensor {
    /// A tensor of zeros.
    pub fn zeros(shape: impl Into<Shape>) -> Tensor {
        Tensor::full(shape, 0.0)
    }

    /// A tensor of ones.
    pub fn ones(shape: impl Into<Shape>) -> Tensor {
        Tensor::full(shape, 1.0)
    }

    /// A tensor with every element equal to `value`.
    pub fn full(shape: impl Into<Shape>, value: f32) -> Tensor {
        let shape = shape.into();
        Tensor {
            data: vec![value; shape.numel()],
            shape,
        }
    }

    /// A scalar (rank-0) tensor.
    pub fn scalar(value: f32) -> Tensor {
        Tensor {
            shape: Shape::scalar(),
            data: vec![value],
        }
    }

    /// A tensor from row-major data; fails if `data.len()` is not the shape's element count.
    pub fn from_vec(data: Vec<f32>, shape: impl Into<Shape>) -> Result<Tensor> {
        let shape = shape.into();
        if data.len() != shape.numel() {
            return Err(Error::DataLength {
                shape,
                expected: shape.numel(),
                got: data.len(),
            });
        }
        Ok(Tensor { shape, data })
    }

    /// A tensor from a slice (copied); fails like [`Tensor::from_vec`].
    pub fn from_slice(data: &[f32], shape: impl Into<Shape>) -> Result<Tensor> {
        Tensor::from_vec(data.to_vec(), shape)
    }

    /// Uniform samples in `[lo, hi)` from a seeded generator.
    pub fn rand_uniform(shape: impl Into<Shape>, lo: f32, hi: f32, rng: &mut Rng) -> Tensor {
        let shape = shape.into();
        let data = (0..shape.numel()).map(|_| rng.uniform_in(lo, hi)).collect();
        Tensor { shape, data }
    }

    /// Normal samples with the given mean and standard deviation from a seeded generator.
    pub fn randn(shape: impl Into<Shape>, mean: f32, std: f32, rng: &mut Rng) -> Tensor {
        let shape = shape.into();
        let data = (0..shape.numel())
            .map(|_| mean + std * rng.normal())
            .collect();
        Tensor { shape, data }
    }

    /// The shape.
    pub fn shape(&self) -> &Shape {
        &self.shape
    }

    /// The dimensions, outermost first.
    pub fn dims(&self) -> &[usize] {
        self.shape.dims()
    }

    /// The number of elements.
    pub fn numel(&self) -> usize {
        self.data.len()
    }

    /// The elements in row-major order.
    pub fn data(&self) -> &[f32] {
        &self.data
    }

    /// The elements in row-major order, mutable.
    pub fn data_mut(&mut self) -> &mut [f32] {
        &mut self.data
    }

    /// The elements as a new `Vec`.
    pub fn to_vec(&self) -> Vec<f32> {
        self.data.clone()
    }

    /// The elements, consuming the tensor.
    pub fn into_vec(self) -> Vec<f32> {
        self.data
    }

    /// The single value of a one-element tensor.
    ///
    /// # Panics
    /// If the tensor does not hold exactly one element.
    pub fn item(&self) -> f32 {
        assert_eq!(
            self.numel(),
            1,
            "item() of a tensor of shape {:?}",
            self.shape
        );
        self.data[0]
    }

    /// Row `i` of the tensor viewed as a matrix (leading dims folded into rows).
    pub fn row(&self, i: usize) -> &[f32] {
        let (_, c) = self.shape.as_matrix();
        &self.data[i * c..(i + 1) * c]
    }

    /// Reinterprets the data with a new shape of the same element count.
    pub fn reshape(&self, shape: impl Into<Shape>) -> Result<Tensor> {
        let shape = shape.into();
        if shape.numel() != self.numel() {
            return Err(Error::ShapeMismatch {
                op: "reshape",
                lhs: self.shape,
                rhs: shape,
            });
        }
        Ok(Tensor {
            shape,
            data: self.data.clone(),
        })
    }

    /// Applies `f` to every element.
    pub fn map(&self, f: impl Fn(f32) -> f32) -> Tensor {
        Tensor {
            shape: self.shape,
            data: self.data.iter().map(|&x| f(x)).collect(),
        }
    }

    /// Combines two tensors of the same shape element by element.
    ///
    /// # Panics
    /// If the shapes differ.
    pub fn zip_map(&self, other: &Tensor, f: impl Fn(f32, f32) -> f32) -> Tensor {
        assert_eq!(
            self.shape, other.shape,
            "zip_map: shapes {:?} and {:?}",
            self.shape, other.shape
        );
        let data = self
            .data
            .iter()
            .zip(&other.data)
            .map(|(&a, &b)| f(a, b))
            .collect();
        Tensor {
            shape: self.shape,
            data,
        }
    }

    /// The matrix transpose of a rank-2 tensor.
    ///
    /// # Panics
    /// If the tensor is not rank 2.
    pub fn t(&self) -> Tensor {
        assert_eq!(
            self.shape.rank(),
            2,
            "t() needs a matrix, got shape {:?}",
            self.shape
        );
        let mut out = Tensor::zeros([self.dims()[1], self.dims()[0]]);
        transpose_into(self, &mut out.data);
        out
    }

    /// Matrix product of two rank-2 tensors, `(m, k) · (k, n) → (m, n)`.
    ///
    /// # Panics
    /// If either is not a matrix or the inner dimensions differ.
    pub fn matmul(&self, other: &Tensor) -> Tensor {
        let (m, k) = (self.dims()[0], self.dims()[1]);
        let n = other.dims()[1];
        assert!(
            self.shape.rank() == 2 && other.shape.rank() == 2 && other.dims()[0] == k,
            "matmul: shapes {:?} and {:?} do not multiply",
            self.shape,
            other.shape
        );
        let mut out = Tensor::zeros([m, n]);
        matmul_into(
            MatRef::new(self, false),
            MatRef::new(other, false),
            &mut out.data,
            false,
        );
        out
    }

    /// Sum along dimension `dim`, keeping it as size 1 when `keepdim`.
    pub fn sum_dim(&self, dim: usize, keepdim: bool) -> Tensor {
        let kept = self.shape.with_dim(dim, 1);
        let mut out = Tensor::zeros(kept);
        sum_dim_into(self.data(), &self.shape, dim, &mut out.data, false);
        if !keepdim {
            out.shape = self.shape.without_dim(dim);
        }
        out
    }

    /// Sum of all elements.
    pub fn sum(&self) -> f32 {
        self.data.iter().sum()
    }

    /// Mean of all elements.
    pub fn mean(&self) -> f32 {
        self.sum() / self.numel() as f32
    }

    /// Maximum along `dim` and the index where it occurs (first on ties).
    pub fn max_dim(&self, dim: usize, keepdim: bool) -> (Tensor, Vec<usize>) {
        let kept = self.shape.with_dim(dim, 1);
        let mut out = Tensor::zeros(kept);
        let mut idx = vec![0usize; kept.numel()];
        max_dim_into(self.data(), &self.shape, dim, &mut out.data, &mut idx);
        if !keepdim {
            out.shape = self.shape.without_dim(dim);
        }
        (out, idx)
    }

    /// Index of the largest element of each row (the predicted class of each sample).
    pub fn argmax_rows(&self) -> Vec<usize> {
        let r = self.shape.rank().max(1) - 1;
        if self.shape.rank() == 0 {
            return vec![0];
        }
        self.max_dim(r, false).1
    }

    /// Whether every element is finite.
    pub fn is_finite(&self) -> bool {
        self.data.iter().all(|x| x.is_finite())
    }

    /// Largest absolute difference to another tensor of the same shape.
    pub fn max_abs_diff(&self, other: &Tensor) -> f32 {
        assert_eq!(self.shape, other.shape);
        self.data
            .iter()
            .zip(&other.data)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max)
    }

    /// Resizes to `shape`, keeping the allocation when it is large enough; contents unspecified.
    pub(crate) fn resize(&mut self, shape: Shape) {
        self.shape = shape;
        self.data.resize(shape.numel(), 0.0);
    }

    /// Resizes to `shape` and sets every element to zero, keeping the allocation.
    pub(crate) fn reset_zeros(&mut self, shape: Shape) {
        self.shape = shape;
        self.data.clear();
        self.data.resize(shape.numel(), 0.0);
    }

    /// Becomes a copy of `src`, reusing this tensor's allocation.
    pub(crate) fn assign(&mut self, src: &Tensor) {
        self.shape = src.shape;
        self.data.clear();
        self.data.extend_from_slice(&src.data);
    }

    pub(crate) fn set_shape(&mut self, shape: Shape) {
        debug_assert_eq!(shape.numel(), self.data.len());
        self.shape = shape;
    }
}

/// Writes the transpose of matrix `x` (r, c) into `out` as (c, r).
pub(crate) fn transpose_into(x: &Tensor, out: &mut [f32]) {
    let (r, c) = (x.dims()[0], x.dims()[1]);
    transpose_slice(&x.data, r, c, out);
}

/// Writes the transpose of the row-major `r×c` matrix `x` into `out` (`c×r`): 8×8 blocks in AVX
/// registers where the CPU has AVX2, then the edges element by element. From 2¹⁵ values the rows
/// of `x` (columns of `out`) are split over the pool in blocks of 8 (a pure copy: the same bytes
/// on any thread count) — the forward of a dense layer copies Wᵀ every step, and on the caller
/// alone that copy was a serial pass between two parallel products.
pub(crate) fn transpose_slice(x: &[f32], r: usize, c: usize, out: &mut [f32]) {
    assert!(x.len() >= r * c && out.len() >= r * c);
    if r * c < 1 << 15 || r < 16 {
        // SAFETY: all rows, bounded by the assert above; `out` is borrowed mutably here.
        return unsafe { transpose_rows(x, r, c, 0..r, out.as_mut_ptr()) };
    }
    let op = pool::SharedMut(out.as_mut_ptr());
    let op = &op;
    pool::rows(r.div_ceil(8), 8 * c, 1 << 14, &|blocks| {
        let rows = blocks.start * 8..(blocks.end * 8).min(r);
        // SAFETY: rows in bounds (the assert above); parts write disjoint columns of `out`.
        unsafe { transpose_rows(x, r, c, rows, op.0) }
    });
}

/// Rows `rows` of `x` (`r×c`) into columns `rows` of `out` (`c×r`).
///
/// # Safety
/// `rows` lies in `0..r`, starts at a multiple of 8, `x` and `out` hold `r·c` values, and no
/// other thread touches columns `rows` of `out`.
unsafe fn transpose_rows(
    x: &[f32],
    r: usize,
    c: usize,
    rows: std::ops::Range<usize>,
    out: *mut f32,
) {
    let (mut r8, mut c8) = (rows.start, 0);
    #[cfg(target_arch = "x86_64")]
    if simd::level() != simd::Level::Base {
        (r8, c8) = (rows.start + (rows.end - rows.start) / 8 * 8, c / 8 * 8);
        // SAFETY: AVX2 was detected; the blocks lie inside rows `rows` and the first c8 columns.
        transpose8_avx(x, r, c, (rows.start, r8), c8, out);
    }
    // the strips the 8×8 blocks did not cover: rows r8.., and columns c8.. of the block rows
    for i in rows {
        let j0 = if i < r8 { c8 } else { 0 };
        for j in j0..c {
            *out.add(j * r + i) = x[i * c + j];
        }
    }
}

/// # Safety
/// The CPU must have AVX; `i0 ≤ i1 ≤ r` with `i1 − i0` and `c8 ≤ c` multiples of 8, `x` and
/// `out` hold `r·c` values, and no other thread writes columns `i0..i1` of `out`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
unsafe fn transpose8_avx(
    x: &[f32],
    r: usize,
    c: usize,
    (i0, i1): (usize, usize),
    c8: usize,
    out: *mut f32,
) {
    use std::arch::x86_64::*;
    let (px, po) = (x.as_ptr(), out);
    // Column blocks outside: the 8 output rows of a block column are written front to back,
    // and the other half of each input cache line is read by the next block column, while the
    // lines (8 values × r rows) are still in L1.
    for j in (0..c8).step_by(8) {
        for i in (i0..i1).step_by(8) {
            let row = |q: usize| _mm256_loadu_ps(px.add((i + q) * c + j));
            let (a0, a1, a2, a3) = (row(0), row(1), row(2), row(3));
            let (a4, a5, a6, a7) = (row(4), row(5), row(6), row(7));
            let (t0, t1) = (_mm256_unpacklo_ps(a0, a1), _mm256_unpackhi_ps(a0, a1));
            let (t2, t3) = (_mm256_unpacklo_ps(a2, a3), _mm256_unpackhi_ps(a2, a3));
            let (t4, t5) = (_mm256_unpacklo_ps(a4, a5), _mm256_unpackhi_ps(a4, a5));
            let (t6, t7) = (_mm256_unpacklo_ps(a6, a7), _mm256_unpackhi_ps(a6, a7));
            let s0 = _mm256_shuffle_ps::<0x44>(t0, t2);
            let s1 = _mm256_shuffle_ps::<0xEE>(t0, t2);
            let s2 = _mm256_shuffle_ps::<0x44>(t1, t3);
            let s3 = _mm256_shuffle_ps::<0xEE>(t1, t3);
            let s4 = _mm256_shuffle_ps::<0x44>(t4, t6);
            let s5 = _mm256_shuffle_ps::<0xEE>(t4, t6);
            let s6 = _mm256_shuffle_ps::<0x44>(t5, t7);
            let s7 = _mm256_shuffle_ps::<0xEE>(t5, t7);
            let col = |q: usize| po.add((j + q) * r + i);
            _mm256_storeu_ps(col(0), _mm256_permute2f128_ps::<0x20>(s0, s4));
            _mm256_storeu_ps(col(1), _mm256_permute2f128_ps::<0x20>(s1, s5));
            _mm256_storeu_ps(col(2), _mm256_permute2f128_ps::<0x20>(s2, s6));
            _mm256_storeu_ps(col(3), _mm256_permute2f128_ps::<0x20>(s3, s7));
            _mm256_storeu_ps(col(4), _mm256_permute2f128_ps::<0x31>(s0, s4));
            _mm256_storeu_ps(col(5), _mm256_permute2f128_ps::<0x31>(s1, s5));
            _mm256_storeu_ps(col(6), _mm256_permute2f128_ps::<0x31>(s2, s6));
            _mm256_storeu_ps(col(7), _mm256_permute2f128_ps::<0x31>(s3, s7));
        }
    }
}

impl std::fmt::Debug for Tensor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Tensor{:?} ", self.shape)?;
        if self.numel() <= 16 {
            write!(f, "{:?}", self.data)
        } else {
            write!(f, "{:?}…", &self.data[..16])
        }
    }
}

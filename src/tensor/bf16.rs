//! bf16 products: operands rounded to bfloat16, sums in f32.
//!
//! bfloat16 keeps f32's sign and 8-bit exponent and the top 7 of its 23 mantissa bits, so an f32
//! `x` rounds to bf16 by dropping its low 16 bits with round-to-nearest-even:
//!
//! ```text
//! bits(x) + 0x7fff + (bit 16 of bits(x))   then keep the high 16 bits
//! ```
//!
//! (NaN stays a quiet NaN; a value past the largest bf16 becomes ±∞, as in hardware.) The
//! product of two bf16 numbers has at most 16 significant bits, so it is exact in f32 (inside
//! f32's range). [`Precision::Bf16`] runs each product in one of two ways:
//!
//! - where the CPU has AVX-512 BF16, on the `vdpbf16ps` kernel of `bf16_gemm.rs`: operands
//!   rounded as above while they are packed in pairs along k, each output one chain of the
//!   instruction's steps ([`dpbf16`], its portable model, bit-exact), f32 accumulators;
//! - elsewhere (and for products of one or two rows), on copies of both operands rounded to
//!   bf16, through the f32 kernels: the same products, summed in another order.
//!
//! Master weights, gradients and optimizer state stay f32.
//!
//! The precision is per thread ([`set_precision`]); [`crate::train::Trainer`] sets it for the
//! duration of a `fit` from its `precision` field.

use super::simd;
use serde::{Deserialize, Serialize};
use std::cell::{Cell, RefCell};

/// The number format of the operands of matrix products.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// f32 operands and sums (the default).
    #[default]
    F32,
    /// Operands rounded to bfloat16 (round-to-nearest-even), sums in f32.
    Bf16,
}

impl std::fmt::Display for Precision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Precision::F32 => "f32",
            Precision::Bf16 => "bf16",
        })
    }
}

impl std::str::FromStr for Precision {
    type Err = crate::error::Error;
    /// `f32` or `bf16`.
    fn from_str(s: &str) -> crate::error::Result<Precision> {
        match s {
            "f32" => Ok(Precision::F32),
            "bf16" => Ok(Precision::Bf16),
            _ => Err(crate::error::Error::invalid("precision", s, "f32 or bf16")),
        }
    }
}

thread_local! {
    static PRECISION: Cell<Precision> = const { Cell::new(Precision::F32) };
    /// Rounded copies of the two operands, kept so that a steady-state step does not allocate.
    static SCRATCH: RefCell<(Vec<f32>, Vec<f32>)> = const { RefCell::new((Vec::new(), Vec::new())) };
}

/// Sets the precision of the matrix products run by this thread and returns the previous one.
///
/// ```
/// use backprop::tensor::{precision, set_precision, Precision};
/// use backprop::Tensor;
/// let a = Tensor::from_vec(vec![1.0 + 1.0 / 256.0], [1, 1]).unwrap(); // between two bf16 values
/// let before = set_precision(Precision::Bf16);
/// assert_eq!(a.matmul(&Tensor::ones([1, 1])).item(), 1.0); // rounded to even
/// set_precision(before);
/// assert_eq!(precision(), Precision::F32);
/// ```
pub fn set_precision(p: Precision) -> Precision {
    PRECISION.with(|c| c.replace(p))
}

/// The precision of the matrix products run by this thread.
pub fn precision() -> Precision {
    PRECISION.with(|c| c.get())
}

/// `x` rounded to the nearest bfloat16 (ties to even), returned as the f32 of equal value.
///
/// ```
/// use backprop::tensor::round_bf16;
/// assert_eq!(round_bf16(1.0 + 1.0 / 256.0), 1.0); // a tie: to the even neighbour
/// assert_eq!(round_bf16(1.0 + 3.0 / 256.0), 1.0 + 1.0 / 64.0);
/// assert_eq!(round_bf16(0.1), 0.10009765625);
/// ```
#[inline(always)]
pub fn round_bf16(x: f32) -> f32 {
    f32::from_bits(rounded_bits(x) & 0xffff_0000)
}

/// The bits of `x` rounded to bf16 in the HIGH half (the low half is garbage): branch-free, so
/// that the packing loops of `bf16_gemm.rs` vectorise. NaN keeps its sign and high payload
/// bits and becomes quiet.
#[inline(always)]
pub(crate) fn rounded_bits(x: f32) -> u32 {
    let b = x.to_bits();
    let r = b.wrapping_add(0x7fff + ((b >> 16) & 1));
    if b & 0x7fff_ffff > 0x7f80_0000 {
        b | 0x0040_0000
    } else {
        r
    }
}

/// Two f32 rounded to bf16 and packed as `vdpbf16ps` reads a pair: `lo` (the even k index) in
/// bits 0–15, `hi` (the odd one) in bits 16–31.
#[inline(always)]
pub(crate) fn pack_pair(lo: f32, hi: f32) -> u32 {
    (rounded_bits(hi) & 0xffff_0000) | (rounded_bits(lo) >> 16)
}

/// One f32 lane of AVX-512 BF16's `vdpbf16ps`, bit for bit: `acc` plus the dot product of the
/// bf16 pairs `a` and `b` (each as `pack_pair` packs them: element 0 in the low 16 bits).
///
/// Intel's definition (SDM, VDPBF16PS): two fused multiply-adds in f32, the odd element first,
///
/// ```text
/// acc := acc + a₁·b₁   (rounded)
/// acc := acc + a₀·b₀   (rounded)
/// ```
///
/// with round-to-nearest-even whatever MXCSR says, subnormal inputs read as zero (the bf16
/// elements and the accumulator: DAZ) and subnormal results flushed to a zero of their sign
/// (FTZ), after each step. NaN follows the x86 FMA rule: the first NaN among `a`'s element,
/// `b`'s element and the accumulator, made quiet; an invalid operation (∞·0, ∞−∞) gives the
/// default NaN `0xffc0_0000`. Checked equal to the instruction on every lane of random bit
/// patterns (tests/bf16_kernel.rs, where the CPU has it).
///
/// ```
/// use backprop::tensor::dpbf16;
/// let one = 0x3f80u32; // 1.0 in bf16
/// let pair = |lo: u32, hi: u32| hi << 16 | lo;
/// assert_eq!(dpbf16(0.5, pair(one, one), pair(0x4000, 0x4040)), 0.5 + 3.0 + 2.0);
/// assert_eq!(dpbf16(0.0, pair(0x0001, 0), pair(one, 0)), 0.0); // a subnormal input reads as 0
/// ```
pub fn dpbf16(acc: f32, a: u32, b: u32) -> f32 {
    let acc = flush(acc);
    let acc = fma_step(acc, element(a >> 16), element(b >> 16));
    fma_step(acc, element(a & 0xffff), element(b & 0xffff))
}

/// A bf16 element (low 16 bits of `h`) as f32, subnormals read as zero.
#[inline(always)]
fn element(h: u32) -> f32 {
    flush(f32::from_bits(h << 16))
}

/// A subnormal `x` becomes the zero of its sign.
#[inline(always)]
fn flush(x: f32) -> f32 {
    if x.is_subnormal() {
        f32::from_bits(x.to_bits() & 0x8000_0000)
    } else {
        x
    }
}

/// `acc + x·y` rounded once, as one step of [`dpbf16`].
#[inline(always)]
fn fma_step(acc: f32, x: f32, y: f32) -> f32 {
    let quiet = |v: f32| f32::from_bits(v.to_bits() | 0x0040_0000);
    if x.is_nan() {
        quiet(x)
    } else if y.is_nan() {
        quiet(y)
    } else if acc.is_nan() {
        quiet(acc)
    } else {
        let r = x.mul_add(y, acc);
        if r.is_nan() {
            f32::from_bits(0xffc0_0000)
        } else {
            flush(r)
        }
    }
}

/// `out[i] = round_bf16(x[i])`, vectorised at the CPU's widest level.
struct Round<'a>(&'a [f32], &'a mut [f32]);

impl simd::Kernel for Round<'_> {
    type Out = ();
    #[inline(always)]
    fn run(self) {
        let Round(x, out) = self;
        for (o, &x) in out.iter_mut().zip(x) {
            *o = round_bf16(x);
        }
    }
}

/// Runs `f` on bf16-rounded copies of `a` and `b` (same lengths, so any strided view of the
/// originals is the same view of the copies).
pub(crate) fn with_rounded<R>(a: &[f32], b: &[f32], f: impl FnOnce(&[f32], &[f32]) -> R) -> R {
    let (mut ra, mut rb) = SCRATCH.with(|s| std::mem::take(&mut *s.borrow_mut()));
    for (src, dst) in [(a, &mut ra), (b, &mut rb)] {
        dst.clear();
        dst.resize(src.len(), 0.0);
        simd::dispatch(Round(src, dst));
    }
    let r = f(&ra, &rb);
    SCRATCH.with(|s| *s.borrow_mut() = (ra, rb));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Round-to-nearest-even, the slow way: the two bf16 neighbours and the distance to each.
    fn reference(x: f32) -> f32 {
        let lo = f32::from_bits(x.to_bits() & 0xffff_0000);
        let hi = f32::from_bits((x.to_bits() & 0xffff_0000) + 0x1_0000);
        let (dl, dh) = ((x as f64 - lo as f64).abs(), (hi as f64 - x as f64).abs());
        if dl < dh || (dl == dh && (lo.to_bits() >> 16) & 1 == 0) {
            lo
        } else {
            hi
        }
    }

    #[test]
    fn rounding_is_nearest_even() {
        let mut rng = crate::Rng::seed(5);
        for _ in 0..100_000 {
            let x = 10.0 * rng.normal();
            assert_eq!(round_bf16(x), reference(x), "{x}");
        }
        // Exact ties go to the even neighbour, both ways.
        assert_eq!(round_bf16(1.0 + 1.0 / 256.0), 1.0);
        assert_eq!(round_bf16(1.0 + 3.0 / 256.0), 1.0 + 2.0 / 128.0);
        assert_eq!(round_bf16(-(1.0 + 1.0 / 256.0)), -1.0);
        assert!(round_bf16(f32::NAN).is_nan());
        assert_eq!(round_bf16(f32::INFINITY), f32::INFINITY);
        assert_eq!(round_bf16(f32::MAX), f32::INFINITY);
    }
}

//! Run-time choice of vector width for backprop's own element-wise and small-matrix loops.
//!
//! The crate is built for the baseline x86-64 target (no `target-cpu=native`: the CPU model
//! varies between machines). Hot loops are written once as plain Rust, `#[inline(always)]`, and
//! instantiated a second time inside a `#[target_feature(enable = "avx512f")]` (or `"avx2,fma"`)
//! function; [`level`] picks the widest one the running CPU has, detected once.
//!
//! Plain Rust never contracts `a * b + c` into a fused multiply-add, so every instantiation
//! computes the same bits: the vector width changes the speed, not the result.

use std::sync::atomic::{AtomicU8, Ordering};

/// The instruction sets a kernel may be instantiated for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Level {
    /// The build's baseline (SSE2 on x86-64).
    Base,
    /// AVX2 + FMA.
    Avx2,
    /// AVX-512F.
    Avx512,
}

static LEVEL: AtomicU8 = AtomicU8::new(0);

/// The widest level the running CPU supports (detected on first use).
#[inline]
pub(crate) fn level() -> Level {
    match LEVEL.load(Ordering::Relaxed) {
        1 => Level::Base,
        2 => Level::Avx2,
        3 => Level::Avx512,
        _ => detect(),
    }
}

#[cold]
fn detect() -> Level {
    #[cfg(target_arch = "x86_64")]
    let l = if is_x86_feature_detected!("avx512f") {
        Level::Avx512
    } else if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
        Level::Avx2
    } else {
        Level::Base
    };
    #[cfg(not(target_arch = "x86_64"))]
    let l = Level::Base;
    LEVEL.store(
        match l {
            Level::Base => 1,
            Level::Avx2 => 2,
            Level::Avx512 => 3,
        },
        Ordering::Relaxed,
    );
    l
}

/// Runs `f` compiled for the widest available level. `f` must be `#[inline(always)]`-able
/// code (a closure calling `#[inline(always)]` functions) for the wider instantiation to apply.
#[inline(always)]
pub(crate) fn dispatch<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx512f")]
        unsafe fn avx512<R>(f: impl FnOnce() -> R) -> R {
            f()
        }
        #[target_feature(enable = "avx2,fma")]
        unsafe fn avx2<R>(f: impl FnOnce() -> R) -> R {
            f()
        }
        match level() {
            // SAFETY: the level was detected on this CPU, so its instructions are available.
            Level::Avx512 => unsafe { avx512(f) },
            Level::Avx2 => unsafe { avx2(f) },
            Level::Base => f(),
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    f()
}

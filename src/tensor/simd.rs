//! Run-time choice of vector width for backprop's own element-wise and small-matrix loops.
//!
//! The crate is built for the baseline x86-64 target (no `target-cpu=native`: the CPU model
//! varies between machines). Hot loops are written once as plain Rust, `#[inline(always)]`, and
//! instantiated a second time inside a `#[target_feature(enable = "avx512f")]` (or `"avx2,fma"`)
//! function; [`level`] picks the widest one the running CPU has, detected once.
//!
//! Plain Rust never contracts `a * b + c` into a fused multiply-add, so the element-wise loops
//! compute the same bits at every level. (The dot products in `gemm.rs`, like the `gemm` crate's
//! kernels, use FMA where the CPU has it: results may differ between CPU models, never between
//! thread counts or runs.)

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

/// A loop to instantiate per level: `run` must be `#[inline(always)]` (and call only
/// `#[inline(always)]` code) so that it is compiled inside each target-feature function.
pub(crate) trait Kernel {
    /// What the loop returns.
    type Out;
    /// The loop.
    fn run(self) -> Self::Out;
}

/// Runs `k` compiled for the widest level the CPU has.
#[inline]
pub(crate) fn dispatch<K: Kernel>(k: K) -> K::Out {
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx512f")]
        unsafe fn avx512<K: Kernel>(k: K) -> K::Out {
            k.run()
        }
        #[target_feature(enable = "avx2,fma")]
        unsafe fn avx2<K: Kernel>(k: K) -> K::Out {
            k.run()
        }
        match level() {
            // SAFETY: the level was detected on this CPU, so its instructions are available.
            Level::Avx512 => unsafe { avx512(k) },
            Level::Avx2 => unsafe { avx2(k) },
            Level::Base => k.run(),
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    k.run()
}

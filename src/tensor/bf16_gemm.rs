//! The bf16 matrix product of [`Precision::Bf16`](super::Precision) on CPUs with AVX-512 BF16:
//! `vdpbf16ps`, 32 multiply-adds per instruction where f32's `vfmadd231ps` does 16.
//!
//! `C (m×n) (+)= A (m×k) · B (k×n)`, blocked as usual for a register-tile kernel:
//!
//! - the k dimension in blocks of at most [`KC`] (even, so no pair straddles two blocks), the
//!   columns in blocks of [`NC`], the rows in blocks of [`MC`];
//! - each block of B packed into panels of [`NR`] columns and each block of A into panels of
//!   [`MR`] rows, every element rounded to bf16 (round-to-nearest-even, exactly
//!   [`round_bf16`](super::round_bf16)) and two consecutive k packed in one 32-bit word, the even
//!   k in the low half: the layout `vdpbf16ps` multiplies. Ragged edges are padded with zeros; an
//!   odd k gets a zero as the last pair's high half;
//! - an `MR×NR` tile of C held in f32 accumulators for a whole k block: the microkernel;
//! - around a dense layer's product ([`Epilogue`]), each `MC×NC` block of C filled with the bias
//!   just before its first k block and handed to the activation just after its last, while it
//!   is in cache.
//!
//! Every element of C is thus ONE chain of [`dpbf16`] steps over the pairs of k in order,
//! starting from 0 (or from C's value when accumulating): blocking, tile position and thread
//! count change nothing in it. The driver is generic over the microkernel ([`Micro`]): the
//! hardware one (`bf16_x86.rs`) or [`Model`], the portable model of the instruction, which runs
//! the same packing and blocking on every CPU. tests/bf16_kernel.rs checks the model driver
//! against a naive chain and, where the CPU has the instruction, the hardware driver against
//! the model bit for bit.

use super::bf16::dpbf16;
use super::bf16_pack::pack;
use super::matref::MatRef;
use super::{pool, Tensor};
use crate::error::{Error, Result};
use std::cell::RefCell;

/// Rows of the register tile.
const MR: usize = 12;
/// Columns of the register tile (two 16-lane vectors).
const NR: usize = 32;
#[cfg(target_arch = "x86_64")]
const _: () = assert!(MR == super::bf16_x86::MR && NR == super::bf16_x86::NR);
/// Largest k block (elements; even). 128 pairs × NR columns of B = 16 KiB, an L1's share.
const KC: usize = 256;
/// Rows per packed block of A (a multiple of MR): 192 × 128 pairs × 4 B = 96 KiB, in L2.
const MC: usize = 16 * MR;
/// Columns per packed block of B (a multiple of NR): 128 pairs × 1024 × 4 B = 512 KiB, half an
/// L2 of the CPUs that have the instruction; wide enough that the 784 inputs of the benchmark
/// MLP's `dW = δᵀ·X` are one block (A packed once).
const NC: usize = 32 * NR;
/// Below this many multiply-adds the caller's f32 path (on rounded operands) is as fast.
const MIN_MACS: usize = 1 << 12;

/// A microkernel: one `MR×NR` tile of C over `kp` packed pairs.
trait Micro: Sync {
    /// `C[i][j] = chain over p < kp of dpbf16(·, A(i, p), b[p·NR + j])`, started from C's
    /// value if `load`, else from 0; C row-major with row stride `ldc`. A's panel is pair-major
    /// (`A(i, p) = a.0[p·MR + i]`) or, if `a.1`, row-major (`a.0[i·kp + p]`).
    ///
    /// # Safety
    /// `a.0` holds `kp·MR` words, `b` holds `kp·NR`, and `c` an `MR×NR` tile with row stride
    /// `ldc` that no other thread touches; the kernel's CPU features must be present.
    unsafe fn tile(
        &self,
        kp: usize,
        a: (*const u32, bool),
        b: *const u32,
        c: *mut f32,
        ldc: usize,
        load: bool,
    );
}

/// The portable model: each lane a chain of [`dpbf16`].
struct Model;

impl Micro for Model {
    unsafe fn tile(
        &self,
        kp: usize,
        (a, a_rows): (*const u32, bool),
        b: *const u32,
        c: *mut f32,
        ldc: usize,
        load: bool,
    ) {
        let (a, b) = (
            std::slice::from_raw_parts(a, kp * MR),
            std::slice::from_raw_parts(b, kp * NR),
        );
        for i in 0..MR {
            for j in 0..NR {
                let c = c.add(i * ldc + j);
                let mut acc = if load { *c } else { 0.0 };
                for p in 0..kp {
                    let ai = if a_rows { a[i * kp + p] } else { a[p * MR + i] };
                    acc = dpbf16(acc, ai, b[p * NR + j]);
                }
                *c = acc;
            }
        }
    }
}

/// The hardware microkernel (`bf16_x86.rs`); exists only where the CPU has AVX-512F and
/// AVX-512 BF16.
#[cfg(target_arch = "x86_64")]
struct Hw(());

#[cfg(target_arch = "x86_64")]
impl Hw {
    /// The kernel, if this CPU runs it.
    fn new() -> Option<Hw> {
        has_bf16_hardware().then_some(Hw(()))
    }
}

#[cfg(target_arch = "x86_64")]
impl Micro for Hw {
    unsafe fn tile(
        &self,
        kp: usize,
        (a, a_rows): (*const u32, bool),
        b: *const u32,
        c: *mut f32,
        ldc: usize,
        load: bool,
    ) {
        // SAFETY: a `Hw` exists only where the features were detected; bounds per `Micro`.
        if a_rows {
            super::bf16_x86::tile::<true>(kp, a, b, c, ldc, load)
        } else {
            super::bf16_x86::tile::<false>(kp, a, b, c, ldc, load)
        }
    }
}

thread_local! {
    /// Packed blocks of A and B, kept so that a steady-state step does not allocate.
    static PACKED: RefCell<(Vec<u32>, Vec<u32>)> = const { RefCell::new((Vec::new(), Vec::new())) };
}

/// Whether this CPU runs `vdpbf16ps` (AVX-512F and AVX-512 BF16), asked once.
pub fn has_bf16_hardware() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        static HAS: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        *HAS.get_or_init(|| {
            std::arch::is_x86_feature_detected!("avx512f")
                && std::arch::is_x86_feature_detected!("avx512bf16")
        })
    }
    #[cfg(not(target_arch = "x86_64"))]
    false
}

/// What happens around a product besides the sums: a row copied into C before them (a dense
/// layer's bias) and a function over the finished output (its activation), both applied per
/// output block while it is in cache. `Epilogue::default()` is the bare product.
#[derive(Clone, Copy, Default)]
pub(crate) struct Epilogue<'a> {
    /// Copied into every row of C before the product is added to it (`n` values).
    pub(crate) fill: Option<&'a [f32]>,
    /// Called with each finished segment of a row of C and its offset in C.
    pub(crate) then: Option<Finish<'a>>,
}

/// A function over a finished segment of a row of C and its offset in C (`gemm.rs`'s `Then`).
pub(crate) type Finish<'a> = &'a (dyn Fn(&[f32], usize) + Sync);

/// The product on the hardware kernel, `threads` output blocks on the pool; `false` (nothing
/// done) where the CPU lacks the instruction, the shapes do not multiply, or the product is
/// too small or has at most two rows (the caller's row kernels stream those).
pub(crate) fn matmul(
    a: MatRef,
    b: MatRef,
    c: &mut [f32],
    accumulate: bool,
    threads: usize,
) -> bool {
    matmul_around(a, b, c, accumulate, threads, Epilogue::default())
}

/// [`matmul`] with an [`Epilogue`]: `c = fill + a·b` (or `c (+)= a·b` without a fill), then
/// `then` over every element of c, each output block filled, computed and handed to `then` on
/// the thread that owns it. Each element gets the bits of the three passes done one after the
/// other (the fill, then the chain of the kernel's sums from it, then `then`). `false` (nothing
/// done, `then` never called) where [`matmul`] would decline, or the fill is not `n` long.
pub(crate) fn matmul_around(
    a: MatRef,
    b: MatRef,
    c: &mut [f32],
    accumulate: bool,
    threads: usize,
    ep: Epilogue,
) -> bool {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    if !has_bf16_hardware()
        || k != b.rows
        || c.len() != m * n
        || m <= 2
        || k == 0
        || m * k * n < MIN_MACS
        || !fits(a)
        || !fits(b)
        || ep.fill.is_some_and(|f| f.len() != n)
    {
        return false;
    }
    #[cfg(target_arch = "x86_64")]
    {
        let kern = Hw::new().expect("detected above");
        run(&kern, a, b, c, accumulate, threads, ep);
        true
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (accumulate, threads, ep);
        unreachable!("no bf16 hardware off x86-64")
    }
}

/// Whether every index a view's strides reach lies inside its slice.
fn fits(x: MatRef) -> bool {
    x.rows == 0 || x.cols == 0 || (x.rows - 1) * x.rs + (x.cols - 1) * x.cs < x.data.len()
}

/// The output pointer, shared by the threads that write disjoint blocks of it.
#[derive(Clone, Copy)]
struct Out(*mut f32);
// SAFETY: each thread writes only its own block (see `run`).
unsafe impl Send for Out {}
unsafe impl Sync for Out {}

/// `c (+)= a·b` with `kern` and `ep` around it, split into up to `threads` blocks of rows (or of
/// columns, when C is wider than tall) on the pool. Views must fit their slices, `c` be
/// `a.rows × b.cols` and a fill `b.cols` long.
fn run<K: Micro>(
    kern: &K,
    a: MatRef,
    b: MatRef,
    c: &mut [f32],
    accumulate: bool,
    threads: usize,
    ep: Epilogue,
) {
    let (m, n) = (a.rows, b.cols);
    assert!(fits(a) && fits(b) && c.len() == m * n && a.cols == b.rows);
    assert!(ep.fill.is_none_or(|f| f.len() == n));
    let by_rows = m >= n;
    let (len, tile) = if by_rows { (m, MR) } else { (n, NR) };
    let step = len.div_ceil(threads.max(1)).div_ceil(tile) * tile;
    let parts = len.div_ceil(step);
    let out = Out(c.as_mut_ptr());
    let part = |i: usize| {
        let r = (i * step, ((i + 1) * step).min(len));
        let (rows, cols) = if by_rows { (r, (0, n)) } else { ((0, m), r) };
        // SAFETY: views checked above; blocks of different parts are disjoint.
        unsafe { block(kern, a, b, rows, cols, out, n, accumulate, ep) }
    };
    if parts == 1 {
        part(0)
    } else {
        pool::run(parts, &part)
    }
}

/// `C[rows, cols] (+)= A[rows, :] · B[:, cols]` on this thread, with `ep` around each block of
/// [`MC`] rows by [`NC`] columns: the fill copied in just before the block's first k block, `then`
/// called on its rows just after its last.
///
/// # Safety
/// The views fit their slices, `c` is a row-major `a.rows × ldc` matrix of which no other
/// thread writes this block, a fill is at least `c1` long, and `kern`'s CPU features are
/// present.
#[allow(clippy::too_many_arguments)]
unsafe fn block<K: Micro>(
    kern: &K,
    a: MatRef,
    b: MatRef,
    (r0, r1): (usize, usize),
    (c0, c1): (usize, usize),
    c: Out,
    ldc: usize,
    accumulate: bool,
    ep: Epilogue,
) {
    let k = a.cols;
    let kc = k.div_ceil(k.div_ceil(KC)).next_multiple_of(2);
    let accumulate = accumulate || ep.fill.is_some();
    // row i's segment of this column block
    let seg =
        |i: usize, jc: usize, nc: usize| std::slice::from_raw_parts_mut(c.0.add(i * ldc + jc), nc);
    PACKED.with(|packed| {
        let (pa, pb) = &mut *packed.borrow_mut();
        for jc in (c0..c1).step_by(NC) {
            let nc = NC.min(c1 - jc);
            for pc in (0..k).step_by(kc) {
                let kcur = kc.min(k - pc);
                let kp = kcur.div_ceil(2);
                // B[pc.., jc..]: index j along columns (stride cs), k along rows (stride rs)
                pack(b.data, (jc, nc, b.cs), (pc, kcur, b.rs), NR, false, pb);
                let load = accumulate || pc > 0;
                // A's panels row-major where its k is contiguous (packed without a transpose)
                let a_rows = a.cs == 1 && a.rs != 1;
                for ic in (r0..r1).step_by(MC) {
                    let mc = MC.min(r1 - ic);
                    pack(a.data, (ic, mc, a.rs), (pc, kcur, a.cs), MR, a_rows, pa);
                    if let Some(fill) = ep.fill.filter(|_| pc == 0) {
                        let fill = &fill[jc..jc + nc];
                        (ic..ic + mc).for_each(|i| seg(i, jc, nc).copy_from_slice(fill));
                    }
                    for jp in 0..nc.div_ceil(NR) {
                        let bp = pb.as_ptr().add(jp * kp * NR);
                        let j0 = jc + jp * NR;
                        let nr = NR.min(c1 - j0);
                        for ip in 0..mc.div_ceil(MR) {
                            let ap = pa.as_ptr().add(ip * kp * MR);
                            let i0 = ic + ip * MR;
                            let mr = MR.min(r1 - i0);
                            let cp = c.0.add(i0 * ldc + j0);
                            if mr == MR && nr == NR {
                                kern.tile(kp, (ap, a_rows), bp, cp, ldc, load);
                            } else {
                                edge_tile(kern, kp, (ap, a_rows), bp, cp, ldc, (mr, nr), load);
                            }
                        }
                    }
                    if let Some(then) = ep.then.filter(|_| pc + kcur == k) {
                        (ic..ic + mc).for_each(|i| then(seg(i, jc, nc), i * ldc + jc));
                    }
                }
            }
        }
    })
}

/// A tile cut by the edge of C: run on a full-size copy, store the part inside.
///
/// # Safety
/// As [`Micro::tile`], with only `mr×nr` of the tile at `c` inside C.
#[allow(clippy::too_many_arguments)]
unsafe fn edge_tile<K: Micro>(
    kern: &K,
    kp: usize,
    (a, a_rows): (*const u32, bool),
    b: *const u32,
    c: *mut f32,
    ldc: usize,
    (mr, nr): (usize, usize),
    load: bool,
) {
    let mut t = [0.0f32; MR * NR];
    if load {
        for i in 0..mr {
            std::ptr::copy_nonoverlapping(c.add(i * ldc), t.as_mut_ptr().add(i * NR), nr);
        }
    }
    kern.tile(kp, (a, a_rows), b, t.as_mut_ptr(), NR, load);
    for i in 0..mr {
        std::ptr::copy_nonoverlapping(t.as_ptr().add(i * NR), c.add(i * ldc), nr);
    }
}

/// Which implementation of `vdpbf16ps` [`bf16_matmul`] runs.
#[doc(hidden)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bf16Kernel {
    /// The portable model ([`dpbf16`]), on any CPU.
    Model,
    /// The instruction (AVX-512 BF16).
    Hardware,
}

/// Internal, for tests: `c = a·b` (or `c = chain from c` when `accumulate`) with the bf16
/// kernel's packing and blocking on one thread, whatever the size, with the chosen microkernel;
/// `a` and `b` rank-2, transposed if `at` / `bt`. Errors if the shapes do not multiply, `c` is
/// not `m×n`, or the hardware kernel is asked for on a CPU without it. Not part of the stable API.
#[doc(hidden)]
pub fn bf16_matmul(
    kernel: Bf16Kernel,
    a: &Tensor,
    at: bool,
    b: &Tensor,
    bt: bool,
    c: &mut [f32],
    accumulate: bool,
) -> Result<()> {
    let (a, b) = (MatRef::new(a, at), MatRef::new(b, bt));
    if a.cols != b.rows || c.len() != a.rows * b.cols {
        return Err(Error::invalid(
            "bf16_matmul shapes",
            format!(
                "{}x{} · {}x{} into {}",
                a.rows,
                a.cols,
                b.rows,
                b.cols,
                c.len()
            ),
            "(m×k)·(k×n) into m·n values",
        ));
    }
    if a.rows == 0 || b.cols == 0 {
        return Ok(());
    }
    if a.cols == 0 {
        if !accumulate {
            c.fill(0.0);
        }
        return Ok(());
    }
    match kernel {
        Bf16Kernel::Model => run(&Model, a, b, c, accumulate, 1, Epilogue::default()),
        Bf16Kernel::Hardware => {
            #[cfg(target_arch = "x86_64")]
            if let Some(kern) = Hw::new() {
                run(&kern, a, b, c, accumulate, 1, Epilogue::default());
                return Ok(());
            }
            return Err(Error::invalid(
                "bf16 kernel",
                "hardware",
                "this CPU has no AVX-512 BF16",
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Rng;
    use std::sync::Mutex;

    /// The epilogue's `then` for the tests: records `(offset, bits)` of every element it sees
    /// and writes `2·x + 1` into `y`, so that a segment seen twice, or before its sums were
    /// finished, shows.
    fn fused<K: Micro>(kern: &K, a: MatRef, b: MatRef, fill: &[f32], threads: usize) -> Vec<u32> {
        let (m, n) = (a.rows, b.cols);
        let y = Mutex::new(vec![u32::MAX; m * n]);
        let then = |seg: &[f32], at: usize| {
            let mut y = y.lock().unwrap();
            for (o, &x) in y[at..at + seg.len()].iter_mut().zip(seg) {
                assert_eq!(*o, u32::MAX, "element {at} finished twice");
                *o = (2.0 * x + 1.0).to_bits();
            }
        };
        let ep = Epilogue {
            fill: Some(fill),
            then: Some(&then),
        };
        let mut c = vec![f32::NAN; m * n];
        run(kern, a, b, &mut c, false, threads, ep);
        y.into_inner().unwrap()
    }

    /// The three passes one after the other: fill, the kernel accumulating from it, `then`.
    fn unfused<K: Micro>(kern: &K, a: MatRef, b: MatRef, fill: &[f32]) -> Vec<u32> {
        let mut c: Vec<f32> = fill.iter().cycle().take(a.rows * b.cols).copied().collect();
        run(kern, a, b, &mut c, true, 1, Epilogue::default());
        c.iter().map(|&x| (2.0 * x + 1.0).to_bits()).collect()
    }

    /// Fill and epilogue per output block give the bits of the separate passes, on 1 and 2
    /// threads, across k blocks, row and column blocks and ragged edges, with the portable
    /// kernel and (where the CPU has it) the hardware one.
    #[test]
    fn the_fused_epilogue_equals_the_separate_passes_bit_for_bit() {
        let mut rng = Rng::seed(11);
        for (m, k, n) in [(5, 7, 3), (40, 600, 33), (200, 30, 70), (13, 9, 1100)] {
            for (at, bt) in [(false, true), (false, false), (true, false)] {
                let a = Tensor::randn(if at { [k, m] } else { [m, k] }, 0.0, 1.0, &mut rng);
                let b = Tensor::randn(if bt { [n, k] } else { [k, n] }, 0.0, 1.0, &mut rng);
                let fill = Tensor::randn([n], 0.0, 1.0, &mut rng);
                let (a, b) = (MatRef::new(&a, at), MatRef::new(&b, bt));
                let want = unfused(&Model, a, b, fill.data());
                for threads in [1, 2] {
                    let got = fused(&Model, a, b, fill.data(), threads);
                    assert!(got == want, "model {m}x{k}x{n} {at} {bt} threads {threads}");
                    #[cfg(target_arch = "x86_64")]
                    if let Some(hw) = Hw::new() {
                        let got = fused(&hw, a, b, fill.data(), threads);
                        assert!(got == want, "hw {m}x{k}x{n} {at} {bt} threads {threads}");
                    }
                }
            }
        }
    }
}

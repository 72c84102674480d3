//! Packing for the bf16 kernel of `bf16_gemm.rs`: a block of A or B rounded to bf16 and laid
//! out in panels of `vdpbf16ps` pairs (two consecutive k in one 32-bit word, the even k in the
//! low half), pair-major or, where k is contiguous, row-major; ragged edges zero-padded.

use super::bf16::{pack_pair, rounded_bits};
use super::simd;

/// Packs `len` indices from `first` (stride `is` in `src`: rows of A, columns of B) by `kcur`
/// k values from `k0` (stride `ks`) into panels of `width` indices: panel `q`, pair `p`, index
/// `i` at `out[q·kp·width + p·width + i]` (or, if `rows`, at `out[q·kp·width + i·kp + p]`;
/// only when `ks == 1`), each word [`pack_pair`] of k = k0+2p and k0+2p+1. Indices past `len`
/// and the k past `kcur` are zeros.
pub(super) fn pack(
    src: &[f32],
    (first, len, is): (usize, usize, usize),
    (k0, kcur, ks): (usize, usize, usize),
    width: usize,
    rows: bool,
    out: &mut Vec<u32>,
) {
    debug_assert!(!rows || ks == 1);
    let kp = kcur.div_ceil(2);
    let panels = len.div_ceil(width);
    out.clear();
    out.resize(panels * kp * width, 0);
    simd::dispatch(Pack {
        src,
        idx: (first, len, is),
        k: (k0, kcur, ks),
        width,
        rows,
        out,
    });
}

/// The loops of [`pack`], instantiated per vector width.
struct Pack<'a> {
    src: &'a [f32],
    idx: (usize, usize, usize),
    k: (usize, usize, usize),
    width: usize,
    rows: bool,
    out: &'a mut [u32],
}

impl simd::Kernel for Pack<'_> {
    type Out = ();
    #[inline(always)]
    fn run(self) {
        let Pack {
            src,
            idx: (first, len, is),
            k: (k0, kcur, ks),
            width,
            rows,
            out,
        } = self;
        let kp = kcur.div_ceil(2);
        let full = kcur / 2; // pairs with both halves inside k
        if is == 1 && !rows {
            // the indices contiguous: per pair, two whole source runs (read in order, which
            // the prefetcher follows), spread over the panels
            for p in 0..kp {
                let lo = &src[first + (k0 + 2 * p) * ks..][..len];
                let hi = (p < full).then(|| &src[first + (k0 + 2 * p + 1) * ks..][..len]);
                for (q, panel) in out.chunks_exact_mut(kp * width).enumerate() {
                    let i0 = q * width;
                    let w = width.min(len - i0);
                    let dst = &mut panel[p * width..p * width + w];
                    let lo = &lo[i0..i0 + w];
                    match hi {
                        Some(hi) => {
                            for ((d, &l), &h) in dst.iter_mut().zip(lo).zip(&hi[i0..i0 + w]) {
                                *d = pack_pair(l, h);
                            }
                        }
                        None => {
                            for (d, &l) in dst.iter_mut().zip(lo) {
                                *d = pack_pair(l, 0.0);
                            }
                        }
                    }
                }
            }
            return;
        }
        let mut tmp: Option<Vec<u32>> = None;
        for (q, panel) in out.chunks_exact_mut(kp * width).enumerate() {
            let i0 = q * width;
            let w = width.min(len - i0);
            if rows && cfg!(target_endian = "little") {
                // k contiguous, row-major panel: per index, one run in, one run out
                pack_rows(src, (first + i0, w, is), (k0, kcur), panel);
            } else if rows {
                for i in 0..w {
                    let row = &src[(first + i0 + i) * is + k0..][..kcur];
                    let dst = &mut panel[i * kp..(i + 1) * kp];
                    for (d, two) in dst.iter_mut().zip(row.chunks_exact(2)) {
                        *d = pack_pair(two[0], two[1]);
                    }
                    if kcur % 2 == 1 {
                        dst[full] = pack_pair(row[kcur - 1], 0.0);
                    }
                }
            } else if ks == 1 && cfg!(target_endian = "little") {
                // k contiguous, pair-major panel: the indices packed row-major as above into a
                // scratch panel (in L1), then transposed; each a plain loop, where packing
                // straight into the pair-major panel (below) was about 3× slower
                let scratch = tmp.get_or_insert_with(|| vec![0; width * kp]);
                pack_rows(src, (first + i0, w, is), (k0, kcur), scratch);
                for (p, dst) in panel.chunks_exact_mut(width).enumerate() {
                    for (i, d) in dst[..w].iter_mut().enumerate() {
                        *d = scratch[i * kp + p];
                    }
                }
            } else if ks == 1 {
                // k contiguous: per index, consecutive pairs of one source run
                for i in 0..w {
                    let row = &src[(first + i0 + i) * is + k0..][..kcur];
                    for (p, two) in row.chunks_exact(2).enumerate() {
                        panel[p * width + i] = pack_pair(two[0], two[1]);
                    }
                    if kcur % 2 == 1 {
                        panel[full * width + i] = pack_pair(row[kcur - 1], 0.0);
                    }
                }
            } else {
                for p in 0..kp {
                    for i in 0..w {
                        let at = |kk: usize| src[(first + i0 + i) * is + (k0 + kk) * ks];
                        let hi = if 2 * p + 1 < kcur { at(2 * p + 1) } else { 0.0 };
                        panel[p * width + i] = pack_pair(at(2 * p), hi);
                    }
                }
            }
        }
    }
}

/// Packs `w` rows of `kcur` contiguous k values (row `i` from `src[(first + i)·is + k0]`) into
/// `dst` row-major, `kp = ⌈kcur/2⌉` words per row. A pair's word is its two bf16 halves in k
/// order in memory (the even k, the low half, at the lower address: little-endian only), so a
/// row packs as one bf16 per element, a plain map with no pairing shuffle. An odd k's last high
/// half is left as it is (the caller's zero).
#[inline(always)]
fn pack_rows(
    src: &[f32],
    (first, w, is): (usize, usize, usize),
    (k0, kcur): (usize, usize),
    dst: &mut [u32],
) {
    let kp = kcur.div_ceil(2);
    for (i, dst) in dst.chunks_exact_mut(kp).take(w).enumerate() {
        let row = &src[(first + i) * is + k0..][..kcur];
        // SAFETY: the 2·kp halves of `dst`'s words, each u16 aligned; `dst` is not used while
        // `halves` lives.
        let halves =
            unsafe { std::slice::from_raw_parts_mut(dst.as_mut_ptr() as *mut u16, 2 * kp) };
        for (d, &x) in halves.iter_mut().zip(row) {
            *d = (rounded_bits(x) >> 16) as u16;
        }
    }
}

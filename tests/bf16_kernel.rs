//! The bf16 kernel (`--precision bf16`): the portable model of `vdpbf16ps` against hand-worked
//! values, the kernel's packing and blocking through the model against a naive chain (every
//! CPU), and the hardware kernel against the model bit for bit (where the CPU has AVX-512 BF16).

use backprop::tensor::{bf16_matmul, dpbf16, has_bf16_hardware, round_bf16, Bf16Kernel};
use backprop::{Rng, Tensor};

/// bf16 bits of an f32 that is one.
fn h(x: f32) -> u32 {
    let b = x.to_bits();
    assert_eq!(b & 0xffff, 0, "{x} is not a bf16");
    b >> 16
}

/// A pair as the instruction reads it: `lo` (even k) in the low half.
fn pair(lo: f32, hi: f32) -> u32 {
    h(hi) << 16 | h(lo)
}

fn bits(x: f32) -> u32 {
    x.to_bits()
}

#[test]
fn model_hand_worked_values() {
    // ordinary numbers: exact
    assert_eq!(
        dpbf16(1.0, pair(2.0, 3.0), pair(4.0, 5.0)),
        1.0 + 15.0 + 8.0
    );
    // two roundings, the odd element first: 2^24 + 1 is lost, then 2^24 + 2 is kept
    let big = 16_777_216.0; // 2^24
    assert_eq!(dpbf16(big, pair(2.0, 1.0), pair(1.0, 1.0)), big + 2.0);
    // the other order: 2^24 + 2 is kept, then 2^24 + 3 ties up to 2^24 + 4
    assert_eq!(dpbf16(big, pair(1.0, 2.0), pair(1.0, 1.0)), big + 4.0);
    // ... and each step rounds: (2^24 + 1) + 1 as two steps is 2^24 (ties to even twice)
    assert_eq!(dpbf16(big, pair(1.0, 1.0), pair(1.0, 1.0)), big);
    // fused: a product below the normal range (2^-130) is not flushed before the sum
    let m = f32::MIN_POSITIVE;
    let p = f32::from_bits((127 - 65) << 23); // 2^-65
    assert_eq!(
        dpbf16(m, pair(0.0, p), pair(0.0, p)),
        m * (1.0 + 1.0 / 16.0)
    );
}

#[test]
fn model_denormals_read_as_zero_and_results_flush() {
    let tiny = f32::from_bits(0x0001_0000); // a subnormal bf16
    assert!(tiny.is_subnormal());
    // subnormal inputs read as zero: the product vanishes, the sign of zero follows
    assert_eq!(bits(dpbf16(0.0, pair(tiny, 0.0), pair(1.0, 0.0))), 0);
    assert_eq!(
        dpbf16(1.0, pair(tiny, tiny), pair(2f32.powi(100), 2f32.powi(100))),
        1.0
    );
    // a subnormal accumulator reads as zero too
    let sub_acc = f32::from_bits(0x0000_1234);
    assert_eq!(bits(dpbf16(sub_acc, 0, 0)), 0);
    assert_eq!(bits(dpbf16(-sub_acc, 0, 0)), 0); // -0 + (+0·+0) = +0
                                                 // a product below the normal range is flushed to a zero of its sign
    let small = f32::from_bits(63 << 23); // 2^-64, its square 2^-128
    assert_eq!(
        bits(dpbf16(0.0, pair(small, 0.0), pair(-small, 0.0))),
        0x8000_0000
    );
    // ... and a sum that lands in the subnormal range as well
    let m = f32::MIN_POSITIVE; // 2^-126, a bf16
    let half = f32::from_bits(0x3f00_0000);
    assert_eq!(bits(dpbf16(m, pair(-m, 0.0), pair(half, 0.0))), 0);
    // while the smallest normal result stays
    assert_eq!(dpbf16(m, pair(m, 0.0), pair(1.0, 0.0)), 2.0 * m);
}

#[test]
fn model_infinities_and_nan() {
    let inf = f32::INFINITY;
    assert_eq!(dpbf16(1.0, pair(inf, 0.0), pair(2.0, 0.0)), inf);
    // overflow of the sum
    let big = f32::from_bits(0x7f00_0000); // 2^127
    assert_eq!(dpbf16(0.0, pair(big, big), pair(2.0, 2.0)), inf);
    // invalid: ∞·0 and ∞ − ∞ give the default NaN 0xffc00000
    assert_eq!(
        bits(dpbf16(1.0, pair(inf, 0.0), pair(0.0, 0.0))),
        0xffc0_0000
    );
    assert_eq!(
        bits(dpbf16(-inf, pair(inf, 0.0), pair(1.0, 0.0))),
        0xffc0_0000
    );
    // a NaN operand propagates, quieted; A's element before B's before the accumulator
    let na = f32::from_bits(0x7f81_0000); // signalling, payload 1
    let nb = f32::from_bits(0xff82_0000);
    let nacc = f32::from_bits(0x7f80_0003);
    assert_eq!(
        bits(dpbf16(nacc, pair(0.0, na), pair(0.0, nb))),
        0x7fc1_0000
    );
    assert_eq!(
        bits(dpbf16(nacc, pair(0.0, 1.0), pair(0.0, nb))),
        0xffc2_0000
    );
    assert_eq!(
        bits(dpbf16(nacc, pair(1.0, 1.0), pair(1.0, 1.0))),
        0x7fc0_0003
    );
    // the odd step runs first: its NaN is the accumulator of the even one, which loses to
    // the even step's own NaN operand
    assert_eq!(bits(dpbf16(0.0, pair(na, 1.0), pair(1.0, nb))), 0x7fc1_0000);
}

/// A random m×k matrix of N(0, 1) values, with special values mixed in if `special`.
fn random(rows: usize, cols: usize, rng: &mut Rng, special: bool) -> Tensor {
    let mut t = Tensor::randn([rows, cols], 0.0, 1.0, rng);
    if special {
        let pool = [
            f32::from_bits(0x0001_0000), // subnormal bf16
            f32::from_bits(0x0000_8000), // f32 subnormal that rounds to the smallest bf16
            1e-39,
            f32::MIN_POSITIVE,
            1e30,
            -3e38,
            0.0,
            -0.0,
        ];
        for v in t.data_mut().iter_mut() {
            if rng.uniform() < 0.05 {
                *v = pool[(rng.uniform() * pool.len() as f32) as usize % pool.len()];
            }
        }
    }
    t
}

/// The chain the kernel defines, element by element, with no packing or blocking: each C
/// value from 0 (or its old value), one `dpbf16` per pair of k, an odd k padded with a zero.
fn naive(a: &Tensor, at: bool, b: &Tensor, bt: bool, c: &mut [f32], accumulate: bool) {
    let a = if at { a.t() } else { a.clone() };
    let b = if bt { b.t() } else { b.clone() };
    let (m, k, n) = (a.dims()[0], a.dims()[1], b.dims()[1]);
    let at = |i: usize, p: usize| if p < k { a.data()[i * k + p] } else { 0.0 };
    let bt = |p: usize, j: usize| if p < k { b.data()[p * n + j] } else { 0.0 };
    let packed = |lo: f32, hi: f32| pair(round_bf16(lo), round_bf16(hi));
    for i in 0..m {
        for j in 0..n {
            let mut acc = if accumulate { c[i * n + j] } else { 0.0 };
            for p in (0..k).step_by(2) {
                acc = dpbf16(
                    acc,
                    packed(at(i, p), at(i, p + 1)),
                    packed(bt(p, j), bt(p + 1, j)),
                );
            }
            c[i * n + j] = acc;
        }
    }
}

/// Random shapes with ragged edges (not multiples of the 12×32 tile, odd k, k past one k
/// block), every transpose combination, with and without accumulation.
fn shapes(rng: &mut Rng, count: usize) -> Vec<(usize, usize, usize)> {
    let mut v = vec![
        (1, 1, 1),
        (12, 2, 32),
        (13, 3, 33),
        (25, 257, 31),
        (200, 513, 70),
    ];
    let mut r = |hi: f32| 1 + (rng.uniform() * hi) as usize;
    for _ in 0..count {
        v.push((r(60.0), r(600.0), r(80.0)));
    }
    v
}

fn check(kernel: Bf16Kernel, special: bool, seed: u64) {
    let mut rng = Rng::seed(seed);
    for (m, k, n) in shapes(&mut rng, 12) {
        for &(at, bt) in &[(false, false), (true, false), (false, true), (true, true)] {
            let a = random(
                if at { k } else { m },
                if at { m } else { k },
                &mut rng,
                special,
            );
            let b = random(
                if bt { n } else { k },
                if bt { k } else { n },
                &mut rng,
                special,
            );
            for accumulate in [false, true] {
                let start: Vec<f32> = (0..m * n).map(|_| rng.normal()).collect();
                let mut want = start.clone();
                match kernel {
                    Bf16Kernel::Model => naive(&a, at, &b, bt, &mut want, accumulate),
                    Bf16Kernel::Hardware => {
                        bf16_matmul(Bf16Kernel::Model, &a, at, &b, bt, &mut want, accumulate)
                            .unwrap()
                    }
                }
                let mut got = start.clone();
                bf16_matmul(kernel, &a, at, &b, bt, &mut got, accumulate).unwrap();
                for (idx, (g, w)) in got.iter().zip(&want).enumerate() {
                    assert_eq!(
                        g.to_bits(),
                        w.to_bits(),
                        "{kernel:?} {m}x{k}x{n} at={at} bt={bt} acc={accumulate} at {idx}: {g} vs {w}"
                    );
                }
            }
        }
    }
}

#[test]
fn model_kernel_equals_the_naive_chain() {
    check(Bf16Kernel::Model, false, 1);
    check(Bf16Kernel::Model, true, 2);
}

#[test]
fn model_kernel_is_close_to_the_f64_product() {
    let mut rng = Rng::seed(3);
    let (m, k, n) = (37, 301, 45);
    let a = random(m, k, &mut rng, false);
    let b = random(k, n, &mut rng, false);
    let mut c = vec![0.0; m * n];
    bf16_matmul(Bf16Kernel::Model, &a, false, &b, false, &mut c, false).unwrap();
    for i in 0..m {
        for j in 0..n {
            let exact: f64 = (0..k)
                .map(|p| {
                    round_bf16(a.data()[i * k + p]) as f64 * round_bf16(b.data()[p * n + j]) as f64
                })
                .sum();
            let scale: f64 = (0..k)
                .map(|p| (a.data()[i * k + p] as f64 * b.data()[p * n + j] as f64).abs())
                .sum();
            assert!(
                (c[i * n + j] as f64 - exact).abs() <= 1e-5 * scale,
                "{i},{j}"
            );
        }
    }
}

#[test]
fn shape_errors_are_errors() {
    let a = Tensor::zeros([3, 4]);
    let b = Tensor::zeros([5, 2]);
    let mut c = vec![0.0; 6];
    assert!(bf16_matmul(Bf16Kernel::Model, &a, false, &b, false, &mut c, false).is_err());
    let b = Tensor::zeros([4, 2]);
    let mut short = vec![0.0; 5];
    assert!(bf16_matmul(Bf16Kernel::Model, &a, false, &b, false, &mut short, false).is_err());
}

#[test]
fn hardware_kernel_equals_the_model_bit_for_bit() {
    if !has_bf16_hardware() {
        println!("skipped: no avx512_bf16");
        assert!(bf16_matmul(
            Bf16Kernel::Hardware,
            &Tensor::zeros([1, 1]),
            false,
            &Tensor::zeros([1, 1]),
            false,
            &mut [0.0],
            false
        )
        .is_err());
        return;
    }
    check(Bf16Kernel::Hardware, false, 4);
    check(Bf16Kernel::Hardware, true, 5);
}

#[test]
fn hardware_instruction_equals_the_model_on_random_bit_patterns() {
    if !has_bf16_hardware() {
        println!("skipped: no avx512_bf16");
        return;
    }
    // one dpbf16 per output: C (m×n, accumulated from raw f32 bits) += A (m×2) · B (2×n), with
    // every bf16 bit pattern reachable (the packing's rounding leaves an f32 with zero low
    // half unchanged, except that a NaN becomes quiet)
    let mut rng = Rng::seed(6);
    let mut word = || (rng.uniform() * 4_294_967_296.0) as u64 as u32;
    let (m, n) = (64, 64);
    for round in 0..32 {
        let exp_range = |w: u32| match round % 4 {
            0 => w,                                                           // anything
            1 => (w & 0x807f_ffff) | ((w >> 23) % 48 + 1) << 23,              // near underflow
            2 => (w & 0x807f_ffff) | (200 + (w >> 23) % 56) << 23,            // near overflow
            _ => (w & 0x80ff_ffff) | (0x3f80_0000 - 0x0080_0000 * (w >> 28)), // ordinary
        };
        let a: Vec<f32> = (0..2 * m)
            .map(|_| f32::from_bits(exp_range(word()) & 0xffff_0000))
            .collect();
        let b: Vec<f32> = (0..2 * n)
            .map(|_| f32::from_bits(exp_range(word()) & 0xffff_0000))
            .collect();
        let c: Vec<f32> = (0..m * n)
            .map(|_| f32::from_bits(exp_range(word())))
            .collect();
        let a = Tensor::from_vec(a, [m, 2]).unwrap();
        let b = Tensor::from_vec(b, [2, n]).unwrap();
        let (mut hw, mut model) = (c.clone(), c.clone());
        bf16_matmul(Bf16Kernel::Hardware, &a, false, &b, false, &mut hw, true).unwrap();
        bf16_matmul(Bf16Kernel::Model, &a, false, &b, false, &mut model, true).unwrap();
        for (idx, (x, y)) in hw.iter().zip(&model).enumerate() {
            let (i, j) = (idx / n, idx % n);
            assert_eq!(
                x.to_bits(),
                y.to_bits(),
                "acc {:08x} a {:08x} {:08x} b {:08x} {:08x}",
                c[idx].to_bits(),
                a.data()[2 * i].to_bits(),
                a.data()[2 * i + 1].to_bits(),
                b.data()[j].to_bits(),
                b.data()[n + j].to_bits()
            );
        }
    }
}

//! Optimizers and learning-rate schedules against steps worked by hand.
//!
//! Gradients come from tiny graphs: `loss = Σ c ⊙ w` gives ∂loss/∂w = c (a fixed gradient), and
//! `loss = Σ w²/2` gives ∂loss/∂w = w. The expected numbers are worked out in the comments. Where
//! every update is linear in (w, g), the second element is the first scaled, which the comments
//! use instead of repeating the arithmetic.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use backprop::optim::*;
use backprop::{Error, Gradients, Graph, ParamId, Parameters, Tape, Tensor};

/// Counts allocations made by the current thread, to check that steps after the first allocate
/// nothing (tests run on several threads, so the count is per thread).
struct Counting;

thread_local!(static ALLOCATIONS: Cell<usize> = const { Cell::new(0) });

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
        System.alloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations() -> usize {
    ALLOCATIONS.with(Cell::get)
}

fn params(w: &[f32]) -> (Parameters, ParamId) {
    let mut ps = Parameters::new();
    let id = ps.add("w", Tensor::from_vec(w.to_vec(), [w.len()]).unwrap());
    (ps, id)
}

/// One step on `loss = Σ c ⊙ w`, so ∂loss/∂w = c.
fn const_step(opt: &mut dyn Optimizer, ps: &mut Parameters, w: ParamId, c: &[f32]) {
    let mut tape = Tape::new();
    let mut g = Graph::new(&mut tape, ps);
    let wv = g.param(w);
    let cv = g.input(&Tensor::from_vec(c.to_vec(), [c.len()]).unwrap());
    let m = g.mul(wv, cv);
    let l = g.sum(m);
    let grads = g.backward(l);
    opt.step(ps, &grads);
}

/// The gradients of `loss = Σ w²/2`, i.e. ∂loss/∂w = w.
fn half_square_grads<'t>(tape: &'t mut Tape, ps: &Parameters, w: ParamId) -> Gradients<'t> {
    let mut g = Graph::new(tape, ps);
    let wv = g.param(w);
    let sq = g.square(wv);
    let s = g.sum(sq);
    let l = g.scale(s, 0.5);
    g.backward(l)
}

/// One step on `loss = Σ w²/2`, so ∂loss/∂w = w.
fn half_square_step(opt: &mut dyn Optimizer, ps: &mut Parameters, w: ParamId) {
    let mut tape = Tape::new();
    let grads = half_square_grads(&mut tape, ps, w);
    opt.step(ps, &grads);
}

#[track_caller]
fn assert_close(got: &[f32], want: &[f32]) {
    assert_eq!(got.len(), want.len(), "{got:?} vs {want:?}");
    for (g, w) in got.iter().zip(want) {
        assert!(
            (g - w).abs() <= 1e-5 * w.abs().max(1.0),
            "got {got:?}, want {want:?}"
        );
    }
}

fn state_of(opt: &dyn Optimizer, name: &str) -> Tensor {
    opt.state()
        .into_iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("no state {name}"))
        .1
}

#[test]
fn sgd_plain() {
    // g = w, lr 0.1: w ← w − 0.1w = 0.9w.  [1, −2] → [0.9, −1.8] → [0.81, −1.62]
    let (mut ps, w) = params(&[1.0, -2.0]);
    let mut opt = Sgd::new(SgdConfig {
        lr: 0.1,
        ..SgdConfig::default()
    })
    .unwrap();
    half_square_step(&mut opt, &mut ps, w);
    assert_close(ps[w].data(), &[0.9, -1.8]);
    half_square_step(&mut opt, &mut ps, w);
    assert_close(ps[w].data(), &[0.81, -1.62]);
    assert!(opt.state().is_empty(), "no momentum, no state");
}

#[test]
fn sgd_momentum_buffer_flushes_subnormals_to_zero() {
    // A stopped gradient leaves b ← 0.9b, which in f32 would stick at the smallest subnormal
    // (0.9 × 1.4e-45 rounds back up) and slow every later step; the buffer drops to 0 instead.
    let (mut ps, w) = params(&[1.0, 1.0]);
    let mut opt = Sgd::new(SgdConfig {
        lr: 0.1,
        momentum: 0.9,
        ..SgdConfig::default()
    })
    .unwrap();
    const_step(&mut opt, &mut ps, w, &[1e-30, 1.0]);
    for _ in 0..100 {
        const_step(&mut opt, &mut ps, w, &[0.0, 0.0]);
    }
    let b = state_of(&opt, "momentum_buffer.0");
    // 1e-30 · 0.9¹⁰⁰ ≈ 2.7e-35 is still normal; 1 · 0.9¹⁰⁰ ≈ 2.7e-5
    assert!(b.data()[0] > 0.0 && b.data()[1] > 2e-5, "{b:?}");
    for _ in 0..200 {
        const_step(&mut opt, &mut ps, w, &[0.0, 0.0]);
    }
    // 0.9³⁰⁰ ≈ 1.9e-14: the first would be 1.9e-44, subnormal, so 0; the second is 1.9e-14
    let b = state_of(&opt, "momentum_buffer.0");
    assert_eq!(b.data()[0], 0.0, "{b:?}");
    assert!(b.data()[1] >= f32::MIN_POSITIVE, "{b:?}");
}

#[test]
fn sgd_momentum_buffer_starts_at_first_gradient() {
    // g = w, lr 0.1, μ 0.9, first element (the second is −2× it):
    // 1: g = 1,    b = g = 1,                      w = 1 − 0.1     = 0.9
    // 2: g = 0.9,  b = 0.9·1 + 0.9 = 1.8,          w = 0.9 − 0.18  = 0.72
    // 3: g = 0.72, b = 0.9·1.8 + 0.72 = 2.34,      w = 0.72 − 0.234 = 0.486
    let (mut ps, w) = params(&[1.0, -2.0]);
    let mut opt = Sgd::new(SgdConfig {
        lr: 0.1,
        momentum: 0.9,
        ..SgdConfig::default()
    })
    .unwrap();
    let want = [[0.9, -1.8], [0.72, -1.44], [0.486, -0.972]];
    for want in want {
        half_square_step(&mut opt, &mut ps, w);
        assert_close(ps[w].data(), &want);
    }
    assert_close(state_of(&opt, "momentum_buffer.0").data(), &[2.34, -4.68]);
}

/// The momentum step splits a weight of 2¹⁵ values (256×128, the benchmark's second layer) over
/// the pool's two threads: the same bits as one thread, the worked steps of
/// `sgd_momentum_buffer_starts_at_first_gradient` on every element (w₃ = 0.486·w₀), and parts of
/// the step itself (not of the graph around it) ran on the pool's worker.
#[test]
fn sgd_momentum_on_two_threads_matches_one_and_the_hand_steps() {
    let w0: Vec<f32> = (0..1 << 15)
        .map(|i| ((i % 13) as f32 - 6.0) / 4.0)
        .collect();
    // Three steps on `loss = Σ w²/2`; returns the weights and the parts the steps' own pool
    // jobs gave to the worker.
    let run = |threads| {
        backprop::set_num_threads(threads);
        let (mut ps, w) = params(&w0);
        let mut opt = Sgd::new(SgdConfig {
            lr: 0.1,
            momentum: 0.9,
            ..SgdConfig::default()
        })
        .unwrap();
        let mut worked = 0;
        for _ in 0..3 {
            let mut tape = Tape::new();
            let grads = half_square_grads(&mut tape, &ps, w);
            let before = backprop::tensor::worker_parts();
            opt.step(&mut ps, &grads);
            worked += backprop::tensor::worker_parts() - before;
        }
        (ps[w].data().to_vec(), worked)
    };
    let (one, _) = run(1);
    // Parts go to whichever thread is free: a parked or descheduled worker may miss the two
    // split steps of a run, so repeat (up to 5 s) until it has taken one; every run must match.
    let started = std::time::Instant::now();
    let mut worked = 0;
    while worked == 0 && started.elapsed().as_secs() < 5 {
        let (two, w) = run(2);
        assert_eq!(one, two, "1 and 2 threads differ");
        worked += w;
    }
    backprop::set_num_threads(0);
    assert!(
        worked > 0,
        "no part of the momentum step ran on the pool's worker"
    );
    let want: Vec<f32> = w0.iter().map(|w| 0.486 * w).collect();
    assert_close(&one, &want);
}

#[test]
fn sgd_dampening() {
    // g = c = [1, −2], lr 0.1, μ 0.9, τ 0.5, first element (the second is −2× it):
    // 1: b = g = 1 (not (1 − τ)g: the first step is not dampened),  w = −0.1
    // 2: b = 0.9·1 + 0.5·1 = 1.4,                                   w = −0.1 − 0.14 = −0.24
    // 3: b = 0.9·1.4 + 0.5 = 1.76,                                  w = −0.24 − 0.176 = −0.416
    let (mut ps, w) = params(&[0.0, 0.0]);
    let mut opt = Sgd::new(SgdConfig {
        lr: 0.1,
        momentum: 0.9,
        dampening: 0.5,
        ..SgdConfig::default()
    })
    .unwrap();
    for want in [[-0.1, 0.2], [-0.24, 0.48], [-0.416, 0.832]] {
        const_step(&mut opt, &mut ps, w, &[1.0, -2.0]);
        assert_close(ps[w].data(), &want);
    }
}

#[test]
fn sgd_nesterov() {
    // g = w, lr 0.1, μ 0.9, step d = g + μb, first element (the second is −2× it):
    // 1: g = 1,    b = 1,                      d = 1 + 0.9 = 1.9,             w = 1 − 0.19 = 0.81
    // 2: g = 0.81, b = 0.9 + 0.81 = 1.71,      d = 0.81 + 0.9·1.71 = 2.349,   w = 0.81 − 0.2349 = 0.5751
    let (mut ps, w) = params(&[1.0, -2.0]);
    let mut opt = Sgd::new(SgdConfig {
        lr: 0.1,
        momentum: 0.9,
        nesterov: true,
        ..SgdConfig::default()
    })
    .unwrap();
    half_square_step(&mut opt, &mut ps, w);
    assert_close(ps[w].data(), &[0.81, -1.62]);
    half_square_step(&mut opt, &mut ps, w);
    assert_close(ps[w].data(), &[0.5751, -1.1502]);
}

#[test]
fn sgd_weight_decay() {
    // c = [1, −1], w = [2, 4], lr 0.1, λ 0.5: g = c + 0.5w
    // 1: g = [1 + 1, −1 + 2] = [2, 1],            w = [2 − 0.2, 4 − 0.1]     = [1.8, 3.9]
    // 2: g = [1 + 0.9, −1 + 1.95] = [1.9, 0.95],  w = [1.8 − 0.19, 3.9 − 0.095] = [1.61, 3.805]
    let (mut ps, w) = params(&[2.0, 4.0]);
    let mut opt = Sgd::new(SgdConfig {
        lr: 0.1,
        weight_decay: 0.5,
        ..SgdConfig::default()
    })
    .unwrap();
    const_step(&mut opt, &mut ps, w, &[1.0, -1.0]);
    assert_close(ps[w].data(), &[1.8, 3.9]);
    const_step(&mut opt, &mut ps, w, &[1.0, -1.0]);
    assert_close(ps[w].data(), &[1.61, 3.805]);

    // With μ 0.5 the buffer starts at the decayed gradient [2, 1]; step 1 is as above.
    // 2: b = 0.5·[2, 1] + [1.9, 0.95] = [2.9, 1.45],  w = [1.8 − 0.29, 3.9 − 0.145] = [1.51, 3.755]
    let (mut ps, w) = params(&[2.0, 4.0]);
    let mut opt = Sgd::new(SgdConfig {
        lr: 0.1,
        weight_decay: 0.5,
        momentum: 0.5,
        ..SgdConfig::default()
    })
    .unwrap();
    const_step(&mut opt, &mut ps, w, &[1.0, -1.0]);
    assert_close(ps[w].data(), &[1.8, 3.9]);
    const_step(&mut opt, &mut ps, w, &[1.0, -1.0]);
    assert_close(ps[w].data(), &[1.51, 3.755]);
    assert_close(state_of(&opt, "momentum_buffer.0").data(), &[2.9, 1.45]);
}

#[test]
fn adagrad_steps_shrink_with_the_sum_of_squares() {
    // c = [3, −4], lr 0.1: s = t·g², so each step moves lr·|g|/(√t·|g|) = 0.1/√t against g.
    // 1: s = [9, 16],  move 0.3/3 = 0.4/4 = 0.1                  w = [−0.1, 0.1]
    // 2: s = [18, 32], move 0.1/√2 = 0.0707107                  w = [−0.1707107, 0.1707107]
    // 3: s = [27, 48], move 0.1/√3 = 0.0577350                  w = [−0.2284457, 0.2284457]
    let (mut ps, w) = params(&[0.0, 0.0]);
    let mut opt = Adagrad::new(AdagradConfig {
        lr: 0.1,
        ..AdagradConfig::default()
    })
    .unwrap();
    for want in [
        [-0.1, 0.1],
        [-0.170_710_7, 0.170_710_7],
        [-0.228_445_7, 0.228_445_7],
    ] {
        const_step(&mut opt, &mut ps, w, &[3.0, -4.0]);
        assert_close(ps[w].data(), &want);
    }
    assert_close(state_of(&opt, "sum.0").data(), &[27.0, 48.0]);
    assert_eq!(state_of(&opt, "step.0").data(), &[3.0]);
}

#[test]
fn adagrad_lr_decay_and_initial_accumulator() {
    // c = [1, 2], lr 1, lr_decay 1, s₀ = 1:  lr_t = 1/(1 + (t − 1))
    // 1: lr 1,   s = [2, 5], move [1/√2, 2/√5]   = [0.7071068, 0.8944272]
    // 2: lr 0.5, s = [3, 9], move 0.5·[1/√3, 2/3] = [0.2886751, 0.3333333]
    //    w = −[0.7071068 + 0.2886751, 0.8944272 + 0.3333333] = [−0.9957819, −1.2277605]
    let (mut ps, w) = params(&[0.0, 0.0]);
    let mut opt = Adagrad::new(AdagradConfig {
        lr: 1.0,
        lr_decay: 1.0,
        initial_accumulator_value: 1.0,
        ..AdagradConfig::default()
    })
    .unwrap();
    const_step(&mut opt, &mut ps, w, &[1.0, 2.0]);
    assert_close(
        ps[w].data(),
        &[-std::f32::consts::FRAC_1_SQRT_2, -0.894_427_2],
    ); // 1/√2 = 0.7071068
    const_step(&mut opt, &mut ps, w, &[1.0, 2.0]);
    assert_close(ps[w].data(), &[-0.995_781_9, -1.227_760_5]);
}

#[test]
fn rmsprop_plain() {
    // c = [1, −2], lr 0.01, α 0.75: v ← 0.75v + 0.25g²
    // 1: v = [0.25, 1],          move 0.01·[1/0.5, −2/1] = [0.02, −0.02]             w = [−0.02, 0.02]
    // 2: v = [0.4375, 1.75],     move 0.01/√0.4375 = 0.01/0.6614378 = 0.0151186 (and −0.02/√1.75, the same)
    //    w = [−0.0351186, 0.0351186]
    let (mut ps, w) = params(&[0.0, 0.0]);
    let mut opt = RmsProp::new(RmsPropConfig {
        lr: 0.01,
        alpha: 0.75,
        ..RmsPropConfig::default()
    })
    .unwrap();
    const_step(&mut opt, &mut ps, w, &[1.0, -2.0]);
    assert_close(ps[w].data(), &[-0.02, 0.02]);
    const_step(&mut opt, &mut ps, w, &[1.0, -2.0]);
    assert_close(ps[w].data(), &[-0.035_118_6, 0.035_118_6]);
}

#[test]
fn rmsprop_centered_with_momentum() {
    // c = [1, −2], lr 0.01, α 0.75, μ 0.5, centered, first element (g = 1); the second has
    // v ×4, ḡ ×−2, so √ṽ ×2 and g/√ṽ ×−1: it mirrors the first.
    // 1: v = 0.25, ḡ = 0.25, ṽ = 0.25 − 0.0625 = 0.1875, √ṽ = 0.4330127
    //    b = 1/0.4330127 = 2.3094011,                w = −0.0230940
    // 2: v = 0.75·0.25 + 0.25 = 0.4375, ḡ = 0.25 + 0.25·0.75 = 0.4375
    //    ṽ = 0.4375 − 0.1914063 = 0.2460938, √ṽ = 0.4960784, g/√ṽ = 2.0158105
    //    b = 0.5·2.3094011 + 2.0158105 = 3.1705111,  w = −0.0230940 − 0.0317051 = −0.0547991
    let (mut ps, w) = params(&[0.0, 0.0]);
    let mut opt = RmsProp::new(RmsPropConfig {
        lr: 0.01,
        alpha: 0.75,
        momentum: 0.5,
        centered: true,
        ..RmsPropConfig::default()
    })
    .unwrap();
    const_step(&mut opt, &mut ps, w, &[1.0, -2.0]);
    assert_close(ps[w].data(), &[-0.023_094_0, 0.023_094_0]);
    const_step(&mut opt, &mut ps, w, &[1.0, -2.0]);
    assert_close(ps[w].data(), &[-0.054_799_1, 0.054_799_1]);
    assert_close(state_of(&opt, "grad_avg.0").data(), &[0.4375, -0.875]);
    assert_close(
        state_of(&opt, "momentum_buffer.0").data(),
        &[3.170_511, -3.170_511],
    );
}

#[test]
fn adam_bias_correction() {
    // A constant gradient: m_t = (1 − β₁ᵗ)g and v_t = (1 − β₂ᵗ)g², so m̂ = g, v̂ = g² and every
    // step moves exactly lr = 0.1 against g. (Uncorrected, step 1 would move
    // 0.1·0.1/√0.001 = 0.316.)
    let (mut ps, w) = params(&[0.0, 0.0]);
    let mut opt = Adam::new(AdamConfig {
        lr: 0.1,
        ..AdamConfig::default()
    })
    .unwrap();
    for want in [[-0.1, 0.1], [-0.2, 0.2], [-0.3, 0.3]] {
        const_step(&mut opt, &mut ps, w, &[1.0, -2.0]);
        assert_close(ps[w].data(), &want);
    }

    // g = w, w = [1, −2], lr 0.1, β = (0.9, 0.999):
    // 1: moves 0.1 (as above)                            w = [0.9, −1.9]
    // 2: g = 0.9: m = 0.09 + 0.09 = 0.18, v = 0.000999 + 0.00081 = 0.001809
    //    m̂ = 0.18/0.19 = 0.9473684, v̂ = 0.001809/0.001999 = 0.9049525, √v̂ = 0.9512899
    //    w = 0.9 − 0.1·0.9473684/0.9512899 = 0.9 − 0.0995878 = 0.8004122
    //    g = −1.9: m = −0.18 − 0.19 = −0.37, v = 0.003996 + 0.00361 = 0.007606
    //    m̂ = −1.9473684, v̂ = 3.8049025, √v̂ = 1.9506159
    //    w = −1.9 + 0.1·1.9473684/1.9506159 = −1.9 + 0.0998335 = −1.8001665
    let (mut ps, w) = params(&[1.0, -2.0]);
    let mut opt = Adam::new(AdamConfig {
        lr: 0.1,
        ..AdamConfig::default()
    })
    .unwrap();
    half_square_step(&mut opt, &mut ps, w);
    assert_close(ps[w].data(), &[0.9, -1.9]);
    half_square_step(&mut opt, &mut ps, w);
    assert_close(ps[w].data(), &[0.800_412_2, -1.800_166_5]);
    assert_close(state_of(&opt, "exp_avg.0").data(), &[0.18, -0.37]);
    assert_close(
        state_of(&opt, "exp_avg_sq.0").data(),
        &[0.001_809, 0.007_606],
    );
}

#[test]
fn adam_amsgrad_keeps_the_largest_second_moment() {
    // c = 10 then 1, lr 0.1, β = (0.5, 0.5):
    // 1: m = 5, v = 50, m̂ = 10, v̂ = 100: moves 0.1                      w = −0.1
    // 2: m = 2.5 + 0.5 = 3, v = 25 + 0.5 = 25.5, v_max = max(50, 25.5) = 50
    //    m̂ = 3/0.75 = 4; denominator √50/√0.75 = 8.1649658: moves 0.4/8.1649658 = 0.0489898
    //    (without amsgrad: √25.5/√0.75 = 5.8309519, moves 0.0685994)
    for (amsgrad, want) in [(true, -0.148_989_8), (false, -0.168_599_4)] {
        let (mut ps, w) = params(&[0.0]);
        let mut opt = Adam::new(AdamConfig {
            lr: 0.1,
            betas: (0.5, 0.5),
            amsgrad,
            ..AdamConfig::default()
        })
        .unwrap();
        const_step(&mut opt, &mut ps, w, &[10.0]);
        const_step(&mut opt, &mut ps, w, &[1.0]);
        assert_close(ps[w].data(), &[want]);
    }
}

#[test]
fn adamw_decay_is_decoupled() {
    // c = [0, 1], w = [2, 2], lr 0.1, λ 0.1.
    // Adam (L2): g = c + 0.1w = [0.2, 1.2]; the first step moves lr·g/|g| = 0.1 either way, so
    // the decay is normalised away:                        w = [1.9, 1.9]
    let (mut ps, w) = params(&[2.0, 2.0]);
    let mut opt = Adam::new(AdamConfig {
        lr: 0.1,
        weight_decay: 0.1,
        ..AdamConfig::default()
    })
    .unwrap();
    const_step(&mut opt, &mut ps, w, &[0.0, 1.0]);
    assert_close(ps[w].data(), &[1.9, 1.9]);

    // AdamW: w ← w·(1 − 0.1·0.1) = 0.99w, then Adam on c alone (m = 0 for the first element):
    // 1: w = [1.98, 1.98 − 0.1]           = [1.98, 1.88]
    // 2: w = [1.98·0.99, 1.88·0.99 − 0.1] = [1.9602, 1.7612]
    let (mut ps, w) = params(&[2.0, 2.0]);
    let mut opt = Adam::new(AdamConfig {
        lr: 0.1,
        weight_decay: 0.1,
        ..AdamConfig::adamw()
    })
    .unwrap();
    const_step(&mut opt, &mut ps, w, &[0.0, 1.0]);
    assert_close(ps[w].data(), &[1.98, 1.88]);
    const_step(&mut opt, &mut ps, w, &[0.0, 1.0]);
    assert_close(ps[w].data(), &[1.9602, 1.7612]);
}

#[test]
fn rprop_sign_change() {
    // g = w, Δ₀ 0.1, η = (0.5, 1.2). First element, w = 0.15:
    // 1: g₋ = 0:            Δ = 0.1,                w = 0.05,              g₋ = 0.15
    // 2: 0.05·0.15 > 0:     Δ = 0.12,               w = 0.05 − 0.12 = −0.07, g₋ = 0.05
    // 3: −0.07·0.05 < 0:    Δ = 0.06, g ← 0,        w = −0.07 (no move),   g₋ = 0
    // 4: g₋ = 0:            Δ = 0.06,               w = −0.07 + 0.06 = −0.01, g₋ = −0.07
    // 5: −0.01·−0.07 > 0:   Δ = 0.072,              w = −0.01 + 0.072 = 0.062
    // Second element, w = −2, never changes sign: Δ = 0.1, 0.12, 0.144, 0.1728, 0.20736
    //    w = −1.9, −1.78, −1.636, −1.4632, −1.25584
    let (mut ps, w) = params(&[0.15, -2.0]);
    let mut opt = Rprop::new(RpropConfig::default()).unwrap();
    let want = [
        [0.05, -1.9],
        [-0.07, -1.78],
        [-0.07, -1.636],
        [-0.01, -1.4632],
        [0.062, -1.25584],
    ];
    for (t, want) in want.iter().enumerate() {
        half_square_step(&mut opt, &mut ps, w);
        assert_close(ps[w].data(), want);
        if t == 2 {
            assert_close(state_of(&opt, "prev.0").data(), &[0.0, -1.78]);
            assert_close(state_of(&opt, "step_size.0").data(), &[0.06, 0.144]);
        }
    }
}

#[test]
fn rprop_step_sizes_are_clamped() {
    // Δmax = 0.15, constant c = 1: Δ = 0.1, 0.12, 0.144, min(0.1728, 0.15), 0.15
    //    w = −0.1, −0.22, −0.364, −0.514, −0.664
    let (mut ps, w) = params(&[0.0]);
    let mut opt = Rprop::new(RpropConfig {
        lr: 0.1,
        step_sizes: (1e-6, 0.15),
        ..RpropConfig::default()
    })
    .unwrap();
    for want in [-0.1, -0.22, -0.364, -0.514, -0.664] {
        const_step(&mut opt, &mut ps, w, &[1.0]);
        assert_close(ps[w].data(), &[want]);
    }
    // Δmin = 0.03, c alternating +1, −1:
    // 1: Δ = 0.1, w = −0.1.   2: flip: Δ = 0.05, no move.   3: g₋ = 0: Δ = 0.05, w = −0.15
    // 4: flip: Δ = max(0.025, 0.03) = 0.03, no move.       5: g₋ = 0: w = −0.15 − 0.03 = −0.18
    let (mut ps, w) = params(&[0.0]);
    let mut opt = Rprop::new(RpropConfig {
        lr: 0.1,
        step_sizes: (0.03, 50.0),
        ..RpropConfig::default()
    })
    .unwrap();
    for (c, want) in [
        (1.0, -0.1),
        (-1.0, -0.1),
        (1.0, -0.15),
        (-1.0, -0.15),
        (1.0, -0.18),
    ] {
        const_step(&mut opt, &mut ps, w, &[c]);
        assert_close(ps[w].data(), &[want]);
    }
    assert_close(state_of(&opt, "step_size.0").data(), &[0.03]);
}

#[test]
fn defaults_are_pytorchs() {
    let s = SgdConfig::default();
    assert_eq!(
        (s.lr, s.momentum, s.dampening, s.weight_decay, s.nesterov),
        (1e-3, 0.0, 0.0, 0.0, false)
    );
    let a = AdamConfig::default();
    assert_eq!(
        (a.lr, a.betas, a.eps, a.weight_decay, a.amsgrad),
        (1e-3, (0.9, 0.999), 1e-8, 0.0, false)
    );
    assert!(!a.decoupled_weight_decay);
    let a = AdamConfig::adamw();
    assert_eq!(
        (a.lr, a.betas, a.eps, a.weight_decay, a.amsgrad),
        (1e-3, (0.9, 0.999), 1e-8, 1e-2, false)
    );
    assert!(a.decoupled_weight_decay);
    let a = AdagradConfig::default();
    assert_eq!(
        (
            a.lr,
            a.lr_decay,
            a.weight_decay,
            a.initial_accumulator_value,
            a.eps
        ),
        (0.01, 0.0, 0.0, 0.0, 1e-10)
    );
    let r = RmsPropConfig::default();
    assert_eq!(
        (r.lr, r.alpha, r.eps, r.weight_decay, r.momentum, r.centered),
        (0.01, 0.99, 1e-8, 0.0, 0.0, false)
    );
    let r = RpropConfig::default(); // Δ₀ = 0.1 by our issue, where PyTorch has lr = 0.01
    assert_eq!(
        (r.lr, r.etas, r.step_sizes),
        (0.1, (0.5, 1.2), (1e-6, 50.0))
    );
    let p = ReduceLrOnPlateau::default();
    let p_ = (
        p.mode,
        p.factor,
        p.patience,
        p.threshold,
        p.cooldown,
        p.min_lr,
    );
    assert_eq!(p_, (PlateauMode::Min, 0.1, 10, 1e-4, 0, 0.0));
    assert_eq!(StepLr::new(5).gamma, 0.1);
    assert_eq!(CosineAnnealingLr::new(5).eta_min, 0.0);
}

#[track_caller]
fn assert_invalid<T: std::fmt::Debug>(r: backprop::Result<T>, param: &str) {
    match r {
        Err(Error::InvalidParameter { name, .. }) => assert_eq!(name, param),
        other => panic!("expected invalid {param}, got {other:?}"),
    }
}

#[test]
fn invalid_hyper_parameters_are_errors() {
    assert_invalid(
        Sgd::new(SgdConfig {
            lr: -0.1,
            ..SgdConfig::default()
        }),
        "lr",
    );
    assert_invalid(
        Sgd::new(SgdConfig {
            lr: f32::NAN,
            ..SgdConfig::default()
        }),
        "lr",
    );
    assert_invalid(
        Sgd::new(SgdConfig {
            lr: 0.1,
            momentum: -0.5,
            ..SgdConfig::default()
        }),
        "momentum",
    );
    assert_invalid(
        Sgd::new(SgdConfig {
            lr: 0.1,
            weight_decay: -1.0,
            ..SgdConfig::default()
        }),
        "weight_decay",
    );
    assert_invalid(
        Sgd::new(SgdConfig {
            lr: 0.1,
            nesterov: true,
            ..SgdConfig::default()
        }),
        "nesterov",
    );
    assert_invalid(
        Sgd::new(SgdConfig {
            lr: 0.1,
            momentum: 0.9,
            dampening: 0.1,
            nesterov: true,
            ..SgdConfig::default()
        }),
        "nesterov",
    );
    assert_invalid(
        Adam::new(AdamConfig {
            lr: 0.1,
            betas: (1.0, 0.999),
            ..AdamConfig::default()
        }),
        "beta1",
    );
    assert_invalid(
        Adam::new(AdamConfig {
            lr: 0.1,
            betas: (0.9, -0.1),
            ..AdamConfig::default()
        }),
        "beta2",
    );
    assert_invalid(
        Adam::new(AdamConfig {
            lr: 0.1,
            eps: -1e-8,
            ..AdamConfig::default()
        }),
        "eps",
    );
    assert_invalid(
        Adam::new(AdamConfig {
            lr: -1.0,
            ..AdamConfig::adamw()
        }),
        "lr",
    );
    assert_invalid(
        Adam::new(AdamConfig {
            lr: 0.1,
            weight_decay: -0.01,
            ..AdamConfig::adamw()
        }),
        "weight_decay",
    );
    assert_invalid(
        Adagrad::new(AdagradConfig {
            lr: 0.1,
            lr_decay: -1.0,
            ..AdagradConfig::default()
        }),
        "lr_decay",
    );
    assert_invalid(
        Adagrad::new(AdagradConfig {
            lr: 0.1,
            initial_accumulator_value: -1.0,
            ..AdagradConfig::default()
        }),
        "initial_accumulator_value",
    );
    assert_invalid(
        RmsProp::new(RmsPropConfig {
            lr: 0.1,
            alpha: -0.5,
            ..RmsPropConfig::default()
        }),
        "alpha",
    );
    assert_invalid(
        RmsProp::new(RmsPropConfig {
            lr: 0.1,
            momentum: -0.5,
            ..RmsPropConfig::default()
        }),
        "momentum",
    );
    assert_invalid(
        Rprop::new(RpropConfig {
            lr: 0.1,
            etas: (1.0, 1.2),
            ..RpropConfig::default()
        }),
        "etas",
    );
    assert_invalid(
        Rprop::new(RpropConfig {
            lr: 0.1,
            etas: (0.5, 1.0),
            ..RpropConfig::default()
        }),
        "etas",
    );
    assert_invalid(
        Rprop::new(RpropConfig {
            lr: 0.1,
            step_sizes: (1.0, 0.5),
            ..RpropConfig::default()
        }),
        "step_sizes",
    );
    assert_invalid(StepLr::new(0).build(), "step_size");
    assert_invalid(ExponentialLr::new(-0.5).build(), "gamma");
    assert_invalid(CosineAnnealingLr::new(0).build(), "t_max");
    assert_invalid(ReduceLrOnPlateau::new().factor(1.0).build(), "factor");
    // The message carries the offending value.
    let e = Sgd::new(SgdConfig {
        lr: -0.1,
        ..SgdConfig::default()
    })
    .unwrap_err()
    .to_string();
    assert!(e.contains("lr") && e.contains("-0.1"), "{e}");
    assert!(SgdConfig {
        lr: 0.1,
        momentum: 0.9,
        nesterov: true,
        ..SgdConfig::default()
    }
    .validate()
    .is_ok());
}

fn lrs(sched: &mut dyn LrScheduler, opt: &mut dyn Optimizer, metrics: &[Option<f32>]) -> Vec<f32> {
    metrics
        .iter()
        .map(|&m| {
            sched.step(opt, m);
            opt.lr()
        })
        .collect()
}

#[test]
fn step_and_exponential_schedules() {
    // StepLr(3, γ 0.1), η₀ = 1: η₀·0.1^⌊e/3⌋ for e = 1..7 → 1, 1, 0.1, 0.1, 0.1, 0.01, 0.01
    let mut opt = Sgd::new(SgdConfig {
        lr: 1.0,
        ..SgdConfig::default()
    })
    .unwrap();
    let mut s = StepLr::new(3).build().unwrap();
    assert_close(
        &lrs(&mut s, &mut opt, &[None; 7]),
        &[1.0, 1.0, 0.1, 0.1, 0.1, 0.01, 0.01],
    );
    // ExponentialLr(0.5) on Adam, η₀ = 0.8: 0.4, 0.2, 0.1
    let mut opt = Adam::new(AdamConfig {
        lr: 0.8,
        ..AdamConfig::default()
    })
    .unwrap();
    let mut s = ExponentialLr::new(0.5).build().unwrap();
    assert_close(&lrs(&mut s, &mut opt, &[None; 3]), &[0.4, 0.2, 0.1]);
    // The base is read at the first step, then kept: an outside change is overwritten.
    let mut opt = Sgd::new(SgdConfig {
        lr: 1.0,
        ..SgdConfig::default()
    })
    .unwrap();
    let mut s = ExponentialLr::new(0.5).build().unwrap();
    opt.set_lr(2.0);
    s.step(&mut opt, None); // η₀ = 2 → 1
    opt.set_lr(100.0);
    s.step(&mut opt, None); // 2·0.25
    assert_eq!(opt.lr(), 0.5);
}

#[test]
fn cosine_annealing_schedule() {
    // T_max 4, η_min 0.1, η₀ 1: 0.1 + 0.9·(1 + cos(πe/4))/2
    // e = 1: cos = 0.7071068 → 0.1 + 0.9·0.8535534 = 0.8681981
    // e = 2: cos = 0 → 0.55;  e = 3: cos = −0.7071068 → 0.1 + 0.9·0.1464466 = 0.2318019
    // e = 4: cos = −1 → 0.1;  e = 5: the cosine goes on, back up to 0.2318019
    let mut opt = Sgd::new(SgdConfig {
        lr: 1.0,
        ..SgdConfig::default()
    })
    .unwrap();
    let mut s = CosineAnnealingLr::new(4).eta_min(0.1).build().unwrap();
    let want = [0.868_198_1, 0.55, 0.231_801_9, 0.1, 0.231_801_9];
    assert_close(&lrs(&mut s, &mut opt, &[None; 5]), &want);
}

#[test]
fn plateau_patience_and_cooldown() {
    // patience 2, cooldown 1, factor 0.5, threshold 1e-4 relative:
    // e1: 10 → best 10.  e2: 9 < 9.999 → best 9.  e3, e4: 9 ≥ 8.9991 → bad 1, 2 (≤ patience).
    // e5: bad 3 > 2 → lr 0.5, cooldown 1, bad 0.
    // e6: bad 1, but in cooldown → 0.  e7: bad 1.  e8: bad 2.  e9: bad 3 → lr 0.25.
    let mut opt = Sgd::new(SgdConfig {
        lr: 1.0,
        ..SgdConfig::default()
    })
    .unwrap();
    let mut s = ReduceLrOnPlateau::new()
        .patience(2)
        .cooldown(1)
        .factor(0.5)
        .build()
        .unwrap();
    let metrics: Vec<_> = [10.0, 9.0, 9.0, 9.0, 9.0, 9.0, 9.0, 9.0, 9.0]
        .map(Some)
        .to_vec();
    assert_close(
        &lrs(&mut s, &mut opt, &metrics),
        &[1.0, 1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.5, 0.25],
    );
    assert_eq!(s.best(), 9.0);
    // No metric: nothing is counted.
    s.step(&mut opt, None);
    assert_eq!((opt.lr(), s.num_bad_epochs()), (0.25, 0));

    // patience 0, factor 0.1, min_lr 0.05:
    // e1: best 9.  e2: 8.9995 ≥ 9·(1 − 1e-4) = 8.9991, too small an improvement: bad → lr 0.1.
    // e3: 8, e4: 7 improve.  e5: 7 again → max(0.01, 0.05) = 0.05.  e6: max(0.005, 0.05) = 0.05,
    // no change.
    let mut opt = Sgd::new(SgdConfig {
        lr: 1.0,
        ..SgdConfig::default()
    })
    .unwrap();
    let mut s = ReduceLrOnPlateau::new()
        .patience(0)
        .min_lr(0.05)
        .build()
        .unwrap();
    let got = lrs(
        &mut s,
        &mut opt,
        &[Some(9.0), Some(8.9995), Some(8.0), Some(7.0)],
    );
    assert_close(&got, &[1.0, 0.1, 0.1, 0.1]);
    let got = lrs(&mut s, &mut opt, &[Some(7.0), Some(7.0)]);
    assert_close(&got, &[0.05, 0.05]);

    // Mode Max (an accuracy), patience 0: 0.5, 0.6 improve; 0.6 again does not.
    let mut opt = Sgd::new(SgdConfig {
        lr: 1.0,
        ..SgdConfig::default()
    })
    .unwrap();
    let mut s = ReduceLrOnPlateau::new()
        .mode(PlateauMode::Max)
        .patience(0)
        .build()
        .unwrap();
    assert_close(
        &lrs(&mut s, &mut opt, &[Some(0.5), Some(0.6), Some(0.6)]),
        &[1.0, 1.0, 0.1],
    );
}

/// Two parameters (so state is indexed) and a gradient that changes: loss = Σ(w²/2 + c⊙w) + Σ b².
fn two_param_step(opt: &mut dyn Optimizer, ps: &mut Parameters) {
    let (w, b) = (ps.find("w").unwrap(), ps.find("b").unwrap());
    let mut tape = Tape::new();
    let mut g = Graph::new(&mut tape, ps);
    let (wv, bv) = (g.param(w), g.param(b));
    let c = g.input(&Tensor::from_vec(vec![0.3, -0.7, 1.1], [3]).unwrap());
    let (sq, cw, b2) = (g.square(wv), g.mul(c, wv), g.square(bv));
    let half = g.scale(sq, 0.5);
    let terms = g.add(half, cw);
    let (s1, s2) = (g.sum(terms), g.sum(b2));
    let l = g.add(s1, s2);
    let grads = g.backward(l);
    opt.step(ps, &grads);
}

#[test]
fn state_round_trip_continues_bit_identically() {
    type Make = fn() -> Box<dyn Optimizer>;
    let makers: Vec<(&str, Make)> = vec![
        ("sgd", || {
            Box::new(
                Sgd::new(SgdConfig {
                    lr: 0.1,
                    momentum: 0.9,
                    nesterov: true,
                    weight_decay: 0.01,
                    ..SgdConfig::default()
                })
                .unwrap(),
            )
        }),
        ("adam", || {
            Box::new(
                Adam::new(AdamConfig {
                    lr: 0.05,
                    amsgrad: true,
                    weight_decay: 0.01,
                    ..AdamConfig::default()
                })
                .unwrap(),
            )
        }),
        ("adamw", || {
            Box::new(
                Adam::new(AdamConfig {
                    lr: 0.05,
                    ..AdamConfig::adamw()
                })
                .unwrap(),
            )
        }),
        ("adagrad", || {
            Box::new(
                Adagrad::new(AdagradConfig {
                    lr: 0.1,
                    lr_decay: 0.1,
                    ..AdagradConfig::default()
                })
                .unwrap(),
            )
        }),
        ("rmsprop", || {
            Box::new(
                RmsProp::new(RmsPropConfig {
                    lr: 0.01,
                    momentum: 0.5,
                    centered: true,
                    ..RmsPropConfig::default()
                })
                .unwrap(),
            )
        }),
        ("rprop", || {
            Box::new(Rprop::new(RpropConfig::default()).unwrap())
        }),
    ];
    let mut start = Parameters::new();
    start.add("w", Tensor::from_vec(vec![1.0, -2.0, 0.5], [3]).unwrap());
    start.add("b", Tensor::from_vec(vec![0.25, -0.75], [2, 1]).unwrap());
    for (name, make) in makers {
        let (mut a, mut b) = (start.clone(), start.clone());
        let mut opt_a = make();
        for _ in 0..5 {
            two_param_step(opt_a.as_mut(), &mut a);
        }
        let mut opt_b = make();
        for _ in 0..3 {
            two_param_step(opt_b.as_mut(), &mut b);
        }
        let saved = opt_b.state();
        assert!(
            saved.iter().any(|(n, _)| n.ends_with(".1")),
            "{name}: state for both parameters"
        );
        let mut opt_c = make();
        opt_c.load_state_checked(&b, &saved).unwrap();
        assert_eq!(
            opt_c.state(),
            saved,
            "{name}: state() after load_state() is what was saved"
        );
        for _ in 0..2 {
            two_param_step(opt_c.as_mut(), &mut b);
        }
        for (ta, tb) in a.tensors().iter().zip(b.tensors()) {
            let bits = |t: &Tensor| t.data().iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(ta), bits(tb), "{name}: resumed training differs");
        }
    }
}

#[test]
fn load_state_validates_names_and_shapes() {
    let t = |v: &[f32]| Tensor::from_vec(v.to_vec(), [v.len()]).unwrap();
    let message = |r: backprop::Result<()>| match r {
        Err(
            e @ Error::InvalidParameter {
                name: "optimizer state",
                ..
            },
        ) => e.to_string(),
        other => panic!("expected an optimizer state error, got {other:?}"),
    };
    let mut adam = Adam::new(AdamConfig::default()).unwrap();
    let e = message(adam.load_state(&[("exp_avgg.0".into(), t(&[0.0]))]));
    assert!(e.contains("exp_avgg.0"), "{e}");
    let full = |sq: Tensor| {
        vec![
            ("step.0".into(), t(&[2.0])),
            ("exp_avg.0".into(), t(&[0.0, 0.0])),
            ("exp_avg_sq.0".into(), sq),
        ]
    };
    let e = message(adam.load_state(&full(t(&[0.0, 0.0, 0.0]))));
    assert!(
        e.contains("exp_avg_sq.0") && e.contains("[3]") && e.contains("[2]"),
        "{e}"
    );
    let e = message(adam.load_state(&full(t(&[0.0, 0.0]))[..2]));
    assert!(e.contains("exp_avg_sq.0 is missing"), "{e}");
    let mut bad_step = full(t(&[0.0, 0.0]));
    bad_step[0].1 = t(&[1.5]);
    assert!(message(adam.load_state(&bad_step)).contains("step.0"));
    let mut dup = full(t(&[0.0, 0.0]));
    dup.push(("exp_avg.0".into(), t(&[0.0, 0.0])));
    assert!(message(adam.load_state(&dup)).contains("twice"));
    assert!(adam.load_state(&full(t(&[0.0, 0.0]))).is_ok());

    // Against the parameters: the tensor's and the parameter's shapes are both named.
    let (ps, _) = params(&[1.0, 2.0, 3.0]);
    let e = message(adam.load_state_checked(&ps, &full(t(&[0.0, 0.0]))));
    assert!(
        e.contains("exp_avg.0") && e.contains("[2]") && e.contains("[3]") && e.contains("(w)"),
        "{e}"
    );
    let e = message(
        Sgd::new(SgdConfig {
            lr: 0.1,
            ..SgdConfig::default()
        })
        .unwrap()
        .load_state_checked(&ps, &[("momentum_buffer.4".into(), t(&[0.0]))]),
    );
    assert!(e.contains("parameter 4"), "{e}");
}

#[test]
fn a_parameter_without_a_gradient_is_left_unchanged() {
    let opts: Vec<Box<dyn Optimizer>> = vec![
        Box::new(
            Sgd::new(SgdConfig {
                lr: 0.1,
                momentum: 0.9,
                weight_decay: 0.1,
                ..SgdConfig::default()
            })
            .unwrap(),
        ),
        Box::new(Adam::new(AdamConfig::default()).unwrap()),
        Box::new(Adam::new(AdamConfig::adamw()).unwrap()),
        Box::new(Adagrad::new(AdagradConfig::default()).unwrap()),
        Box::new(
            RmsProp::new(RmsPropConfig {
                momentum: 0.9,
                ..RmsPropConfig::default()
            })
            .unwrap(),
        ),
        Box::new(Rprop::new(RpropConfig::default()).unwrap()),
    ];
    for mut opt in opts {
        let mut ps = Parameters::new();
        let w = ps.add("w", Tensor::from_vec(vec![1.0, -2.0], [2]).unwrap());
        let u = ps.add("u", Tensor::from_vec(vec![3.0, 4.0], [2]).unwrap());
        for _ in 0..2 {
            half_square_step(opt.as_mut(), &mut ps, w); // the loss does not depend on u
        }
        assert_eq!(ps[u].to_vec(), vec![3.0, 4.0]);
        assert_ne!(ps[w].to_vec(), vec![1.0, -2.0]);
        assert!(
            opt.state().iter().all(|(n, _)| n.ends_with(".0")),
            "no state for u: {:?}",
            opt.state()
        );
    }
}

#[test]
fn steps_after_the_first_do_not_allocate() {
    let opts: Vec<Box<dyn Optimizer>> = vec![
        Box::new(
            Sgd::new(SgdConfig {
                lr: 0.1,
                momentum: 0.9,
                nesterov: true,
                weight_decay: 0.1,
                ..SgdConfig::default()
            })
            .unwrap(),
        ),
        Box::new(
            Adam::new(AdamConfig {
                amsgrad: true,
                weight_decay: 0.1,
                ..AdamConfig::default()
            })
            .unwrap(),
        ),
        Box::new(Adam::new(AdamConfig::adamw()).unwrap()),
        Box::new(
            Adagrad::new(AdagradConfig {
                weight_decay: 0.1,
                ..AdagradConfig::default()
            })
            .unwrap(),
        ),
        Box::new(
            RmsProp::new(RmsPropConfig {
                momentum: 0.9,
                centered: true,
                ..RmsPropConfig::default()
            })
            .unwrap(),
        ),
        Box::new(Rprop::new(RpropConfig::default()).unwrap()),
    ];
    for mut opt in opts {
        let (mut ps, w) = params(&[1.0, -2.0, 3.0]);
        let mut tape = Tape::new();
        let mut g = Graph::new(&mut tape, &ps);
        let wv = g.param(w);
        let sq = g.square(wv);
        let l = g.sum(sq);
        let grads = g.backward(l);
        opt.step(&mut ps, &grads); // allocates the state
        let before = allocations();
        opt.step(&mut ps, &grads);
        opt.step(&mut ps, &grads);
        assert_eq!(allocations(), before, "{:?}", opt.state().first());
    }
}

/// One step on `loss = Σ k ⊙ w²/2`, so ∂loss/∂w = k ⊙ w (a curvature k per element).
fn curved_step(opt: &mut dyn Optimizer, ps: &mut Parameters, w: ParamId, k: &[f32]) {
    let mut tape = Tape::new();
    let mut g = Graph::new(&mut tape, ps);
    let wv = g.param(w);
    let kv = g.input(&Tensor::from_vec(k.to_vec(), [k.len()]).unwrap());
    let sq = g.square(wv);
    let ksq = g.mul(kv, sq);
    let s = g.sum(ksq);
    let l = g.scale(s, 0.5);
    let grads = g.backward(l);
    opt.step(ps, &grads);
}

#[test]
fn quickprop_steps() {
    // g = k ⊙ w with k = [1, 4, 1], ε = 0.1, μ = 1.75, shrink σ = μ/(1 + μ) = 0.636364.
    // Step 1: no previous step, so plain gradient descent Δ = −εS:
    //   a: w = 1,    S = 1,    Δ = −0.1,  w = 0.9
    //   b: w = 0.5,  S = 2,    Δ = −0.2,  w = 0.3
    //   c: w = −2,   S = −2,   Δ = 0.2,   w = −1.8
    // Step 2:
    //   a: S = 0.9, S₋ = 1, Δ₋ = −0.1 < 0. S > 0: gradient term −0.1·0.9 = −0.09. S ≥ σS₋ =
    //      0.636364 (the parabola's jump, 0.9/0.1 = 9 steps, is too far): maximum step μΔ₋ =
    //      −0.175. Δ = −0.265, w = 0.635.
    //   b: S = 1.2, S₋ = 2, Δ₋ = −0.2. Gradient term −0.12. S < σS₋ = 1.272727: the parabola,
    //      Δ₋·S/(S₋ − S) = −0.2·1.2/0.8 = −0.3 (to w = 0, the exact minimum). Δ = −0.42,
    //      w = −0.12 (the gradient term overshoots).
    //   c: S = −1.8, S₋ = −2, Δ₋ = 0.2 > 0. S < 0: gradient term 0.18. S ≤ σS₋ = −1.272727:
    //      maximum step μΔ₋ = 0.35. Δ = 0.53, w = −1.27 (= −2 × a).
    // Step 3:
    //   a: S = 0.635, S₋ = 0.9, Δ₋ = −0.265. Gradient term −0.0635; S ≥ σS₋ = 0.572727:
    //      μΔ₋ = −0.46375. Δ = −0.52725, w = 0.10775.
    //   b: S = −0.48, S₋ = 1.2, Δ₋ = −0.42 < 0. S ≤ 0: no gradient term (the slope now points
    //      back). S < σS₋ = 0.763636: parabola −0.42·(−0.48)/(1.2 + 0.48) = 0.12. w = 0.
    //   c: −2 × a: w = −0.2155.
    let (mut ps, w) = params(&[1.0, 0.5, -2.0]);
    let mut opt = Quickprop::new(QuickpropConfig {
        lr: 0.1,
        ..QuickpropConfig::default()
    })
    .unwrap();
    let k = [1.0, 4.0, 1.0];
    curved_step(&mut opt, &mut ps, w, &k);
    assert_close(ps[w].data(), &[0.9, 0.3, -1.8]);
    assert_close(state_of(&opt, "prev_grad.0").data(), &[1.0, 2.0, -2.0]);
    assert_close(state_of(&opt, "prev_step.0").data(), &[-0.1, -0.2, 0.2]);
    curved_step(&mut opt, &mut ps, w, &k);
    assert_close(ps[w].data(), &[0.635, -0.12, -1.27]);
    assert_close(state_of(&opt, "prev_step.0").data(), &[-0.265, -0.42, 0.53]);
    curved_step(&mut opt, &mut ps, w, &k);
    assert_close(ps[w].data(), &[0.10775, 0.0, -0.2155]);
}

#[test]
fn quickprop_weight_decay_and_mu() {
    // c = [1], w = 2, ε = 0.1, λ = 0.5, μ = 1.2 (σ = 1.2/2.2 = 0.545455): S = c + λw.
    // 1: S = 1 + 1 = 2,           Δ = −0.2,                                    w = 1.8
    // 2: S = 1 + 0.9 = 1.9, S₋ = 2, Δ₋ = −0.2. Gradient term −0.19; S ≥ σS₋ = 1.090909:
    //    μΔ₋ = −0.24. Δ = −0.43, w = 1.37.
    // 3: S = 1 + 0.685 = 1.685, S₋ = 1.9. Gradient term −0.1685; S ≥ 1.036364: μΔ₋ = −0.516.
    //    Δ = −0.6845, w = 0.6855.
    // 4: S = 1 + 0.34275 = 1.34275, S₋ = 1.685, Δ₋ = −0.6845. Gradient term −0.134275;
    //    S ≥ σS₋ = 0.919091: μΔ₋ = −0.8214. Δ = −0.955675, w = −0.270175.
    let (mut ps, w) = params(&[2.0]);
    let mut opt = Quickprop::new(QuickpropConfig {
        lr: 0.1,
        mu: 1.2,
        weight_decay: 0.5,
    })
    .unwrap();
    for want in [1.8, 1.37, 0.6855, -0.270_175] {
        const_step(&mut opt, &mut ps, w, &[1.0]);
        assert_close(ps[w].data(), &[want]);
    }
    // 5: w < 0 now: S = 1 − 0.1350875 = 0.8649125, S₋ = 1.34275, Δ₋ = −0.955675. Gradient term
    //    −0.0864913; S ≥ σS₋ = 0.732409 still: μΔ₋ = −1.14681. Δ = −1.2333013, w = −1.5034763.
    //    (With the decay the minimum is at w = −2; the steps grow by at most μ to get there.)
    const_step(&mut opt, &mut ps, w, &[1.0]);
    assert_close(ps[w].data(), &[-1.503_476_3]);
}

#[test]
fn quickprop_defaults_validation_and_state() {
    let q = QuickpropConfig::default();
    assert_eq!((q.lr, q.mu, q.weight_decay), (0.1, 1.75, 0.0));
    assert_invalid(
        Quickprop::new(QuickpropConfig {
            lr: -0.1,
            ..QuickpropConfig::default()
        }),
        "lr",
    );
    assert_invalid(
        Quickprop::new(QuickpropConfig {
            lr: 0.1,
            mu: 0.0,
            ..QuickpropConfig::default()
        }),
        "mu",
    );
    assert_invalid(
        Quickprop::new(QuickpropConfig {
            lr: 0.1,
            mu: f32::NAN,
            ..QuickpropConfig::default()
        }),
        "mu",
    );
    assert_invalid(
        Quickprop::new(QuickpropConfig {
            lr: 0.1,
            weight_decay: -1.0,
            ..QuickpropConfig::default()
        }),
        "weight_decay",
    );

    // Saved state continues bit-identically, as for the other optimizers.
    let mut start = Parameters::new();
    start.add("w", Tensor::from_vec(vec![1.0, -2.0, 0.5], [3]).unwrap());
    start.add("b", Tensor::from_vec(vec![0.25, -0.75], [2, 1]).unwrap());
    let make = || {
        Quickprop::new(QuickpropConfig {
            lr: 0.1,
            weight_decay: 0.01,
            ..QuickpropConfig::default()
        })
        .unwrap()
    };
    let (mut a, mut b) = (start.clone(), start);
    let mut opt_a = make();
    for _ in 0..5 {
        two_param_step(&mut opt_a, &mut a);
    }
    let mut opt_b = make();
    for _ in 0..3 {
        two_param_step(&mut opt_b, &mut b);
    }
    let saved = opt_b.state();
    assert!(saved.iter().any(|(n, _)| n == "prev_step.1"), "{saved:?}");
    let mut opt_c = make();
    opt_c.load_state_checked(&b, &saved).unwrap();
    assert_eq!(opt_c.state(), saved);
    for _ in 0..2 {
        two_param_step(&mut opt_c, &mut b);
    }
    assert_eq!(a, b);

    // A parameter without a gradient is left alone, with no state; later steps allocate nothing.
    let mut ps = Parameters::new();
    let w = ps.add("w", Tensor::from_vec(vec![1.0, -2.0], [2]).unwrap());
    let u = ps.add("u", Tensor::from_vec(vec![3.0, 4.0], [2]).unwrap());
    let mut opt = Quickprop::new(QuickpropConfig::default()).unwrap();
    half_square_step(&mut opt, &mut ps, w);
    assert_eq!(ps[u].to_vec(), vec![3.0, 4.0]);
    assert!(opt.state().iter().all(|(n, _)| n.ends_with(".0")));
    let mut tape = Tape::new();
    let mut g = Graph::new(&mut tape, &ps);
    let wv = g.param(w);
    let sq = g.square(wv);
    let l = g.sum(sq);
    let grads = g.backward(l);
    opt.step(&mut ps, &grads);
    let before = allocations();
    opt.step(&mut ps, &grads);
    opt.step(&mut ps, &grads);
    assert_eq!(allocations(), before);
}

#[test]
fn quickprop_steps_never_go_subnormal() {
    // A step below 2⁻¹²⁶ is stored as 0, and the next step is gradient descent again.
    // g = c = 1e-30, ε = 1e-9: Δ = −1e-39 (subnormal) → 0.
    let (mut ps, w) = params(&[1.0]);
    let mut opt = Quickprop::new(QuickpropConfig {
        lr: 1e-9,
        ..QuickpropConfig::default()
    })
    .unwrap();
    const_step(&mut opt, &mut ps, w, &[1e-30]);
    assert_eq!(state_of(&opt, "prev_step.0").data(), &[0.0]);
    assert_eq!(ps[w].data(), &[1.0]);
}

/// A schedule read from a file is checked as one built in code: each bad value is refused with
/// the crate's error, naming the setting and its range (warm-up and its follower included).
#[test]
fn schedules_with_bad_values_are_refused_when_read() {
    let cases = [
        (
            r#"{"kind":"step","step_size":0,"gamma":0.1}"#,
            "invalid step_size: 0 (must be at least 1)",
        ),
        (
            r#"{"kind":"step","step_size":2,"gamma":-0.1}"#,
            "invalid gamma: -0.1 (must be >= 0)",
        ),
        (
            r#"{"kind":"step","step_size":2,"gamma":0.1,"base":-1.0}"#,
            "invalid schedule base lr: -1 (must be >= 0 and finite)",
        ),
        (
            r#"{"kind":"exponential","gamma":-0.5}"#,
            "invalid gamma: -0.5 (must be >= 0)",
        ),
        (
            r#"{"kind":"cosine","t_max":0}"#,
            "invalid t_max: 0 (must be at least 1)",
        ),
        (
            r#"{"kind":"cosine","t_max":5,"eta_min":-0.1}"#,
            "invalid eta_min: -0.1 (must be >= 0)",
        ),
        (
            r#"{"kind":"plateau","factor":1.5}"#,
            "invalid factor: 1.5 (must be in [0, 1))",
        ),
        (
            r#"{"kind":"plateau","threshold":-1.0}"#,
            "invalid threshold: -1 (must be >= 0)",
        ),
        (
            r#"{"kind":"warmup","warmup":{"epochs":0,"start_factor":0.5}}"#,
            "invalid warm-up epochs: 0 (at least 1)",
        ),
        (
            r#"{"kind":"warmup","warmup":{"epochs":2,"start_factor":0.0}}"#,
            "invalid warm-up start factor: 0 (a fraction in (0, 1])",
        ),
        (
            r#"{"kind":"warmup","warmup":{"epochs":2,"start_factor":0.5},"then":{"kind":"step","step_size":0,"gamma":0.1}}"#,
            "invalid step_size: 0",
        ),
        (
            r#"{"kind":"warmup","warmup":{"epochs":2,"start_factor":0.5},"then":{"kind":"warmup","warmup":{"epochs":2,"start_factor":0.5}}}"#,
            "a warm-up after a warm-up",
        ),
    ];
    for (json, want) in cases {
        let e = serde_json::from_str::<LrSchedule>(json)
            .unwrap_err()
            .to_string();
        assert!(e.contains(want), "{json}: {e}");
    }
    // the same texts with good values are read, and equal the parsed forms
    for (json, text) in [
        (r#"{"kind":"step","step_size":2,"gamma":0.1}"#, "step:2:0.1"),
        (r#"{"kind":"cosine","t_max":5,"eta_min":0.0}"#, "cosine:5:0"),
        (
            r#"{"kind":"warmup","warmup":{"epochs":2,"start_factor":0.5},"then":{"kind":"exponential","gamma":0.9}}"#,
            "warmup:2:0.5,exp:0.9",
        ),
    ] {
        let read: LrSchedule = serde_json::from_str(json).unwrap();
        assert_eq!(read, text.parse::<LrSchedule>().unwrap(), "{json}");
    }
}

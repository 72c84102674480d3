//! A steady-state training step allocates nothing: the tape keeps its buffers between steps.
//! Counted with a global allocator that tallies allocations on this thread only.
//!
//! The shapes are small enough that every product runs in backprop's own small-matrix loop:
//! larger products go to the `gemm` crate, which allocates its packing buffers on each call
//! (a few allocations per product; see docs/perf.md). Everything else is covered here.

use backprop::{Graph, Parameters, Rng, Tape, Tensor};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

struct Counting;

thread_local! {
    static COUNT: Cell<usize> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let _ = COUNT.try_with(|c| c.set(c.get() + 1));
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        let _ = COUNT.try_with(|c| c.set(c.get() + 1));
        unsafe { System.realloc(p, l, n) }
    }
}

#[global_allocator]
static A: Counting = Counting;

fn allocations() -> usize {
    COUNT.with(|c| c.get())
}

#[test]
fn steady_state_step_does_not_allocate() {
    let mut rng = Rng::seed(0);
    let mut params = Parameters::new();
    let w1 = params.add("w1", Tensor::randn([8, 6], 0.0, 0.2, &mut rng));
    let b1 = params.add("b1", Tensor::zeros([8]));
    let w2 = params.add("w2", Tensor::randn([3, 8], 0.0, 0.2, &mut rng));
    let b2 = params.add("b2", Tensor::zeros([3]));
    let x = Tensor::randn([4, 6], 0.0, 1.0, &mut rng);
    let y = Tensor::from_vec((0..4).map(|i| (i % 3) as f32).collect(), [4]).unwrap();
    let mut tape = Tape::new();
    let mut counts = vec![];
    for _ in 0..6 {
        let before = allocations();
        {
            let mut g = Graph::new(&mut tape, &params);
            let xv = g.input_with([4, 6], |buf| buf.copy_from_slice(x.data()));
            let yv = g.input_with([4], |buf| buf.copy_from_slice(y.data()));
            let (a, b, c, d) = (g.param(w1), g.param(b1), g.param(w2), g.param(b2));
            let h = g.linear(xv, a, Some(b));
            let h = g.relu(h);
            let skip = g.concat(&[h, xv]);
            let h2 = g.slice(skip, 0, 8);
            let o = g.linear(h2, c, Some(d));
            let loss = g.cross_entropy(o, yv);
            let grads = g.backward(loss);
            assert!(grads.get(w1).is_some());
        }
        counts.push(allocations() - before);
    }
    assert!(counts[0] > 0, "the first step fills the tape");
    assert_eq!(
        &counts[2..],
        &[0, 0, 0, 0],
        "allocations per step: {counts:?}"
    );
}

#[test]
fn steady_state_batch_norm_step_does_not_allocate() {
    let mut rng = Rng::seed(1);
    let mut params = Parameters::new();
    let w = params.add("w", Tensor::randn([5, 6], 0.0, 0.2, &mut rng));
    let gamma = params.add("bn.weight", Tensor::ones([5]));
    let beta = params.add("bn.bias", Tensor::zeros([5]));
    let stats = backprop::autograd::RunningStats {
        mean: params.add("bn.running_mean", Tensor::zeros([5])),
        var: params.add("bn.running_var", Tensor::ones([5])),
        momentum: 0.1,
        eps: 1e-5,
    };
    let x = Tensor::randn([4, 6], 0.0, 1.0, &mut rng);
    let mut tape = Tape::new();
    let mut counts = vec![];
    for _ in 0..6 {
        let before = allocations();
        {
            let mut g = Graph::new(&mut tape, &params);
            let xv = g.input_with([4, 6], |buf| buf.copy_from_slice(x.data()));
            let (a, gm, bt) = (g.param(w), g.param(gamma), g.param(beta));
            let h = g.linear(xv, a, None);
            let h = g.batch_norm(h, gm, bt, stats);
            let h = g.tanh(h);
            let loss = g.sum(h);
            let grads = g.backward(loss);
            assert!(grads.get(w).is_some() && grads.get(gamma).is_some());
        }
        assert_eq!(tape.update_running_stats(&mut params), 1);
        counts.push(allocations() - before);
    }
    assert_eq!(
        &counts[2..],
        &[0, 0, 0, 0],
        "allocations per step: {counts:?}"
    );
}

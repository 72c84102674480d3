//! Matrix products give the same bits on 1 and 2 threads: threads split the output, never a sum.
//! (Its own test binary, because the thread count is process-wide; the tests here take a lock
//! so that one test's thread settings do not leak into another's run.)

use backprop::data::{Dataset, Features, Targets};
use backprop::nn::{Activation, Init, Mlp, MlpSpec};
use backprop::optim::OptimizerConfig;
use backprop::tensor::{parallel_products, set_parallel_threshold, worker_parts};
use backprop::train::Trainer;
use backprop::{set_num_threads, Graph, Loss, Parameters, Rng, Tape, Tensor};
use std::sync::{Mutex, MutexGuard};

/// Serialises the tests that change the process-wide thread settings.
fn settings() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

fn step(params: &Parameters, x: &Tensor) -> Vec<Vec<u32>> {
    let mut tape = Tape::new();
    let mut g = Graph::new(&mut tape, params);
    let xv = g.input(x);
    let ids: Vec<_> = params.ids().collect();
    let (w, b) = (g.param(ids[0]), g.param(ids[1]));
    let h = g.linear(xv, w, Some(b));
    let h = g.relu(h);
    let l = g.sum(h);
    let grads = g.backward(l);
    ids.iter()
        .map(|&id| {
            grads
                .get(id)
                .unwrap()
                .data()
                .iter()
                .map(|v| v.to_bits())
                .collect()
        })
        .collect()
}

#[test]
fn one_and_two_threads_give_identical_bits() {
    let _lock = settings();
    let mut rng = Rng::seed(5);
    let mut params = Parameters::new();
    params.add("w", Tensor::randn([256, 784], 0.0, 0.05, &mut rng));
    params.add("b", Tensor::randn([256], 0.0, 0.05, &mut rng));
    let x = Tensor::rand_uniform([512, 784], 0.0, 1.0, &mut rng);
    set_num_threads(1);
    let one = step(&params, &x);
    set_num_threads(2);
    let two = step(&params, &x);
    set_num_threads(0);
    assert!(one == two, "gradients differ between 1 and 2 threads");
}

/// 512 random samples of 64 features in [0, 1), with 10 random classes.
fn random_data() -> Dataset {
    let mut rng = Rng::seed(11);
    let x = Tensor::rand_uniform([512, 64], 0.0, 1.0, &mut rng).to_vec();
    let labels = (0..512)
        .map(|_| (rng.uniform_in(0.0, 10.0) as u32).min(9))
        .collect();
    let names = (0..10).map(|c| c.to_string()).collect();
    Dataset::new(Features::F32(x), 64, Targets::Classes { labels, names }).unwrap()
}

/// Trains a fresh 64-256-128-10 ReLU network (seed 3) with Adam for 3 epochs of batches of 64
/// and returns its parameters' bits. The one place that calls the training API.
fn train(data: &Dataset) -> Vec<Vec<u32>> {
    let spec = MlpSpec::from_sizes(&[64, 256, 128, 10], Activation::Relu, Activation::Identity);
    let mut params = Parameters::new();
    let net = Mlp::new(spec, &mut params, Init::KaimingUniform, &mut Rng::seed(3)).unwrap();
    let trainer = Trainer::new(Loss::CrossEntropy)
        .optimizer(OptimizerConfig::adam(1e-3))
        .epochs(3)
        .batch_size(64)
        .seed(4);
    trainer.fit(&net, &mut params, data).unwrap();
    params
        .named()
        .map(|(_, t)| t.data().iter().map(|v| v.to_bits()).collect())
        .collect()
}

/// A whole training run gives bit-identical weights on 1 and 2 threads, with the threshold for
/// threading lowered so that all of the run's products split their output over both threads
/// (most here are below the default 2²⁰ multiply-adds). The test asserts that the split path
/// ran and that parts of it ran on the pool's worker thread, so it cannot pass by running the
/// same code twice.
#[test]
fn training_on_one_and_two_threads_gives_identical_weights() {
    let _lock = settings();
    let data = random_data();
    set_parallel_threshold(1 << 16);
    set_num_threads(1);
    let before = parallel_products();
    let one = train(&data);
    let after_one = parallel_products();
    set_num_threads(2);
    let worked = worker_parts();
    let two = train(&data);
    let after_two = parallel_products();
    let worked = worker_parts() - worked;
    set_num_threads(0);
    set_parallel_threshold(0);
    assert_eq!(after_one, before, "the 1-thread run used several threads");
    assert!(
        after_two > after_one + 100,
        "the 2-thread run used several threads in only {} products",
        after_two - after_one
    );
    // Parts go to whichever thread is free, so on a busy machine the caller may take most;
    // some must have run on the worker.
    assert!(
        worked > 0,
        "no part ran on a worker thread: the second thread did not work"
    );
    let differing = one.iter().zip(&two).filter(|(a, b)| a != b).count();
    assert_eq!(
        differing, 0,
        "{differing} parameter tensors differ between 1 and 2 threads"
    );
    assert!(one.iter().flatten().any(|&b| b != 0));
}

/// Runs `on_one` on 1 thread, then `on_two` `repeats` times on 2 (the pool's worker may be
/// asleep or descheduled: repeats give it chances to take a part), and returns `on_two`'s last
/// result with how many parts ran on a worker thread meanwhile. Restores the default threads.
fn one_then_two_threads<T>(
    repeats: usize,
    on_one: impl FnOnce(),
    mut on_two: impl FnMut() -> T,
) -> (T, usize) {
    set_num_threads(1);
    on_one();
    set_num_threads(2);
    let before = worker_parts();
    let mut last = on_two();
    for _ in 1..repeats {
        last = on_two();
    }
    // on a loaded machine the worker may not have been scheduled yet: give it up to 5 s more
    let started = std::time::Instant::now();
    while worker_parts() == before && started.elapsed().as_secs() < 5 {
        last = on_two();
    }
    let worked = worker_parts() - before;
    set_num_threads(0);
    (last, worked)
}

/// Gathering a large batch splits its rows over the pool: the copy is exact on 1 and 2 threads
/// (checked against the rows themselves), also for byte images with a scale, and the worker ran
/// part of it.
#[test]
fn gathering_a_large_batch_on_two_threads_copies_the_rows_exactly() {
    let _lock = settings();
    let (n, d) = (2048, 300);
    let mut rng = Rng::seed(8);
    let floats = Tensor::rand_uniform([n, d], -1.0, 1.0, &mut rng).to_vec();
    let bytes: Vec<u8> = (0..n * d).map(|i| (i * 7 % 251) as u8).collect();
    let targets = || Targets::Classes {
        labels: vec![0; n],
        names: vec!["a".into()],
    };
    let f32_data = Dataset::new(Features::F32(floats.clone()), d, targets()).unwrap();
    let scale = 1.0 / 255.0;
    let u8_data = Dataset::new(
        Features::U8 {
            data: bytes.clone(),
            scale,
        },
        d,
        targets(),
    )
    .unwrap();
    // every third row backwards, then rows from the start (some of them a second time)
    let mut idx: Vec<usize> = (0..n).rev().step_by(3).chain(0..n).collect();
    idx.truncate(1500);
    for (data, expect) in [
        (&f32_data, floats.clone()),
        (&u8_data, bytes.iter().map(|&b| b as f32 * scale).collect()),
    ] {
        let mut out = [vec![0.0; idx.len() * d], vec![0.0; idx.len() * d]];
        let [one, two] = &mut out;
        let ((), worked) = one_then_two_threads(
            50,
            || data.gather_features(&idx, one),
            || data.gather_features(&idx, two),
        );
        assert!(worked > 0, "no part of the gather ran on a worker thread");
        for (r, &i) in idx.iter().enumerate() {
            let want = &expect[i * d..(i + 1) * d];
            assert_eq!(
                &out[0][r * d..(r + 1) * d],
                want,
                "row {r} (sample {i}), 1 thread"
            );
            assert_eq!(
                &out[1][r * d..(r + 1) * d],
                want,
                "row {r} (sample {i}), 2 threads"
            );
        }
    }
}

/// Element-wise passes over a large tensor split over the pool: forward and backward of each
/// activation give the same bits on 1 and 2 threads, and the worker ran part of them.
#[test]
fn large_elementwise_passes_give_the_same_bits_on_two_threads() {
    let _lock = settings();
    let mut rng = Rng::seed(9);
    let x = Tensor::rand_uniform([513, 300], -3.0, 3.0, &mut rng);
    let mut params = Parameters::new();
    let id = params.add("x", x);
    let run = || {
        let mut tape = Tape::new();
        let mut g = Graph::new(&mut tape, &params);
        let v = g.param(id);
        let a = g.sigmoid(v);
        let b = g.tanh(v);
        let c = g.relu(v);
        let ab = g.mul(a, b);
        let abc = g.mul(ab, c);
        let l = g.sum(abc);
        let value = g.value(l).data()[0].to_bits();
        let grads = g.backward(l);
        let dx: Vec<u32> = grads
            .get(id)
            .unwrap()
            .data()
            .iter()
            .map(|v| v.to_bits())
            .collect();
        (value, dx)
    };
    let mut one = None;
    let (two, worked) = one_then_two_threads(21, || one = Some(run()), run);
    let one = one.unwrap();
    assert!(worked > 0, "no element-wise part ran on a worker thread");
    assert_eq!(
        one, two,
        "element-wise results differ between 1 and 2 threads"
    );
}

/// The passes around the products on the pool — bias + activation fused into the product's
/// blocks, the bias-gradient column sums, softmax cross-entropy and log-softmax forward and
/// backward split by rows — give the same bits on 1 and 2 threads, and the worker ran parts.
#[test]
fn fused_layer_loss_and_bias_sums_give_the_same_bits_on_two_threads() {
    use backprop::nn::Linear;
    use backprop::Unary;
    let _lock = settings();
    let mut rng = Rng::seed(13);
    let mut params = Parameters::new();
    let l1 = Linear::new(&mut params, "l1", 200, 256, true, Init::PyTorch, &mut rng);
    let l2 = Linear::new(&mut params, "l2", 256, 10, true, Init::PyTorch, &mut rng);
    let x = Tensor::rand_uniform([512, 200], 0.0, 1.0, &mut rng);
    let t = Tensor::from_vec((0..512).map(|i| (i * 7 % 10) as f32).collect(), [512]).unwrap();
    let run = || {
        let mut tape = Tape::new();
        let mut g = Graph::new(&mut tape, &params);
        let (xv, tv) = (g.input(&x), g.input(&t));
        let (_, h) = l1.forward_unary(&mut g, xv, Unary::Relu).unwrap();
        let y = backprop::nn::Module::forward(&l2, &mut g, h).unwrap();
        let ce = g.cross_entropy(y, tv);
        let ls = g.log_softmax(y);
        let ls = g.sum(ls);
        let ls = g.scale(ls, 1e-4);
        let l = g.add(ce, ls);
        let value = g.value(l).data()[0].to_bits();
        let grads = g.backward(l);
        let mut out = vec![vec![value]];
        for id in params.ids() {
            out.push(
                grads
                    .get(id)
                    .unwrap()
                    .data()
                    .iter()
                    .map(|v| v.to_bits())
                    .collect(),
            );
        }
        out
    };
    let mut one = None;
    let (two, worked) = one_then_two_threads(5, || one = Some(run()), run);
    assert!(worked > 0, "no part ran on a worker thread");
    assert!(
        one.unwrap() == two,
        "results differ between 1 and 2 threads"
    );
}

/// A large transpose (the dense layer's copy of Wᵀ) splits its rows over the pool: every value
/// lands in its place on 1 and 2 threads, ragged edges included.
#[test]
fn a_large_transpose_on_two_threads_is_exact() {
    let _lock = settings();
    let mut rng = Rng::seed(17);
    for (r, c) in [(257, 131), (256, 784), (20, 3001), (1003, 40)] {
        let x = Tensor::randn([r, c], 0.0, 1.0, &mut rng);
        let (t, worked) = one_then_two_threads(5, || {}, || x.t());
        assert!(
            worked > 0 || r * c < 1 << 15,
            "{r}×{c}: no part ran on a worker"
        );
        for i in 0..r {
            for j in 0..c {
                assert_eq!(t.data()[j * r + i].to_bits(), x.data()[i * c + j].to_bits());
            }
        }
    }
}

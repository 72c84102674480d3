//! Data-parallel training on threads standing in for processes: equal to one process, one
//! rendezvous per step, stop requests that ride in the gradient sums.

use super::*;
use crate::data::{Dataset, Features, Targets};
use crate::nn::{Activation, Init, Mlp, MlpSpec};
use crate::optim::OptimizerConfig;
use crate::rng::Rng;
use crate::train::{Control, Event, Fit, History, StopReason, Trainer};
use std::sync::{Arc, Barrier, Mutex};

/// R threads standing in for R processes: each deposits its buffer, and every one sums the
/// deposits in rank order (so all get the same bits). A started sum is summed at the wait.
/// Every parameter gradient is its own bucket (`bucket_bytes` 1).
struct Threads {
    rank: usize,
    size: usize,
    slots: Arc<Mutex<Vec<Vec<f64>>>>,
    barrier: Arc<Barrier>,
    started: Vec<Vec<f32>>,
    count: Count,
}

/// The collectives one rank took part in.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Count {
    /// Blocking all-reduces.
    blocking: usize,
    /// Non-blocking sums started (buckets).
    started: usize,
    /// Waits for the started sums.
    waits: usize,
}

impl Threads {
    fn sum(&mut self, buf: &mut [f64]) {
        self.slots.lock().unwrap()[self.rank] = buf.to_vec();
        self.barrier.wait();
        buf.fill(0.0);
        for s in self.slots.lock().unwrap().iter() {
            buf.iter_mut().zip(s).for_each(|(b, v)| *b += v);
        }
        self.barrier.wait();
    }

    fn sum_f32(&mut self, buf: &mut [f32]) {
        let mut v: Vec<f64> = buf.iter().map(|&x| x as f64).collect();
        self.sum(&mut v);
        buf.iter_mut().zip(v).for_each(|(b, v)| *b = v as f32);
    }
}

impl GradientReduce for Threads {
    fn rank(&self) -> usize {
        self.rank
    }
    fn size(&self) -> usize {
        self.size
    }
    fn all_reduce_sum_f32(&mut self, buf: &mut [f32]) -> Result<()> {
        self.count.blocking += 1;
        self.sum_f32(buf);
        Ok(())
    }
    fn all_reduce_sum_f64(&mut self, buf: &mut [f64]) -> Result<()> {
        self.count.blocking += 1;
        self.sum(buf);
        Ok(())
    }
    fn start_sum_f32(&mut self, buf: Vec<f32>) -> Result<()> {
        self.count.started += 1;
        self.started.push(buf);
        Ok(())
    }
    fn wait_sums_f32(&mut self, done: &mut Vec<Vec<f32>>) -> Result<()> {
        self.count.waits += 1;
        for mut b in std::mem::take(&mut self.started) {
            self.sum_f32(&mut b);
            done.push(b);
        }
        Ok(())
    }
    fn bucket_bytes(&self) -> usize {
        1
    }
}

/// 23 samples (batches of 8 leave a last batch of 7): 3 classes, or 3 regression targets
/// for the losses that take values.
fn data(loss: Loss) -> Dataset {
    let mut rng = Rng::seed(5);
    let n = 23;
    let x: Vec<f32> = (0..n * 4).map(|_| rng.uniform_in(-1.0, 1.0)).collect();
    let targets = if loss.takes_classes() {
        let labels = (0..n).map(|i| (i % 3) as u32).collect();
        let names = vec!["a".into(), "b".into(), "c".into()];
        Targets::Classes { labels, names }
    } else {
        let data = x.chunks(4).flat_map(|r| [r[0] * r[1], r[2], r[3] - r[0]]);
        let names = vec!["u".into(), "v".into(), "w".into()];
        Targets::Values {
            data: data.collect(),
            names,
        }
    };
    Dataset::new(Features::F32(x), 4, targets).unwrap()
}

/// Trains 4-6-3; `stop_at` (epoch, batch) makes an observer stop the run after that batch.
fn train(
    trainer: &Trainer,
    reduce: Option<&mut Threads>,
    stop_at: Option<(usize, usize)>,
) -> (Parameters, History) {
    let mut params = Parameters::new();
    let spec = MlpSpec::from_sizes(&[4, 6, 3], Activation::Tanh, Activation::Identity);
    let net = Mlp::new(spec, &mut params, Init::XavierUniform, &mut Rng::seed(2)).unwrap();
    let mut stop = |e: Event| match e {
        Event::Batch { epoch, batch, .. } if Some((epoch, batch)) == stop_at => Control::Stop,
        _ => Control::Continue,
    };
    let fit = Fit {
        gradient_reduce: reduce.map(|r| r as &mut dyn GradientReduce),
        observer: Some(&mut stop),
        ..Fit::default()
    };
    let h = trainer
        .fit_with(&net, &mut params, &data(trainer.loss), fit)
        .unwrap();
    (params, h)
}

/// `size` ranks on threads; the last rank's observer stops after `stop_at`.
fn on_threads(
    trainer: &Trainer,
    size: usize,
    stop_at: Option<(usize, usize)>,
) -> Vec<(Parameters, History, Count)> {
    let slots = Arc::new(Mutex::new(vec![vec![]; size]));
    let barrier = Arc::new(Barrier::new(size));
    let handles: Vec<_> = (0..size)
        .map(|rank| {
            let mut r = Threads {
                rank,
                size,
                slots: Arc::clone(&slots),
                barrier: Arc::clone(&barrier),
                started: vec![],
                count: Count::default(),
            };
            let t = trainer.clone();
            let stop = stop_at.filter(|_| rank == size - 1);
            std::thread::spawn(move || {
                let (p, h) = train(&t, Some(&mut r), stop);
                (p, h, r.count)
            })
        })
        .collect();
    handles.into_iter().map(|h| h.join().unwrap()).collect()
}

fn close(a: &Parameters, b: &Parameters, tol: f32) {
    for (x, y) in a.tensors().iter().zip(b.tensors()) {
        for (u, v) in x.data().iter().zip(y.data()) {
            assert!((u - v).abs() <= tol * u.abs().max(1e-2), "{u} vs {v}");
        }
    }
}

fn momentum_run(epochs: usize) -> Trainer {
    Trainer::new(Loss::CrossEntropy)
        .optimizer(OptimizerConfig::sgd(0.1).with_momentum(0.9))
        .batch_size(8)
        .epochs(epochs)
        .validation_split(0.2)
        .seed(7)
}

#[test]
fn ranks_match_one_process_with_an_uneven_last_batch() {
    let t = momentum_run(5);
    let (one, h1) = train(&t, None, None);
    for size in [2, 3, 5] {
        let runs = on_threads(&t, size, None);
        for (p, h, _) in &runs {
            close(&one, p, 1e-5);
            assert_eq!(p, &runs[0].0, "every rank holds the same weights");
            let (a, b) = (&h1.epochs[4], &h.epochs[4]);
            assert!((a.train.loss - b.train.loss).abs() < 1e-5);
            assert_eq!(a.train.accuracy, b.train.accuracy);
            assert_eq!(a.val, b.val);
        }
    }
}

#[test]
fn one_rendezvous_per_step() {
    // 19 training rows in batches of 8: 3 steps per epoch, each 4 buckets (one per parameter
    // of 4-6-3) started during backward and one wait; per epoch 2 blocking collectives (the
    // metric sums, the session's stop agreement) and none per step
    let epochs = 4;
    let runs = on_threads(&momentum_run(epochs), 2, None);
    for (_, h, count) in &runs {
        assert_eq!(h.epochs.len(), epochs);
        let want = Count {
            blocking: 2 * epochs,
            started: 4 * 3 * epochs,
            waits: 3 * epochs,
        };
        assert_eq!(*count, want);
    }
}

#[test]
fn a_stop_on_one_rank_rides_in_the_next_sum_and_ends_where_one_process_does() {
    // the last rank's observer stops after batch 2 of epoch 2 (mid-epoch: agreed in batch 3's
    // sum, whose step is not taken) or after batch 3 (the epoch's last: agreed with its sums)
    let t = momentum_run(4);
    for stop_at in [(2, 2), (2, 3)] {
        let (one, h1) = train(&t, None, Some(stop_at));
        assert_eq!((h1.stop, h1.epochs.len()), (StopReason::Callback, 1));
        for (p, h, _) in on_threads(&t, 3, Some(stop_at)) {
            close(&one, &p, 1e-5);
            assert_eq!(
                (h.stop, h.epochs.len()),
                (StopReason::Callback, 1),
                "{stop_at:?}"
            );
        }
    }
}

#[test]
fn a_batch_smaller_than_the_ranks_and_a_summed_loss() {
    // 23 samples, batch 2 on 3 ranks: one rank idles on every batch; half_sse sums
    let t = Trainer::new(Loss::HalfSse)
        .optimizer(OptimizerConfig::sgd(0.01))
        .batch_size(2)
        .epochs(2);
    let (one, h1) = train(&t, None, None);
    let runs = on_threads(&t, 3, None);
    close(&one, &runs[0].0, 1e-5);
    let (a, b) = (&h1.epochs[1].train, &runs[2].1.epochs[1].train);
    assert!((a.loss - b.loss).abs() < 1e-5 * a.loss, "{a:?} vs {b:?}");
    assert!((a.mse.unwrap() - b.mse.unwrap()).abs() < 1e-5);
}

#[test]
fn lbfgs_runs_distributed() {
    // every evaluation of the line search is reduced, so the ranks take the same steps; 20
    // quasi-Newton iterations amplify the rounding of the sums to ~1e-5
    let t = Trainer::new(Loss::Mse)
        .optimizer(OptimizerConfig::default_for("lbfgs", None).unwrap())
        .batch_size(0)
        .epochs(1);
    let (one, h1) = train(&t, None, None);
    let runs = on_threads(&t, 3, None);
    assert_eq!(runs[0].0, runs[2].0);
    close(&one, &runs[1].0, 1e-4);
    assert!((h1.epochs[0].train.loss - runs[0].1.epochs[0].train.loss).abs() < 1e-6);
}

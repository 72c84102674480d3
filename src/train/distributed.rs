//! Data-parallel training: R processes (MPI ranks) train one model in lock-step, each on its
//! share of every batch, through the one hook [`Fit::gradient_reduce`](super::Fit).
//!
//! Every rank holds the same data, parameters, optimizer and generator, so every rank draws the
//! same shuffle and the same global batches B (|B| = m). Rank r runs forward and backward on
//! its contiguous share B_r, |B_r| = m_r = ⌊m(r+1)/R⌋ − ⌊mr/R⌋, which gives
//!
//! ```text
//!   g_r = ∂E(B_r)/∂θ,   E(B_r) = (1/m_r) Σ_{n∈B_r} e_n   (a mean loss; half_sse has no 1/m)
//! ```
//!
//! and the ranks sum `w_r · g_r` with `w_r = m_r / m` (1 for half_sse, a plain sum). Since
//! `Σ_r (m_r/m) (1/m_r) Σ_{B_r} ∇e_n = (1/m) Σ_B ∇e_n`, every rank ends up holding the
//! one-process gradient of the whole batch — the uneven last batch included — and the reported
//! loss `Σ_r w_r E(B_r)` is the one-process batch loss. Clipping and the optimizer step then run
//! unchanged, identically on every rank. A rank whose share is empty (a batch smaller than R)
//! runs one stand-in row and sends zeros. L-BFGS's evaluations are reduced the same way, so its
//! line search takes the same decisions everywhere.
//!
//! After each epoch the ranks also sum their metric accumulators (the epoch's loss, accuracy,
//! MSE/MAE/R² are those of the whole training set) and compare a hash of the parameters (a
//! reduction that gave ranks different sums is an error, not a silent drift). Validation runs
//! on every rank on identical parameters, so early stopping, plateau schedules and the target
//! loss decide the same everywhere; stop requests (the stop flag, a callback's answer) are
//! agreed on, so no rank is left waiting in a collective. The progress event's running
//! accuracy is the calling rank's own; its loss is the global one.
//!
//! Models that draw random numbers while training (dropout) are not supported: the ranks would
//! draw differently and their generators would part.

use super::metrics::Accumulator;
use crate::autograd::Gradients;
use crate::error::{Error, Result};
use crate::loss::Loss;
use crate::params::Parameters;

/// Sums buffers element-wise over the processes of a data-parallel run (an MPI all-reduce):
/// the hook [`Trainer::fit_with`](super::Trainer::fit_with) calls after each backward pass,
/// before clipping and the optimizer step. Every process must get bit-identical sums.
///
/// ```
/// use backprop::data::{Dataset, Features, Targets};
/// use backprop::nn::{Activation, Init, Mlp, MlpSpec};
/// use backprop::train::{Fit, GradientReduce, Trainer};
/// use backprop::{Loss, Parameters, Rng};
///
/// /// One process: rank 0 of 1, the sums are the buffers themselves.
/// struct Alone;
/// impl GradientReduce for Alone {
///     fn rank(&self) -> usize { 0 }
///     fn size(&self) -> usize { 1 }
///     fn all_reduce_sum_f32(&mut self, _: &mut [f32]) -> backprop::Result<()> { Ok(()) }
///     fn all_reduce_sum_f64(&mut self, _: &mut [f64]) -> backprop::Result<()> { Ok(()) }
/// }
///
/// let data = Dataset::new(
///     Features::F32(vec![0., 0., 0., 1., 1., 0., 1., 1.]),
///     2,
///     Targets::Values { data: vec![0., 1., 1., 0.], names: vec!["y".into()] },
/// )?;
/// let mut params = Parameters::new();
/// let spec = MlpSpec::from_sizes(&[2, 2, 1], Activation::Tanh, Activation::Identity);
/// let net = Mlp::new(spec, &mut params, Init::XavierUniform, &mut Rng::seed(1))?;
/// let fit = Fit { gradient_reduce: Some(&mut Alone), ..Fit::default() };
/// let history = Trainer::new(Loss::Mse).epochs(3).fit_with(&net, &mut params, &data, fit)?;
/// assert_eq!(history.epochs.len(), 3);
/// # Ok::<(), backprop::Error>(())
/// ```
pub trait GradientReduce {
    /// This process's rank, 0-based.
    fn rank(&self) -> usize;
    /// The number of processes.
    fn size(&self) -> usize;
    /// Replaces `buf` on every process by the element-wise sum of all processes' `buf`s.
    fn all_reduce_sum_f32(&mut self, buf: &mut [f32]) -> Result<()>;
    /// The same for `f64` (metric sums and agreements).
    fn all_reduce_sum_f64(&mut self, buf: &mut [f64]) -> Result<()>;
}

/// This rank's share of one global batch.
pub(crate) struct Shard<'i> {
    /// The rows to run (one stand-in row when the share is empty).
    pub idx: &'i [usize],
    /// w_r: the factor of this rank's loss and gradient in the sum.
    pub weight: f32,
    /// The factor that makes this rank's metric sums add up to the one-process ones (0 for a
    /// stand-in row, which must not count).
    pub metric_scale: Option<f32>,
}

/// The trainer's side of the hook: sharding, the batch reduction, the epoch's agreements.
pub(crate) struct Sync<'a> {
    r: &'a mut dyn GradientReduce,
    buf: Vec<f32>,
}

impl<'i> Shard<'i> {
    /// The whole batch, on one process.
    pub(crate) fn whole(batch: &'i [usize]) -> Shard<'i> {
        Shard {
            idx: batch,
            weight: 1.0,
            metric_scale: Some(1.0),
        }
    }
}

impl<'a> Sync<'a> {
    pub(crate) fn new<'b: 'a>(r: &'a mut (dyn GradientReduce + 'b)) -> Sync<'a> {
        Sync { r, buf: vec![] }
    }

    /// This rank's contiguous share of `batch` under `loss`.
    pub(crate) fn shard<'i>(&self, batch: &'i [usize], loss: Loss) -> Shard<'i> {
        let (m, r, size) = (batch.len(), self.r.rank(), self.r.size().max(1));
        let (lo, hi) = (m * r / size, m * (r + 1) / size);
        if lo == hi {
            return Shard {
                idx: &batch[..1],
                weight: 0.0,
                metric_scale: None,
            };
        }
        let mine = (hi - lo) as f32;
        let weight = if is_sum(loss) { 1.0 } else { mine / m as f32 };
        Shard {
            idx: &batch[lo..hi],
            weight,
            metric_scale: Some(weight * m as f32 / mine),
        }
    }

    /// Replaces this rank's gradients by Σ_r w_r g_r, and returns Σ_r w_r E(B_r), the batch loss.
    pub(crate) fn reduce_batch(
        &mut self,
        params: &Parameters,
        grads: &mut Gradients,
        loss: f32,
        shard: &Shard,
    ) -> Result<f32> {
        let w = shard.weight;
        let scaled = |v: f32| if w == 0.0 { 0.0 } else { v * w };
        self.buf.clear();
        for id in params.ids() {
            match grads.get(id) {
                Some(g) => self.buf.extend(g.data().iter().map(|&v| scaled(v))),
                None => self
                    .buf
                    .extend(std::iter::repeat_n(0.0, params[id].numel())),
            }
        }
        self.buf.push(scaled(loss));
        self.r.all_reduce_sum_f32(&mut self.buf)?;
        let mut at = 0;
        for id in params.ids() {
            let n = params[id].numel();
            if let Some(g) = grads.get_mut(id) {
                g.data_mut().copy_from_slice(&self.buf[at..at + n]);
            }
            at += n;
        }
        Ok(self.buf[at])
    }

    /// The same reduction for a list of gradients, one per parameter (L-BFGS's evaluations).
    pub(crate) fn reduce_list(
        &mut self,
        grads: &mut [crate::tensor::Tensor],
        loss: f32,
        shard: &Shard,
    ) -> Result<f32> {
        let w = shard.weight;
        let scaled = |v: f32| if w == 0.0 { 0.0 } else { v * w };
        self.buf.clear();
        for g in grads.iter() {
            self.buf.extend(g.data().iter().map(|&v| scaled(v)));
        }
        self.buf.push(scaled(loss));
        self.r.all_reduce_sum_f32(&mut self.buf)?;
        let mut at = 0;
        for g in grads.iter_mut() {
            let n = g.numel();
            g.data_mut().copy_from_slice(&self.buf[at..at + n]);
            at += n;
        }
        Ok(self.buf[at])
    }

    /// Whether any rank raised each flag.
    pub(crate) fn any<const N: usize>(&mut self, flags: [bool; N]) -> Result<[bool; N]> {
        let mut v = flags.map(f64::from);
        self.r.all_reduce_sum_f64(&mut v)?;
        Ok(v.map(|x| x > 0.0))
    }

    /// Sums the epoch's metric accumulators over ranks (`k` outputs), and checks that every rank
    /// holds the same parameters.
    pub(crate) fn end_epoch(
        &mut self,
        acc: &mut Accumulator,
        k: usize,
        params: &Parameters,
        epoch: usize,
    ) -> Result<()> {
        let mut v = acc.to_sums(k);
        // Σh and Σh² with h < 2¹⁶ are exact in f64, and R·Σh² = (Σh)² only when all h are equal
        let h = param_hash(params) as f64;
        v.extend([h, h * h]);
        self.r.all_reduce_sum_f64(&mut v)?;
        let (sum_h2, sum_h) = (v.pop().unwrap_or(0.0), v.pop().unwrap_or(0.0));
        if self.r.size() as f64 * sum_h2 != sum_h * sum_h {
            return Err(Error::invalid(
                "distributed training",
                format!("the ranks' parameters differ after epoch {epoch}"),
                "an all-reduce that gives every rank bit-identical sums",
            ));
        }
        *acc = Accumulator::from_sums(&v, k);
        Ok(())
    }
}

/// Whether `loss` sums over the batch rather than averaging (then w_r = 1).
fn is_sum(loss: Loss) -> bool {
    match loss {
        Loss::HalfSse => true,
        Loss::SquaredError
        | Loss::Mse
        | Loss::Mae
        | Loss::BceWithLogits
        | Loss::CrossEntropy
        | Loss::Hinge => false,
    }
}

/// FNV-1a over the parameters' bits, folded to 16 bits.
fn param_hash(params: &Parameters) -> u32 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for t in params.tensors() {
        for v in t.data() {
            h = (h ^ u64::from(v.to_bits())).wrapping_mul(0x0100_0000_01b3);
        }
    }
    ((h >> 48) ^ (h >> 32) ^ (h >> 16) ^ h) as u32 & 0xffff
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{Dataset, Features, Targets};
    use crate::nn::{Activation, Init, Mlp, MlpSpec};
    use crate::optim::OptimizerConfig;
    use crate::rng::Rng;
    use crate::train::{Fit, History, Trainer};
    use std::sync::{Arc, Barrier, Mutex};

    /// R threads standing in for R processes: each deposits its buffer, and every one sums the
    /// deposits in rank order (so all get the same bits).
    struct Threads {
        rank: usize,
        size: usize,
        slots: Arc<Mutex<Vec<Vec<f64>>>>,
        barrier: Arc<Barrier>,
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
    }

    impl GradientReduce for Threads {
        fn rank(&self) -> usize {
            self.rank
        }
        fn size(&self) -> usize {
            self.size
        }
        fn all_reduce_sum_f32(&mut self, buf: &mut [f32]) -> Result<()> {
            let mut v: Vec<f64> = buf.iter().map(|&x| x as f64).collect();
            self.sum(&mut v);
            buf.iter_mut().zip(v).for_each(|(b, v)| *b = v as f32);
            Ok(())
        }
        fn all_reduce_sum_f64(&mut self, buf: &mut [f64]) -> Result<()> {
            self.sum(buf);
            Ok(())
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

    fn train(trainer: &Trainer, reduce: Option<&mut dyn GradientReduce>) -> (Parameters, History) {
        let mut params = Parameters::new();
        let spec = MlpSpec::from_sizes(&[4, 6, 3], Activation::Tanh, Activation::Identity);
        let net = Mlp::new(spec, &mut params, Init::XavierUniform, &mut Rng::seed(2)).unwrap();
        let fit = Fit {
            gradient_reduce: reduce,
            ..Fit::default()
        };
        let h = trainer
            .fit_with(&net, &mut params, &data(trainer.loss), fit)
            .unwrap();
        (params, h)
    }

    fn on_threads(trainer: &Trainer, size: usize) -> Vec<(Parameters, History)> {
        let slots = Arc::new(Mutex::new(vec![vec![]; size]));
        let barrier = Arc::new(Barrier::new(size));
        let handles: Vec<_> = (0..size)
            .map(|rank| {
                let mut r = Threads {
                    rank,
                    size,
                    slots: Arc::clone(&slots),
                    barrier: Arc::clone(&barrier),
                };
                let t = trainer.clone();
                std::thread::spawn(move || train(&t, Some(&mut r)))
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

    #[test]
    fn ranks_match_one_process_with_an_uneven_last_batch() {
        let t = Trainer::new(Loss::CrossEntropy)
            .optimizer(OptimizerConfig::sgd(0.1).with_momentum(0.9))
            .batch_size(8)
            .epochs(5)
            .validation_split(0.2)
            .seed(7);
        let (one, h1) = train(&t, None);
        for size in [2, 3, 5] {
            let runs = on_threads(&t, size);
            for (p, h) in &runs {
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
    fn a_batch_smaller_than_the_ranks_and_a_summed_loss() {
        // 23 samples, batch 2 on 3 ranks: one rank idles on every batch; half_sse sums
        let t = Trainer::new(Loss::HalfSse)
            .optimizer(OptimizerConfig::sgd(0.01))
            .batch_size(2)
            .epochs(2);
        let (one, h1) = train(&t, None);
        let runs = on_threads(&t, 3);
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
        let (one, h1) = train(&t, None);
        let runs = on_threads(&t, 3);
        assert_eq!(runs[0].0, runs[2].0);
        close(&one, &runs[1].0, 1e-4);
        assert!((h1.epochs[0].train.loss - runs[0].1.epochs[0].train.loss).abs() < 1e-6);
    }
}

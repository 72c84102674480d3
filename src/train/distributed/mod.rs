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
//! runs one stand-in row and sends zeros. L-BFGS's evaluations are reduced the same way (one
//! blocking all-reduce each), so its line search takes the same decisions everywhere.
//!
//! **One rendezvous per step, under backward.** The gradients are summed in buckets
//! (`buckets.rs`): each bucket's non-blocking sum ([`GradientReduce::start_sum_f32`]) starts
//! from the backward pass's "this gradient is final" hook as soon as the bucket is full, so
//! the first buckets travel while backward computes the rest; the step's last bucket and its
//! one wait ([`GradientReduce::finish_sums_f32`]) come before clipping and the optimizer step. The batch loss
//! and the stop requests ride in bucket 0. A stop request raised after batch b (the observer's
//! answer, the stop flag) travels with batch b+1's gradients; when any rank raised one, batch
//! b+1's step is not taken, so the run ends with the parameters of batch b — as in one process,
//! at the cost of one forward and backward. After the epoch's last batch the requests travel
//! with the epoch's sums.
//!
//! Bytes from run to run: a sum over 2 ranks is a + b, the same bits whichever rank adds and
//! however the buckets cut the gradient; over more ranks the order of the additions is the
//! MPI library's, which for Open MPI depends only on the rank count and the buffer sizes — fixed
//! for a fixed rank count and bucket size (the buckets' cut depends only on the model).
//!
//! After each epoch the ranks also sum their metric accumulators (the epoch's loss, accuracy,
//! MSE/MAE/R² are those of the whole training set) and compare a hash of the parameters (a
//! reduction that gave ranks different sums is an error, not a silent drift): one blocking
//! collective, and one more for the session's end-of-epoch stop agreement. Validation runs on
//! every rank on identical parameters, so early stopping, plateau schedules and the target loss
//! decide the same everywhere. The progress event's running accuracy is the calling rank's own;
//! its loss is the global one.
//!
//! Models that draw random numbers while training (dropout) are not supported: the ranks would
//! draw differently and their generators would part.

mod buckets;

use crate::autograd::{Gradients, Tape, Var};
use crate::error::{Error, Result};
use crate::loss::Loss;
use crate::params::Parameters;
use crate::train::metrics::Accumulator;
use buckets::{BucketHook, Buckets};

/// Sums buffers element-wise over the processes of a data-parallel run (MPI all-reduces): the
/// hook [`Trainer::fit_with`](super::Trainer::fit_with) calls during and after each backward
/// pass, before clipping and the optimizer step. Every process must get bit-identical sums.
///
/// ```
/// use backprop::data::{Dataset, Features, Targets};
/// use backprop::nn::{Activation, Init, Mlp, MlpSpec};
/// use backprop::train::{Fit, GradientReduce, Trainer};
/// use backprop::{Loss, Parameters, Rng};
///
/// /// One process: rank 0 of 1, the sums are the buffers themselves.
/// #[derive(Default)]
/// struct Alone(Vec<Vec<f32>>);
/// impl GradientReduce for Alone {
///     fn rank(&self) -> usize { 0 }
///     fn size(&self) -> usize { 1 }
///     fn all_reduce_sum_f32(&mut self, _: &mut [f32]) -> backprop::Result<()> { Ok(()) }
///     fn all_reduce_sum_f64(&mut self, _: &mut [f64]) -> backprop::Result<()> { Ok(()) }
///     fn start_sum_f32(&mut self, buf: Vec<f32>) -> backprop::Result<()> {
///         self.0.push(buf);
///         Ok(())
///     }
///     fn wait_sums_f32(&mut self, done: &mut Vec<Vec<f32>>) -> backprop::Result<()> {
///         done.append(&mut self.0);
///         Ok(())
///     }
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
/// let mut alone = Alone::default();
/// let fit = Fit { gradient_reduce: Some(&mut alone), ..Fit::default() };
/// let history = Trainer::new(Loss::Mse).epochs(3).fit_with(&net, &mut params, &data, fit)?;
/// assert_eq!(history.epochs.len(), 3);
/// # Ok::<(), backprop::Error>(())
/// ```
pub trait GradientReduce {
    /// This process's rank, 0-based.
    fn rank(&self) -> usize;
    /// The number of processes.
    fn size(&self) -> usize;
    /// Replaces `buf` on every process by the element-wise sum of all processes' `buf`s
    /// (L-BFGS's evaluations).
    fn all_reduce_sum_f32(&mut self, buf: &mut [f32]) -> Result<()>;
    /// The same for `f64` (the epoch's metric sums and agreements).
    fn all_reduce_sum_f64(&mut self, buf: &mut [f64]) -> Result<()>;
    /// Starts summing `buf` element-wise over the processes without waiting (a non-blocking
    /// all-reduce, `MPI_Iallreduce`): the trainer starts one per gradient bucket during the
    /// backward pass. The buffer is the implementation's until [`GradientReduce::wait_sums_f32`]
    /// hands the sum back. Every process starts buffers of the same lengths in the same order.
    fn start_sum_f32(&mut self, buf: Vec<f32>) -> Result<()>;
    /// Waits for every sum started since the last wait and appends them to `done`, in the
    /// order they were started (each the length of its buffer): the one wait of a step.
    fn wait_sums_f32(&mut self, done: &mut Vec<Vec<f32>>) -> Result<()>;
    /// Sums `last`, the step's last bucket, and waits for every sum started since the last
    /// wait, appending them to `done` in the order they were started, `last` last: the one wait
    /// of a step. Nothing is left for the last bucket to hide under, so an implementation may
    /// sum it with a blocking all-reduce (Open MPI's `MPI_Allreduce` is faster than its
    /// `MPI_Iallreduce`); the default starts it and waits.
    fn finish_sums_f32(&mut self, last: Vec<f32>, done: &mut Vec<Vec<f32>>) -> Result<()> {
        self.start_sum_f32(last)?;
        self.wait_sums_f32(done)
    }
    /// Lets the started sums move on without waiting (`MPI_Testall`: an MPI library without a
    /// progress thread advances a non-blocking collective only inside MPI calls). The trainer
    /// calls it as backward makes each gradient final. The default does nothing.
    fn progress(&mut self) -> Result<()> {
        Ok(())
    }
    /// The size from which a gradient bucket is started: backward's gradients, in the order
    /// they become final, are cut into buckets of at least this many bytes (the last may be
    /// smaller). Smaller buckets start sooner and overlap more of backward; each costs one
    /// collective's latency. The default is 128 KiB.
    fn bucket_bytes(&self) -> usize {
        128 * 1024
    }
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
    buckets: Buckets,
    /// Stop requests raised since the last agreement: [the observer's, the stop flag's].
    pending: [bool; 2],
}

/// A batch's reduction: the batch loss, any rank's stop requests, the summed gradients.
pub(crate) struct Reduced<'t> {
    /// Σ_r w_r E(B_r), the one-process batch loss.
    pub loss: f32,
    /// Whether any rank asked to stop after the previous batch: [observer, stop flag].
    pub stop: [bool; 2],
    /// Σ_r w_r g_r, on the tape.
    pub grads: Gradients<'t>,
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

    /// `v · w_r`, and 0 for an idle rank whatever its stand-in row gave (even NaN).
    fn scaled(&self, v: f32) -> f32 {
        if self.weight == 0.0 {
            0.0
        } else {
            v * self.weight
        }
    }
}

impl<'a> Sync<'a> {
    pub(crate) fn new<'b: 'a>(r: &'a mut (dyn GradientReduce + 'b)) -> Sync<'a> {
        Sync {
            r,
            buf: vec![],
            buckets: Buckets::default(),
            pending: [false; 2],
        }
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

    /// Keeps stop requests ([observer, stop flag]) for the next reduction.
    pub(crate) fn defer(&mut self, stop: [bool; 2]) {
        self.pending[0] |= stop[0];
        self.pending[1] |= stop[1];
    }

    /// Backward from `loss` (this rank's batch loss `lv`) with the gradients summed over the
    /// ranks in buckets as backward finishes them, the loss and the pending stop requests
    /// riding along: the step's one rendezvous. The graph last recorded on `tape` must be
    /// dropped, as for [`Tape::backward_with`].
    pub(crate) fn backward_reduced<'t>(
        &mut self,
        tape: &'t mut Tape,
        loss: Var,
        params: &mut Parameters,
        lv: f32,
        shard: &Shard,
    ) -> Result<Reduced<'t>> {
        let flag = |b: bool| f32::from(u8::from(b));
        let [stop, flagged] = std::mem::take(&mut self.pending);
        self.buckets
            .begin([shard.scaled(lv), flag(stop), flag(flagged)]);
        let mut hook = BucketHook {
            r: &mut *self.r,
            buckets: &mut self.buckets,
            weight: shard.weight,
            error: None,
        };
        tape.backward_with(loss, params, &mut hook)?;
        if let Some(e) = hook.error {
            return Err(e);
        }
        let [loss, stop, flagged] = self.buckets.finish(&mut *self.r)?;
        let mut grads = tape.gradients();
        self.buckets.write_back(&mut grads);
        Ok(Reduced {
            loss,
            stop: [stop > 0.0, flagged > 0.0],
            grads,
        })
    }

    /// The same reduction for a list of gradients, one per parameter (L-BFGS's evaluations).
    pub(crate) fn reduce_list(
        &mut self,
        grads: &mut [crate::tensor::Tensor],
        loss: f32,
        shard: &Shard,
    ) -> Result<f32> {
        self.buf.clear();
        for g in grads.iter() {
            self.buf.extend(g.data().iter().map(|&v| shard.scaled(v)));
        }
        self.buf.push(shard.scaled(loss));
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

    /// Sums the epoch's metric accumulators over ranks (`k` outputs), checks that every rank
    /// holds the same parameters, and agrees on the stop requests of the epoch's last batch
    /// (returned as [observer, stop flag]).
    pub(crate) fn end_epoch(
        &mut self,
        acc: &mut Accumulator,
        k: usize,
        params: &Parameters,
        epoch: usize,
    ) -> Result<[bool; 2]> {
        let mut v = acc.to_sums(k);
        // Σh and Σh² with h < 2¹⁶ are exact in f64, and R·Σh² = (Σh)² only when all h are equal
        let h = param_hash(params) as f64;
        let [stop, flagged] = std::mem::take(&mut self.pending).map(f64::from);
        v.extend([stop, flagged, h, h * h]);
        self.r.all_reduce_sum_f64(&mut v)?;
        let (sum_h2, sum_h) = (v.pop().unwrap_or(0.0), v.pop().unwrap_or(0.0));
        let (flagged, stop) = (v.pop().unwrap_or(0.0), v.pop().unwrap_or(0.0));
        if self.r.size() as f64 * sum_h2 != sum_h * sum_h {
            return Err(Error::invalid(
                "distributed training",
                format!("the ranks' parameters differ after epoch {epoch}"),
                "an all-reduce that gives every rank bit-identical sums",
            ));
        }
        *acc = Accumulator::from_sums(&v, k);
        Ok([stop > 0.0, flagged > 0.0])
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
mod tests;

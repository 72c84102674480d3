//! Gradient buckets: backward's gradients, in the order it makes them final, cut into buckets
//! whose sums over the ranks are started (non-blocking) as soon as each is full, and waited
//! for once, before the optimizer step.
//!
//! A bucket is started as soon as it holds at least [`GradientReduce::bucket_bytes`]; what is
//! left when backward ends is the last bucket, summed with the wait
//! ([`GradientReduce::finish_sums_f32`]). Bucket 0 begins with [`EXTRA`] values that ride
//! in the same reduction: the rank's weighted batch loss and its two stop requests (the
//! observer's, the stop flag), so a step has one rendezvous — the wait — and no second
//! collective. The cut depends only on the order and sizes of the gradients, which are the
//! same on every rank (every rank records the same graph; an idle rank runs one stand-in
//! row), so every rank starts the same buffers in the same order, as MPI requires.
//!
//! For 784-256-128-10 (backward reaches b₂, W₂, b₁, W₁, then b₀ and W₀ together) and the
//! default 128 KiB: bucket 0 = loss, flags, b₂, W₂, b₁, W₁ (137 KB), started before the
//! product dW₀ = Xᵀδ₁ — the largest of backward — begins; bucket 1 = b₀, W₀ (804 KB).

use super::GradientReduce;
use crate::autograd::{GradHook, Gradients};
use crate::error::{Error, Result};
use crate::params::ParamId;
use crate::tensor::Tensor;

/// The values ahead of the gradients in bucket 0: the weighted loss, the observer's stop, the
/// stop flag.
pub(super) const EXTRA: usize = 3;

/// One step's buckets and the buffers kept from step to step.
#[derive(Default)]
pub(super) struct Buckets {
    /// The bucket being filled.
    open: Vec<f32>,
    /// Buckets started this step.
    started: usize,
    /// Their lengths.
    lens: Vec<usize>,
    /// Each gradient received this step: (parameter, bucket, offset in the bucket).
    arrivals: Vec<(ParamId, usize, usize)>,
    /// The sums, bucket by bucket, after [`Buckets::finish`].
    summed: Vec<Vec<f32>>,
    /// Buffers of the last step, by bucket, reused.
    spare: Vec<Vec<f32>>,
}

impl Buckets {
    /// Starts a step: bucket 0 opens with `extra`.
    pub(super) fn begin(&mut self, extra: [f32; EXTRA]) {
        self.started = 0;
        self.lens.clear();
        self.arrivals.clear();
        self.open = self.take_spare(0);
        self.open.extend(extra);
    }

    fn take_spare(&mut self, k: usize) -> Vec<f32> {
        let mut v = self
            .spare
            .get_mut(k)
            .map(std::mem::take)
            .unwrap_or_default();
        v.clear();
        v
    }

    /// Adds parameter `id`'s gradient `g` times `w` (zeros for an idle rank's `w` = 0, whatever
    /// its stand-in row gave), and starts the bucket if it is full.
    fn add(&mut self, r: &mut dyn GradientReduce, id: ParamId, g: &[f32], w: f32) -> Result<()> {
        self.arrivals.push((id, self.started, self.open.len()));
        if w == 0.0 {
            self.open.extend(std::iter::repeat_n(0.0, g.len()));
        } else {
            self.open.extend(g.iter().map(|&v| v * w));
        }
        if self.open.len() * size_of::<f32>() >= r.bucket_bytes() {
            self.start_open(r)
        } else if self.started > 0 {
            r.progress()
        } else {
            Ok(())
        }
    }

    /// Closes the open bucket: the next one opens (in the buffer kept for it).
    fn close_open(&mut self) -> Vec<f32> {
        let next = self.take_spare(self.started + 1);
        self.lens.push(self.open.len());
        self.started += 1;
        std::mem::replace(&mut self.open, next)
    }

    fn start_open(&mut self, r: &mut dyn GradientReduce) -> Result<()> {
        let bucket = self.close_open();
        r.start_sum_f32(bucket)
    }

    /// After backward: sums what is left as the last bucket, waits for every bucket (the
    /// step's one wait) and returns bucket 0's extra values, summed over the ranks.
    pub(super) fn finish(&mut self, r: &mut dyn GradientReduce) -> Result<[f32; EXTRA]> {
        self.summed.clear();
        if !self.open.is_empty() || self.started == 0 {
            let last = self.close_open();
            r.finish_sums_f32(last, &mut self.summed)?;
        } else {
            r.wait_sums_f32(&mut self.summed)?;
        }
        let lens = self.summed.iter().map(Vec::len);
        if !lens.eq(self.lens.iter().copied()) {
            return Err(Error::invalid(
                "distributed training",
                format!(
                    "{} sums back for {} buckets",
                    self.summed.len(),
                    self.started
                ),
                "one sum of each started bucket, of its length",
            ));
        }
        let s = &self.summed[0];
        Ok([s[0], s[1], s[2]])
    }

    /// Replaces each gradient of `grads` received this step by its sum over the ranks.
    pub(super) fn write_back(&mut self, grads: &mut Gradients) {
        for &(id, k, at) in &self.arrivals {
            if let Some(g) = grads.get_mut(id) {
                let n = g.numel();
                g.data_mut().copy_from_slice(&self.summed[k][at..at + n]);
            }
        }
        std::mem::swap(&mut self.spare, &mut self.summed);
    }
}

/// The [`GradHook`] of a distributed backward pass: each final gradient goes into its bucket.
/// A hook cannot return an error, so the first one is kept for after the pass.
pub(super) struct BucketHook<'s> {
    pub r: &'s mut dyn GradientReduce,
    pub buckets: &'s mut Buckets,
    /// w_r, the factor of this rank's gradient in the sum.
    pub weight: f32,
    pub error: Option<Error>,
}

impl GradHook for BucketHook<'_> {
    fn grad_final(&mut self, id: ParamId, _param: &mut Tensor, grad: &Tensor) {
        if self.error.is_none() {
            let added = self.buckets.add(self.r, id, grad.data(), self.weight);
            self.error = added.err();
        }
    }
}

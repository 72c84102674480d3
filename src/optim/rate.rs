//! What has a learning rate, and what sets it once per epoch.

/// Something with a learning rate that a schedule sets: every [`Optimizer`](super::Optimizer),
/// and [`Lbfgs`](super::Lbfgs) (whose rate is its line search's first trial step).
pub trait LearningRate {
    /// The current learning rate.
    fn lr(&self) -> f32;
    /// Sets the learning rate (used by schedules).
    fn set_lr(&mut self, lr: f32);
}

/// A learning-rate schedule (see [`schedule`](super::schedule)).
pub trait LrScheduler {
    /// Ends an epoch: updates `opt`'s learning rate for the next one. `metric` (e.g. validation
    /// loss) is used by [`ReduceLrOnPlateau`](super::ReduceLrOnPlateau) and ignored by the
    /// others.
    fn step(&mut self, opt: &mut dyn LearningRate, metric: Option<f32>);
}

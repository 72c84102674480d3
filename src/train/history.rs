//! What a run leaves: the per-epoch [`EpochReport`]s, why it stopped ([`StopReason`]), the
//! [`History`], and the [`TrainState`] a checkpoint saves to continue it exactly.

use super::Metrics;
use crate::optim::LrSchedule;
use crate::params::Parameters;
use crate::rng::Rng;
use crate::tensor::Tensor;
use crate::Error;
use serde::{Deserialize, Serialize};

/// What happened in one epoch.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochReport {
    /// 1-based epoch number.
    pub epoch: usize,
    /// Metrics accumulated over the epoch's batches (as Keras reports them).
    pub train: Metrics,
    /// Metrics on the validation set after the epoch.
    pub val: Option<Metrics>,
    /// The learning rate used.
    pub lr: f32,
    /// Wall time of the epoch in seconds.
    pub seconds: f64,
}

/// Why training stopped.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// All epochs ran.
    Completed,
    /// Early stopping ran out of patience.
    EarlyStopping,
    /// The target loss was reached.
    TargetLoss,
    /// The callback asked to stop.
    Callback,
    /// The stop flag was set (e.g. by Ctrl-C) during epoch `epoch`; that epoch was cut short.
    Interrupted {
        /// The epoch that was cut short (1-based).
        epoch: usize,
    },
    /// The loss became NaN or infinite; the last good weights were kept.
    NonFiniteLoss {
        /// The value.
        value: f32,
        /// The epoch (1-based).
        epoch: usize,
        /// The batch (1-based).
        batch: usize,
    },
    /// The loss grew past 10⁶ × its first value (or past 10³⁰); the last good weights were kept.
    Diverged {
        /// The value.
        value: f32,
        /// The first batch's loss.
        first: f32,
        /// The epoch (1-based).
        epoch: usize,
        /// The batch (1-based).
        batch: usize,
    },
}

/// The per-epoch record of a run.
#[derive(Clone, Debug, PartialEq)]
pub struct History {
    /// One report per complete epoch (including any before a resume).
    pub epochs: Vec<EpochReport>,
    /// Why the run ended.
    pub stop: StopReason,
    /// The best epoch by the monitored loss (1-based).
    pub best_epoch: Option<usize>,
    /// Whether the parameters were set back to the best epoch's at the end.
    pub restored_best: bool,
}

impl History {
    /// `Err` when the run ended on a NaN or diverging loss (the weights were still restored).
    pub fn check(self) -> crate::Result<History> {
        match self.stop {
            StopReason::NonFiniteLoss {
                value,
                epoch,
                batch,
            }
            | StopReason::Diverged {
                value,
                epoch,
                batch,
                ..
            } => Err(Error::NonFiniteLoss {
                value,
                epoch,
                batch,
            }),
            _ => Ok(self),
        }
    }

    /// The report of the best epoch (what restore-best kept), else the last one.
    pub fn best(&self) -> Option<&EpochReport> {
        self.best_epoch
            .filter(|_| self.restored_best)
            .and_then(|b| self.epochs.iter().find(|e| e.epoch == b))
            .or(self.epochs.last())
    }
}

/// Everything needed to continue a run exactly: saved in checkpoints.
#[derive(Clone, Debug)]
pub struct TrainState {
    /// Epochs completed.
    pub epoch: usize,
    /// The run's generator, positioned at the start of the next epoch.
    pub rng: Rng,
    /// Reports so far.
    pub history: Vec<EpochReport>,
    /// Best monitored loss and its epoch.
    pub best: Option<(f32, usize)>,
    /// Parameters of the best epoch (kept when early stopping restores the best).
    pub best_params: Option<Parameters>,
    /// Epochs since the last improvement.
    pub bad_epochs: usize,
    /// The optimizer's state tensors after the last complete epoch.
    pub optimizer_state: Vec<(String, Tensor)>,
    /// The learning rate for the next epoch (`None` before the first).
    pub lr: Option<f32>,
    /// The schedule with its running state (`None` before the first epoch or without one).
    pub schedule: Option<LrSchedule>,
    /// The first batch's loss (the reference for divergence).
    pub first_loss: Option<f32>,
}

impl TrainState {
    /// The state of a run that has not started.
    pub fn new(seed: u64) -> TrainState {
        TrainState {
            epoch: 0,
            rng: Rng::seed(seed),
            history: vec![],
            best: None,
            best_params: None,
            bad_epochs: 0,
            optimizer_state: vec![],
            lr: None,
            schedule: None,
            first_loss: None,
        }
    }
}

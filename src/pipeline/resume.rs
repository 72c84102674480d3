//! The two ways to continue training: [`Pipeline::prepare_resume`] (a checkpointed run on the
//! same data, its splits and scaling restored) and [`Pipeline::prepare_warm`] (more training of
//! a trained model on new data: scikit-learn's `warm_start` and `partial_fit`).

use super::infer::task_of;
use super::prepared::Prepared;
use super::Pipeline;
use crate::data::{split, Dataset, SplitSizes};
use crate::error::{Error, Result};
use crate::io::{Checkpoint, DataInfo, Model};
use crate::rng::Rng;
use crate::train::TrainState;

impl Pipeline {
    /// Prepares the continuation of a checkpointed run on the same data, until `trainer.epochs`
    /// of the checkpoint (or `epochs`, to extend it). The data must be the one the run started
    /// on (checked by its fingerprint); splits and scaling are the checkpoint's.
    pub fn prepare_resume(
        &self,
        ckpt: Checkpoint,
        data: &Dataset,
        test: Option<&Dataset>,
        epochs: Option<usize>,
    ) -> Result<Prepared> {
        let info = ckpt.data.clone().ok_or_else(|| {
            Error::invalid(
                "checkpoint",
                "no data fingerprint",
                "a checkpoint written by this version",
            )
        })?;
        let fp = data.fingerprint();
        if info.fingerprint != fp || info.rows != data.len() {
            return Err(Error::invalid(
                "data for --resume",
                format!("{} rows with fingerprint {fp}", data.len()),
                "the data the checkpoint was trained on (same rows, same values, same order)",
            ));
        }
        let meta = &ckpt.model.meta;
        let mut rng = Rng::seed(meta.seed);
        let sizes = SplitSizes::Fractions {
            val: info.val_split,
            test: info.test_split,
        };
        let (mut train, mut val, mut held) = split(data, sizes, &mut rng)?;
        if let Some(t) = test {
            held = t.clone();
        }
        for d in [&mut train, &mut val, &mut held] {
            if meta
                .scaler
                .n_features()
                .is_some_and(|n| n != d.n_features())
            {
                return Err(Error::invalid(
                    "data for --resume",
                    d.n_features(),
                    "the checkpoint's feature count",
                ));
            }
            meta.scaler.transform(d);
        }
        if let Some(ts) = &info.target_scale {
            for d in [&mut train, &mut val] {
                d.map_target_values(|j, t| (t - ts.mean[j]) / ts.std[j]);
            }
        }
        let mut trainer = ckpt.trainer.clone();
        if let Some(e) = epochs {
            trainer.epochs = e;
        }
        let parts = [train, val, held];
        Ok(self.prepared(ckpt.model, trainer, parts, Some(ckpt.state), info, None))
    }

    /// Prepares more training of a trained `model` on `data` (scikit-learn's `warm_start` and
    /// `partial_fit`): its network, weights, loss and feature scaling are kept, the data is split
    /// as [`Pipeline::prepare`] splits it (seeded by `trainer.seed`; no test part, no small-data
    /// rule) and scaled by the model's scaler, and the run continues from `state` (the
    /// [`Outcome::state`](super::Outcome::state) of the run before: optimizer moments, epoch count, history) or starts
    /// a fresh optimizer. The targets are not standardised: the model already predicts in their
    /// units, so the loss is in those units. The data must have the model's features and task
    /// (the same class names, in order).
    pub fn prepare_warm(
        &self,
        model: Model,
        state: Option<TrainState>,
        data: &Dataset,
    ) -> Result<Prepared> {
        if model.meta.architecture.in_features != data.n_features() {
            return Err(Error::invalid(
                "data",
                format!(
                    "{} features (the model has {})",
                    data.n_features(),
                    model.meta.architecture.in_features
                ),
                "the model's features",
            ));
        }
        if task_of(data) != model.meta.task {
            return Err(Error::invalid(
                "data",
                format!("{:?} (the model's: {:?})", task_of(data), model.meta.task),
                "the model's task (the same classes, in order)",
            ));
        }
        let mut rng = Rng::seed(self.trainer.seed);
        let sizes = SplitSizes::Fractions {
            val: self.val_split,
            test: 0.0,
        };
        let (mut train, mut val, held) = split(data, sizes, &mut rng)?;
        for d in [&mut train, &mut val] {
            model.meta.scaler.transform(d);
        }
        let trainer = self.trainer_for(model.meta.loss, None, &train, &val)?;
        let info = DataInfo {
            fingerprint: data.fingerprint(),
            rows: data.len(),
            val_split: self.val_split,
            test_split: 0.0,
            target_scale: None,
        };
        Ok(self.prepared(model, trainer, [train, val, held], state, info, None))
    }
}

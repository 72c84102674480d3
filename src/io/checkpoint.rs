//! Checkpoints: a model plus everything needed to continue its training exactly — the trainer
//! (optimizer, schedule, batch size, stopping rules), the optimizer's state and learning rate,
//! the schedule's state, epoch, the run's random generator position, history, the
//! early-stopping bookkeeping, and what the data was (a fingerprint and the split fractions).
//! Resuming from a checkpoint written at the end of epoch k gives the same bytes as a run that
//! was never interrupted.

use crate::error::{Error, Result};
use crate::io::{
    atomic_write, from_safetensors, read_file, read_params, read_tensor, to_safetensors, Model,
    ModelMeta,
};
use crate::nn::Mlp;
use crate::optim::LrSchedule;
use crate::params::Parameters;
use crate::rng::{Rng, RngState};
use crate::tensor::Tensor;
use crate::train::{EpochReport, TrainState, Trainer};
use serde::{Deserialize, Serialize};
use std::path::Path;

const FORMAT: &str = "backprop-checkpoint";
const VERSION: u32 = 2;
const KEY: &str = "backprop-checkpoint";

/// What a run was trained on, so a resume can check it is given the same data.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DataInfo {
    /// A hash of every feature and target value, in order (see [`crate::data::Dataset::fingerprint`]).
    pub fingerprint: String,
    /// Rows before splitting.
    pub rows: usize,
    /// The fraction held out for validation.
    pub val_split: f32,
    /// The fraction held out for the test report.
    pub test_split: f32,
    /// Regression targets standardised for training as `(t − mean) / std` per target; undone
    /// in the saved model by folding it into the output layer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_scale: Option<TargetScale>,
}

/// Per-target mean and standard deviation of the training part's regression targets.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TargetScale {
    /// Means, one per target.
    pub mean: Vec<f32>,
    /// Standard deviations (1 where a target is constant), one per target.
    pub std: Vec<f32>,
}

/// A resumable training run.
#[derive(Clone, Debug)]
pub struct Checkpoint {
    /// The model as of the checkpoint.
    pub model: Model,
    /// How the run trains.
    pub trainer: Trainer,
    /// Epoch, generator, history, early stopping, optimizer and schedule state.
    pub state: TrainState,
    /// The data the run was started on, if known.
    pub data: Option<DataInfo>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Meta {
    format: String,
    version: u32,
    model: ModelMeta,
    trainer: Trainer,
    #[serde(default)]
    data: Option<DataInfo>,
    optimizer_state: Vec<(String, Vec<usize>)>,
    lr: Option<f32>,
    schedule: Option<LrSchedule>,
    first_loss: Option<f32>,
    epoch: usize,
    rng_seed: String,
    rng_stream: u64,
    rng_word_pos: String,
    history: Vec<EpochReport>,
    best: Option<(f32, usize)>,
    has_best_params: bool,
    bad_epochs: usize,
}

impl Checkpoint {
    /// The checkpoint as file bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let rng = self.state.rng.state();
        let st = &self.state;
        let meta = Meta {
            format: FORMAT.into(),
            version: VERSION,
            model: self.model.meta.clone(),
            trainer: self.trainer.clone(),
            data: self.data.clone(),
            optimizer_state: st
                .optimizer_state
                .iter()
                .map(|(n, t)| (n.clone(), t.dims().to_vec()))
                .collect(),
            lr: st.lr,
            schedule: st.schedule.clone(),
            first_loss: st.first_loss,
            epoch: st.epoch,
            rng_seed: rng.seed.iter().map(|b| format!("{b:02x}")).collect(),
            rng_stream: rng.stream,
            rng_word_pos: rng.word_pos.to_string(),
            history: st.history.clone(),
            best: st.best,
            has_best_params: st.best_params.is_some(),
            bad_epochs: st.bad_epochs,
        };
        let mut tensors: Vec<(String, &Tensor)> = self
            .model
            .params
            .named()
            .map(|(n, t)| (format!("model/{n}"), t))
            .collect();
        tensors.extend(
            st.optimizer_state
                .iter()
                .map(|(n, t)| (format!("optimizer/{n}"), t)),
        );
        if let Some(best) = &st.best_params {
            tensors.extend(best.named().map(|(n, t)| (format!("best/{n}"), t)));
        }
        to_safetensors(
            &tensors,
            KEY,
            serde_json::to_string(&meta).expect("internal error: checkpoint metadata"),
        )
    }

    /// Saves atomically to `path`.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        atomic_write(path.as_ref(), &self.to_bytes())
    }

    /// Loads and validates a checkpoint.
    pub fn load(path: impl AsRef<Path>) -> Result<Checkpoint> {
        let path = path.as_ref();
        Checkpoint::from_bytes(&read_file(path)?, path)
    }

    /// Parses checkpoint bytes; `path` names the source in errors. Every field is checked
    /// against the architecture before use (optimizer state names and shapes included).
    pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<Checkpoint> {
        let bad = |msg: String| Error::ModelFile {
            path: path.to_path_buf(),
            msg,
        };
        let loaded = from_safetensors(bytes, KEY, path)?;
        let v: serde_json::Value = serde_json::from_str(&loaded.json)
            .map_err(|e| bad(format!("checkpoint metadata is not JSON: {e}")))?;
        let version = v.get("version").and_then(|x| x.as_u64());
        if v.get("format").and_then(|f| f.as_str()) != Some(FORMAT)
            || version != Some(VERSION as u64)
        {
            return Err(bad(format!(
                "{} version {}, but this build reads {FORMAT} version {VERSION} (a checkpoint of an older build cannot be resumed; its model can: use the model file)",
                v.get("format").and_then(|f| f.as_str()).unwrap_or("?"),
                version.map_or("?".into(), |n| n.to_string())
            )));
        }
        let meta: Meta = serde_json::from_value(v)
            .map_err(|e| bad(format!("invalid checkpoint metadata: {e}")))?;
        meta.model.validate().map_err(|e| bad(e.to_string()))?;
        meta.trainer
            .validate()
            .map_err(|e| bad(format!("invalid trainer settings: {e}")))?;
        let mut params = Parameters::new();
        for (name, shape) in meta.model.architecture.param_shapes() {
            params.add(
                name.clone(),
                read_tensor(&loaded.st, &format!("model/{name}"), &shape, path)?,
            );
        }
        let net = Mlp::from_params(meta.model.architecture.clone(), &params)
            .map_err(|e| bad(e.to_string()))?;
        let mut seen = std::collections::HashSet::new();
        if let Some((dup, _)) = meta.optimizer_state.iter().find(|(n, _)| !seen.insert(n)) {
            return Err(bad(format!(
                "optimizer state {dup:?} is listed twice; expected each state tensor once"
            )));
        }
        let mut optimizer_state = vec![];
        for (name, shape) in &meta.optimizer_state {
            optimizer_state.push((
                name.clone(),
                read_tensor(&loaded.st, &format!("optimizer/{name}"), shape, path)?,
            ));
        }
        crate::optim::check_state(&params, &optimizer_state)
            .map_err(|e| bad(format!("optimizer state does not fit the model: {e}")))?;
        let best_params = if meta.has_best_params {
            Some(read_params(&loaded.st, "best/", &params, path)?)
        } else {
            None
        };
        let seed = parse_seed(&meta.rng_seed).ok_or_else(|| {
            bad(format!(
                "generator seed {:?}: expected 64 hex digits",
                meta.rng_seed.chars().take(80).collect::<String>()
            ))
        })?;
        let word_pos = meta
            .rng_word_pos
            .parse()
            .map_err(|_| bad("generator position is not a number".into()))?;
        let rng = Rng::from_state(&RngState {
            seed,
            stream: meta.rng_stream,
            word_pos,
        });
        let state = TrainState {
            epoch: meta.epoch,
            rng,
            history: meta.history,
            best: meta.best,
            best_params,
            bad_epochs: meta.bad_epochs,
            optimizer_state,
            lr: meta.lr,
            schedule: meta.schedule,
            first_loss: meta.first_loss,
        };
        Ok(Checkpoint {
            model: Model {
                meta: meta.model,
                net,
                params,
            },
            trainer: meta.trainer,
            state,
            data: meta.data,
        })
    }
}

/// 64 hex digits as 32 bytes (`None` for anything else, non-ASCII included).
fn parse_seed(hex: &str) -> Option<[u8; 32]> {
    let b = hex.as_bytes();
    if b.len() != 64 || !b.iter().all(u8::is_ascii_hexdigit) {
        return None;
    }
    let mut seed = [0u8; 32];
    for (i, s) in seed.iter_mut().enumerate() {
        *s = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(seed)
}

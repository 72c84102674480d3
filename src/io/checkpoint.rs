//! Checkpoints: a model plus everything needed to continue its training exactly — optimizer
//! hyper-parameters and state, learning rate, training configuration, epoch, the run's random
//! generator position, history, and the early-stopping bookkeeping. Resuming from a checkpoint
//! written at the end of epoch k gives the same bytes as a run that was never interrupted.

use crate::error::{Error, Result};
use crate::io::{
    atomic_write, from_safetensors, read_file, read_params, read_tensor, to_safetensors, Model,
    ModelMeta,
};
use crate::nn::Mlp;
use crate::optim::OptimizerConfig;
use crate::params::Parameters;
use crate::rng::{Rng, RngState};
use crate::tensor::Tensor;
use crate::train::{EpochReport, TrainConfig, TrainState};
use serde::{Deserialize, Serialize};
use std::path::Path;

const FORMAT: &str = "backprop-checkpoint";
const VERSION: u32 = 1;
const KEY: &str = "backprop-checkpoint";

/// A resumable training run.
#[derive(Clone, Debug)]
pub struct Checkpoint {
    /// The model as of the checkpoint.
    pub model: Model,
    /// The optimizer's hyper-parameters.
    pub optimizer: OptimizerConfig,
    /// The optimizer's state tensors.
    pub optimizer_state: Vec<(String, Tensor)>,
    /// The learning rate in effect (schedules may have changed it).
    pub lr: f32,
    /// The training configuration.
    pub config: TrainConfig,
    /// Epoch, generator, history and early-stopping state.
    pub state: TrainState,
}

#[derive(Serialize, Deserialize)]
struct Meta {
    format: String,
    version: u32,
    model: ModelMeta,
    optimizer: OptimizerConfig,
    optimizer_state: Vec<(String, Vec<usize>)>,
    lr: f32,
    config: TrainConfig,
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
        let meta = Meta {
            format: FORMAT.into(),
            version: VERSION,
            model: self.model.meta.clone(),
            optimizer: self.optimizer.clone(),
            optimizer_state: self
                .optimizer_state
                .iter()
                .map(|(n, t)| (n.clone(), t.dims().to_vec()))
                .collect(),
            lr: self.lr,
            config: self.config.clone(),
            epoch: self.state.epoch,
            rng_seed: rng.seed.iter().map(|b| format!("{b:02x}")).collect(),
            rng_stream: rng.stream,
            rng_word_pos: rng.word_pos.to_string(),
            history: self.state.history.clone(),
            best: self.state.best,
            has_best_params: self.state.best_params.is_some(),
            bad_epochs: self.state.bad_epochs,
        };
        let mut tensors: Vec<(String, &Tensor)> = self
            .model
            .params
            .named()
            .map(|(n, t)| (format!("model/{n}"), t))
            .collect();
        tensors.extend(
            self.optimizer_state
                .iter()
                .map(|(n, t)| (format!("optimizer/{n}"), t)),
        );
        if let Some(best) = &self.state.best_params {
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
        let bytes = read_file(path)?;
        let bad = |msg: String| Error::ModelFile {
            path: path.to_path_buf(),
            msg,
        };
        let loaded = from_safetensors(&bytes, KEY, path)?;
        let meta: Meta = serde_json::from_str(&loaded.json)
            .map_err(|e| bad(format!("invalid checkpoint metadata: {e}")))?;
        if meta.format != FORMAT || meta.version != VERSION {
            return Err(bad(format!(
                "{} version {}, but this build reads {FORMAT} version {VERSION}",
                meta.format, meta.version
            )));
        }
        meta.model
            .architecture
            .validate()
            .map_err(|e| bad(format!("invalid architecture: {e}")))?;
        let mut params = Parameters::new();
        for (name, shape) in meta.model.architecture.param_shapes() {
            params.add(
                name.clone(),
                read_tensor(&loaded.st, &format!("model/{name}"), &shape, path)?,
            );
        }
        let net = Mlp::from_params(meta.model.architecture.clone(), &params)
            .map_err(|e| bad(e.to_string()))?;
        let mut optimizer_state = vec![];
        for (name, shape) in &meta.optimizer_state {
            optimizer_state.push((
                name.clone(),
                read_tensor(&loaded.st, &format!("optimizer/{name}"), shape, path)?,
            ));
        }
        let best_params = if meta.has_best_params {
            Some(read_params(&loaded.st, "best/", &params, path)?)
        } else {
            None
        };
        let seed_hex = &meta.rng_seed;
        let mut seed = [0u8; 32];
        if seed_hex.len() != 64 {
            return Err(bad(format!(
                "generator seed has {} hex digits, expected 64",
                seed_hex.len()
            )));
        }
        for (i, b) in seed.iter_mut().enumerate() {
            *b = u8::from_str_radix(&seed_hex[2 * i..2 * i + 2], 16)
                .map_err(|_| bad("generator seed is not hex".into()))?;
        }
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
        };
        Ok(Checkpoint {
            model: Model {
                meta: meta.model,
                net,
                params,
            },
            optimizer: meta.optimizer,
            optimizer_state,
            lr: meta.lr,
            config: meta.config,
            state,
        })
    }
}

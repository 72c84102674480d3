//! A trained model: architecture, weights, loss, class or target names and preprocessing, saved
//! as one safetensors file (see the module docs of [`crate::io`]).

use crate::autograd::Tape;
use crate::data::{ColumnPlan, Scaler};
use crate::error::{Error, Result};
use crate::io::{atomic_write, from_safetensors, read_file, read_tensor, to_safetensors};
use crate::loss::Loss;
use crate::nn::{Activation, Init, Mlp, MlpSpec};
use crate::params::Parameters;
use crate::tensor::Tensor;
use crate::train::Readout;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Rows per forward pass in [`Model::forward`] and [`Model::predict`].
pub const PREDICT_CHUNK: usize = 4096;

/// The model-file format version this build writes. Version 2 made `architecture` the full
/// network description (bias kinds, ties, trainable flags, step units); version-1 files are
/// read too (their `"bias": true/false` means per-unit/none).
pub const FORMAT_VERSION: u32 = 2;
const FORMAT: &str = "backprop-model";
const KEY: &str = "backprop";

/// What a model predicts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskInfo {
    /// Classes, by index.
    Classification {
        /// Class names.
        classes: Vec<String>,
    },
    /// Regression targets.
    Regression {
        /// Target names.
        targets: Vec<String>,
    },
}

/// Everything in a model file except the weights (the JSON metadata).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelMeta {
    /// Always `backprop-model`.
    pub format: String,
    /// [`FORMAT_VERSION`] of the writer.
    pub version: u32,
    /// The network description: layers, widths, activations, skip connections, biases, ties.
    pub architecture: MlpSpec,
    /// The loss the model was trained with (decides how outputs read as predictions).
    pub loss: Loss,
    /// Classes or regression targets.
    pub task: TaskInfo,
    /// The input columns, in order.
    pub feature_names: Vec<String>,
    /// The target columns of the training file, by header name (empty if it had no header):
    /// `predict` and `evaluate` use them when no `--target` is given.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub target_columns: Vec<String>,
    /// How the training file's raw columns became the features (dropped columns, one-hot
    /// categories, fill values): `predict` and `evaluate` read new files by it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub columns: Option<ColumnPlan>,
    /// The feature scaling fitted on the training data, applied before the network.
    pub scaler: Scaler,
    /// The initialiser the weights started from.
    pub init: Init,
    /// The seed of the run.
    pub seed: u64,
    /// The random generator's algorithm.
    pub rng: String,
}

/// A network with its weights and metadata.
#[derive(Clone, Debug, PartialEq)]
pub struct Model {
    /// Metadata.
    pub meta: ModelMeta,
    /// The network's layer handles.
    pub net: Mlp,
    /// The weights.
    pub params: Parameters,
}

/// Predictions for a batch.
#[derive(Clone, Debug, PartialEq)]
pub struct Prediction {
    /// Class probabilities `(n, classes)` for classifiers, values `(n, targets)` for regression.
    pub outputs: Tensor,
    /// The predicted class of each row (classifiers only).
    pub classes: Option<Vec<usize>>,
}

impl Model {
    /// Fresh metadata for a network about to be trained.
    #[allow(clippy::too_many_arguments)]
    pub fn meta(
        architecture: MlpSpec,
        loss: Loss,
        task: TaskInfo,
        feature_names: Vec<String>,
        scaler: Scaler,
        init: Init,
        seed: u64,
    ) -> ModelMeta {
        ModelMeta {
            format: FORMAT.into(),
            version: FORMAT_VERSION,
            architecture: architecture.without_init(),
            loss,
            task,
            feature_names,
            target_columns: vec![],
            columns: None,
            scaler,
            init,
            seed,
            rng: "chacha8".into(),
        }
    }

    /// A model straight from a network description whose every parameter is given in `init`
    /// (a hand-set network, e.g. McCulloch–Pitts threshold units): no training, no scaling,
    /// features `x0, x1, …`, one output value per unit (`y0, y1, …`), loss MSE.
    ///
    /// ```
    /// use backprop::{io::Model, nn::MlpSpec, Tensor};
    /// // AND as one threshold unit: fires when x0 + x1 − 1.5 ≥ 0
    /// let and = MlpSpec::from_json(r#"{"in_features": 2, "layers": [{"units": 1,
    ///     "activation": "step", "init": {"weight": [[1, 1]], "bias": [-1.5]}}]}"#)?;
    /// let m = Model::from_spec(and)?;
    /// let x = Tensor::from_vec(vec![0., 0., 0., 1., 1., 0., 1., 1.], [4, 2])?;
    /// assert_eq!(m.forward(&x)?.data(), &[0., 0., 0., 1.]);
    /// # Ok::<(), backprop::Error>(())
    /// ```
    pub fn from_spec(spec: MlpSpec) -> Result<Model> {
        spec.validate()?;
        for (i, l) in spec.layers.iter().enumerate() {
            let init = l.init.as_ref();
            let no_w = l.tie.is_none() && init.and_then(|x| x.weight.as_ref()).is_none();
            let no_b =
                l.bias != crate::nn::Bias::None && init.and_then(|x| x.bias.as_ref()).is_none();
            if no_w || no_b {
                return Err(Error::network(
                    format!("layer {}", i + 1),
                    format!(
                        "no init.{}: a network run without training needs every weight and bias given",
                        if no_w { "weight" } else { "bias" }
                    ),
                ));
            }
        }
        let mut params = Parameters::new();
        let net = Mlp::new(
            spec.clone(),
            &mut params,
            Init::Zeros,
            &mut crate::rng::Rng::seed(0),
        )?;
        let names = |p: &str, n: usize| (0..n).map(|i| format!("{p}{i}")).collect::<Vec<_>>();
        let task = TaskInfo::Regression {
            targets: names("y", spec.out_features()),
        };
        let features = names("x", spec.in_features);
        let meta = Model::meta(
            spec,
            Loss::Mse,
            task,
            features,
            Scaler::None,
            Init::Zeros,
            0,
        );
        Ok(Model { meta, net, params })
    }

    /// The same model with every batch norm folded into its layer's linear map (see
    /// [`crate::nn::fold_batch_norm`]): what an exporter writes, with outputs equal to this
    /// model's (evaluation mode, running statistics) up to f32 round-off. Metadata (scaler,
    /// names, loss) is kept; a model without batch norm comes back unchanged.
    ///
    /// ```
    /// use backprop::{io::Model, nn::MlpSpec, Tensor};
    /// let spec = MlpSpec::from_json(r#"{"in_features": 2, "layers": [{"units": 2,
    ///     "activation": "relu", "batch_norm": {"momentum": 0.1, "eps": 1e-5},
    ///     "init": {"weight": [[1, 2], [3, 4]], "bias": [0.5, -0.5]}}]}"#)?;
    /// let m = Model::from_spec(spec)?;
    /// let folded = m.fold_batch_norm()?;
    /// assert!(!folded.meta.architecture.has_batch_norm());
    /// let x = Tensor::from_vec(vec![1.0, -1.0, 0.5, 2.0], [2, 2])?;
    /// assert!(m.forward(&x)?.max_abs_diff(&folded.forward(&x)?) < 1e-5);
    /// # Ok::<(), backprop::Error>(())
    /// ```
    pub fn fold_batch_norm(&self) -> Result<Model> {
        let (net, params) = crate::nn::fold_batch_norm(&self.net, &self.params)?;
        let mut meta = self.meta.clone();
        meta.architecture = net.spec.clone();
        Ok(Model { meta, net, params })
    }

    /// The width of the network's output.
    pub fn out_features(&self) -> usize {
        self.meta.architecture.out_features()
    }

    /// The model as file bytes (deterministic: the same model gives the same bytes).
    pub fn to_bytes(&self) -> Vec<u8> {
        let tensors: Vec<(String, &Tensor)> = self
            .params
            .named()
            .map(|(n, t)| (n.to_string(), t))
            .collect();
        let json = serde_json::to_string(&self.meta).expect("internal error: model metadata");
        to_safetensors(&tensors, KEY, json)
    }

    /// Saves atomically to `path`.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        atomic_write(path.as_ref(), &self.to_bytes())
    }

    /// Loads and validates a model file.
    pub fn load(path: impl AsRef<Path>) -> Result<Model> {
        let path = path.as_ref();
        Model::from_bytes(&read_file(path)?, path)
    }

    /// Parses model bytes; `path` names the source in errors.
    pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<Model> {
        let bad = |msg: String| Error::ModelFile {
            path: path.to_path_buf(),
            msg,
        };
        let loaded = from_safetensors(bytes, KEY, path)?;
        let meta = parse_meta(&loaded.json, path)?;
        let mut params = Parameters::new();
        for (name, shape) in meta.architecture.param_shapes() {
            params.add(name.clone(), read_tensor(&loaded.st, &name, &shape, path)?);
        }
        let extra = loaded.st.len().saturating_sub(params.len());
        if extra > 0 {
            return Err(bad(format!(
                "{extra} tensor(s) that the architecture does not have"
            )));
        }
        let net =
            Mlp::from_params(meta.architecture.clone(), &params).map_err(|e| bad(e.to_string()))?;
        Ok(Model { meta, net, params })
    }

    /// The network's raw outputs for raw (unscaled) features `x` `(n, features)`.
    ///
    /// Rows go through the network in chunks of [`PREDICT_CHUNK`], so memory stays that of the
    /// input and output plus one chunk's activations, whatever the number of rows.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let d = x.shape().last().max(1);
        let n = x.numel() / d;
        let k = self.out_features();
        let mut out = Vec::with_capacity(n * k);
        let mut tape = Tape::new();
        for rows in x.data().chunks(PREDICT_CHUNK * d) {
            let mut c = rows.to_vec();
            for row in c.chunks_exact_mut(d) {
                self.meta.scaler.transform_row(row);
            }
            let chunk = Tensor::from_vec(c, [rows.len() / d, d])?;
            let y = self.net.predict(&self.params, &mut tape, &chunk)?;
            out.extend_from_slice(y.data());
        }
        Tensor::from_vec(out, [n, k])
    }

    /// Class probabilities and classes (classifiers) or values (regression) for raw features.
    pub fn predict(&self, x: &Tensor) -> Result<Prediction> {
        let y = self.forward(x)?;
        let TaskInfo::Classification { .. } = &self.meta.task else {
            return Ok(Prediction {
                outputs: y,
                classes: None,
            });
        };
        let k = y.shape().last();
        let n = y.numel() / k.max(1);
        let out_act = self.meta.architecture.output_activation();
        let probs = match (self.meta.loss, k) {
            _ if out_act == Activation::Softmax => y.clone(),
            (Loss::CrossEntropy | Loss::Hinge, _) => {
                crate::autograd::ops::softmax::softmax_rows(&y)
            }
            (loss, 1) => {
                // one output: P(class 1), from a logit (BCE without a sigmoid unit) or read as
                // a probability
                let logit = loss == Loss::BceWithLogits && out_act != Activation::Sigmoid;
                let p1 = |v: f32| {
                    if logit {
                        1.0 / (1.0 + (-v).exp())
                    } else {
                        v.clamp(0.0, 1.0)
                    }
                };
                let data = y
                    .data()
                    .iter()
                    .flat_map(|&v| [1.0 - p1(v), p1(v)])
                    .collect();
                Tensor::from_vec(data, [n, 2])?
            }
            _ => y.clone(),
        };
        let readout = if k == 1 {
            Readout::Threshold(1)
        } else {
            Readout::Argmax
        };
        let cls: Vec<usize> = (0..n)
            .map(|i| {
                if k == 1 {
                    readout.class_of(&probs.row(i)[1..])
                } else {
                    readout.class_of(probs.row(i))
                }
            })
            .collect();
        Ok(Prediction {
            outputs: probs,
            classes: Some(cls),
        })
    }
}

fn parse_meta(json: &str, path: &Path) -> Result<ModelMeta> {
    let bad = |msg: String| Error::ModelFile {
        path: path.to_path_buf(),
        msg,
    };
    let v: serde_json::Value =
        serde_json::from_str(json).map_err(|e| bad(format!("metadata is not JSON: {e}")))?;
    if v.get("format").and_then(|f| f.as_str()) != Some(FORMAT) {
        return Err(bad(format!(
            "not a {FORMAT} file (format field {:?})",
            v.get("format")
        )));
    }
    match v.get("version").and_then(|x| x.as_u64()) {
        Some(n) if n == 1 || n == FORMAT_VERSION as u64 => {}
        Some(n) => {
            return Err(bad(format!(
                "format version {n}, but this build reads versions 1 to {FORMAT_VERSION}"
            )))
        }
        None => return Err(bad("no format version".into())),
    }
    let meta: ModelMeta =
        serde_json::from_value(v).map_err(|e| bad(format!("invalid metadata: {e}")))?;
    meta.validate().map_err(bad)?;
    Ok(meta)
}

impl ModelMeta {
    /// Checks every field against the architecture before anything uses it: the description
    /// itself, one feature name per input, the scaler's lengths, and one class (or target) name
    /// per output (two classes for a single output unit).
    pub fn validate(&self) -> std::result::Result<(), String> {
        let arch = &self.architecture;
        arch.validate()
            .map_err(|e| format!("invalid architecture: {e}"))?;
        self.init.validate().map_err(|e| e.to_string())?;
        let n_features = arch.in_features;
        if self.feature_names.len() != n_features {
            return Err(format!(
                "{} feature names for {n_features} inputs; expected one name per input",
                self.feature_names.len()
            ));
        }
        if let Some(plan) = &self.columns {
            plan.validate()?;
            if plan.out_features() != n_features {
                return Err(format!(
                    "the column plan makes {} features, but the network takes {n_features}",
                    plan.out_features()
                ));
            }
        }
        self.scaler.validate()?;
        if self.scaler.n_features().is_some_and(|n| n != n_features) {
            return Err(format!(
                "scaler fitted on {} features, but the network takes {n_features}",
                self.scaler.n_features().unwrap_or(0)
            ));
        }
        let out = arch.out_features();
        let columns = match &self.task {
            TaskInfo::Classification { .. } => 1,
            TaskInfo::Regression { targets } => targets.len(),
        };
        if !self.target_columns.is_empty() && self.target_columns.len() != columns {
            return Err(format!(
                "{} target column names for {columns} target(s)",
                self.target_columns.len()
            ));
        }
        match &self.task {
            TaskInfo::Classification { classes } => {
                let ok = classes.len() == out || (out == 1 && classes.len() == 2);
                if !ok || classes.is_empty() {
                    return Err(format!(
                        "{} class names for a network with {out} output(s); expected {}",
                        classes.len(),
                        if out == 1 {
                            "2 (one output unit gives P(class 2))".to_string()
                        } else {
                            format!("{out}, one per output")
                        }
                    ));
                }
            }
            TaskInfo::Regression { targets } => {
                if targets.len() != out {
                    return Err(format!(
                        "{} target names for a network with {out} output(s); expected one per output",
                        targets.len()
                    ));
                }
            }
        }
        Ok(())
    }
}

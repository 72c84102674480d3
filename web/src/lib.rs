//! The backprop playground: the real library, compiled to WebAssembly, behind a small API for
//! the page in `index.html` / `app.js`.
//!
//! A [`Playground`] holds one data set (a built-in 2-D set from [`datasets`], or uploaded CSV
//! text with two feature columns and a label), one network built from the page's controls, and
//! the state of its training run. Training goes a few epochs per call (so the page can redraw
//! between calls) through the library's own [`Trainer`], resumed from its [`TrainState`]; the
//! numbers of a unit come from [`backprop::explain`], exactly those `backprop explain` prints
//! for the same model and sample; and the model leaves as the bytes of the model file that
//! `backprop predict` reads.
//!
//! Everything is plain Rust returning `Result<_, String>` (tested natively with `cargo test`);
//! the `#[wasm_bindgen]` methods only turn errors into JavaScript exceptions.

pub mod datasets;

use backprop::data::{read_csv_from, CsvOptions, Dataset, Targets, Task};
use backprop::explain::{explain, significant, Explanation};
use backprop::nn::Activation;
use backprop::optim::OptimizerConfig;
use backprop::pipeline::{Hooks, Network, Pipeline, Prepared};
use backprop::train::{evaluate, StopReason, TrainState, Trainer};
use backprop::{Loss, Tensor};
use serde::{Deserialize, Serialize};
use wasm_bindgen::prelude::*;

/// The controls of the page, as JSON.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Units per hidden layer (may be empty: a linear model).
    pub hidden: Vec<usize>,
    /// θ of the hidden layers (any name `backprop train --activation` takes).
    pub activation: String,
    /// The loss (`cross_entropy`, `bce`, `mse`, …); the output layer follows from it as in
    /// `backprop train`.
    pub loss: String,
    /// `sgd`, `adam`, `rmsprop`, `adagrad`, `adamw`, `rprop`, `quickprop` or `lbfgs`.
    pub optimizer: String,
    /// Learning rate.
    pub lr: f32,
    /// Momentum (SGD and RMSprop only).
    #[serde(default)]
    pub momentum: f32,
    /// Samples per update: 1 = online, 0 = full batch.
    pub batch_size: usize,
    /// Seed of the weights and of the shuffling.
    #[serde(default)]
    pub seed: u64,
    /// Feature scaling: `none`, `standard` or `min_max`.
    #[serde(default = "no_scaling")]
    pub scale: String,
}

fn no_scaling() -> String {
    "none".into()
}

/// What one call of [`Playground::train`] did.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Progress {
    /// Epochs completed in the run so far.
    pub epoch: usize,
    /// The loss over all points with the weights now.
    pub loss: f32,
    /// The fraction of points classified right, now.
    pub accuracy: Option<f32>,
    /// Empty while training goes on; otherwise why the run stopped (a NaN or diverging loss:
    /// the weights were set back to the last good epoch's).
    pub stopped: String,
}

/// One unit's numbers for one sample, formatted as `backprop explain` prints them.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct UnitView {
    /// Layer l (1-based), unit j (1-based) as in the notes' x(l)_j.
    pub layer: usize,
    /// Unit j, 1-based.
    pub unit: usize,
    /// θ of the layer.
    pub activation: String,
    /// s(l)_j.
    pub s: String,
    /// x(l)_j = θ(s(l)_j).
    pub x: String,
    /// δ(l)_j = ∂e/∂s(l)_j.
    pub delta: String,
    /// The incoming weights: source name (`1` for the bias, `x(k)_i`), w, ∂e/∂w = x·δ, and w
    /// after one step of size η.
    pub incoming: Vec<Incoming>,
    /// The sample's error e.
    pub error: String,
}

/// One incoming weight of a unit.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Incoming {
    /// `1` (the bias) or `x(k)_i`.
    pub from: String,
    /// The value x(k)_i that the weight multiplies.
    pub input: String,
    /// The weight.
    pub w: String,
    /// ∂e/∂w.
    pub grad: String,
    /// w − η ∂e/∂w.
    pub updated: String,
}

struct Net {
    /// The network, its trainer and the scaled data, as `backprop train` prepares them.
    prepared: Prepared,
    /// Where the run is: the next call continues from here.
    state: TrainState,
}

/// The playground's state: data, network, training run and loss curve.
#[wasm_bindgen]
pub struct Playground {
    csv: String,
    data: Dataset,
    net: Option<Net>,
    curve: Vec<f32>,
}

impl Playground {
    /// A playground on CSV text (`name` is used in error messages): two feature columns and a
    /// class label, read as `backprop train` reads a file.
    pub fn from_csv(text: &str, name: &str) -> Result<Playground, String> {
        let opts = CsvOptions {
            task: Task::Classification,
            ..CsvOptions::default()
        };
        let data = read_csv_from(text.as_bytes(), name, &opts).map_err(|e| e.to_string())?;
        if data.n_features() != 2 {
            return Err(format!(
                "{name}: {} feature columns ({}); the playground draws 2: give two feature \
                 columns and a label column",
                data.n_features(),
                data.feature_names.join(", ")
            ));
        }
        Ok(Playground {
            csv: text.to_string(),
            data,
            net: None,
            curve: vec![],
        })
    }

    /// A playground on one of the built-in sets (see [`datasets`]).
    pub fn from_builtin(kind: &str, n: usize, noise: f32, seed: u64) -> Result<Playground, String> {
        Playground::from_csv(
            &datasets::generate(kind, n, noise, seed)?,
            &format!("{kind}.csv"),
        )
    }

    /// Builds a fresh network for the data from the controls (as `backprop train` would: the
    /// output layer and the initialiser follow from the data, the loss and θ), forgetting any
    /// training so far.
    pub fn build_net(&mut self, cfg: &Config) -> Result<(), String> {
        let err = |e: backprop::Error| e.to_string();
        let loss: Loss = cfg.loss.parse()?;
        let activation: Activation = cfg.activation.parse()?;
        if cfg.hidden.len() > 6 || cfg.hidden.iter().any(|&h| !(1..=32).contains(&h)) {
            return Err(format!(
                "hidden layers {:?}: the playground draws up to 6 layers of 1 to 32 units",
                cfg.hidden
            ));
        }
        let mut optimizer =
            OptimizerConfig::default_for(&cfg.optimizer, Some(cfg.lr)).map_err(err)?;
        if cfg.momentum != 0.0 {
            optimizer = optimizer.with_momentum(cfg.momentum);
        }
        optimizer.build().map_err(err)?; // checks the hyper-parameters now
                                         // the pipeline of `backprop train`, with no validation or test part and no small-data
                                         // rule: the page trains all the points for as many epochs as it asks for
        let pipeline = Pipeline {
            network: Network::Hidden {
                sizes: Some(cfg.hidden.clone()),
                activation,
                output_activation: None,
                dropout: 0.0,
                batch_norm: false,
            },
            loss: Some(loss),
            trainer: Trainer {
                optimizer,
                epochs: 0,
                batch_size: cfg.batch_size,
                seed: cfg.seed,
                ..Trainer::default()
            },
            scale: cfg.scale.parse().map_err(err)?,
            scale_targets: false,
            val_split: 0.0,
            small_data: None,
            test_split: 0.0,
            ..Pipeline::default()
        };
        let prepared = pipeline.prepare(&self.data, None).map_err(err)?;
        self.net = Some(Net {
            state: TrainState::new(cfg.seed),
            prepared,
        });
        self.curve.clear();
        Ok(())
    }

    fn net(&self) -> Result<&Net, String> {
        self.net
            .as_ref()
            .ok_or_else(|| "no network yet: build one first".to_string())
    }

    /// Trains `epochs` more epochs, continuing the run where the last call left it (the same
    /// weights, optimizer state and shuffling as one long run).
    pub fn train_epochs(&mut self, epochs: usize) -> Result<Progress, String> {
        let Some(net) = self.net.as_mut() else {
            return Err("no network yet: build one first".into());
        };
        let mut resume = net.state.clone();
        resume.history.clear(); // the page keeps the curve; the state stays small
        let prepared = &mut net.prepared;
        prepared.trainer.epochs = resume.epoch + epochs;
        prepared.resume = Some(resume);
        let mut session = prepared
            .start(Hooks::default())
            .map_err(|e| e.to_string())?;
        while let Some(report) = session.next_epoch().map_err(|e| e.to_string())? {
            self.curve.push(report.train.loss);
        }
        let (history, state) = session.finish_with_state();
        net.state = state;
        let stopped = match history.stop {
            StopReason::NonFiniteLoss { value, epoch, .. } => {
                format!("the loss became {value} in epoch {epoch}: lower the learning rate")
            }
            StopReason::Diverged { value, epoch, .. } => {
                format!("the loss grew to {value} in epoch {epoch}: lower the learning rate")
            }
            _ => String::new(),
        };
        let model = &net.prepared.model;
        let m = evaluate(
            &model.net,
            &model.params,
            model.meta.loss,
            &net.prepared.train,
        )
        .map_err(|e| e.to_string())?;
        Ok(Progress {
            epoch: net.state.epoch,
            loss: m.loss,
            accuracy: m.accuracy,
            stopped,
        })
    }

    /// Class and its probability for each raw point `(x1, x2)` of `xy` (interleaved), through
    /// the model as `backprop predict` runs it (scaling included).
    pub fn classify(&self, xy: &[f32]) -> Result<(Vec<u32>, Vec<f32>), String> {
        let net = self.net()?;
        let n = xy.len() / 2;
        let x = Tensor::from_slice(&xy[..2 * n], [n, 2]).map_err(|e| e.to_string())?;
        let p = net.prepared.model.predict(&x).map_err(|e| e.to_string())?;
        let classes = p.classes.unwrap_or_else(|| vec![0; n]);
        let probs = classes
            .iter()
            .enumerate()
            .map(|(i, &c)| p.outputs.row(i).get(c).copied().unwrap_or(0.0))
            .collect();
        Ok((classes.iter().map(|&c| c as u32).collect(), probs))
    }

    /// Runs one sample (a row of the data, 0-based) forward and backward through the network,
    /// with one step of size `lr`, as `backprop explain --model … --data … --row N` does.
    pub fn explanation(&self, row: usize, lr: f32) -> Result<Explanation, String> {
        let net = self.net()?;
        if row >= self.data.len() {
            return Err(format!(
                "row {row} is out of range: the data has {} rows",
                self.data.len()
            ));
        }
        let model = &net.prepared.model;
        let mut x = vec![0.0; 2];
        self.data.gather_features(&[row], &mut x);
        model.meta.scaler.transform_row(&mut x);
        let loss = model.meta.loss;
        let y = match self.data.targets() {
            Targets::Classes { labels, names } => {
                let c = labels[row] as usize;
                if loss.takes_classes() || model.out_features() == 1 {
                    vec![c as f32]
                } else {
                    (0..names.len())
                        .map(|i| f32::from(u8::from(i == c)))
                        .collect()
                }
            }
            Targets::Values { .. } => {
                let mut y = vec![0.0; self.data.target_width()];
                self.data.gather_targets(&[row], &mut y);
                y
            }
        };
        explain(&model.net, &model.params, &x, &y, loss, lr).map_err(|e| e.to_string())
    }

    /// Unit `unit` (1-based) of layer `layer` (1-based) for the sample `row`, its numbers to
    /// `digits` significant digits as the `explain` tables print them.
    pub fn unit_view(
        &self,
        row: usize,
        layer: usize,
        unit: usize,
        lr: f32,
        digits: usize,
    ) -> Result<UnitView, String> {
        let ex = self.explanation(row, lr)?;
        let l = ex.layers.get(layer.wrapping_sub(1)).ok_or_else(|| {
            format!(
                "layer {layer}: the network has layers 1 to {}",
                ex.layers.len()
            )
        })?;
        let j = unit.wrapping_sub(1);
        if j >= l.s.len() {
            return Err(format!(
                "unit {unit}: layer {layer} has units 1 to {}",
                l.s.len()
            ));
        }
        let f = |v: f32| significant(v, digits);
        let mut names = vec![];
        if l.bias {
            names.push("1".to_string());
        }
        for &k in &l.sources {
            let n = if k == 0 {
                ex.input.len()
            } else {
                ex.layers[k - 1].x.len()
            };
            names.extend((1..=n).map(|i| format!("x({k})_{i}")));
        }
        let incoming = names
            .into_iter()
            .enumerate()
            .map(|(r, from)| Incoming {
                from,
                input: f(l.input[r]),
                w: f(l.weights[r][j]),
                grad: f(l.grad[r][j]),
                updated: f(l.updated[r][j]),
            })
            .collect();
        Ok(UnitView {
            layer,
            unit,
            activation: l.activation.to_string(),
            s: f(l.s[j]),
            x: f(l.x[j]),
            delta: f(l.delta[j]),
            incoming,
            error: f(ex.error),
        })
    }

    /// The widths x(0), x(1), …, x(L) of the network.
    pub fn widths(&self) -> Result<Vec<usize>, String> {
        let spec = &self.net()?.prepared.model.meta.architecture;
        Ok(std::iter::once(spec.in_features)
            .chain(spec.layers.iter().map(|l| l.out_features))
            .collect())
    }

    /// The model as the bytes of a model file (`backprop predict MODEL DATA.csv` reads it).
    pub fn model_file(&self) -> Result<Vec<u8>, String> {
        Ok(self.net()?.prepared.model.to_bytes())
    }
}

fn js(e: String) -> JsError {
    JsError::new(&e)
}

fn to_json<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("internal error: serialising for the page")
}

#[wasm_bindgen]
impl Playground {
    /// A playground on a built-in set: `gaussians`, `xor`, `circles` or `spiral`.
    #[wasm_bindgen(constructor)]
    pub fn new(kind: &str, n: usize, noise: f32, seed: u32) -> Result<Playground, JsError> {
        Playground::from_builtin(kind, n, noise, seed.into()).map_err(js)
    }

    /// A playground on uploaded CSV text.
    #[wasm_bindgen(js_name = fromCsv)]
    pub fn from_csv_js(text: &str, name: &str) -> Result<Playground, JsError> {
        Playground::from_csv(text, name).map_err(js)
    }

    /// The data as CSV text (what `backprop explain --data` and `predict` read).
    pub fn csv(&self) -> String {
        self.csv.clone()
    }

    /// The raw points, `x1, x2` interleaved.
    pub fn points(&self) -> Vec<f32> {
        let mut xy = vec![0.0; 2 * self.data.len()];
        let idx: Vec<usize> = (0..self.data.len()).collect();
        self.data.gather_features(&idx, &mut xy);
        xy
    }

    /// The class index of each point.
    pub fn labels(&self) -> Vec<u32> {
        match self.data.targets() {
            Targets::Classes { labels, .. } => labels.clone(),
            Targets::Values { .. } => vec![0; self.data.len()],
        }
    }

    /// The class names and the feature names, as JSON `{"classes": […], "features": […]}`.
    pub fn names(&self) -> String {
        let classes = match self.data.targets() {
            Targets::Classes { names, .. } => names.clone(),
            Targets::Values { names, .. } => names.clone(),
        };
        to_json(&serde_json::json!({"classes": classes, "features": self.data.feature_names}))
    }

    /// Builds a fresh network from the controls, given as JSON (see [`Config`]).
    pub fn build(&mut self, config: &str) -> Result<(), JsError> {
        let cfg: Config =
            serde_json::from_str(config).map_err(|e| JsError::new(&format!("controls: {e}")))?;
        self.build_net(&cfg).map_err(js)
    }

    /// Trains `epochs` more epochs; returns the progress as JSON (see [`Progress`]).
    pub fn train(&mut self, epochs: usize) -> Result<String, JsError> {
        self.train_epochs(epochs).map(|p| to_json(&p)).map_err(js)
    }

    /// The training loss of every epoch so far (the mean over the epoch's batches).
    pub fn curve(&self) -> Vec<f32> {
        self.curve.clone()
    }

    /// For raw points `xy` (interleaved): the class of each, then the probability of that
    /// class, as one array `[c₀, …, cₙ₋₁, p₀, …, pₙ₋₁]`.
    pub fn predict(&self, xy: &[f32]) -> Result<Vec<f32>, JsError> {
        let (c, p) = self.classify(xy).map_err(js)?;
        Ok(c.iter().map(|&c| c as f32).chain(p).collect())
    }

    /// The widths of x(0), …, x(L).
    #[wasm_bindgen(js_name = layerWidths)]
    pub fn layer_widths(&self) -> Result<Vec<usize>, JsError> {
        self.widths().map_err(js)
    }

    /// The whole explanation of sample `row` as JSON at full precision (`explain --format json`).
    #[wasm_bindgen(js_name = explainJson)]
    pub fn explain_json(&self, row: usize, lr: f32) -> Result<String, JsError> {
        self.explanation(row, lr).map(|e| e.to_json()).map_err(js)
    }

    /// The explanation of sample `row` as the tables `backprop explain` prints.
    #[wasm_bindgen(js_name = explainTable)]
    pub fn explain_table(&self, row: usize, lr: f32, digits: usize) -> Result<String, JsError> {
        self.explanation(row, lr)
            .map(|e| e.table(digits))
            .map_err(js)
    }

    /// One unit's numbers for sample `row`, as JSON (see [`UnitView`]).
    pub fn unit(
        &self,
        row: usize,
        layer: usize,
        unit: usize,
        lr: f32,
        digits: usize,
    ) -> Result<String, JsError> {
        self.unit_view(row, layer, unit, lr, digits)
            .map(|u| to_json(&u))
            .map_err(js)
    }

    /// The model file's bytes.
    #[wasm_bindgen(js_name = modelFile)]
    pub fn model_file_js(&self) -> Result<Vec<u8>, JsError> {
        self.model_file().map_err(js)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(loss: &str, optimizer: &str, lr: f32) -> Config {
        Config {
            hidden: vec![4],
            activation: "tanh".into(),
            loss: loss.into(),
            optimizer: optimizer.into(),
            lr,
            momentum: 0.0,
            batch_size: 10,
            seed: 1,
            scale: "none".into(),
        }
    }

    #[test]
    fn learns_xor_in_steps_and_the_corners_come_out_right() {
        let mut p = Playground::from_builtin("xor", 200, 0.0, 1).unwrap();
        p.build_net(&config("cross_entropy", "adam", 0.03)).unwrap();
        let first = p.train_epochs(1).unwrap();
        let mut last = first.clone();
        while last.epoch < 200 && last.loss > 0.05 {
            last = p.train_epochs(10).unwrap();
        }
        assert!(last.loss < 0.05, "{first:?} → {last:?}");
        assert_eq!(p.curve.len(), last.epoch);
        let (c, prob) = p.classify(&[-1., -1., -1., 1., 1., -1., 1., 1.]).unwrap();
        assert_eq!(c, [0, 1, 1, 0]);
        assert!(prob.iter().all(|&q| q > 0.5));
    }

    #[test]
    fn steps_continue_one_run() {
        // 3 calls of 2 epochs give the weights of one call of 6
        let mut a = Playground::from_builtin("circles", 60, 0.2, 2).unwrap();
        let mut b = Playground::from_builtin("circles", 60, 0.2, 2).unwrap();
        let cfg = Config {
            momentum: 0.9,
            ..config("mse", "sgd", 0.1)
        };
        a.build_net(&cfg).unwrap();
        b.build_net(&cfg).unwrap();
        for _ in 0..3 {
            a.train_epochs(2).unwrap();
        }
        b.train_epochs(6).unwrap();
        assert_eq!(a.model_file().unwrap(), b.model_file().unwrap());
        assert_eq!(a.curve, b.curve);
    }

    #[test]
    fn the_unit_view_is_the_explanation_and_the_file_reloads() {
        let mut p = Playground::from_builtin("gaussians", 40, 0.5, 4).unwrap();
        let cfg = Config {
            hidden: vec![3, 2],
            scale: "standard".into(),
            ..config("bce", "sgd", 0.5)
        };
        p.build_net(&cfg).unwrap();
        p.train_epochs(3).unwrap();
        assert_eq!(p.widths().unwrap(), [2, 3, 2, 1]);
        let ex = p.explanation(7, 0.5).unwrap();
        let u = p.unit_view(7, 2, 2, 0.5, 9).unwrap();
        let l = &ex.layers[1];
        assert_eq!(u.delta, significant(l.delta[1], 9));
        assert_eq!(u.incoming.len(), 4); // bias + 3 hidden units
        assert_eq!(u.incoming[3].from, "x(1)_3");
        assert_eq!(u.incoming[3].grad, significant(l.input[3] * l.delta[1], 9));
        // the file holds the same weights, scaling and names
        let m =
            backprop::io::Model::from_bytes(&p.model_file().unwrap(), std::path::Path::new("m"))
                .unwrap();
        assert_eq!(m.meta.feature_names, ["x1", "x2"]);
        assert_eq!(m.meta.target_columns, ["label"]);
        let again = explain(&m.net, &m.params, &ex.input, &ex.target, m.meta.loss, 0.5).unwrap();
        assert_eq!(again, ex);
        assert!(p
            .unit_view(7, 3, 2, 0.5, 4)
            .unwrap_err()
            .contains("units 1 to 1"));
        assert!(p.explanation(40, 0.5).unwrap_err().contains("out of range"));
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        let three = "a,b,c,y\n1,2,3,0\n4,5,6,1\n";
        assert!(Playground::from_csv(three, "t.csv")
            .err()
            .unwrap()
            .contains("3 feature columns"));
        let mut p = Playground::from_csv("u,v,k\n0,0,a\n1,1,b\n0,1,a\n", "up.csv").unwrap();
        assert!(p.train_epochs(1).unwrap_err().contains("build"));
        let bad = [
            (
                Config {
                    hidden: vec![0],
                    ..config("mse", "sgd", 0.1)
                },
                "hidden",
            ),
            (config("nope", "sgd", 0.1), "loss"),
            (config("mse", "newton", 0.1), "optimizer"),
            (
                Config {
                    scale: "log".into(),
                    ..config("mse", "sgd", 0.1)
                },
                "scale",
            ),
        ];
        for (cfg, word) in bad {
            let e = p.build_net(&cfg).unwrap_err();
            assert!(e.contains(word), "{e}");
        }
        p.build_net(&config("cross_entropy", "sgd", 0.1)).unwrap();
        assert_eq!(p.names(), r#"{"classes":["a","b"],"features":["u","v"]}"#);
        p.train_epochs(1).unwrap();
    }
}

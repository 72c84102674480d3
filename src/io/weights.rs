//! Starting weights from elsewhere: a PyTorch `state_dict` saved with
//! `safetensors.torch.save_file` (`backprop train --init-from weights.safetensors`).
//!
//! PyTorch's `nn.Linear(in, out)` computes y = x·Wᵀ + b with W of shape `(out, in)` — the same
//! layout as here — so a state dict maps onto a network description tensor by tensor. The file's
//! names are read as `PREFIX.INDEX.weight` / `PREFIX.INDEX.bias` with one prefix for the whole
//! file: `0.weight`, `2.weight`, … from an `nn.Sequential` (activations take indices too, so they
//! may have gaps), `layers.0.weight` from a `ModuleList` named `layers`, and a backprop model
//! file's own names. The groups, in increasing INDEX, are matched in order to the description's
//! layers that have parameters (a tied layer has no weight of its own; a tied layer without a
//! bias has nothing). Every tensor is checked: its name, its shape against `(out_features,
//! in_features)` or `(out_features)` (`(1)` for a shared bias), and its dtype (float32 or
//! float64); a mismatch is an error naming the tensor, the layer and both shapes.
//!
//! ```
//! use backprop::io::StateDict;
//! use backprop::nn::{Activation, Init, Mlp, MlpSpec};
//! use backprop::{Parameters, Rng};
//! # let dir = tempfile::tempdir().unwrap();
//! # let path = dir.path().join("w.safetensors");
//! // what `safetensors.torch.save_file(nn.Sequential(nn.Linear(2, 3), nn.ReLU(),
//! // nn.Linear(3, 1)).state_dict(), path)` writes, here written from Rust:
//! # let t = |n: &str, s: Vec<usize>, v: Vec<f32>| (n.to_string(), s, v);
//! # let tensors = vec![t("0.weight", vec![3, 2], vec![0.5; 6]), t("0.bias", vec![3], vec![0.; 3]),
//! #   t("2.weight", vec![1, 3], vec![1.; 3]), t("2.bias", vec![1], vec![0.25])];
//! # StateDict::from_tensors(tensors).save(&path).unwrap();
//! let weights = StateDict::load(&path)?;
//! let spec = MlpSpec::from_sizes(&[2, 3, 1], Activation::Relu, Activation::Identity);
//! let mut params = Parameters::new();
//! let _net = Mlp::new(spec.clone(), &mut params, Init::PyTorch, &mut Rng::seed(0))?;
//! weights.assign(&spec, &mut params)?;
//! assert_eq!(params[params.find("layers.1.bias").unwrap()].data(), &[0.25]);
//! // a description of another shape is refused, naming the tensor and both shapes
//! let wide = MlpSpec::from_sizes(&[2, 4, 1], Activation::Relu, Activation::Identity);
//! let err = weights.assign(&wide, &mut Parameters::new()).unwrap_err().to_string();
//! assert!(err.contains("0.weight") && err.contains("[4, 2]") && err.contains("[3, 2]"), "{err}");
//! # Ok::<(), backprop::Error>(())
//! ```

use crate::error::{Error, Result};
use crate::io::{atomic_write, read_file};
use crate::nn::{Bias, MlpSpec};
use crate::params::Parameters;
use crate::tensor::Tensor;
use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use std::path::{Path, PathBuf};

/// Named tensors read from a safetensors file (a PyTorch state dict), in the file's order.
#[derive(Clone, Debug, PartialEq)]
pub struct StateDict {
    /// Where they were read from (named in errors).
    pub path: PathBuf,
    /// `(name, shape, values)`, sorted by name.
    pub tensors: Vec<(String, Vec<usize>, Vec<f32>)>,
}

/// One `PREFIX.INDEX.{weight,bias}` group of the file.
struct Group<'a> {
    index: usize,
    prefix: String,
    weight: Option<&'a (String, Vec<usize>, Vec<f32>)>,
    bias: Option<&'a (String, Vec<usize>, Vec<f32>)>,
}

impl StateDict {
    /// Tensors given in memory (`(name, shape, values)`).
    pub fn from_tensors(mut tensors: Vec<(String, Vec<usize>, Vec<f32>)>) -> StateDict {
        tensors.sort_by(|a, b| a.0.cmp(&b.0));
        StateDict {
            path: PathBuf::from("<memory>"),
            tensors,
        }
    }

    /// Reads a safetensors file: float32 (or float64) tensors, any metadata.
    pub fn load(path: impl AsRef<Path>) -> Result<StateDict> {
        let path = path.as_ref();
        StateDict::from_bytes(&read_file(path)?, path)
    }

    /// Parses safetensors bytes; `path` names the source in errors.
    pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<StateDict> {
        let bad = |msg: String| Error::ModelFile {
            path: path.to_path_buf(),
            msg,
        };
        let st = SafeTensors::deserialize(bytes)
            .map_err(|e| bad(format!("not a valid safetensors file: {e}")))?;
        let mut tensors = vec![];
        for (name, view) in st.tensors() {
            let data: Vec<f32> = match view.dtype() {
                Dtype::F32 => view
                    .data()
                    .chunks_exact(4)
                    .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                    .collect(),
                Dtype::F64 => view
                    .data()
                    .chunks_exact(8)
                    .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")) as f32)
                    .collect(),
                d => {
                    return Err(bad(format!(
                        "tensor {name} has dtype {d:?}; expected F32 or F64 (in PyTorch, save \
                         `{{k: v.float() for k, v in model.state_dict().items()}}`)"
                    )))
                }
            };
            tensors.push((name, view.shape().to_vec(), data));
        }
        let mut sd = StateDict::from_tensors(tensors);
        sd.path = path.to_path_buf();
        Ok(sd)
    }

    /// The tensors as safetensors bytes (no metadata), written atomically to `path`.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let bytes: Vec<(String, Vec<u8>, Vec<usize>)> = self
            .tensors
            .iter()
            .map(|(n, s, v)| {
                let b = v.iter().flat_map(|x| x.to_le_bytes()).collect();
                (n.clone(), b, s.clone())
            })
            .collect();
        let mut views = vec![];
        for (n, b, s) in &bytes {
            let v = TensorView::new(Dtype::F32, s.clone(), b)
                .map_err(|e| Error::network("state dict", format!("tensor {n}: {e}")))?;
            views.push((n.clone(), v));
        }
        let out = safetensors::serialize(views, None)
            .map_err(|e| Error::network("state dict", e.to_string()))?;
        atomic_write(path.as_ref(), &out)
    }

    fn bad(&self, msg: String) -> Error {
        Error::ModelFile {
            path: self.path.clone(),
            msg,
        }
    }

    /// The file's tensors grouped by layer, in increasing index.
    fn groups(&self) -> Result<Vec<Group<'_>>> {
        let mut groups: Vec<Group> = vec![];
        for t in &self.tensors {
            let name = t.0.as_str();
            let (layer, kind) = name.rsplit_once('.').unwrap_or(("", name));
            let (prefix, index) = layer.rsplit_once('.').unwrap_or(("", layer));
            let index = index
                .parse::<usize>()
                .ok()
                .filter(|_| kind == "weight" || kind == "bias");
            let Some(index) = index else {
                return Err(self.bad(format!(
                    "tensor {name}: expected names of linear layers like 0.weight, 0.bias \
                     (nn.Sequential) or layers.0.weight (a ModuleList named layers)"
                )));
            };
            if let Some(g) = groups.first().filter(|g| g.prefix != prefix) {
                return Err(self.bad(format!(
                    "tensor {name} is under \"{prefix}\" but tensor {} is under \"{}\"; expected \
                     the layers of one nn.Sequential or ModuleList",
                    g.weight.or(g.bias).map_or("", |t| t.0.as_str()),
                    g.prefix
                )));
            }
            let g = match groups.iter().position(|g| g.index == index) {
                Some(i) => &mut groups[i],
                None => {
                    groups.push(Group {
                        index,
                        prefix: prefix.to_string(),
                        weight: None,
                        bias: None,
                    });
                    groups.last_mut().expect("just pushed")
                }
            };
            if kind == "weight" {
                g.weight = Some(t);
            } else {
                g.bias = Some(t);
            }
        }
        groups.sort_by_key(|g| g.index);
        Ok(groups)
    }

    /// The tensors under the description's state-dict names (`layers.{i}.weight`, …), checked:
    /// one group of the file per layer with parameters, in order, every shape as expected.
    pub fn to_params(&self, spec: &MlpSpec) -> Result<Parameters> {
        spec.validate()?;
        let groups = self.groups()?;
        let layers: Vec<usize> = (0..spec.layers.len())
            .filter(|&i| spec.layers[i].tie.is_none() || spec.layers[i].bias != Bias::None)
            .collect();
        if groups.len() != layers.len() {
            let found: Vec<String> = groups
                .iter()
                .map(|g| match g.prefix.as_str() {
                    "" => g.index.to_string(),
                    p => format!("{p}.{}", g.index),
                })
                .collect();
            return Err(self.bad(format!(
                "{} linear layer(s) ({}), but the description has {} layer(s) with parameters; \
                 give --hidden/--arch for the same network",
                groups.len(),
                found.join(", "),
                layers.len()
            )));
        }
        let mut out = Parameters::new();
        for (g, &i) in groups.iter().zip(&layers) {
            let l = &spec.layers[i];
            let at = format!("layer {} of the description", i + 1);
            let stem = match g.prefix.as_str() {
                "" => g.index.to_string(),
                p => format!("{p}.{}", g.index),
            };
            let check = |t: &(String, Vec<usize>, Vec<f32>), want: Vec<usize>, what: &str| {
                if t.1 != want {
                    return Err(self.bad(format!(
                        "tensor {} ({at}): expected shape {want:?} {what}, found {:?}",
                        t.0, t.1
                    )));
                }
                Tensor::from_vec(t.2.clone(), want.as_slice())
            };
            match (l.tie, g.weight) {
                (None, Some(w)) => {
                    let want = vec![l.out_features, spec.layer_in_features(i)];
                    let t = check(w, want, "(out_features, in_features)")?;
                    out.add(format!("layers.{i}.weight"), t);
                }
                (None, None) => {
                    return Err(self.bad(format!("no tensor {stem}.weight for {at}")));
                }
                (Some(tie), Some(w)) => {
                    return Err(self.bad(format!(
                        "tensor {} ({at}): the layer reuses the weight of layer {} (tie) and \
                         has none of its own",
                        w.0, tie.layer
                    )));
                }
                (Some(_), None) => {}
            }
            match (spec.bias_shape(i), g.bias) {
                (Some(n), Some(b)) => {
                    let what = if l.bias == Bias::Shared {
                        "(one shared bias)"
                    } else {
                        "(out_features)"
                    };
                    out.add(format!("layers.{i}.bias"), check(b, vec![n], what)?);
                }
                (Some(_), None) => {
                    return Err(self.bad(format!(
                        "no tensor {stem}.bias for {at} (give \"bias\": \"none\" in the \
                         description for nn.Linear(bias=False))"
                    )));
                }
                (None, Some(b)) => {
                    return Err(self.bad(format!(
                        "tensor {} ({at}): the layer has no bias (\"bias\": \"none\")",
                        b.0
                    )));
                }
                (None, None) => {}
            }
        }
        Ok(out)
    }

    /// Overwrites the values of `params` (built from `spec`, e.g. by [`Mlp::new`]) with the
    /// file's, after checking every name and shape ([`StateDict::to_params`]).
    ///
    /// [`Mlp::new`]: crate::nn::Mlp::new
    pub fn assign(&self, spec: &MlpSpec, params: &mut Parameters) -> Result<()> {
        let loaded = self.to_params(spec)?;
        for (name, t) in loaded.named() {
            let id = params.find(name).ok_or_else(|| {
                self.bad(format!("the network has no parameter {name} to receive it"))
            })?;
            if params[id].shape() != t.shape() {
                return Err(self.bad(format!(
                    "parameter {name}: the network's is {:?}, the file's {:?}",
                    params[id].dims(),
                    t.dims()
                )));
            }
            params[id] = t.clone();
        }
        Ok(())
    }
}

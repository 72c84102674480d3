//! Greedy layer-wise pre-training (seed 003, slide 104; Hinton's "learn a layer of features at a
//! time, then fine-tune with backprop"), with autoencoders in place of RBMs (Bengio et al. 2007):
//!
//! for each hidden layer l, first to last:
//! 1. X(l) = the input layer l reads (its sources, concatenated), computed by the network as it
//!    stands, on the training features;
//! 2. an autoencoder X̃ → θ(W(l)·X̃ + b(l)) → W(l)ᵀ·code + c, with the encoder being layer l
//!    (its weights and bias, its activation), the decoder tied to W(l)ᵀ by default and its own
//!    bias c, learns to reconstruct X(l) from X̃ (X(l) itself, or with a fraction `denoise` of
//!    each row's inputs set to 0 — a denoising autoencoder) by minimising the mean squared error;
//! 3. W(l), b(l) take the encoder's trained values.
//!
//! The decoder's output is a sigmoid when every value of X(l) lies in [0, 1] (pixels, sigmoid
//! codes), linear otherwise. The output layer is left as initialised; fine-tuning of the whole
//! network by backprop follows with the ordinary trainer.
//!
//! ```
//! use backprop::data::{Dataset, Features, Targets};
//! use backprop::nn::{Activation, Init, Mlp, MlpSpec};
//! use backprop::train::Pretrain;
//! use backprop::{Parameters, Rng};
//! let x: Vec<f32> = (0..64).map(|i| ((i * 7) % 11) as f32 / 10.0).collect();
//! let data = Dataset::new(Features::F32(x), 4,
//!     Targets::Values { data: vec![0.0; 16], names: vec!["y".into()] })?;
//! let spec = MlpSpec::from_sizes(&[4, 3, 2, 1], Activation::Sigmoid, Activation::Identity);
//! let mut params = Parameters::new();
//! let net = Mlp::new(spec, &mut params, Init::XavierUniform, &mut Rng::seed(0))?;
//! let before = params.clone();
//! let losses = Pretrain::new(20).run(&net, &mut params, &data)?;
//! assert_eq!(losses.len(), 2); // two hidden layers, one reconstruction loss each
//! let w = |ps: &Parameters, n: &str| ps[ps.find(n).unwrap()].clone();
//! assert_ne!(w(&params, "layers.0.weight"), w(&before, "layers.0.weight"));
//! assert_eq!(w(&params, "layers.2.weight"), w(&before, "layers.2.weight")); // output untouched
//! # Ok::<(), backprop::Error>(())
//! ```

use crate::autograd::{Graph, Tape};
use crate::data::{Dataset, Features, Targets};
use crate::error::{Error, Result};
use crate::loss::Loss;
use crate::nn::{Activation, Bias, Init, Mlp, MlpSpec};
use crate::optim::OptimizerConfig;
use crate::params::Parameters;
use crate::rng::Rng;
use crate::tensor::Tensor;
use crate::train::Trainer;
use serde::{Deserialize, Serialize};

/// Settings of greedy layer-wise pre-training: each hidden layer, first to last, is trained as
/// the encoder of an autoencoder of its own input (tied decoder by default, optionally
/// denoising); the output layer is left as initialised for fine-tuning by the ordinary trainer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Pretrain {
    /// Epochs per layer.
    pub epochs: usize,
    /// Fraction of each input row set to 0 before reconstruction (0 = a plain autoencoder).
    pub denoise: f32,
    /// Decoder weights tied to the encoder's (Wᵀ); untied decoders get their own matrix.
    pub tied: bool,
    /// The optimizer of each autoencoder.
    pub optimizer: OptimizerConfig,
    /// Batch size of each autoencoder.
    pub batch_size: usize,
    /// Seed of the corruption and the decoders' initial weights.
    pub seed: u64,
}

impl std::str::FromStr for Pretrain {
    type Err = Error;

    /// `autoencoder[:EPOCHS[:DENOISE]]`: epochs per layer (at least 1; 10 when left out) and
    /// the fraction of inputs zeroed, in `[0, 1)`; the rest as [`Pretrain::new`] (seed 0).
    ///
    /// ```
    /// use backprop::train::Pretrain;
    /// let p: Pretrain = "autoencoder:5:0.2".parse().unwrap();
    /// assert_eq!((p.epochs, p.denoise), (5, 0.2));
    /// assert_eq!("autoencoder".parse::<Pretrain>().unwrap().epochs, 10);
    /// assert!("autoencoder:5:nan".parse::<Pretrain>().is_err());
    /// assert!("rbm".parse::<Pretrain>().is_err());
    /// ```
    fn from_str(s: &str) -> Result<Pretrain> {
        let bad = || {
            Error::invalid(
                "pretrain",
                s,
                "autoencoder[:EPOCHS[:DENOISE]], EPOCHS ≥ 1 and DENOISE in [0, 1), e.g. autoencoder:10:0.2",
            )
        };
        let mut parts = s.split(':');
        if parts.next() != Some("autoencoder") {
            return Err(bad());
        }
        let mut p = Pretrain::new(10);
        if let Some(e) = parts.next() {
            p.epochs = e.parse().ok().filter(|&e: &usize| e > 0).ok_or_else(bad)?;
        }
        if let Some(d) = parts.next() {
            p.denoise = d
                .parse()
                .ok()
                .filter(|d: &f32| (0.0..1.0).contains(d))
                .ok_or_else(bad)?;
        }
        if parts.next().is_some() {
            return Err(bad());
        }
        Ok(p)
    }
}

impl Pretrain {
    /// `epochs` per layer, tied, no denoising, Adam lr 1e-3, batches of 32, seed 0.
    pub fn new(epochs: usize) -> Pretrain {
        Pretrain {
            epochs,
            denoise: 0.0,
            tied: true,
            optimizer: OptimizerConfig::adam(1e-3),
            batch_size: 32,
            seed: 0,
        }
    }

    /// Pre-trains every hidden layer of `net` on `data`'s features, in place; returns each
    /// pre-trained layer's final reconstruction loss (layers with a tied or frozen weight are
    /// skipped).
    ///
    /// # Errors
    /// A net with batch norm is refused (naming the first such layer): the autoencoder of a
    /// layer would need its own batch statistics, which greedy pre-training does not define.
    pub fn run(&self, net: &Mlp, params: &mut Parameters, data: &Dataset) -> Result<Vec<f32>> {
        if let Some(i) = net.spec.layers.iter().position(|l| l.batch_norm.is_some()) {
            return Err(Error::network(
                format!("layer {}", i + 1),
                "greedy autoencoder pre-training does not support batch_norm layers; train \
                 this net without --pretrain, or drop batch_norm",
            ));
        }
        let mut rng = Rng::seed(self.seed ^ 0x7072_6574_7261_696e); // "pretrain"
        let mut losses = vec![];
        for l in 0..net.spec.layers.len().saturating_sub(1) {
            let own = &net.spec.layers[l];
            if own.tie.is_some() || !own.trainable.weight {
                continue; // a borrowed or frozen weight is not this layer's to learn
            }
            let x = layer_input(net, params, data, l)?;
            let width = net.layers[l].in_features;
            let ae = self.autoencoder(&net.spec, l, &x);
            let mut ps = Parameters::new();
            let mut ae_rng = rng.clone();
            let ae_net = Mlp::new(ae, &mut ps, Init::XavierUniform, &mut ae_rng)?;
            let enc_w = ps
                .find("layers.0.weight")
                .expect("the encoder has a weight");
            ps[enc_w].assign(&params[net.layers[l].weight]);
            if let (Some(b), Some(own)) = (ps.find("layers.0.bias"), net.layers[l].bias) {
                ps[b].assign(&params[own]);
            }
            let set = self.corrupted(&x, width, &mut rng)?;
            let trainer = Trainer::new(Loss::Mse)
                .optimizer(self.optimizer.clone())
                .epochs(self.epochs)
                .batch_size(self.batch_size)
                .seed(self.seed.wrapping_add(l as u64));
            let h = trainer.fit(&ae_net, &mut ps, &set)?.check()?;
            losses.push(h.epochs.last().map_or(f32::NAN, |e| e.train.loss));
            params[net.layers[l].weight].assign(&ps[enc_w]);
            if let (Some(b), Some(own)) = (ps.find("layers.0.bias"), net.layers[l].bias) {
                params[own].assign(&ps[b]);
            }
        }
        Ok(losses)
    }

    /// The autoencoder of layer `l`: its encoder, and a decoder back to its input width.
    fn autoencoder(&self, spec: &MlpSpec, l: usize, x: &[f32]) -> MlpSpec {
        let layer = &spec.layers[l];
        let width = spec.layer_in_features(l);
        let unit = x.iter().all(|v| (0.0..=1.0).contains(v));
        let out = if unit {
            Activation::Sigmoid
        } else {
            Activation::Identity
        };
        let mut enc = MlpSpec::new(width).layer(layer.out_features, layer.activation);
        if layer.bias == Bias::None {
            enc = enc.bias(Bias::None);
        }
        let ae = enc.layer(width, out);
        if self.tied && layer.tie.is_none() {
            ae.tie(1, true)
        } else {
            ae
        }
    }

    /// Targets: the clean inputs; features: the inputs with a fraction `denoise` zeroed.
    fn corrupted(&self, x: &[f32], width: usize, rng: &mut Rng) -> Result<Dataset> {
        let mut noisy = x.to_vec();
        if self.denoise > 0.0 {
            for v in noisy.iter_mut() {
                if rng.uniform() < self.denoise {
                    *v = 0.0;
                }
            }
        }
        let names = (0..width).map(|i| format!("x{i}")).collect();
        Dataset::new(
            Features::F32(noisy),
            width,
            Targets::Values {
                data: x.to_vec(),
                names,
            },
        )
    }
}

/// The input layer `l` reads for every sample of `data`, row-major (its sources concatenated).
fn layer_input(net: &Mlp, params: &Parameters, data: &Dataset, l: usize) -> Result<Vec<f32>> {
    let width = net.layers[l].in_features;
    let mut out = Vec::with_capacity(data.len() * width);
    let mut tape = Tape::new();
    let idx: Vec<usize> = (0..data.len()).collect();
    let spec = &net.spec;
    for chunk in idx.chunks(1024) {
        let mut g = Graph::no_grad(&mut tape, params);
        let x = g.input_with([chunk.len(), data.n_features()], |b| {
            data.gather_features(chunk, b)
        });
        let layers = net.forward_layers(&mut g, x)?;
        let sources: Vec<usize> = match spec.layers[l].inputs.as_slice() {
            [] => vec![l],
            ks => ks.to_vec(),
        };
        let parts: Vec<&Tensor> = sources
            .iter()
            .map(|&k| {
                if k == 0 {
                    g.value(x)
                } else {
                    g.value(layers[k - 1].x)
                }
            })
            .collect();
        for r in 0..chunk.len() {
            for p in &parts {
                out.extend_from_slice(p.row(r));
            }
        }
    }
    Ok(out)
}

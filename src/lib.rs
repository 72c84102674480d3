//! # backprop
//!
//! Train feed-forward neural networks by backpropagation and gradient descent on the CPU.
//!
//! ## How the crate is built
//!
//! Each module's `use crate::…` lines reach only modules listed before it:
//!
//! ```text
//! tensor ─┬─→ autograd ─┬─→ loss ─→ nn ─┬─→ train ─┬─→ io ─→ pipeline ─→ fronts
//!         │             └─→ optim ──────┤          └─→ explain
//!         ├─→ data ─────────────────────┘
//!         │     └─→ metrics ─→ pipeline
//!         └─→ classic
//! ```
//!
//! - [`tensor`]: [`Tensor`], f32 arrays in row-major order, and their kernels (matrix products on
//!   [`num_threads`] threads, bf16). Beside it, used everywhere: the seeded [`Rng`], the
//!   [`Error`] type, and [`Parameters`], the store of named trainable tensors.
//! - [`autograd`]: [`Graph`] records ops as they run on a reusable [`Tape`]; [`Graph::backward`]
//!   gives the [`Gradients`]; [`gradcheck`] compares them with finite differences. Uses tensor.
//! - [`Loss`]: the losses, composed from graph ops. Uses autograd.
//! - [`nn`]: layers and networks ([`nn::Mlp`] from an [`nn::MlpSpec`]) that record their
//!   forward pass on a graph. Uses autograd and loss.
//! - [`optim`]: optimizers and learning-rate schedules, gradients → updates. Uses autograd.
//! - [`data`]: datasets in memory, the CSV / npy / IDX readers, splits and scaling. Uses tensor.
//! - [`classic`]: the perceptron and ADALINE rules, beside the rest. Uses tensor.
//! - [`train`]: the training loop, a [`train::Trainer`] and the [`train::Session`] that runs it
//!   epoch by epoch. Uses nn, loss, optim and data.
//! - [`metrics`]: scores of a finished model (confusion matrix, R², …) and k-fold splits.
//!   Beside train: uses data only.
//! - [`explain`]: one backprop step on one sample in the lecture notes' notation, and the error
//!   surface with the path gradient descent takes on it. Beside train: uses train, nn and data.
//! - [`io`]: model and checkpoint files (safetensors), ONNX export. Uses nn, optim, train, data.
//! - [`pipeline`]: the whole of `backprop train` (split, scale, build, train, test, save) as
//!   one call; [`pipeline::Prepared`] is a run with every decision made. Uses data, train,
//!   metrics and io.
//! - The fronts, outside the library: the `backprop` command line (`src/bin/backprop`) and the
//!   browser playground (`web/`, WebAssembly) drive [`pipeline`] and [`train::Session`], and
//!   call on [`io`], [`explain`] and [`metrics`] directly.
//!
//! A complete training run — XOR with a 2-2-1 sigmoid network, as in the lecture notes:
//!
//! ```
//! use backprop::data::{Dataset, Features, Targets};
//! use backprop::nn::{Activation, Init, Mlp, MlpSpec};
//! use backprop::optim::OptimizerConfig;
//! use backprop::train::Trainer;
//! use backprop::{Loss, Parameters, Rng, Tape};
//!
//! let data = Dataset::new(
//!     Features::F32(vec![0., 0., 0., 1., 1., 0., 1., 1.]),
//!     2,
//!     Targets::Classes { labels: vec![0, 1, 1, 0], names: vec!["0".into(), "1".into()] },
//! )?;
//! let mut params = Parameters::new();
//! let spec = MlpSpec::from_sizes(&[2, 2, 1], Activation::Sigmoid, Activation::Sigmoid);
//! let net = Mlp::new(spec, &mut params, Init::Uniform(1.0), &mut Rng::seed(3))?;
//! let history = Trainer::new(Loss::Mse)
//!     .optimizer(OptimizerConfig::sgd(0.5).with_momentum(0.9))
//!     .epochs(2000)
//!     .batch_size(0) // full-batch gradient descent
//!     .fit(&net, &mut params, &data)?;
//! assert_eq!(history.epochs.last().unwrap().train.accuracy, Some(1.0));
//!
//! let out = net.predict(&params, &mut Tape::new(), &data.features_tensor())?;
//! assert!(out.data()[1] > 0.8 && out.data()[0] < 0.2);
//! # Ok::<(), backprop::Error>(())
//! ```
//!
//! The same run as `backprop train` does it — split, scale, train, test, save — is one call:
//! see [`pipeline`].

#![warn(missing_docs)]
// no function over 100 lines (clippy's default threshold); CI denies warnings
#![warn(clippy::too_many_lines)]
// The x86-64 kernels' dispatch is compiled out on WebAssembly, which leaves some of it unused.
#![cfg_attr(target_arch = "wasm32", allow(dead_code, unused_mut))]

pub mod autograd;
pub mod classic;
pub mod data;
mod error;
pub mod explain;
pub mod io;
mod loss;
pub mod metrics;
pub mod nn;
pub mod optim;
mod params;
pub mod pipeline;
mod rng;
pub mod tensor;
pub mod train;

pub use autograd::{
    gradcheck, Binary, GradCheck, GradCheckInput, Gradients, Graph, OpKind, Tape, Unary, Var,
};
pub use error::{Error, Result};
pub use loss::Loss;
pub use params::{ParamId, Parameters};
pub use rng::{Rng, RngState};
pub use tensor::{num_threads, set_num_threads, Shape, Tensor};

//! # backprop
//!
//! Train feed-forward neural networks by backpropagation and gradient descent on the CPU.
//!
//! The data flows one way through the crate: [`tensor`] (numbers) → [`autograd`] (the graph:
//! ops with forward and backward) → [`nn`] / [`Loss`] / [`optim`] → [`train`] → [`io`] →
//! [`pipeline`] → the `backprop` command line.
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

//! # backprop
//!
//! Train feed-forward neural networks by backpropagation and gradient descent on the CPU.
//!
//! The data flows one way through the crate: [`tensor`] (numbers) → [`autograd`] (the graph:
//! ops with forward and backward) → `nn` / `loss` / `optim` → `train` → `io` → the `backprop`
//! command line.

#![warn(missing_docs)]

pub mod autograd;
pub mod classic;
pub mod data;
pub mod nn;
mod error;
mod loss;
pub mod optim;
mod params;
mod rng;
pub mod tensor;
pub mod train;

pub use autograd::{gradcheck, Binary, GradCheck, GradCheckInput, Gradients, Graph, OpKind, Tape, Unary, Var};
pub use error::{Error, Result};
pub use loss::Loss;
pub use params::{ParamId, Parameters};
pub use rng::{Rng, RngState};
pub use tensor::{num_threads, set_num_threads, Shape, Tensor};

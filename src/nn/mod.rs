//! Layers and networks, built on the graph: `Module::forward` records ops, parameters live in a
//! [`Parameters`] store under PyTorch state-dict names (`layers.0.weight`).
//!
//! One sigmoid unit, x(1) = σ(W(1)·x(0) + b(1)), with given weights:
//!
//! ```
//! use backprop::nn::{Activation, Init, Mlp, MlpSpec, Module};
//! use backprop::{Error, Graph, Parameters, Rng, Tape, Tensor};
//! let spec = MlpSpec::new(2)
//!     .layer(1, Activation::Sigmoid)
//!     .init(vec![vec![1.0, -1.0]], Some(vec![0.0]));
//! let mut params = Parameters::new();
//! let net = Mlp::new(spec, &mut params, Init::Zeros, &mut Rng::seed(0))?;
//! let names: Vec<&str> = params.named().map(|(name, _)| name).collect();
//! assert_eq!(names, ["layers.0.weight", "layers.0.bias"]);
//!
//! let mut tape = Tape::new();
//! let mut g = Graph::new(&mut tape, &params);
//! let x = g.input(&Tensor::from_vec(vec![2.0, 2.0], [1, 2])?);
//! let y = net.forward(&mut g, x)?; // records the layer's ops on the graph
//! assert!((g.value(y).item() - 0.5).abs() < 1e-6); // σ(2 − 2 + 0)
//! let e = g.sum(y);
//! let grads = g.backward(e);
//! let (w, b) = (net.parameters()[0], net.parameters()[1]);
//! assert!((grads.get(b).unwrap().item() - 0.25).abs() < 1e-6); // σ′ = σ(1 − σ)
//! assert!(grads.get(w).unwrap().max_abs_diff(&Tensor::full([1, 2], 0.5)) < 1e-6); // σ′·x
//!
//! // an input of the wrong width is an error naming the layer
//! let mut g = Graph::new(&mut tape, &params);
//! let x3 = g.input(&Tensor::zeros([1, 3]));
//! assert!(matches!(net.forward(&mut g, x3), Err(Error::LayerInput { .. })));
//! # Ok::<(), backprop::Error>(())
//! ```

mod activation;
pub(crate) mod batch_norm;
mod check;
mod init;
mod linear;
mod mlp;
mod sequential;
mod spec;
mod spec_check;

pub use activation::{Activation, Dropout};
pub use batch_norm::{fold_batch_norm, BatchNorm, BatchNormSpec};
pub use check::{analytic_gradients, check_against, check_gradients, ModelCheck, TensorCheck};
pub use init::Init;
pub use linear::Linear;
pub use mlp::{LayerVars, Mlp};
pub use sequential::Sequential;
pub(crate) use spec::strip_comments;
pub use spec::{Bias, LayerInit, LayerSpec, MlpSpec, Tie, Trainable};

use crate::autograd::{Graph, Var};
use crate::error::Result;
use crate::loss::Loss;
use crate::params::{ParamId, Parameters};

/// A piece of network: records its forward computation on a graph.
///
/// Shape errors come back as [`crate::Error::LayerInput`] naming the layer and both shapes.
pub trait Module {
    /// Records `y = self(x)` on `g`.
    fn forward(&self, g: &mut Graph, x: Var) -> Result<Var>;

    /// The ids of this module's parameters, in state-dict order.
    fn parameters(&self) -> Vec<ParamId>;

    /// Records the forward pass for training with `loss`: returns the output and the value the
    /// loss should read. They differ when the loss knows the output activation (e.g.
    /// cross-entropy reads the logits under a softmax output); by default they are the same.
    fn forward_for_loss(&self, g: &mut Graph, x: Var, loss: Loss) -> Result<(Var, Var)> {
        let _ = loss;
        let y = self.forward(g, x)?;
        Ok((y, y))
    }

    /// Parameters that training must leave unchanged (frozen). None by default.
    fn frozen(&self) -> Vec<ParamId> {
        vec![]
    }

    /// Whether backprop can train this module; an error says why not (e.g. step units).
    fn check_trainable(&self) -> Result<()> {
        Ok(())
    }

    /// Whether a training forward draws random numbers (dropout), so that two evaluations at
    /// the same parameters differ. False by default.
    fn is_stochastic(&self) -> bool {
        false
    }

    /// `(state-dict name, id)` pairs, like PyTorch's `named_parameters()`.
    fn named_parameters<'a>(&self, params: &'a Parameters) -> Vec<(&'a str, ParamId)> {
        self.parameters()
            .into_iter()
            .map(|id| (params.name(id), id))
            .collect()
    }
}

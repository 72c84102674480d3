//! Layers and networks, built on the graph: `Module::forward` records ops, parameters live in a
//! [`Parameters`] store under PyTorch state-dict names (`layers.0.weight`).

mod activation;
mod init;
mod linear;
mod mlp;
mod sequential;

pub use activation::{Activation, Dropout};
pub use init::Init;
pub use linear::Linear;
pub use mlp::{LayerSpec, LayerVars, Mlp, MlpSpec};
pub use sequential::Sequential;

use crate::autograd::{Graph, Var};
use crate::error::Result;
use crate::params::{ParamId, Parameters};

/// A piece of network: records its forward computation on a graph.
///
/// Shape errors come back as [`crate::Error::LayerInput`] naming the layer and both shapes.
pub trait Module {
    /// Records `y = self(x)` on `g`.
    fn forward(&self, g: &mut Graph, x: Var) -> Result<Var>;

    /// The ids of this module's parameters, in state-dict order.
    fn parameters(&self) -> Vec<ParamId>;

    /// `(state-dict name, id)` pairs, like PyTorch's `named_parameters()`.
    fn named_parameters<'a>(&self, params: &'a Parameters) -> Vec<(&'a str, ParamId)> {
        self.parameters()
            .into_iter()
            .map(|id| (params.name(id), id))
            .collect()
    }
}

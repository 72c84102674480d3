//! A chain of modules, each feeding the next.

use crate::autograd::{Graph, Var};
use crate::error::Result;
use crate::nn::Module;
use crate::params::ParamId;

/// Modules applied in order, like `torch.nn.Sequential`.
///
/// ```
/// use backprop::{nn::{Activation, Init, Linear, Module, Sequential}, Graph, Parameters, Rng, Tape, Tensor};
/// let (mut params, mut rng) = (Parameters::new(), Rng::seed(0));
/// let net = Sequential::new()
///     .add(Linear::new(&mut params, "layers.0", 2, 4, true, Init::PyTorch, &mut rng))
///     .add(Activation::Tanh)
///     .add(Linear::new(&mut params, "layers.2", 4, 1, true, Init::PyTorch, &mut rng));
/// let mut tape = Tape::new();
/// let mut g = Graph::new(&mut tape, &params);
/// let x = g.input(&Tensor::zeros([3, 2]));
/// let y = net.forward(&mut g, x).unwrap();
/// assert_eq!(g.shape(y).dims(), &[3, 1]);
/// assert_eq!(net.named_parameters(&params)[0].0, "layers.0.weight");
/// ```
#[derive(Default)]
pub struct Sequential {
    modules: Vec<Box<dyn Module>>,
}

impl Sequential {
    /// An empty chain.
    pub fn new() -> Sequential {
        Sequential::default()
    }

    /// Appends a module.
    #[allow(clippy::should_implement_trait)]
    pub fn add(mut self, m: impl Module + 'static) -> Sequential {
        self.modules.push(Box::new(m));
        self
    }

    /// The number of modules.
    pub fn len(&self) -> usize {
        self.modules.len()
    }

    /// Whether the chain is empty.
    pub fn is_empty(&self) -> bool {
        self.modules.is_empty()
    }
}

impl Module for Sequential {
    fn forward(&self, g: &mut Graph, mut x: Var) -> Result<Var> {
        for m in &self.modules {
            x = m.forward(g, x)?;
        }
        Ok(x)
    }

    fn parameters(&self) -> Vec<ParamId> {
        self.modules.iter().flat_map(|m| m.parameters()).collect()
    }
}

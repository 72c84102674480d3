//! A dense layer: `y = x·Wᵀ + b`, W of shape `(out_features, in_features)` as in PyTorch.
//!
//! In the seeds' notation s(l) = W(l)ᵀ x(l−1) with the bias as the weight on a constant-1 input;
//! here that bias row is the separate vector `b`, and the weight is stored transposed.
//!
//! Two variants the network description needs: a *shared* bias (one value of shape `(1)`,
//! broadcast over the units: `y = x·Wᵀ + b·1`) and a *tied* weight read transposed (`transpose`:
//! the parameter is stored `(in, out)` by the layer that owns it, and `y = x·(Wᵀ)ᵀ…` uses it as
//! `(out, in)` through a transpose node, whose backward hands the gradient back to the owner).

use crate::autograd::{Graph, Unary, Var};
use crate::error::{Error, Result};
use crate::nn::{Init, Module};
use crate::params::{ParamId, Parameters};
use crate::rng::Rng;
use crate::tensor::Shape;

/// A fully connected layer.
///
/// ```
/// use backprop::{nn::{Init, Linear, Module}, Graph, Parameters, Rng, Tape, Tensor};
/// let mut params = Parameters::new();
/// let layer = Linear::new(&mut params, "fc", 3, 2, true, Init::PyTorch, &mut Rng::seed(0));
/// assert_eq!(params[layer.weight].dims(), &[2, 3]);
/// let mut tape = Tape::new();
/// let mut g = Graph::new(&mut tape, &params);
/// let x = g.input(&Tensor::ones([4, 3]));
/// let y = layer.forward(&mut g, x).unwrap();
/// assert_eq!(g.shape(y).dims(), &[4, 2]);
/// // a wrong width is an error naming the layer and both shapes
/// let bad = g.input(&Tensor::ones([4, 5]));
/// let err = layer.forward(&mut g, bad).unwrap_err().to_string();
/// assert!(err.contains("fc") && err.contains("[4, 5]"), "{err}");
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Linear {
    /// The layer's name prefix, e.g. `layers.0`.
    pub name: String,
    /// `(out_features, in_features)`.
    pub weight: ParamId,
    /// `(out_features)`, or `(1)` for a bias shared by all units, if the layer has a bias.
    pub bias: Option<ParamId>,
    /// Whether `weight` is stored `(in, out)` and used transposed (a tied weight).
    pub transpose: bool,
    /// Input width.
    pub in_features: usize,
    /// Output width.
    pub out_features: usize,
}

impl Linear {
    /// Adds a layer's parameters (`{name}.weight`, `{name}.bias`) to `params`, initialised by `init`.
    pub fn new(
        params: &mut Parameters,
        name: &str,
        in_features: usize,
        out_features: usize,
        bias: bool,
        init: Init,
        rng: &mut Rng,
    ) -> Linear {
        let weight = params.add(
            format!("{name}.weight"),
            init.tensor([out_features, in_features], rng),
        );
        let bias = bias.then(|| {
            params.add(
                format!("{name}.bias"),
                init.bias(in_features, out_features, rng),
            )
        });
        Linear {
            name: name.to_string(),
            weight,
            bias,
            transpose: false,
            in_features,
            out_features,
        }
    }

    /// Checks that `shape` is a `(batch, in_features)` input for this layer.
    pub fn check_input(&self, shape: Shape) -> Result<()> {
        if shape.rank() != 2 || shape.dim(1) != self.in_features {
            let batch = if shape.rank() >= 1 { shape.dim(0) } else { 1 };
            return Err(Error::LayerInput {
                layer: self.name.clone(),
                expected: Shape::from([batch, self.in_features]),
                got: shape,
            });
        }
        Ok(())
    }
}

impl Linear {
    /// The layer and then an element-wise activation, `(s, u(s))`: the same graph as
    /// [`Module::forward`] followed by [`Graph::unary`], computed in one pass over the output
    /// (the bias, the product and the activation of each block on the thread that computes it).
    pub fn forward_unary(&self, g: &mut Graph, x: Var, u: Unary) -> Result<(Var, Var)> {
        self.check_input(g.shape(x))?;
        let w = g.param(self.weight);
        let w = if self.transpose { g.transpose(w) } else { w };
        match self.bias.map(|b| g.param(b)) {
            Some(b) if g.shape(b).numel() != self.out_features => {
                let s = g.linear(x, w, None);
                let s = g.add(s, b); // a shared bias, broadcast over the units
                Ok((s, g.unary(u, s)))
            }
            b => Ok(g.linear_unary(x, w, b, u)),
        }
    }
}

impl Module for Linear {
    fn forward(&self, g: &mut Graph, x: Var) -> Result<Var> {
        self.check_input(g.shape(x))?;
        let w = g.param(self.weight);
        let w = if self.transpose { g.transpose(w) } else { w };
        match self.bias.map(|b| g.param(b)) {
            Some(b) if g.shape(b).numel() != self.out_features => {
                let s = g.linear(x, w, None);
                Ok(g.add(s, b)) // a shared bias, broadcast over the units
            }
            b => Ok(g.linear(x, w, b)),
        }
    }

    fn parameters(&self) -> Vec<ParamId> {
        std::iter::once(self.weight).chain(self.bias).collect()
    }
}

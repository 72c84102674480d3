//! Activation functions as modules (no parameters), and dropout.
//!
//! | activation | θ(s) | θ′(s) |
//! |---|---|---|
//! | identity (linear unit) | s | 1 |
//! | sigmoid | 1/(1+e⁻ˢ) | θ(1−θ) |
//! | tanh | tanh s | 1−θ² |
//! | relu | max(s, 0) | 1 if s>0 else 0 |
//! | leaky relu | s if s>0 else a·s | 1 or a |
//! | softmax (over the features) | eˢⁱ/Σⱼeˢʲ | — (see `Graph::log_softmax`) |
//! | step (binary threshold) | 1 if s ≥ 0 else 0 | 0 (no gradient: hand-set weights or the perceptron rule) |

use crate::autograd::{Graph, Unary, Var};
use crate::error::Result;
use crate::nn::Module;
use crate::params::ParamId;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// An element-wise (or, for softmax, row-wise) activation.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    /// `s` (a linear unit).
    #[default]
    Identity,
    /// The logistic sigmoid.
    Sigmoid,
    /// Hyperbolic tangent.
    Tanh,
    /// Rectified linear unit.
    Relu,
    /// Leaky ReLU with the given negative slope.
    LeakyRelu(f32),
    /// softmax along the feature dim.
    Softmax,
    /// The binary threshold unit of McCulloch and Pitts: 1 if s ≥ 0, else 0.
    Step,
}

impl Activation {
    /// Records `θ(x)` on the graph.
    pub fn apply(self, g: &mut Graph, x: Var) -> Var {
        match self {
            Activation::Identity => x,
            Activation::Sigmoid => g.sigmoid(x),
            Activation::Tanh => g.tanh(x),
            Activation::Relu => g.relu(x),
            Activation::LeakyRelu(a) => g.leaky_relu(x, a),
            Activation::Softmax => g.softmax(x),
            Activation::Step => g.step(x),
        }
    }

    /// The element-wise op, for activations that are one.
    pub fn unary(self) -> Option<Unary> {
        match self {
            Activation::Sigmoid => Some(Unary::Sigmoid),
            Activation::Tanh => Some(Unary::Tanh),
            Activation::Relu => Some(Unary::Relu),
            Activation::LeakyRelu(a) => Some(Unary::LeakyRelu(a)),
            Activation::Step => Some(Unary::Step),
            Activation::Identity | Activation::Softmax => None,
        }
    }
}

impl Module for Activation {
    fn forward(&self, g: &mut Graph, x: Var) -> Result<Var> {
        Ok(self.apply(g, x))
    }
    fn parameters(&self) -> Vec<ParamId> {
        vec![]
    }
}

impl fmt::Display for Activation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Activation::Identity => write!(f, "identity"),
            Activation::Sigmoid => write!(f, "sigmoid"),
            Activation::Tanh => write!(f, "tanh"),
            Activation::Relu => write!(f, "relu"),
            Activation::LeakyRelu(a) => write!(f, "leaky_relu({a})"),
            Activation::Softmax => write!(f, "softmax"),
            Activation::Step => write!(f, "step"),
        }
    }
}

impl FromStr for Activation {
    type Err = String;
    /// Parses `identity|linear|sigmoid|tanh|relu|leaky_relu[:SLOPE]|softmax|step`; a slope
    /// must be finite.
    ///
    /// ```
    /// use backprop::nn::Activation;
    /// assert_eq!("leaky_relu:0.2".parse::<Activation>(), Ok(Activation::LeakyRelu(0.2)));
    /// assert!("leaky_relu:nan".parse::<Activation>().is_err());
    /// ```
    fn from_str(s: &str) -> std::result::Result<Activation, String> {
        let s = s.to_ascii_lowercase();
        Ok(match s.as_str() {
            "identity" | "linear" | "none" => Activation::Identity,
            "sigmoid" | "logistic" => Activation::Sigmoid,
            "tanh" => Activation::Tanh,
            "relu" => Activation::Relu,
            "leaky_relu" | "leakyrelu" => Activation::LeakyRelu(0.01),
            "softmax" => Activation::Softmax,
            "step" | "threshold" | "heaviside" => Activation::Step,
            _ => match s.strip_prefix("leaky_relu:").map(str::parse::<f32>) {
                Some(Ok(a)) if a.is_finite() => Activation::LeakyRelu(a),
                Some(Ok(a)) => {
                    return Err(format!(
                        "leaky_relu slope {a}: expected a finite number"
                    ))
                }
                _ => {
                    return Err(format!(
                        "unknown activation {s:?}; expected identity, sigmoid, tanh, relu, leaky_relu[:SLOPE], softmax or step"
                    ))
                }
            },
        })
    }
}

/// Dropout with probability `p`: active on a training graph, the identity on an eval graph
/// (see [`Graph::dropout`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Dropout {
    /// The probability of zeroing each element.
    pub p: f32,
}

impl Module for Dropout {
    fn forward(&self, g: &mut Graph, x: Var) -> Result<Var> {
        Ok(g.dropout(x, self.p))
    }
    fn parameters(&self) -> Vec<ParamId> {
        vec![]
    }
}

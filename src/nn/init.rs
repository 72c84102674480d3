//! Weight initialisers. Random initialisation breaks the symmetry between hidden units (seed
//! 004: "if we had initialized all of our weights to be the same, every neuron in the next layer
//! would be equal"). For a weight of shape `(fan_out, fan_in)`:
//!
//! | init | distribution |
//! |---|---|
//! | `Uniform(ε)` | `U(−ε, ε)` (seed 004) |
//! | `XavierUniform` | `U(±√(6 / (fan_in + fan_out)))` (Glorot & Bengio 2010) |
//! | `XavierNormal` | `N(0, 2 / (fan_in + fan_out))` |
//! | `KaimingUniform` | `U(±√(6 / fan_in))` (He et al. 2015, gain √2 for ReLU) |
//! | `KaimingNormal` | `N(0, 2 / fan_in)` |
//! | `PyTorch` | `U(±1/√fan_in)` — `nn.Linear`'s default (`kaiming_uniform_(a=√5)`) |
//! | `Zeros`, `Constant(c)` | every weight `0` or `c` (breaks nothing: for tests and biases) |

use crate::error::{Error, Result};
use crate::rng::Rng;
use crate::tensor::{Shape, Tensor};
use serde::{Deserialize, Serialize};
use std::str::FromStr;

/// How to draw a layer's initial weights.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Init {
    /// `U(−ε, ε)`.
    Uniform(f32),
    /// Glorot/Xavier uniform.
    XavierUniform,
    /// Glorot/Xavier normal.
    XavierNormal,
    /// He/Kaiming uniform (ReLU gain).
    KaimingUniform,
    /// He/Kaiming normal (ReLU gain).
    KaimingNormal,
    /// PyTorch's `nn.Linear` default, `U(±1/√fan_in)`.
    #[default]
    PyTorch,
    /// All zeros.
    Zeros,
    /// All equal to a constant.
    Constant(f32),
}

impl Init {
    /// Checks the initialiser's number: `Uniform(ε)` needs ε positive and finite, `Constant(c)`
    /// a finite `c` (anything else would start training from NaN or infinite weights).
    ///
    /// ```
    /// use backprop::nn::Init;
    /// assert!(Init::Uniform(0.5).validate().is_ok());
    /// assert!(Init::Uniform(f32::INFINITY).validate().is_err());
    /// ```
    pub fn validate(self) -> Result<()> {
        match self {
            Init::Uniform(e) if !(e.is_finite() && e > 0.0) => Err(Error::invalid(
                "init uniform:EPS",
                e,
                "EPS positive and finite",
            )),
            Init::Constant(c) if !c.is_finite() => {
                Err(Error::invalid("init constant", c, "a finite number"))
            }
            _ => Ok(()),
        }
    }

    /// A tensor of `shape` = `(fan_out, fan_in)` drawn from this distribution.
    ///
    /// ```
    /// use backprop::{nn::Init, Rng};
    /// let w = Init::XavierUniform.tensor([4, 6], &mut Rng::seed(0));
    /// let bound = (6.0f32 / 10.0).sqrt();
    /// assert!(w.data().iter().all(|x| x.abs() <= bound));
    /// ```
    pub fn tensor(self, shape: impl Into<Shape>, rng: &mut Rng) -> Tensor {
        let shape = shape.into();
        let fan_in = shape.last() as f32;
        let fan_out = if shape.rank() >= 2 {
            shape.dim(0) as f32
        } else {
            1.0
        };
        match self {
            Init::Uniform(e) => Tensor::rand_uniform(shape, -e, e, rng),
            Init::XavierUniform => {
                let b = (6.0 / (fan_in + fan_out)).sqrt();
                Tensor::rand_uniform(shape, -b, b, rng)
            }
            Init::XavierNormal => Tensor::randn(shape, 0.0, (2.0 / (fan_in + fan_out)).sqrt(), rng),
            Init::KaimingUniform => {
                let b = (6.0 / fan_in).sqrt();
                Tensor::rand_uniform(shape, -b, b, rng)
            }
            Init::KaimingNormal => Tensor::randn(shape, 0.0, (2.0 / fan_in).sqrt(), rng),
            Init::PyTorch => {
                let b = 1.0 / fan_in.sqrt();
                Tensor::rand_uniform(shape, -b, b, rng)
            }
            Init::Zeros => Tensor::zeros(shape),
            Init::Constant(c) => Tensor::full(shape, c),
        }
    }

    /// The bias for a layer with `fan_in` inputs and `fan_out` outputs: `U(±1/√fan_in)` for
    /// [`Init::PyTorch`] (as `nn.Linear`), the constant for [`Init::Constant`], zeros otherwise
    /// (as Keras).
    pub fn bias(self, fan_in: usize, fan_out: usize, rng: &mut Rng) -> Tensor {
        match self {
            Init::PyTorch => {
                let b = 1.0 / (fan_in as f32).sqrt();
                Tensor::rand_uniform([fan_out], -b, b, rng)
            }
            Init::Constant(c) => Tensor::full([fan_out], c),
            _ => Tensor::zeros([fan_out]),
        }
    }
}

impl FromStr for Init {
    type Err = Error;

    /// `pytorch` (or `default`), `xavier_uniform` (`glorot_uniform`), `xavier_normal`
    /// (`glorot_normal`), `kaiming_uniform` (`he_uniform`), `kaiming_normal` (`he_normal`),
    /// `zeros` or `uniform:EPS` (ε positive and finite).
    ///
    /// ```
    /// use backprop::nn::Init;
    /// assert_eq!("uniform:0.5".parse::<Init>().unwrap(), Init::Uniform(0.5));
    /// assert_eq!("he_normal".parse::<Init>().unwrap(), Init::KaimingNormal);
    /// assert!("uniform:inf".parse::<Init>().is_err());
    /// ```
    fn from_str(s: &str) -> Result<Init> {
        let init = match s {
            "pytorch" | "default" => Init::PyTorch,
            "xavier_uniform" | "glorot_uniform" => Init::XavierUniform,
            "xavier_normal" | "glorot_normal" => Init::XavierNormal,
            "kaiming_uniform" | "he_uniform" => Init::KaimingUniform,
            "kaiming_normal" | "he_normal" => Init::KaimingNormal,
            "zeros" => Init::Zeros,
            _ => match s.strip_prefix("uniform:").map(str::parse::<f32>) {
                Some(Ok(e)) => Init::Uniform(e),
                _ => return Err(Error::invalid(
                    "init",
                    s,
                    "pytorch, xavier_uniform, xavier_normal, kaiming_uniform, kaiming_normal, zeros or uniform:EPS",
                )),
            },
        };
        init.validate()?;
        Ok(init)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn std(t: &Tensor) -> f32 {
        let m = t.mean();
        (t.data().iter().map(|x| (x - m) * (x - m)).sum::<f32>() / t.numel() as f32).sqrt()
    }

    #[test]
    fn bounds_and_spreads() {
        let mut r = Rng::seed(1);
        let (o, i) = (200, 300);
        let xu = Init::XavierUniform.tensor([o, i], &mut r);
        assert!(xu.data().iter().all(|x| x.abs() <= (6.0 / 500.0f32).sqrt()));
        assert!(
            (std(&Init::XavierNormal.tensor([o, i], &mut r)) - (2.0 / 500.0f32).sqrt()).abs()
                < 2e-3
        );
        assert!(
            (std(&Init::KaimingNormal.tensor([o, i], &mut r)) - (2.0 / 300.0f32).sqrt()).abs()
                < 2e-3
        );
        let ku = Init::KaimingUniform.tensor([o, i], &mut r);
        assert!(ku.data().iter().all(|x| x.abs() <= (6.0 / 300.0f32).sqrt()));
        // U(±b) has std b/√3
        assert!((std(&ku) - (6.0 / 300.0f32).sqrt() / 3f32.sqrt()).abs() < 2e-3);
        assert!(Init::Uniform(0.1)
            .tensor([o, i], &mut r)
            .data()
            .iter()
            .all(|x| x.abs() <= 0.1));
        assert!(Init::Zeros
            .tensor([3, 3], &mut r)
            .data()
            .iter()
            .all(|&x| x == 0.0));
    }

    #[test]
    fn same_seed_same_weights() {
        let a = Init::KaimingNormal.tensor([8, 8], &mut Rng::seed(9));
        let b = Init::KaimingNormal.tensor([8, 8], &mut Rng::seed(9));
        assert_eq!(a, b);
    }
}

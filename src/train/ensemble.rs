//! Model averaging (seed 003, slide 104): several networks trained from different random
//! initialisations, whose predictions are averaged. Class scores are averaged as probabilities
//! (softmax of each member's logits for cross-entropy, sigmoid for binary cross-entropy), other
//! outputs as they are.

use crate::autograd::Tape;
use crate::error::Result;
use crate::loss::Loss;
use crate::nn::Mlp;
use crate::params::Parameters;
use crate::tensor::Tensor;

/// An ensemble of trained networks that averages their outputs.
///
/// ```
/// use backprop::{nn::{Activation, Init, Mlp, MlpSpec}, train::Ensemble, Loss, Parameters, Rng, Tensor};
/// let mut rng = Rng::seed(0);
/// let mut ens = Ensemble::new(Loss::Mse);
/// for _ in 0..3 {
///     let mut ps = Parameters::new();
///     let net = Mlp::new(MlpSpec::from_sizes(&[2, 4, 1], Activation::Tanh, Activation::Identity), &mut ps, Init::PyTorch, &mut rng).unwrap();
///     ens.push(net, ps);
/// }
/// let y = ens.predict(&Tensor::zeros([5, 2])).unwrap();
/// assert_eq!(y.dims(), &[5, 1]);
/// ```
pub struct Ensemble {
    loss: Loss,
    members: Vec<(Mlp, Parameters)>,
}

impl Ensemble {
    /// An empty ensemble of networks trained with `loss` (which decides how outputs average).
    pub fn new(loss: Loss) -> Ensemble {
        Ensemble {
            loss,
            members: vec![],
        }
    }

    /// Adds a trained network.
    pub fn push(&mut self, net: Mlp, params: Parameters) {
        self.members.push((net, params));
    }

    /// The number of members.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Whether there are no members.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// The members.
    pub fn members(&self) -> &[(Mlp, Parameters)] {
        &self.members
    }

    /// One member's output as a probability (classifiers) or value (regression).
    pub fn member_output(&self, i: usize, tape: &mut Tape, x: &Tensor) -> Result<Tensor> {
        let (net, ps) = &self.members[i];
        let y = net.predict(ps, tape, x)?;
        Ok(match self.loss {
            Loss::CrossEntropy => crate::autograd::ops::softmax::softmax_rows(&y),
            Loss::BceWithLogits => y.map(|v| 1.0 / (1.0 + (-v).exp())),
            _ => y,
        })
    }

    /// The average of the members' outputs for a batch `x`.
    ///
    /// # Panics
    /// If the ensemble is empty.
    pub fn predict(&self, x: &Tensor) -> Result<Tensor> {
        assert!(!self.members.is_empty(), "predict on an empty ensemble");
        let mut tape = Tape::new();
        let mut sum = self.member_output(0, &mut tape, x)?;
        for i in 1..self.members.len() {
            let y = self.member_output(i, &mut tape, x)?;
            sum.data_mut()
                .iter_mut()
                .zip(y.data())
                .for_each(|(s, v)| *s += v);
        }
        let n = self.members.len() as f32;
        sum.data_mut().iter_mut().for_each(|s| *s /= n);
        Ok(sum)
    }
}

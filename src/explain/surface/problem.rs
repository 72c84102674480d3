//! The loss as a function of the two chosen weights: its value, its gradient, the descent.

use super::{Step, SurfaceSpec, Weight};
use crate::autograd::{Graph, Tape};
use crate::error::Result;
use crate::loss::Loss;
use crate::nn::{Mlp, Module};
use crate::params::Parameters;
use crate::tensor::Tensor;

/// The loss of the network on fixed data as a function of its parameters.
pub(super) struct Problem<'a> {
    pub(super) net: &'a Mlp,
    pub(super) params: Parameters,
    pub(super) x: Tensor,
    pub(super) t: Tensor,
    pub(super) loss: Loss,
    pub(super) w: &'a [Weight; 2],
}

impl Problem<'_> {
    pub(super) fn set(&mut self, v: [f64; 2]) {
        for (w, v) in self.w.iter().zip(v) {
            w.set(&mut self.params, v as f32);
        }
    }

    /// E at the current parameters.
    pub(super) fn loss(&self) -> Result<f64> {
        let mut tape = Tape::new();
        let mut g = Graph::no_grad(&mut tape, &self.params);
        g.set_training(false);
        let (x, t) = (g.input(&self.x), g.input(&self.t));
        let (_, y) = self.net.forward_for_loss(&mut g, x, self.loss)?;
        let e = self.loss.apply(&mut g, y, t);
        Ok(g.value(e).item() as f64)
    }

    /// E and (∂E/∂w₁, ∂E/∂w₂) at the current parameters, by backprop.
    fn loss_and_grad(&self) -> Result<(f64, [f64; 2])> {
        let mut tape = Tape::new();
        let mut g = Graph::new(&mut tape, &self.params);
        g.set_training(false);
        let (x, t) = (g.input(&self.x), g.input(&self.t));
        let (_, y) = self.net.forward_for_loss(&mut g, x, self.loss)?;
        let e = self.loss.apply(&mut g, y, t);
        let value = g.value(e).item() as f64;
        let grads = g.backward(e);
        let d = |w: &Weight| grads.get(w.id).map_or(0.0, |t| t.data()[w.index] as f64);
        Ok((value, [d(&self.w[0]), d(&self.w[1])]))
    }

    /// The descent from `start` (empty when neither steps nor a start were asked for), and
    /// whether it was stuck at a zero gradient.
    pub(super) fn descend(
        &mut self,
        start: [f64; 2],
        spec: &SurfaceSpec,
    ) -> Result<(Vec<Step>, bool)> {
        let mut path = vec![];
        let (mut w, mut stuck) = (start, false);
        for step in 0..=spec.descend {
            self.set(w);
            let (loss, grad) = self.loss_and_grad()?;
            path.push(Step { w, loss });
            stuck |= step == 0 && grad == [0.0, 0.0];
            if step == spec.descend || !loss.is_finite() {
                break;
            }
            let next = [0, 1].map(|i| w[i] - spec.lr * grad[i]);
            if next.iter().any(|v| !v.is_finite()) {
                break;
            }
            w = next;
        }
        if spec.descend == 0 && spec.start.is_none() {
            path.clear();
        }
        Ok((path, stuck && spec.descend > 0))
    }
}

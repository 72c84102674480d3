//! Composite ops, built only from the primitives (so they need no backward of their own).
//!
//! - `mean(x) = sum(x) · 1/n`, `mean_dim(x, d) = sum_dim(x, d) · 1/len`
//! - `softmax(x) = exp(log_softmax(x))`
//! - the composed reference forms of the fused ops, used by tests to show fused = composed:
//!   `log_softmax = x − m − ln Σ e^(x − m)`, `cross_entropy = −mean_n Σ_c onehot ⊙ log_softmax`,
//!   `linear = x·Wᵀ + b`.

use crate::autograd::{Graph, Var};

impl Graph<'_, '_> {
    /// The mean of all elements.
    pub fn mean(&mut self, x: Var) -> Var {
        let n = self.shape(x).numel();
        let s = self.sum(x);
        self.scale(s, 1.0 / n as f32)
    }

    /// The mean along `dim`.
    pub fn mean_dim(&mut self, x: Var, dim: usize, keepdim: bool) -> Var {
        let n = self.shape(x).dim(dim);
        let s = self.sum_dim(x, dim, keepdim);
        self.scale(s, 1.0 / n as f32)
    }

    /// softmax along the last dim: `exp(log_softmax(x))`, stable for large inputs.
    pub fn softmax(&mut self, x: Var) -> Var {
        let l = self.log_softmax(x);
        self.exp(l)
    }

    /// Inverted dropout: in training mode each element is zeroed with probability `p` and the
    /// rest scaled by `1/(1 − p)` (so evaluation needs no rescaling); in eval mode, `x` itself.
    /// The mask is drawn from the tape's generator ([`crate::Tape::set_rng`]) and enters the
    /// graph as a constant, so `dropout(x) = x ⊙ mask` needs no backward of its own.
    ///
    /// # Panics
    /// In training mode with `p > 0`, if the tape has no generator; or if `p` is not in `[0, 1)`.
    pub fn dropout(&mut self, x: Var, p: f32) -> Var {
        assert!(
            (0.0..1.0).contains(&p),
            "dropout probability {p} is not in [0, 1)"
        );
        if !self.training || p == 0.0 {
            return x;
        }
        let shape = self.shape(x);
        let mut rng = self
            .tape
            .rng
            .take()
            .expect("dropout in training mode needs Tape::set_rng");
        let keep = 1.0 / (1.0 - p);
        let mask = self.input_with(shape, |buf| {
            for m in buf.iter_mut() {
                *m = if rng.uniform() < p { 0.0 } else { keep };
            }
        });
        self.tape.rng = Some(rng);
        self.mul(x, mask)
    }

    /// log-softmax composed from primitives (reference for the fused [`Graph::log_softmax`]).
    pub fn log_softmax_composed(&mut self, x: Var) -> Var {
        let last = self.shape(x).rank() - 1;
        let m = self.max_dim(x, last, true);
        let shifted = self.sub(x, m);
        let e = self.exp(shifted);
        let s = self.sum_dim(e, last, true);
        let lse = self.log(s);
        self.sub(shifted, lse)
    }

    /// Mean cross-entropy composed from primitives, against one-hot targets `(batch, classes)`
    /// (reference for the fused [`Graph::cross_entropy`]).
    pub fn cross_entropy_composed(&mut self, logits: Var, onehot: Var) -> Var {
        let n = self.shape(logits).dim(0);
        let ls = self.log_softmax_composed(logits);
        let picked = self.mul(ls, onehot);
        let total = self.sum(picked);
        self.scale(total, -1.0 / n as f32)
    }

    /// A dense layer composed from primitives (reference for the fused [`Graph::linear`]).
    pub fn linear_composed(&mut self, x: Var, w: Var, b: Option<Var>) -> Var {
        let wt = self.transpose(w);
        let y = self.matmul(x, wt);
        match b {
            Some(b) => self.add(y, b),
            None => y,
        }
    }
}

//! The classic single-layer learning rules of seed 003 (slides 14–23), each a small trainer.
//!
//! **Perceptron convergence procedure** (binary threshold unit, bias as a weight on a constant
//! input): for each training case, if the output is correct leave the weights alone; if it
//! wrongly outputs 0, add the input vector to the weights; if it wrongly outputs 1, subtract it.
//! It finds weights that classify every case correctly whenever such weights exist — AND and OR,
//! but never XOR. **Multi-class**: one weight vector per class, predict the argmax; on a mistake
//! add the input to the correct class's weights and subtract it from the predicted class's.
//!
//! **ADALINE / Widrow–Hoff LMS (delta) rule**: a linear unit trained online by
//! `Δw = η (t − wᵀx) x`, gradient descent on the squared error `½(t − wᵀx)²` of each case.
//!
//! ```
//! use backprop::classic::{Adaline, Perceptron};
//! use backprop::Tensor;
//! let x = Tensor::from_vec(vec![0., 0., 0., 1., 1., 0., 1., 1.], [4, 2])?;
//! // OR is linearly separable: the procedure converges and gets every case right
//! let or = Perceptron::train(&x, &[0, 1, 1, 1], 100);
//! assert!(or.converged);
//! assert_eq!(or.predict(&x), vec![0, 1, 1, 1]);
//! // XOR is not: no such weights exist, so it never converges
//! let xor = Perceptron::train(&x, &[0, 1, 1, 0], 100);
//! assert!(!xor.converged && xor.epochs == 100);
//! assert_ne!(xor.predict(&x), vec![0, 1, 1, 0]);
//!
//! // One mistake from zero weights: wᵀx + b = 0 gives output 1 but the label is 0, so the
//! // input is subtracted (and 1 from the bias)
//! let p = Perceptron::train(&Tensor::from_vec(vec![2.0, 3.0], [1, 2])?, &[0], 1);
//! assert_eq!((p.weights, p.bias), (vec![-2.0, -3.0], -1.0));
//!
//! // One LMS step from zero weights: Δw = η (t − wᵀx) x = 0.1 · (1 − 0) · 2, Δb = 0.1 · 1
//! let a = Adaline::train(&Tensor::from_vec(vec![2.0], [1, 1])?, &[1.0], 0.1, 1);
//! assert_eq!((a.weights[0], a.bias), (0.2, 0.1));
//! assert!((a.mse[0] - 0.25).abs() < 1e-6); // (1 − (0.2·2 + 0.1))²
//! # Ok::<(), backprop::Error>(())
//! ```

use crate::tensor::Tensor;

/// A trained binary perceptron.
#[derive(Clone, Debug, PartialEq)]
pub struct Perceptron {
    /// One weight per input.
    pub weights: Vec<f32>,
    /// The bias (the weight on the constant-1 input).
    pub bias: f32,
    /// Whether an epoch passed with every case correct.
    pub converged: bool,
    /// Epochs run.
    pub epochs: usize,
}

impl Perceptron {
    /// Trains on rows of `x` with labels 0/1, in order, for at most `max_epochs` passes.
    ///
    /// ```
    /// use backprop::{classic::Perceptron, Tensor};
    /// let x = Tensor::from_vec(vec![0., 0., 0., 1., 1., 0., 1., 1.], [4, 2]).unwrap();
    /// let and = Perceptron::train(&x, &[0, 0, 0, 1], 100);
    /// assert!(and.converged);
    /// assert_eq!(and.predict(&x), vec![0, 0, 0, 1]);
    /// ```
    pub fn train(x: &Tensor, labels: &[usize], max_epochs: usize) -> Perceptron {
        let d = x.shape().last();
        let mut p = Perceptron {
            weights: vec![0.0; d],
            bias: 0.0,
            converged: false,
            epochs: 0,
        };
        while p.epochs < max_epochs && !p.converged {
            p.epochs += 1;
            let mut mistakes = 0;
            for (i, &t) in labels.iter().enumerate() {
                let row = x.row(i);
                let out = p.output(row);
                if out != t {
                    mistakes += 1;
                    let sign = if t == 1 { 1.0 } else { -1.0 }; // output 0 → add, output 1 → subtract
                    p.weights
                        .iter_mut()
                        .zip(row)
                        .for_each(|(w, &v)| *w += sign * v);
                    p.bias += sign;
                }
            }
            p.converged = mistakes == 0;
        }
        p
    }

    fn output(&self, row: &[f32]) -> usize {
        let z: f32 = self.bias
            + self
                .weights
                .iter()
                .zip(row)
                .map(|(w, v)| w * v)
                .sum::<f32>();
        usize::from(z >= 0.0)
    }

    /// The 0/1 output for each row.
    pub fn predict(&self, x: &Tensor) -> Vec<usize> {
        (0..x.shape().as_matrix().0)
            .map(|i| self.output(x.row(i)))
            .collect()
    }
}

/// A trained multi-class perceptron: one weight vector (with bias) per class.
#[derive(Clone, Debug, PartialEq)]
pub struct MultiClassPerceptron {
    /// `classes × (inputs + 1)`; the last column is the bias.
    pub weights: Vec<Vec<f32>>,
    /// Whether an epoch passed with every case correct.
    pub converged: bool,
    /// Epochs run.
    pub epochs: usize,
}

impl MultiClassPerceptron {
    /// Trains on rows of `x` with labels `0..classes`, for at most `max_epochs` passes.
    pub fn train(
        x: &Tensor,
        labels: &[usize],
        classes: usize,
        max_epochs: usize,
    ) -> MultiClassPerceptron {
        let d = x.shape().last();
        let mut p = MultiClassPerceptron {
            weights: vec![vec![0.0; d + 1]; classes],
            converged: false,
            epochs: 0,
        };
        while p.epochs < max_epochs && !p.converged {
            p.epochs += 1;
            let mut mistakes = 0;
            for (i, &t) in labels.iter().enumerate() {
                let row = x.row(i);
                let guess = p.class_of(row);
                if guess != t {
                    mistakes += 1;
                    for (j, &v) in row.iter().chain(std::iter::once(&1.0)).enumerate() {
                        p.weights[t][j] += v;
                        p.weights[guess][j] -= v;
                    }
                }
            }
            p.converged = mistakes == 0;
        }
        p
    }

    fn class_of(&self, row: &[f32]) -> usize {
        let score =
            |w: &Vec<f32>| w[row.len()] + w.iter().zip(row).map(|(a, b)| a * b).sum::<f32>();
        let mut best = 0;
        for c in 1..self.weights.len() {
            if score(&self.weights[c]) > score(&self.weights[best]) {
                best = c;
            }
        }
        best
    }

    /// The predicted class of each row.
    pub fn predict(&self, x: &Tensor) -> Vec<usize> {
        (0..x.shape().as_matrix().0)
            .map(|i| self.class_of(x.row(i)))
            .collect()
    }
}

/// A linear unit trained by the Widrow–Hoff LMS rule.
#[derive(Clone, Debug, PartialEq)]
pub struct Adaline {
    /// One weight per input.
    pub weights: Vec<f32>,
    /// The bias.
    pub bias: f32,
    /// Mean squared error `(1/N) Σ (t − wᵀx)²` after each epoch.
    pub mse: Vec<f32>,
}

impl Adaline {
    /// Trains online, in row order, with learning rate `lr` for `epochs` passes, from zero weights.
    ///
    /// ```
    /// use backprop::{classic::Adaline, Tensor};
    /// // t = 2x − 1
    /// let x = Tensor::from_vec(vec![0.0, 0.5, 1.0, 1.5], [4, 1]).unwrap();
    /// let a = Adaline::train(&x, &[-1.0, 0.0, 1.0, 2.0], 0.1, 200);
    /// assert!((a.weights[0] - 2.0).abs() < 1e-3 && (a.bias + 1.0).abs() < 1e-3);
    /// ```
    pub fn train(x: &Tensor, targets: &[f32], lr: f32, epochs: usize) -> Adaline {
        let d = x.shape().last();
        let mut a = Adaline {
            weights: vec![0.0; d],
            bias: 0.0,
            mse: vec![],
        };
        for _ in 0..epochs {
            for (i, &t) in targets.iter().enumerate() {
                let row = x.row(i);
                let err = t - a.output(row);
                a.weights
                    .iter_mut()
                    .zip(row)
                    .for_each(|(w, &v)| *w += lr * err * v);
                a.bias += lr * err;
            }
            let sse: f32 = targets
                .iter()
                .enumerate()
                .map(|(i, &t)| (t - a.output(x.row(i))).powi(2))
                .sum();
            a.mse.push(sse / targets.len().max(1) as f32);
        }
        a
    }

    /// `wᵀx + b` for one row.
    pub fn output(&self, row: &[f32]) -> f32 {
        self.bias
            + self
                .weights
                .iter()
                .zip(row)
                .map(|(w, v)| w * v)
                .sum::<f32>()
    }
}

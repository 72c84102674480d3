//! Loss functions, composed from graph ops. For outputs `y` (N samples × K outputs) and targets `t`:
//!
//! | loss | formula | seeds / PyTorch |
//! |---|---|---|
//! | `HalfSse` | `E = ½ Σₙ Σₖ (yₙₖ − tₙₖ)²` | Rumelhart's E (seed 000, "½·Σ") — a sum, not a mean |
//! | `SquaredError` | `E = (1/N) Σₙ Σₖ (yₙₖ − tₙₖ)²` | seed 001's E = (1/N) Σ eₙ with eₙ = ‖h(xₙ) − yₙ‖² |
//! | `Mse` | `(1/NK) Σ (y − t)²` | `nn.MSELoss()` (mean over every element) |
//! | `Mae` | `(1/NK) Σ |y − t|` | `nn.L1Loss()` |
//! | `BceWithLogits` | `(1/NK) Σ max(y,0) − y·t + ln(1 + e^(−|y|))` | `nn.BCEWithLogitsLoss()`, stable form |
//! | `CrossEntropy` | `−(1/N) Σₙ ln softmax(yₙ)[tₙ]` | `nn.CrossEntropyLoss()` on class indices |
//! | `Hinge` | `(1/N) Σₙ Σ_{j≠tₙ} max(0, yₙⱼ − yₙₜₙ + 1)` | multi-class SVM loss of seed 003 (cs231n); `nn.MultiMarginLoss` divides by K too |
//!
//! Class targets (cross-entropy, hinge) are class indices, one per sample; all others take a
//! target row of K values per sample.

use crate::autograd::{Graph, Var};
use crate::tensor::Tensor;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A loss function. Its `Display` name is the one `backprop train --loss` takes.
///
/// The three squared errors on the same outputs: for `y − t` = (1, 2; 3, 4), Σ(y − t)² = 30 over
/// N = 2 samples and K = 2 outputs.
///
/// ```
/// use backprop::{Graph, Loss, Parameters, Tape, Tensor};
/// let ps = Parameters::new();
/// let mut tape = Tape::new();
/// let mut g = Graph::new(&mut tape, &ps);
/// let y = g.input(&Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0], [2, 2])?);
/// let t = g.input(&Tensor::zeros([2, 2]));
/// let mut value = |loss: Loss| {
///     let e = loss.apply(&mut g, y, t);
///     g.value(e).item()
/// };
/// assert_eq!(value(Loss::HalfSse), 15.0); // ½ Σ (seed 000)
/// assert_eq!(value(Loss::SquaredError), 15.0); // (1/N) Σ (seed 001)
/// assert_eq!(value(Loss::Mse), 7.5); // (1/NK) Σ (PyTorch's MSELoss)
/// assert_eq!(value(Loss::Mae), 2.5);
/// assert_eq!(Loss::HalfSse.to_string(), "half_sse");
/// assert!(Loss::CrossEntropy.takes_classes() && !Loss::Mse.takes_classes());
/// # Ok::<(), backprop::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Loss {
    /// `½ Σ (y − t)²` over samples and outputs.
    HalfSse,
    /// `(1/N) Σₙ ‖yₙ − tₙ‖²`.
    SquaredError,
    /// Mean squared error over every element.
    Mse,
    /// Mean absolute error over every element.
    Mae,
    /// Binary cross-entropy on logits.
    BceWithLogits,
    /// Softmax cross-entropy on logits against class indices.
    CrossEntropy,
    /// Multi-class hinge (SVM) loss against class indices.
    Hinge,
}

impl Loss {
    /// Whether targets are class indices (one per sample) rather than rows of values.
    pub fn takes_classes(self) -> bool {
        matches!(self, Loss::CrossEntropy | Loss::Hinge)
    }

    /// Class-weighted cross-entropy (Keras' `class_weight`, scikit-learn's `class_weight`):
    /// `E = −(1/N) Σₙ w(tₙ) ln softmax(yₙ)[tₙ]`, written as `−(1/N) Σ T ⊙ log_softmax(y)` with
    /// `T` the one-hot targets scaled by their class's weight — composed from `log_softmax`,
    /// `mul`, `sum` and `scale`, so its gradient is theirs.
    ///
    /// ```
    /// use backprop::{Graph, Loss, Parameters, Tape, Tensor};
    /// let ps = Parameters::new();
    /// let mut tape = Tape::new();
    /// let mut g = Graph::new(&mut tape, &ps);
    /// let y = g.input(&Tensor::from_vec(vec![2.0, 0.0, 0.0, 1.0], [2, 2]).unwrap());
    /// // sample 0 is class 0 (weight 1), sample 1 is class 1 (weight 3)
    /// let t = g.input(&Tensor::from_vec(vec![1.0, 0.0, 0.0, 3.0], [2, 2]).unwrap());
    /// let e = Loss::weighted_cross_entropy(&mut g, y, t);
    /// let ce = |z: f32| (1.0 + (-z).exp()).ln(); // −ln softmax for two classes, margin z
    /// assert!((g.value(e).item() - (ce(2.0) + 3.0 * ce(1.0)) / 2.0).abs() < 1e-6);
    /// ```
    pub fn weighted_cross_entropy(g: &mut Graph, logits: Var, weighted_onehot: Var) -> Var {
        let n = g.shape(logits).dim(0).max(1);
        let ls = g.log_softmax(logits);
        let p = g.mul(ls, weighted_onehot);
        let s = g.sum(p);
        g.scale(s, -1.0 / n as f32)
    }

    /// Records the loss of `output` against `target` and returns the scalar.
    ///
    /// ```
    /// use backprop::{Graph, Loss, Parameters, Tape, Tensor};
    /// let ps = Parameters::new();
    /// let mut tape = Tape::new();
    /// let mut g = Graph::new(&mut tape, &ps);
    /// let y = g.input(&Tensor::from_vec(vec![1.0, 3.0], [2, 1]).unwrap());
    /// let t = g.input(&Tensor::from_vec(vec![0.0, 1.0], [2, 1]).unwrap());
    /// let e = Loss::HalfSse.apply(&mut g, y, t);
    /// assert_eq!(g.value(e).item(), 2.5); // ½(1² + 2²)
    /// let e = Loss::SquaredError.apply(&mut g, y, t);
    /// assert_eq!(g.value(e).item(), 2.5); // (1² + 2²)/2
    /// ```
    pub fn apply(self, g: &mut Graph, output: Var, target: Var) -> Var {
        match self {
            Loss::HalfSse => {
                let sq = squared_diff(g, output, target);
                let s = g.sum(sq);
                g.scale(s, 0.5)
            }
            Loss::SquaredError => {
                let n = g.shape(output).dim(0);
                let sq = squared_diff(g, output, target);
                let s = g.sum(sq);
                g.scale(s, 1.0 / n as f32)
            }
            Loss::Mse => {
                let sq = squared_diff(g, output, target);
                g.mean(sq)
            }
            Loss::Mae => {
                let t = reshape_like(g, target, output);
                let d = g.sub(output, t);
                let a = abs(g, d);
                g.mean(a)
            }
            Loss::BceWithLogits => {
                let l = bce_terms(g, output, target);
                g.mean(l)
            }
            Loss::CrossEntropy => g.cross_entropy(output, target),
            Loss::Hinge => {
                let (n, k) = g.shape(output).as_matrix();
                let labels = g.value(target).to_vec();
                let mut onehot = vec![0.0; n * k];
                for (i, &l) in labels.iter().enumerate() {
                    onehot[i * k + l as usize] = 1.0;
                }
                let oh = g.input_with([n, k], |b| b.copy_from_slice(&onehot));
                let picked = g.mul(output, oh);
                let correct = g.sum_dim(picked, 1, true); // yₙ,ₜₙ
                let diff = g.sub(output, correct);
                let one = g.input(&Tensor::scalar(1.0));
                let m = g.add(diff, one);
                let m = g.relu(m);
                // the j = tₙ term is max(0, 1) = 1 for every sample: remove it
                let s = g.sum(m);
                let s = g.scale(s, 1.0 / n as f32);
                let minus_one = g.input(&Tensor::scalar(-1.0));
                g.add(s, minus_one)
            }
        }
    }

    /// All losses, for help texts and tests.
    pub const ALL: [Loss; 7] = [
        Loss::HalfSse,
        Loss::SquaredError,
        Loss::Mse,
        Loss::Mae,
        Loss::BceWithLogits,
        Loss::CrossEntropy,
        Loss::Hinge,
    ];
}

/// Sample-weighted losses (scikit-learn's `sample_weight`).
impl Loss {
    /// The loss with per-sample weights `w` (one per row of `output`, scaled by the caller to
    /// mean 1 over the batch, as [`Dataset::batch_weights`](crate::data::Dataset::batch_weights)
    /// does): each sample's terms are multiplied by its weight before the loss's own reduction,
    /// so a mean loss becomes `Σ wᵢ·lossᵢ / Σ wᵢ`. With every weight 1 it equals
    /// [`Loss::apply`] up to round-off. Composed from graph ops, so its gradient is theirs.
    ///
    /// ```
    /// use backprop::{Graph, Loss, Parameters, Tape, Tensor};
    /// let ps = Parameters::new();
    /// let mut tape = Tape::new();
    /// let mut g = Graph::new(&mut tape, &ps);
    /// let y = g.input(&Tensor::from_vec(vec![1.0, 3.0], [2, 1])?);
    /// let t = g.input(&Tensor::zeros([2, 1]));
    /// // raw weights 1 and 3, scaled to mean 1: 0.5 and 1.5
    /// let e = Loss::Mse.apply_weighted(&mut g, y, t, &[0.5, 1.5]);
    /// assert_eq!(g.value(e).item(), (1.0 * 1.0 + 3.0 * 9.0) / 4.0); // Σ w·l / Σ w
    /// # Ok::<(), backprop::Error>(())
    /// ```
    pub fn apply_weighted(self, g: &mut Graph, output: Var, target: Var, w: &[f32]) -> Var {
        let (n, k) = g.shape(output).as_matrix();
        let wide = g.input_with([n, k], |b| {
            for (row, &wi) in b.chunks_exact_mut(k).zip(w) {
                row.fill(wi);
            }
        });
        match self {
            Loss::CrossEntropy => {
                let labels = g.value(target).to_vec();
                let wt = g.input_with([n, k], |b| {
                    b.fill(0.0);
                    for (i, (&l, &wi)) in labels.iter().zip(w).enumerate() {
                        b[i * k + l as usize] = wi;
                    }
                });
                Loss::weighted_cross_entropy(g, output, wt)
            }
            Loss::Hinge => {
                let labels = g.value(target).to_vec();
                let oh = g.input_with([n, k], |b| {
                    b.fill(0.0);
                    for (i, &l) in labels.iter().enumerate() {
                        b[i * k + l as usize] = 1.0;
                    }
                });
                let picked = g.mul(output, oh);
                let correct = g.sum_dim(picked, 1, true);
                let diff = g.sub(output, correct);
                let one = g.input(&Tensor::scalar(1.0));
                let m = g.add(diff, one);
                let m = g.relu(m);
                let m = g.mul(m, wide);
                let s = g.sum(m);
                let s = g.scale(s, 1.0 / n.max(1) as f32);
                // the j = tₙ terms are wₙ·1: remove them
                let own: f32 = w.iter().sum::<f32>() / n.max(1) as f32;
                let minus = g.input(&Tensor::scalar(-own));
                g.add(s, minus)
            }
            Loss::HalfSse | Loss::SquaredError | Loss::Mse => {
                let sq = squared_diff(g, output, target);
                let e = g.mul(sq, wide);
                let s = g.sum(e);
                let f = match self {
                    Loss::HalfSse => 0.5,
                    Loss::SquaredError => 1.0 / n.max(1) as f32,
                    _ => 1.0 / (n * k).max(1) as f32,
                };
                g.scale(s, f)
            }
            Loss::Mae | Loss::BceWithLogits => {
                let e = if self == Loss::Mae {
                    let t = reshape_like(g, target, output);
                    let d = g.sub(output, t);
                    abs(g, d)
                } else {
                    bce_terms(g, output, target)
                };
                let e = g.mul(e, wide);
                g.mean(e)
            }
        }
    }
}

/// The elements of BCE on logits, `max(y,0) − y·t + ln(1 + e^(−|y|))`: never exponentiates a
/// positive number.
fn bce_terms(g: &mut Graph, output: Var, target: Var) -> Var {
    let t = reshape_like(g, target, output);
    let pos = g.relu(output);
    let yt = g.mul(output, t);
    let a = abs(g, output);
    let na = g.neg(a);
    let e = g.exp(na);
    let one = g.input(&Tensor::scalar(1.0));
    let e1 = g.add(e, one);
    let sp = g.log(e1);
    let d = g.sub(pos, yt);
    g.add(d, sp)
}

/// `(y − t)²`, with t reshaped to y's shape if it is a flat vector of the same size.
fn squared_diff(g: &mut Graph, y: Var, t: Var) -> Var {
    let t = reshape_like(g, t, y);
    let d = g.sub(y, t);
    g.square(d)
}

fn reshape_like(g: &mut Graph, t: Var, like: Var) -> Var {
    let (st, sl) = (g.shape(t), g.shape(like));
    if st != sl && st.numel() == sl.numel() {
        g.reshape(t, sl)
    } else {
        t
    }
}

/// `|x| = relu(x) + relu(−x)`.
fn abs(g: &mut Graph, x: Var) -> Var {
    let p = g.relu(x);
    let n = g.neg(x);
    let q = g.relu(n);
    g.add(p, q)
}

impl fmt::Display for Loss {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            Loss::HalfSse => "half_sse",
            Loss::SquaredError => "squared_error",
            Loss::Mse => "mse",
            Loss::Mae => "mae",
            Loss::BceWithLogits => "bce",
            Loss::CrossEntropy => "cross_entropy",
            Loss::Hinge => "hinge",
        };
        f.write_str(s)
    }
}

impl FromStr for Loss {
    type Err = String;
    fn from_str(s: &str) -> Result<Loss, String> {
        Ok(match s.to_ascii_lowercase().replace('-', "_").as_str() {
            "half_sse" | "sse" => Loss::HalfSse,
            "squared_error" => Loss::SquaredError,
            "mse" => Loss::Mse,
            "mae" | "l1" => Loss::Mae,
            "bce" | "bce_with_logits" => Loss::BceWithLogits,
            "cross_entropy" | "ce" => Loss::CrossEntropy,
            "hinge" | "svm" => Loss::Hinge,
            other => {
                return Err(format!(
                    "unknown loss {other:?}; expected half_sse, squared_error, mse, mae, bce, cross_entropy or hinge"
                ))
            }
        })
    }
}

//! Per-epoch metrics, accumulated batch by batch: loss, accuracy for classifiers, and MSE, MAE,
//! R² for regression (R² averaged uniformly over outputs, as scikit-learn's `r2_score`).

use serde::{Deserialize, Serialize};

/// The metrics of one pass over a dataset.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    /// Mean loss per batch, weighted by batch size.
    pub loss: f32,
    /// Fraction of samples classified correctly (classifiers only).
    pub accuracy: Option<f32>,
    /// Mean squared error (regression only).
    pub mse: Option<f32>,
    /// Mean absolute error (regression only).
    pub mae: Option<f32>,
    /// Coefficient of determination (regression only).
    pub r2: Option<f32>,
    /// Regression: each output's MSE and MAE (what [`Metrics::in_target_units`] needs to
    /// convert several outputs exactly); not saved.
    #[serde(skip)]
    pub per_output: Vec<[f32; 2]>,
}

impl Metrics {
    /// The metrics of a regression trained on standardised targets `(t − mean_j)/std_j`, in the
    /// targets' own units: each output's MSE × std_j², MAE × std_j (then averaged over outputs as
    /// before), R² unchanged (it has no units), and the loss scaled like its error — a squared
    /// loss by the ratio of the MSEs, an absolute one by the ratio of the MAEs (exact for the
    /// mean- and sum-based losses: every term scales alike). `mae_loss`: the loss is an
    /// absolute error. Classifier metrics come back unchanged.
    ///
    /// ```
    /// use backprop::train::Metrics;
    /// let m = Metrics { loss: 0.5, mse: Some(0.5), mae: Some(0.25), r2: Some(0.9),
    ///     per_output: vec![[0.5, 0.25]], ..Metrics::default() };
    /// let u = m.in_target_units(&[10.0], false);
    /// assert_eq!((u.loss, u.mse, u.mae, u.r2), (50.0, Some(50.0), Some(2.5), Some(0.9)));
    /// ```
    pub fn in_target_units(&self, std: &[f32], mae_loss: bool) -> Metrics {
        let (Some(mse), Some(mae)) = (self.mse, self.mae) else {
            return self.clone();
        };
        if self.per_output.len() != std.len() || std.is_empty() {
            return self.clone();
        }
        let per_output: Vec<[f32; 2]> = self
            .per_output
            .iter()
            .zip(std)
            .map(|(&[m, a], &s)| [m * s * s, a * s])
            .collect();
        let k = per_output.len() as f32;
        let mse_u = per_output.iter().map(|p| p[0]).sum::<f32>() / k;
        let mae_u = per_output.iter().map(|p| p[1]).sum::<f32>() / k;
        let ratio = |u: f32, s: f32| if s > 0.0 { u / s } else { 1.0 };
        let loss = self.loss
            * if mae_loss {
                ratio(mae_u, mae)
            } else {
                ratio(mse_u, mse)
            };
        Metrics {
            loss,
            mse: Some(mse_u),
            mae: Some(mae_u),
            per_output,
            ..self.clone()
        }
    }
}

/// How to read a network's output for the task.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Readout {
    /// argmax over the outputs is the class.
    Argmax,
    /// One output; class 1 when it exceeds the threshold (0 for logits, 0.5 for probabilities).
    Threshold(u8),
    /// Regression values.
    Values,
}

impl Readout {
    pub(crate) fn class_of(self, row: &[f32]) -> usize {
        match self {
            Readout::Argmax => {
                let mut best = 0;
                for (i, &v) in row.iter().enumerate() {
                    if v > row[best] {
                        best = i;
                    }
                }
                best
            }
            Readout::Threshold(t) => usize::from(row[0] > if t == 0 { 0.0 } else { 0.5 }),
            Readout::Values => 0,
        }
    }
}

/// Running sums for [`Metrics`].
#[derive(Clone, Debug, Default)]
pub(crate) struct Accumulator {
    n: usize,
    loss: f64,
    correct: usize,
    sq: Vec<f64>,
    abs: Vec<f64>,
    sum_t: Vec<f64>,
    sum_t2: Vec<f64>,
    values: usize,
}

impl Accumulator {
    /// Adds a batch: its mean loss, outputs (n × k) and targets (class indices, or n × k values).
    pub(crate) fn add(
        &mut self,
        loss: f32,
        out: &[f32],
        k: usize,
        targets: &[f32],
        readout: Readout,
    ) {
        let n = out.len() / k.max(1);
        self.n += n;
        self.loss += loss as f64 * n as f64;
        match readout {
            Readout::Values => {
                if self.sq.len() != k {
                    *self = Accumulator {
                        sq: vec![0.0; k],
                        abs: vec![0.0; k],
                        sum_t: vec![0.0; k],
                        sum_t2: vec![0.0; k],
                        ..*self
                    };
                }
                self.values += n;
                for (o, t) in out.chunks_exact(k).zip(targets.chunks_exact(k)) {
                    for j in 0..k {
                        let (y, t) = (o[j] as f64, t[j] as f64);
                        self.sq[j] += (y - t) * (y - t);
                        self.abs[j] += (y - t).abs();
                        self.sum_t[j] += t;
                        self.sum_t2[j] += t * t;
                    }
                }
            }
            _ => {
                for (o, &t) in out.chunks_exact(k).zip(targets) {
                    self.correct += usize::from(readout.class_of(o) == t as usize);
                }
            }
        }
    }

    /// The accuracy so far, for classifiers.
    pub(crate) fn running_accuracy(&self, readout: Readout) -> Option<f32> {
        (readout != Readout::Values && self.n > 0).then(|| self.correct as f32 / self.n as f32)
    }

    /// Every running sum as one vector, `k` values per output for regression (zeros where this
    /// accumulator saw no sample), so that sums over processes can be taken element-wise.
    pub(crate) fn to_sums(&self, k: usize) -> Vec<f64> {
        let mut v = vec![
            self.n as f64,
            self.loss,
            self.correct as f64,
            self.values as f64,
        ];
        for part in [&self.sq, &self.abs, &self.sum_t, &self.sum_t2] {
            v.extend((0..k).map(|j| part.get(j).copied().unwrap_or(0.0)));
        }
        v
    }

    /// The inverse of [`Accumulator::to_sums`].
    pub(crate) fn from_sums(v: &[f64], k: usize) -> Accumulator {
        let part = |i: usize| v[4 + i * k..4 + (i + 1) * k].to_vec();
        let regression = v[3] > 0.0;
        let or_empty = |p: Vec<f64>| if regression { p } else { vec![] };
        Accumulator {
            n: v[0] as usize,
            loss: v[1],
            correct: v[2] as usize,
            values: v[3] as usize,
            sq: or_empty(part(0)),
            abs: or_empty(part(1)),
            sum_t: or_empty(part(2)),
            sum_t2: or_empty(part(3)),
        }
    }

    pub(crate) fn finish(&self, readout: Readout) -> Metrics {
        let n = self.n.max(1) as f64;
        let mut m = Metrics {
            loss: (self.loss / n) as f32,
            ..Metrics::default()
        };
        if readout == Readout::Values {
            let k = self.sq.len().max(1) as f64;
            let cnt = self.values.max(1) as f64;
            m.mse = Some((self.sq.iter().sum::<f64>() / (cnt * k)) as f32);
            m.per_output = self
                .sq
                .iter()
                .zip(&self.abs)
                .map(|(&sq, &ab)| [(sq / cnt) as f32, (ab / cnt) as f32])
                .collect();
            m.mae = Some((self.abs.iter().sum::<f64>() / (cnt * k)) as f32);
            let r2: f64 = (0..self.sq.len())
                .map(|j| {
                    let ss_tot = self.sum_t2[j] - self.sum_t[j] * self.sum_t[j] / cnt;
                    if ss_tot > 0.0 {
                        1.0 - self.sq[j] / ss_tot
                    } else {
                        0.0
                    }
                })
                .sum::<f64>()
                / k;
            m.r2 = Some(r2 as f32);
        } else {
            m.accuracy = Some((self.correct as f64 / n) as f32);
        }
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regression_metrics_by_hand() {
        // targets 1, 2, 3; predictions 1, 2, 5 → errors 0, 0, 2
        let mut a = Accumulator::default();
        a.add(0.5, &[1.0, 2.0], 1, &[1.0, 2.0], Readout::Values);
        a.add(2.0, &[5.0], 1, &[3.0], Readout::Values);
        let m = a.finish(Readout::Values);
        assert!((m.mse.unwrap() - 4.0 / 3.0).abs() < 1e-6);
        assert!((m.mae.unwrap() - 2.0 / 3.0).abs() < 1e-6);
        // SS_tot = (1−2)² + 0 + (3−2)² = 2 → R² = 1 − 4/2 = −1
        assert!((m.r2.unwrap() - -1.0).abs() < 1e-6);
        assert!((m.loss - (0.5 * 2.0 + 2.0) / 3.0).abs() < 1e-6);
    }

    #[test]
    fn accuracy_by_argmax_and_threshold() {
        let mut a = Accumulator::default();
        a.add(0.0, &[0.1, 0.9, 0.8, 0.2], 2, &[1.0, 1.0], Readout::Argmax);
        assert_eq!(a.finish(Readout::Argmax).accuracy, Some(0.5));
        let mut b = Accumulator::default();
        b.add(
            0.0,
            &[-0.3, 0.2, 0.7],
            1,
            &[0.0, 1.0, 0.0],
            Readout::Threshold(0),
        );
        assert!((b.finish(Readout::Threshold(0)).accuracy.unwrap() - 2.0 / 3.0).abs() < 1e-6);
    }
}

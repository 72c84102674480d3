//! The confusion matrix and what it gives: accuracy, per-class precision, recall and F1, and
//! their macro and weighted averages.

use super::same_len;
use crate::error::{Error, Result};
use serde::Serialize;

/// Counts of (true class, predicted class) pairs: row `t`, column `p` holds how many samples of
/// class `t` were predicted as `p` (scikit-learn's `confusion_matrix` layout).
///
/// ```
/// use backprop::metrics::ConfusionMatrix;
/// let cm = ConfusionMatrix::new(3, &[0, 1, 2, 2], &[0, 2, 2, 1])?;
/// assert_eq!(cm.row(2), &[0, 1, 1]); // the two 2s: one predicted 1, one 2
/// assert_eq!((cm.get(1, 2), cm.correct(), cm.total()), (1, 2, 4));
/// # Ok::<(), backprop::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ConfusionMatrix {
    classes: usize,
    /// Row-major `classes × classes`.
    counts: Vec<usize>,
}

/// Precision, recall and F1 of one class (or their average), with the number of true samples
/// they are about.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct ClassScores {
    /// Of the samples predicted as the class, the share that are: tp / (tp + fp), 0 when none
    /// is predicted.
    pub precision: f64,
    /// Of the samples of the class, the share predicted as it: tp / (tp + fn), 0 when there is
    /// none.
    pub recall: f64,
    /// The harmonic mean 2·p·r / (p + r), 0 when both are 0.
    pub f1: f64,
    /// The number of true samples of the class (for the averages: of all classes).
    pub support: usize,
}

/// scikit-learn's `classification_report` (with `zero_division=0`) as numbers.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ClassificationReport {
    /// The share of samples predicted right.
    pub accuracy: f64,
    /// One entry per class, in class order (classes absent from both the truth and the
    /// predictions score 0 everywhere).
    pub classes: Vec<ClassScores>,
    /// The plain mean over the classes that occur in the truth or the predictions (as
    /// scikit-learn, which only knows those labels).
    pub macro_avg: ClassScores,
    /// The mean weighted by each class's support.
    pub weighted_avg: ClassScores,
}

impl ConfusionMatrix {
    /// Counts the pairs of `truth[i]` and `pred[i]`, class indices below `classes`.
    ///
    /// ```
    /// use backprop::metrics::ConfusionMatrix;
    /// let cm = ConfusionMatrix::new(2, &[1, 1, 0], &[1, 0, 0])?;
    /// assert_eq!((cm.row(0), cm.row(1)), (&[1, 0][..], &[1, 1][..]));
    /// assert!(ConfusionMatrix::new(2, &[2], &[0]).is_err()); // no class 2
    /// # Ok::<(), backprop::Error>(())
    /// ```
    pub fn new(classes: usize, truth: &[usize], pred: &[usize]) -> Result<ConfusionMatrix> {
        same_len("predicted classes", truth.len(), pred.len())?;
        let mut counts = vec![0; classes * classes];
        for (i, (&t, &p)) in truth.iter().zip(pred).enumerate() {
            if t >= classes || p >= classes {
                return Err(Error::invalid(
                    "class index",
                    format!("sample {i}: true {t}, predicted {p}"),
                    "indices below the number of classes",
                ));
            }
            counts[t * classes + p] += 1;
        }
        Ok(ConfusionMatrix { classes, counts })
    }

    /// The number of classes (rows and columns).
    pub fn classes(&self) -> usize {
        self.classes
    }

    /// How many samples of class `truth` were predicted as `pred`.
    pub fn get(&self, truth: usize, pred: usize) -> usize {
        self.counts[truth * self.classes + pred]
    }

    /// The predictions for the samples of class `truth`, by predicted class.
    pub fn row(&self, truth: usize) -> &[usize] {
        &self.counts[truth * self.classes..(truth + 1) * self.classes]
    }

    /// The number of samples.
    pub fn total(&self) -> usize {
        self.counts.iter().sum()
    }

    /// The number of samples predicted right (the diagonal).
    pub fn correct(&self) -> usize {
        (0..self.classes).map(|c| self.get(c, c)).sum()
    }

    /// [`correct`](Self::correct) / [`total`](Self::total).
    pub fn accuracy(&self) -> f64 {
        self.correct() as f64 / self.total().max(1) as f64
    }

    /// The samples of class `c` (its row sum).
    pub fn support(&self, c: usize) -> usize {
        self.row(c).iter().sum()
    }

    /// The samples predicted as class `c` (its column sum).
    pub fn predicted(&self, c: usize) -> usize {
        (0..self.classes).map(|t| self.get(t, c)).sum()
    }

    /// Precision, recall and F1 of class `c`, 0 where a share has no samples to be a share of
    /// (scikit-learn's `zero_division=0`).
    ///
    /// ```
    /// use backprop::metrics::ConfusionMatrix;
    /// let cm = ConfusionMatrix::new(2, &[1, 1, 0, 0], &[1, 0, 1, 1])?;
    /// let s = cm.scores(1); // tp 1, fp 2, fn 1
    /// assert_eq!((s.precision, s.recall, s.support), (1.0 / 3.0, 0.5, 2));
    /// assert!((s.f1 - 0.4).abs() < 1e-12); // 2·(1/3)·(1/2) / (1/3 + 1/2)
    /// # Ok::<(), backprop::Error>(())
    /// ```
    pub fn scores(&self, c: usize) -> ClassScores {
        let tp = self.get(c, c) as f64;
        let (predicted, support) = (self.predicted(c), self.support(c));
        let share = |of: usize| if of > 0 { tp / of as f64 } else { 0.0 };
        let (precision, recall) = (share(predicted), share(support));
        let f1 = if precision + recall > 0.0 {
            2.0 * precision * recall / (precision + recall)
        } else {
            0.0
        };
        ClassScores {
            precision,
            recall,
            f1,
            support,
        }
    }

    /// Every class's [`scores`](Self::scores), their macro and weighted averages, and the
    /// accuracy: the numbers of scikit-learn's `classification_report(y_true, y_pred,
    /// zero_division=0)`.
    ///
    /// ```
    /// use backprop::metrics::ConfusionMatrix;
    /// // class 2 never occurs and is never predicted: the macro average leaves it out
    /// let cm = ConfusionMatrix::new(3, &[0, 0, 0, 1], &[0, 0, 1, 1])?;
    /// let r = cm.report();
    /// assert_eq!(r.macro_avg.recall, (2.0 / 3.0 + 1.0) / 2.0);
    /// assert_eq!(r.weighted_avg.recall, 0.75); // (3 · 2/3 + 1 · 1) / 4
    /// assert_eq!((r.accuracy, r.macro_avg.support), (0.75, 4));
    /// # Ok::<(), backprop::Error>(())
    /// ```
    pub fn report(&self) -> ClassificationReport {
        let n = self.total();
        let classes: Vec<ClassScores> = (0..self.classes).map(|c| self.scores(c)).collect();
        let (mut macro_avg, mut weighted, mut present) = ([0.0f64; 3], [0.0f64; 3], 0usize);
        for (c, s) in classes.iter().enumerate() {
            if s.support + self.predicted(c) == 0 {
                continue;
            }
            present += 1;
            for (j, v) in [s.precision, s.recall, s.f1].into_iter().enumerate() {
                macro_avg[j] += v;
                weighted[j] += v * s.support as f64 / n.max(1) as f64;
            }
        }
        let m = present.max(1) as f64;
        let avg = |v: [f64; 3]| ClassScores {
            precision: v[0],
            recall: v[1],
            f1: v[2],
            support: n,
        };
        ClassificationReport {
            accuracy: self.accuracy(),
            classes,
            macro_avg: avg(macro_avg.map(|v| v / m)),
            weighted_avg: avg(weighted),
        }
    }
}

/// The share of `pred` equal to `truth` (scikit-learn's `accuracy_score`).
///
/// ```
/// assert_eq!(backprop::metrics::accuracy(&[0, 1, 2, 2], &[0, 2, 2, 1])?, 0.5);
/// # Ok::<(), backprop::Error>(())
/// ```
pub fn accuracy(truth: &[usize], pred: &[usize]) -> Result<f64> {
    same_len("predicted classes", truth.len(), pred.len())?;
    let right = truth.iter().zip(pred).filter(|(t, p)| t == p).count();
    Ok(right as f64 / truth.len() as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn three_classes_by_hand() {
        // truth 0 0 0 1 1 1 2 2 2 2, pred 0 1 0 1 1 2 2 2 0 2:
        //         pred 0 1 2
        //   true 0   [2 1 0]   support 3
        //   true 1   [0 2 1]   support 3
        //   true 2   [1 0 3]   support 4
        // columns (predicted): 3, 3, 4; correct 2 + 2 + 3 = 7 of 10
        let truth = [0, 0, 0, 1, 1, 1, 2, 2, 2, 2];
        let pred = [0, 1, 0, 1, 1, 2, 2, 2, 0, 2];
        let cm = ConfusionMatrix::new(3, &truth, &pred).unwrap();
        assert_eq!(
            [cm.row(0), cm.row(1), cm.row(2)],
            [[2, 1, 0], [0, 2, 1], [1, 0, 3]]
        );
        assert_eq!((cm.correct(), cm.total(), cm.accuracy()), (7, 10, 0.7));
        assert_eq!(accuracy(&truth, &pred).unwrap(), 0.7);
        // class 0: p = 2/3, r = 2/3, f1 = 2/3; class 1: p = 2/3, r = 2/3, f1 = 2/3;
        // class 2: p = 3/4, r = 3/4, f1 = 3/4
        let r = cm.report();
        let want = [2.0 / 3.0, 2.0 / 3.0, 0.75];
        for (s, w) in r.classes.iter().zip(want) {
            assert!(
                close(s.precision, w) && close(s.recall, w) && close(s.f1, w),
                "{s:?}"
            );
        }
        // macro (2/3 + 2/3 + 3/4) / 3 = 25/36; weighted (3·2/3 + 3·2/3 + 4·3/4) / 10 = 0.7
        assert!(close(r.macro_avg.precision, 25.0 / 36.0));
        assert!(close(r.macro_avg.f1, 25.0 / 36.0));
        assert!(close(r.weighted_avg.recall, 0.7));
        assert_eq!((r.macro_avg.support, r.weighted_avg.support), (10, 10));
    }

    #[test]
    fn zero_division_is_zero_and_absent_classes_leave_the_macro_average() {
        // truth 0 0 1, pred 0 0 0 over 3 classes: class 1 is never predicted (precision 0/0 → 0,
        // recall 0/1 = 0, f1 0); class 2 is absent from both, so macro averages classes 0 and 1.
        // class 0: p = 2/3, r = 1, f1 = 2·(2/3)/(5/3) = 0.8
        let r = ConfusionMatrix::new(3, &[0, 0, 1], &[0, 0, 0])
            .unwrap()
            .report();
        assert_eq!(
            r.classes[1],
            ClassScores {
                support: 1,
                ..ClassScores::default()
            }
        );
        assert_eq!(r.classes[2], ClassScores::default());
        assert!(close(r.macro_avg.precision, 1.0 / 3.0)); // (2/3 + 0) / 2
        assert!(close(r.macro_avg.recall, 0.5));
        assert!(close(r.macro_avg.f1, 0.4));
        // weighted: class 0 alone has weight 2/3 → p 4/9, r 2/3, f1 0.8·2/3
        assert!(close(r.weighted_avg.precision, 4.0 / 9.0));
        assert!(close(r.weighted_avg.f1, 1.6 / 3.0));
    }

    #[test]
    fn bad_input_is_an_error() {
        assert!(ConfusionMatrix::new(2, &[0, 1], &[0]).is_err());
        assert!(ConfusionMatrix::new(2, &[], &[]).is_err());
        assert!(ConfusionMatrix::new(2, &[0], &[2]).is_err());
        assert!(accuracy(&[], &[]).is_err());
    }
}

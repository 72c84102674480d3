//! Scores of predicted probabilities rather than predicted classes: the area under the ROC
//! curve and the log-loss.

use super::same_len;
use crate::error::{Error, Result};

/// The probabilities [`log_loss`] clips to `[LOG_LOSS_EPS, 1 − LOG_LOSS_EPS]`: scikit-learn's
/// `log_loss` default up to version 1.2 (`eps=1e-15`), so a confident wrong answer costs
/// −ln 1e-15 ≈ 34.5 rather than infinity.
pub const LOG_LOSS_EPS: f64 = 1e-15;

/// The area under the ROC curve of `scores` for the samples marked `positive`: the probability
/// that a random positive scores above a random negative, a tie counting one half (as
/// scikit-learn's `roc_auc_score`, whose trapezoids give ties exactly that). Computed by ranks,
/// ties sharing their average rank: (Σ ranks of the positives − P(P+1)/2) / (P·N).
///
/// `Ok(None)` when the samples hold only positives or only negatives (the area is undefined);
/// an error for a length mismatch, no samples, or a score that is not finite.
///
/// ```
/// use backprop::metrics::roc_auc;
/// // positives 0.8, 0.4; negatives 0.4, 0.1: 3 pairs in order and one tie → 3.5 / 4
/// assert_eq!(roc_auc(&[0.8, 0.4, 0.4, 0.1], &[true, true, false, false])?, Some(0.875));
/// assert_eq!(roc_auc(&[0.3, 0.9], &[true, true])?, None);
/// # Ok::<(), backprop::Error>(())
/// ```
pub fn roc_auc(scores: &[f32], positive: &[bool]) -> Result<Option<f64>> {
    same_len("ROC scores", scores.len(), positive.len())?;
    finite("ROC score", scores)?;
    let p = positive.iter().filter(|&&b| b).count();
    let n = positive.len() - p;
    if p == 0 || n == 0 {
        return Ok(None);
    }
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let mut rank_sum = 0.0f64;
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && scores[order[j + 1]] == scores[order[i]] {
            j += 1;
        }
        // ranks i+1 ..= j+1 share their mean
        let mean_rank = (i + j + 2) as f64 / 2.0;
        rank_sum += mean_rank * order[i..=j].iter().filter(|&&o| positive[o]).count() as f64;
        i = j + 1;
    }
    let (p, n) = (p as f64, n as f64);
    Ok(Some((rank_sum - p * (p + 1.0) / 2.0) / (p * n)))
}

/// The one-vs-rest ROC-AUC of `k` classes, macro-averaged: for each class c, [`roc_auc`] of
/// column c of `probs` (row-major `n × k`) with the samples of class c as the positives, then
/// the plain mean over the classes — scikit-learn's `roc_auc_score(y, probs,
/// multi_class="ovr", average="macro")`. With two classes whose rows sum to 1 it equals the
/// binary [`roc_auc`] of column 1.
///
/// `Ok(None)` when a class has no samples (its area is undefined, and so is the mean).
///
/// ```
/// use backprop::metrics::roc_auc_ovr;
/// let probs = [0.7, 0.2, 0.1, /**/ 0.2, 0.5, 0.3, /**/ 0.3, 0.3, 0.4];
/// assert_eq!(roc_auc_ovr(&probs, 3, &[0, 1, 2])?, Some(1.0)); // each class ranks first
/// assert_eq!(roc_auc_ovr(&probs, 3, &[0, 1, 1])?, None); // no sample of class 2
/// # Ok::<(), backprop::Error>(())
/// ```
pub fn roc_auc_ovr(probs: &[f32], k: usize, truth: &[usize]) -> Result<Option<f64>> {
    rows_of(probs, k, truth)?;
    let mut sum = 0.0;
    for c in 0..k {
        let column: Vec<f32> = probs.iter().skip(c).step_by(k).copied().collect();
        let positive: Vec<bool> = truth.iter().map(|&t| t == c).collect();
        match roc_auc(&column, &positive)? {
            Some(auc) => sum += auc,
            None => return Ok(None),
        }
    }
    Ok(Some(sum / k as f64))
}

/// The mean cross-entropy −ln p(true class) over the rows of `probs` (row-major `n × k`, one
/// row of class probabilities per sample): each probability clipped to
/// `[LOG_LOSS_EPS, 1 − LOG_LOSS_EPS]` (see [`LOG_LOSS_EPS`]), each row then renormalised to
/// sum 1, in f64 — scikit-learn's `log_loss(y, probs, labels=range(k))` with `eps=1e-15`.
///
/// An error for rows that do not match `truth`, a class index of `k` or more, or a probability
/// that is not finite.
///
/// ```
/// use backprop::metrics::log_loss;
/// // −(ln 0.8 + ln 0.5) / 2
/// let l = log_loss(&[0.2, 0.8, 0.5, 0.5], 2, &[1, 0])?;
/// assert!((l - 0.458145).abs() < 1e-6);
/// # Ok::<(), backprop::Error>(())
/// ```
pub fn log_loss(probs: &[f32], k: usize, truth: &[usize]) -> Result<f64> {
    rows_of(probs, k, truth)?;
    let clip = |p: f32| (p as f64).clamp(LOG_LOSS_EPS, 1.0 - LOG_LOSS_EPS);
    let total: f64 = probs
        .chunks_exact(k)
        .zip(truth)
        .map(|(row, &t)| {
            let sum: f64 = row.iter().map(|&p| clip(p)).sum();
            -(clip(row[t]) / sum).ln()
        })
        .sum();
    Ok(total / truth.len() as f64)
}

/// Refuses `probs` that are not `truth.len()` finite rows of `k`, or a class of `k` or more.
fn rows_of(probs: &[f32], k: usize, truth: &[usize]) -> Result<()> {
    if k == 0 || probs.len() != truth.len() * k {
        return Err(Error::invalid(
            "class probabilities",
            format!(
                "{} values for {} samples of {k} classes",
                probs.len(),
                truth.len()
            ),
            "one row of k probabilities per sample",
        ));
    }
    same_len("class probabilities", probs.len() / k, truth.len())?;
    finite("class probability", probs)?;
    if let Some(i) = truth.iter().position(|&t| t >= k) {
        return Err(Error::invalid(
            "class index",
            format!("sample {i}: class {} of {k}", truth[i]),
            "indices below the number of classes",
        ));
    }
    Ok(())
}

fn finite(what: &'static str, v: &[f32]) -> Result<()> {
    match v.iter().position(|x| !x.is_finite()) {
        Some(i) => Err(Error::invalid(
            what,
            format!("sample {i}: {}", v[i]),
            "finite numbers",
        )),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roc_auc_with_ties_by_hand() {
        // scores 0.9 0.7 0.7 0.7 0.2 0.2, positive y y n y n y (P = 4, N = 2):
        // sorted ascending: 0.2 (n, y) ranks 1, 2 → 1.5 each; 0.7 (y, n, y) ranks 3..5 → 4 each;
        // 0.9 (y) rank 6. Positive rank sum 1.5 + 4 + 4 + 6 = 15.5; minus P(P+1)/2 = 10 → 5.5;
        // / (P·N = 8) = 0.6875. By pairs: negatives 0.7 and 0.2 against positives 0.9, 0.7, 0.7,
        // 0.2: 0.7 → 1 + ½ + ½ + 0 = 2; 0.2 → 1 + 1 + 1 + ½ = 3.5; 5.5 / 8.
        let s = [0.9, 0.7, 0.7, 0.7, 0.2, 0.2];
        let y = [true, true, false, true, false, true];
        assert_eq!(roc_auc(&s, &y).unwrap(), Some(0.6875));
        // all tied: ½
        assert_eq!(
            roc_auc(&[0.5; 4], &[true, false, true, false]).unwrap(),
            Some(0.5)
        );
        assert_eq!(roc_auc(&[0.1, 0.9], &[false, true]).unwrap(), Some(1.0));
        assert_eq!(roc_auc(&[0.1, 0.9], &[true, false]).unwrap(), Some(0.0));
        assert_eq!(roc_auc(&[0.1, 0.2], &[false, false]).unwrap(), None);
    }

    #[test]
    fn one_vs_rest_by_hand() {
        // three classes, four samples (truth 0 1 2 2):
        //   row 0: 0.6 0.3 0.1   row 1: 0.5 0.4 0.1   row 2: 0.2 0.3 0.5   row 3: 0.3 0.4 0.3
        // class 0, column 0.6 0.5 0.2 0.3, positive row 0: above all 3 negatives → 1
        // class 1, column 0.3 0.4 0.3 0.4, positive row 1 (0.4): above 0.3, 0.3, tied with
        //   row 3's 0.4 → (1 + 1 + ½) / 3 = 5/6
        // class 2, column 0.1 0.1 0.5 0.3, positives rows 2, 3 against 0.1, 0.1: all above → 1
        // macro: (1 + 5/6 + 1) / 3 = 17/18
        let probs = [0.6, 0.3, 0.1, 0.5, 0.4, 0.1, 0.2, 0.3, 0.5, 0.3, 0.4, 0.3];
        let auc = roc_auc_ovr(&probs, 3, &[0, 1, 2, 2]).unwrap().unwrap();
        assert!((auc - 17.0 / 18.0).abs() < 1e-12, "{auc}");
        // two classes: the mean of the two columns' areas is the binary area
        let p2 = [0.9, 0.1, 0.4, 0.6, 0.3, 0.7, 0.8, 0.2];
        let binary = roc_auc(&[0.1, 0.6, 0.7, 0.2], &[false, false, true, true]).unwrap();
        assert_eq!(roc_auc_ovr(&p2, 2, &[0, 0, 1, 1]).unwrap(), binary);
    }

    #[test]
    fn log_loss_by_hand() {
        // −(ln 0.8 + ln 0.5) / 2
        let l = log_loss(&[0.2, 0.8, 0.5, 0.5], 2, &[1, 0]).unwrap();
        assert!((l - -(0.8f64.ln() + 0.5f64.ln()) / 2.0).abs() < 1e-6);
        // a 0 probability is clipped to 1e-15 (the row then sums to 1 + 1e-15)
        let l = log_loss(&[1.0, 0.0], 2, &[1]).unwrap();
        assert!((l - -(1e-15f64).ln()).abs() < 1e-6, "{l}");
        // rows that do not sum to 1 are renormalised: 0.2 / (0.2 + 0.6) = 1/4 → ln 4
        let l = log_loss(&[0.2, 0.6], 2, &[0]).unwrap();
        assert!((l - 4f64.ln()).abs() < 1e-6, "{l}");
    }

    #[test]
    fn bad_input_is_an_error() {
        assert!(roc_auc(&[0.1], &[true, false]).is_err());
        assert!(roc_auc(&[f32::NAN, 0.1], &[true, false]).is_err());
        assert!(log_loss(&[0.5, 0.5, 0.5], 2, &[0, 1]).is_err());
        assert!(log_loss(&[0.5, 0.5], 2, &[2]).is_err());
        assert!(log_loss(&[], 2, &[]).is_err());
        assert!(log_loss(&[0.5], 0, &[]).is_err());
        assert!(roc_auc_ovr(&[0.5, f32::INFINITY], 2, &[0]).is_err());
    }
}

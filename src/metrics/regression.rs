//! Errors of predicted values: MSE, MAE and R², each over one output (call them per column for
//! several targets).

use super::same_len;
use crate::error::{Error, Result};

/// The mean squared error Σ(t − y)² / n (scikit-learn's `mean_squared_error`).
///
/// ```
/// // errors 1, −1, 2 → (1 + 1 + 4) / 3
/// assert_eq!(backprop::metrics::mse(&[1.0, 2.0, 3.0], &[0.0, 3.0, 1.0])?, 2.0);
/// # Ok::<(), backprop::Error>(())
/// ```
pub fn mse(truth: &[f64], pred: &[f64]) -> Result<f64> {
    pairs(truth, pred)?;
    Ok(sq_sum(truth, pred) / truth.len() as f64)
}

/// The mean absolute error Σ|t − y| / n (scikit-learn's `mean_absolute_error`).
///
/// ```
/// // errors 1, −1, 2 → 4 / 3
/// let mae = backprop::metrics::mae(&[1.0, 2.0, 3.0], &[0.0, 3.0, 1.0])?;
/// assert!((mae - 4.0 / 3.0).abs() < 1e-12);
/// # Ok::<(), backprop::Error>(())
/// ```
pub fn mae(truth: &[f64], pred: &[f64]) -> Result<f64> {
    pairs(truth, pred)?;
    let abs: f64 = truth.iter().zip(pred).map(|(t, y)| (t - y).abs()).sum();
    Ok(abs / truth.len() as f64)
}

/// The coefficient of determination 1 − Σ(t − y)² / Σ(t − t̄)² (scikit-learn's `r2_score`):
/// 1 for a perfect prediction, 0 for predicting the mean, negative for worse.
///
/// When the truth is constant (Σ(t − t̄)² = 0) it is 0, as in training's
/// [`Metrics::r2`](crate::train::Metrics::r2); scikit-learn gives 1 there for a perfect
/// prediction and 0 otherwise.
///
/// ```
/// // mean 2, Σ(t − t̄)² = 2; Σ(t − y)² = 6 → 1 − 6/2
/// assert_eq!(backprop::metrics::r2(&[1.0, 2.0, 3.0], &[0.0, 3.0, 1.0])?, -2.0);
/// # Ok::<(), backprop::Error>(())
/// ```
pub fn r2(truth: &[f64], pred: &[f64]) -> Result<f64> {
    pairs(truth, pred)?;
    let n = truth.len() as f64;
    let mean = truth.iter().sum::<f64>() / n;
    let ss_tot: f64 = truth.iter().map(|t| (t - mean).powi(2)).sum();
    Ok(if ss_tot > 0.0 {
        1.0 - sq_sum(truth, pred) / ss_tot
    } else {
        0.0
    })
}

fn sq_sum(truth: &[f64], pred: &[f64]) -> f64 {
    truth.iter().zip(pred).map(|(t, y)| (t - y).powi(2)).sum()
}

/// Refuses a length mismatch, no samples, or a value that is not finite.
fn pairs(truth: &[f64], pred: &[f64]) -> Result<()> {
    same_len("predicted values", truth.len(), pred.len())?;
    for (what, v) in [("true value", truth), ("predicted value", pred)] {
        if let Some(i) = v.iter().position(|x| !x.is_finite()) {
            return Err(Error::invalid(
                what,
                format!("sample {i}: {}", v[i]),
                "finite numbers",
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn by_hand() {
        // t = 3, −0.5, 2, 7; y = 2.5, 0, 2, 8 (scikit-learn's r2_score example):
        // errors 0.5, −0.5, 0, −1 → Σe² = 1.5, MSE 0.375, MAE 2/4 = 0.5;
        // mean t = 2.875, Σ(t − t̄)² = 0.015625 + 11.390625 + 0.765625 + 17.015625 = 29.1875
        // R² = 1 − 1.5 / 29.1875 = 0.948608137…
        let (t, y) = ([3.0, -0.5, 2.0, 7.0], [2.5, 0.0, 2.0, 8.0]);
        assert_eq!(mse(&t, &y).unwrap(), 0.375);
        assert_eq!(mae(&t, &y).unwrap(), 0.5);
        assert!((r2(&t, &y).unwrap() - 0.948608137).abs() < 1e-9);
        // a constant truth: R² is 0 whatever the prediction
        assert_eq!(r2(&[1.0, 1.0], &[1.0, 1.0]).unwrap(), 0.0);
        assert_eq!(r2(&[1.0, 1.0], &[0.0, 2.0]).unwrap(), 0.0);
    }

    #[test]
    fn bad_input_is_an_error() {
        assert!(mse(&[1.0], &[1.0, 2.0]).is_err());
        assert!(mae(&[], &[]).is_err());
        assert!(r2(&[1.0, f64::NAN], &[1.0, 2.0]).is_err());
    }
}

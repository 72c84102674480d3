//! Scores of a finished model on labelled data, and the k-fold split that cross-validation
//! holds out folds by. Every definition is scikit-learn's, so the numbers can be checked
//! against it:
//!
//! | here | scikit-learn |
//! |---|---|
//! | [`ConfusionMatrix`], [`accuracy`] | `confusion_matrix`, `accuracy_score` |
//! | [`ConfusionMatrix::report`] | `classification_report(zero_division=0)` |
//! | [`roc_auc`], [`roc_auc_ovr`] | `roc_auc_score`, `roc_auc_score(multi_class="ovr")` |
//! | [`log_loss`] | `log_loss` (with its former `eps=1e-15`, see [`LOG_LOSS_EPS`]) |
//! | [`mse`], [`mae`], [`r2`] | `mean_squared_error`, `mean_absolute_error`, `r2_score` |
//! | [`KFold`] | `StratifiedKFold(shuffle=True)` for classes, `KFold(shuffle=True)` otherwise |
//!
//! These read predictions that are already made (`backprop evaluate` takes them from
//! [`Model::predict`](crate::io::Model::predict)); the per-epoch loss and accuracy that training
//! accumulates batch by batch are [`train::Metrics`](crate::train::Metrics).
//!
//! ```
//! use backprop::metrics::{log_loss, roc_auc, ConfusionMatrix};
//! let truth = [0, 0, 1, 1];
//! let probs = [0.9, 0.1, 0.4, 0.6, 0.3, 0.7, 0.8, 0.2]; // rows: P(class 0), P(class 1)
//! let pred = [0, 1, 1, 0]; // each row's most probable class
//! let cm = ConfusionMatrix::new(2, &truth, &pred)?;
//! assert_eq!((cm.correct(), cm.accuracy()), (2, 0.5));
//! let report = cm.report();
//! assert_eq!(report.classes[1].recall, 0.5);
//! let scores = [0.1, 0.6, 0.7, 0.2]; // P(class 1)
//! assert_eq!(roc_auc(&scores, &[false, false, true, true])?, Some(0.75)); // 3 of the 4 (positive, negative) pairs in order
//! assert!((log_loss(&probs, 2, &truth)? - 0.7469).abs() < 1e-4);
//! # Ok::<(), backprop::Error>(())
//! ```

mod classification;
mod kfold;
mod ranking;
mod regression;

pub use classification::{accuracy, ClassScores, ClassificationReport, ConfusionMatrix};
pub use kfold::{Fold, KFold};
pub use ranking::{log_loss, roc_auc, roc_auc_ovr, LOG_LOSS_EPS};
pub use regression::{mae, mse, r2};

use crate::error::{Error, Result};

/// Refuses two inputs of different lengths, or none: `what` names them in the error.
fn same_len(what: &'static str, a: usize, b: usize) -> Result<()> {
    if a != b {
        return Err(Error::invalid(
            what,
            format!("{a} vs {b} values"),
            "as many predictions as true values",
        ));
    }
    if a == 0 {
        return Err(Error::invalid(what, "no samples", "at least one sample"));
    }
    Ok(())
}

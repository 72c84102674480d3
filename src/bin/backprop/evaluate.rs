//! `backprop evaluate MODEL DATA`: accuracy, confusion matrix, per-class precision, recall and
//! F1 with their macro and weighted averages, log-loss, and ROC-AUC for two classes; MSE, MAE
//! and R² for regression. The averages, log-loss and ROC-AUC are scikit-learn's definitions
//! (`classification_report`, `log_loss` with probabilities clipped to [1e-15, 1 − 1e-15],
//! `roc_auc_score`).

use crate::args::EvaluateArgs;
use crate::data::load_for_model;
use anyhow::{bail, Context, Result};
use backprop::io::{Model, TaskInfo};

pub fn run(a: &EvaluateArgs) -> Result<()> {
    let model =
        Model::load(&a.model).with_context(|| format!("loading model {}", a.model.display()))?;
    let input = load_for_model(&a.data, &a.data_args, &model)?;
    let Some(targets) = &input.targets else {
        bail!(
            "{}: no target column; evaluate needs labelled data (use predict for unlabelled data)",
            input.source
        );
    };
    let p = model.predict(&input.x)?;
    match &model.meta.task {
        TaskInfo::Classification { classes } => {
            let truth = targets
                .iter()
                .enumerate()
                .map(|(i, t)| {
                    classes.iter().position(|c| c == t.trim()).with_context(|| {
                        format!(
                            "{}: row {}: label {t:?} is not one of the model's classes {classes:?}",
                            input.source,
                            i + 1
                        )
                    })
                })
                .collect::<Result<Vec<usize>>>()?;
            let pred = p.classes.as_ref().expect("a classifier predicts classes");
            crate::out!("{}", classification_report(classes, &truth, pred))?;
            let probs = p.outputs.data();
            let k = p.outputs.shape().last();
            crate::outln!("log-loss {:.6}", log_loss(probs, k, &truth))?;
            if classes.len() == 2 && k == 2 {
                let scores: Vec<f32> = probs.chunks_exact(2).map(|r| r[1]).collect();
                let positive: Vec<bool> = truth.iter().map(|&t| t == 1).collect();
                match roc_auc(&scores, &positive) {
                    Some(auc) => crate::outln!(
                        "ROC-AUC {auc:.6} (score: the probability of {:?})",
                        classes[1]
                    )?,
                    None => crate::outln!(
                        "ROC-AUC undefined: the data holds only one of the two classes"
                    )?,
                }
            }
        }
        TaskInfo::Regression { targets: names } => {
            let k = names.len();
            let t: Vec<f64> = targets
                .iter()
                .enumerate()
                .map(|(i, s)| {
                    s.trim().parse::<f64>().with_context(|| {
                        format!(
                            "{}: row {}: target {s:?} is not a number",
                            input.source,
                            i / k + 1
                        )
                    })
                })
                .collect::<Result<_>>()?;
            let y: Vec<f64> = p.outputs.data().iter().map(|&v| v as f64).collect();
            let n = (t.len() / k) as f64;
            for (j, name) in names.iter().enumerate() {
                let (tj, yj): (Vec<f64>, Vec<f64>) = (
                    t.iter().skip(j).step_by(k).copied().collect(),
                    y.iter().skip(j).step_by(k).copied().collect(),
                );
                let mse = tj
                    .iter()
                    .zip(&yj)
                    .map(|(a, b)| (a - b).powi(2))
                    .sum::<f64>()
                    / n;
                let mae = tj.iter().zip(&yj).map(|(a, b)| (a - b).abs()).sum::<f64>() / n;
                let mean = tj.iter().sum::<f64>() / n;
                let ss_tot = tj.iter().map(|a| (a - mean).powi(2)).sum::<f64>();
                let r2 = if ss_tot > 0.0 {
                    1.0 - mse * n / ss_tot
                } else {
                    0.0
                };
                crate::outln!(
                    "{name}: MSE {mse:.6}  MAE {mae:.6}  R² {r2:.4}  ({} samples)",
                    n as usize
                )?;
            }
        }
    }
    Ok(())
}

/// Accuracy, the confusion matrix (rows: true class, columns: predicted) and per-class
/// precision, recall and F1.
pub fn classification_report(classes: &[String], truth: &[usize], pred: &[usize]) -> String {
    let k = classes.len();
    let mut cm = vec![vec![0usize; k]; k];
    for (&t, &p) in truth.iter().zip(pred) {
        cm[t][p] += 1;
    }
    let n = truth.len().max(1);
    let correct: usize = (0..k).map(|i| cm[i][i]).sum();
    let w = classes.iter().map(|c| c.len()).max().unwrap_or(1).max(5);
    let mut s = format!("accuracy {:.4} ({correct}/{} correct)\n\nconfusion matrix (rows: true, columns: predicted)\n", correct as f64 / n as f64, truth.len());
    s += &format!("{:>w$} ", "");
    for c in classes {
        s += &format!("{c:>w$} ");
    }
    s += "\n";
    for (i, c) in classes.iter().enumerate() {
        s += &format!("{c:>w$} ");
        for v in &cm[i] {
            s += &format!("{v:>w$} ");
        }
        s += "\n";
    }
    let w = w.max("weighted avg".len());
    s += &format!(
        "\n{:>w$} {:>9} {:>9} {:>9} {:>8}\n",
        "class", "precision", "recall", "f1", "support"
    );
    // macro: the plain mean over the classes that occur in the data or the predictions (as
    // scikit-learn); weighted: the mean weighted by support
    let (mut macro_avg, mut weighted, mut present) = ([0.0f64; 3], [0.0f64; 3], 0usize);
    for (i, c) in classes.iter().enumerate() {
        let tp = cm[i][i] as f64;
        let predicted: usize = (0..k).map(|r| cm[r][i]).sum();
        let support: usize = cm[i].iter().sum();
        let prec = if predicted > 0 {
            tp / predicted as f64
        } else {
            0.0
        };
        let rec = if support > 0 {
            tp / support as f64
        } else {
            0.0
        };
        let f1 = if prec + rec > 0.0 {
            2.0 * prec * rec / (prec + rec)
        } else {
            0.0
        };
        s += &format!("{c:>w$} {prec:>9.4} {rec:>9.4} {f1:>9.4} {support:>8}\n");
        if support + predicted > 0 {
            present += 1;
            for (j, v) in [prec, rec, f1].into_iter().enumerate() {
                macro_avg[j] += v;
                weighted[j] += v * support as f64 / n as f64;
            }
        }
    }
    let m = present.max(1) as f64;
    s += &format!(
        "{:>w$} {:>9.4} {:>9.4} {:>9.4} {:>8}\n",
        "macro avg",
        macro_avg[0] / m,
        macro_avg[1] / m,
        macro_avg[2] / m,
        truth.len()
    );
    s += &format!(
        "{:>w$} {:>9.4} {:>9.4} {:>9.4} {:>8}\n\n",
        "weighted avg",
        weighted[0],
        weighted[1],
        weighted[2],
        truth.len()
    );
    s
}

/// Mean cross-entropy of the true classes' predicted probabilities: each row of `probs` (n × k)
/// clipped to [1e-15, 1 − 1e-15] and renormalised to sum 1 (scikit-learn's `log_loss` with its
/// former `eps=1e-15`), in f64.
pub fn log_loss(probs: &[f32], k: usize, truth: &[usize]) -> f64 {
    const EPS: f64 = 1e-15;
    let total: f64 = probs
        .chunks_exact(k.max(1))
        .zip(truth)
        .map(|(row, &t)| {
            let clip = |p: f32| (p as f64).clamp(EPS, 1.0 - EPS);
            let sum: f64 = row.iter().map(|&p| clip(p)).sum();
            -(clip(row[t]) / sum).ln()
        })
        .sum();
    total / truth.len().max(1) as f64
}

/// The area under the ROC curve: the probability that a random positive scores above a random
/// negative, ties counting one half. By ranks (ties get their average rank, as
/// scikit-learn's `roc_auc_score`): (Σ ranks of positives − P(P+1)/2) / (P·N). `None` when
/// either class is absent.
pub fn roc_auc(scores: &[f32], positive: &[bool]) -> Option<f64> {
    let p = positive.iter().filter(|&&b| b).count();
    let n = positive.len() - p;
    if p == 0 || n == 0 {
        return None;
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
    Some((rank_sum - p * (p + 1.0) / 2.0) / (p * n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roc_auc_by_hand() {
        // positives 0.8, 0.4; negatives 0.4, 0.1: pairs (0.8>0.4) (0.8>0.1) (0.4=0.4: ½)
        // (0.4>0.1) → 3.5 / 4
        let auc = roc_auc(&[0.8, 0.4, 0.4, 0.1], &[true, true, false, false]).unwrap();
        assert!((auc - 0.875).abs() < 1e-12);
        assert_eq!(roc_auc(&[0.1, 0.2], &[true, true]), None);
        assert_eq!(roc_auc(&[0.1, 0.9], &[false, true]), Some(1.0));
    }

    #[test]
    fn log_loss_by_hand() {
        // −(ln 0.8 + ln 0.5) / 2; a 0 probability is clipped to 1e-15
        let l = log_loss(&[0.2, 0.8, 0.5, 0.5], 2, &[1, 0]);
        assert!((l - -(0.8f64.ln() + 0.5f64.ln()) / 2.0).abs() < 1e-6);
        let l = log_loss(&[1.0, 0.0], 2, &[1]);
        assert!((l - -(1e-15f64).ln()).abs() < 1e-6, "{l}");
    }
}

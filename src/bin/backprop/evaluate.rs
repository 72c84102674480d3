//! `backprop evaluate MODEL DATA`: accuracy, confusion matrix and per-class precision, recall and
//! F1 for classifiers; MSE, MAE and R² for regression.

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
    s += &format!(
        "\n{:>w$} {:>9} {:>9} {:>9} {:>8}\n",
        "class", "precision", "recall", "f1", "support"
    );
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
    }
    s
}

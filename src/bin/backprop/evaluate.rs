//! `backprop evaluate MODEL DATA`: accuracy, confusion matrix, per-class precision, recall and
//! F1 with their macro and weighted averages, log-loss, and ROC-AUC for two classes; MSE, MAE
//! and R² for regression. The numbers come from `backprop::metrics` (scikit-learn's
//! definitions); this file reads the data and prints them.

use crate::args::EvaluateArgs;
use crate::data::{load_for_model, ForModel};
use anyhow::{bail, Context, Result};
use backprop::data::columns::is_missing;
use backprop::io::{Model, Prediction, TaskInfo};
use backprop::metrics::{self, ClassScores, ConfusionMatrix};

pub fn run(a: &EvaluateArgs) -> Result<()> {
    let model =
        Model::load(&a.model).with_context(|| format!("loading model {}", a.model.display()))?;
    let mut input = load_for_model(&a.data, &a.data_args, &model)?;
    let Some(targets) = &input.targets else {
        bail!(
            "{}: no target column; evaluate needs labelled data (use predict for unlabelled data)",
            input.source
        );
    };
    let names = match &model.meta.task {
        TaskInfo::Regression { targets } => targets.clone(),
        TaskInfo::Classification { .. } => match model.meta.target_columns.first() {
            Some(t) => vec![t.clone()],
            None => vec!["target".into()],
        },
    };
    let k = names.len().max(1);
    let keep: Vec<usize> = (0..targets.len() / k)
        .filter(|&i| {
            !targets[i * k..(i + 1) * k]
                .iter()
                .any(|t| is_missing(t.trim()))
        })
        .collect();
    let left_out = targets.len() / k - keep.len();
    if left_out > 0 {
        if a.data_args.missing_target.as_deref() == Some("error") {
            let i = (0..targets.len() / k)
                .find(|i| !keep.contains(i))
                .unwrap_or(0);
            bail!(
                "{}: expected a target value, found a missing one ({}): --missing-target error refuses rows without a target",
                input.at(i),
                names.join(", ")
            );
        }
        input.retain(&keep, k)?;
        crate::errln!(
            "note: {}: {left_out} row(s) without a target value left out of the evaluation",
            input.source
        );
        if keep.is_empty() {
            bail!("{}: no row has a target value", input.source);
        }
    }
    let targets = input.targets.as_deref().unwrap_or_default();
    let p = model.predict(&input.x)?;
    match &model.meta.task {
        TaskInfo::Classification { classes } => classification(classes, targets, &input, &p),
        TaskInfo::Regression { targets: names } => regression(names, targets, &input, &p),
    }
}

fn classification(
    classes: &[String],
    targets: &[String],
    input: &ForModel,
    p: &Prediction,
) -> Result<()> {
    let truth = targets
        .iter()
        .enumerate()
        .map(|(i, t)| {
            classes.iter().position(|c| c == t.trim()).with_context(|| {
                format!(
                    "{}: label {t:?} is not one of the model's classes ({})",
                    input.at(i),
                    classes.join(", ")
                )
            })
        })
        .collect::<Result<Vec<usize>>>()?;
    let pred = p.classes.as_ref().expect("a classifier predicts classes");
    let cm = ConfusionMatrix::new(classes.len(), &truth, pred)?;
    crate::out!("{}", classification_report(classes, &cm))?;
    let probs = p.outputs.data();
    let k = p.outputs.shape().last();
    crate::outln!("log-loss {:.6}", metrics::log_loss(probs, k, &truth)?)?;
    if classes.len() == 2 && k == 2 {
        let scores: Vec<f32> = probs.chunks_exact(2).map(|r| r[1]).collect();
        let positive: Vec<bool> = truth.iter().map(|&t| t == 1).collect();
        match metrics::roc_auc(&scores, &positive)? {
            Some(auc) => crate::outln!(
                "ROC-AUC {auc:.6} (score: the probability of {:?})",
                classes[1]
            )?,
            None => crate::outln!("ROC-AUC undefined: the data holds only one of the two classes")?,
        }
    }
    Ok(())
}

fn regression(
    names: &[String],
    targets: &[String],
    input: &ForModel,
    p: &Prediction,
) -> Result<()> {
    let k = names.len();
    let t: Vec<f64> = targets
        .iter()
        .enumerate()
        .map(|(i, s)| {
            s.trim().parse::<f64>().ok().with_context(|| {
                format!(
                    "{}: {}: expected a number (the model predicts values), found {s:?}",
                    input.at(i / k),
                    names[i % k]
                )
            })
        })
        .collect::<Result<_>>()?;
    let y: Vec<f64> = p.outputs.data().iter().map(|&v| v as f64).collect();
    for (j, name) in names.iter().enumerate() {
        let (tj, yj): (Vec<f64>, Vec<f64>) = (
            t.iter().skip(j).step_by(k).copied().collect(),
            y.iter().skip(j).step_by(k).copied().collect(),
        );
        let (mse, mae, r2) = (
            metrics::mse(&tj, &yj)?,
            metrics::mae(&tj, &yj)?,
            metrics::r2(&tj, &yj)?,
        );
        crate::outln!(
            "{name}: MSE {mse:.6}  MAE {mae:.6}  R² {r2:.4}  ({} samples)",
            tj.len()
        )?;
    }
    Ok(())
}

/// Accuracy, the confusion matrix (rows: true class, columns: predicted) and per-class
/// precision, recall and F1 with their averages, as text.
fn classification_report(classes: &[String], cm: &ConfusionMatrix) -> String {
    let report = cm.report();
    let w = classes.iter().map(|c| c.len()).max().unwrap_or(1).max(5);
    let mut s = format!(
        "accuracy {:.4} ({}/{} correct)\n\nconfusion matrix (rows: true, columns: predicted)\n",
        report.accuracy,
        cm.correct(),
        cm.total()
    );
    s += &format!("{:>w$} ", "");
    for c in classes {
        s += &format!("{c:>w$} ");
    }
    s += "\n";
    for (i, c) in classes.iter().enumerate() {
        s += &format!("{c:>w$} ");
        for v in cm.row(i) {
            s += &format!("{v:>w$} ");
        }
        s += "\n";
    }
    let w = w.max("weighted avg".len());
    s += &format!(
        "\n{:>w$} {:>9} {:>9} {:>9} {:>8}\n",
        "class", "precision", "recall", "f1", "support"
    );
    let line = |label: &str, c: &ClassScores| {
        let ClassScores {
            precision: p,
            recall: r,
            f1,
            support,
        } = c;
        format!("{label:>w$} {p:>9.4} {r:>9.4} {f1:>9.4} {support:>8}\n")
    };
    for (c, scores) in classes.iter().zip(&report.classes) {
        s += &line(c, scores);
    }
    s += &line("macro avg", &report.macro_avg);
    s += &line("weighted avg", &report.weighted_avg);
    s + "\n"
}

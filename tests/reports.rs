//! The real `backprop` binary's reports: `--log-every`, the `--json` summary record and its
//! short numbers, `evaluate`'s averages, log-loss and ROC-AUC (against scikit-learn), and `cv`.

use backprop::io::{Model, TaskInfo};
use backprop::nn::MlpSpec;
use backprop::Loss;
use std::path::Path;
use std::process::{Command, Output};

fn run(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_backprop"))
        .current_dir(dir)
        .args(args)
        .output()
        .expect("the binary runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn ok(dir: &Path, args: &[&str]) -> (String, String) {
    let out = run(dir, args);
    let (o, e) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{args:?}: {e}");
    (o, e)
}

/// A user mistake: exit code 2 and one `error:` line containing every needle.
fn fails(dir: &Path, args: &[&str], needles: &[&str]) {
    let out = run(dir, args);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
    assert!(
        err.starts_with("error: ") && !err.contains("panicked"),
        "{err}"
    );
    for n in needles {
        assert!(err.contains(n), "{args:?}: {n:?} not in {err}");
    }
}

/// Three well-separated blobs, 30 samples each, string labels.
fn blobs(dir: &Path) {
    let mut s = String::from("width,height,kind\n");
    let mut r = backprop::Rng::seed(1);
    for i in 0..90 {
        let (c, name) = [
            ((0.0, 0.0), "small"),
            ((3.0, 3.0), "large"),
            ((0.0, 3.0), "tall"),
        ][i % 3];
        s += &format!(
            "{:.3},{:.3},{name}\n",
            c.0 + 0.5 * r.normal(),
            c.1 + 0.5 * r.normal()
        );
    }
    std::fs::write(dir.join("blobs.csv"), s).unwrap();
}

/// y = 3·a − 2·b + small noise, 60 rows.
fn linear(dir: &Path) {
    let mut s = String::from("a,b,y\n");
    let mut r = backprop::Rng::seed(2);
    for _ in 0..60 {
        let (a, b) = (r.normal(), r.normal());
        s += &format!(
            "{a:.4},{b:.4},{:.4}\n",
            3.0 * a - 2.0 * b + 0.05 * r.normal()
        );
    }
    std::fs::write(dir.join("linear.csv"), s).unwrap();
}

/// The epoch numbers of the plain epoch lines on stderr.
fn epoch_lines(err: &str) -> Vec<usize> {
    err.lines()
        .filter_map(|l| l.strip_prefix("epoch "))
        .map(|l| l.split('/').next().unwrap().trim().parse().unwrap())
        .collect()
}

#[test]
fn log_every_prints_every_nth_epoch_and_the_last() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let base = ["train", "--hidden", "8", "--early-stopping", "0"];
    let args =
        |extra: &[&'static str]| -> Vec<&str> { base.iter().chain(extra).copied().collect() };
    // stderr is a pipe here, not a terminal: plain lines
    let (json, err) = ok(d, &args(&["--epochs", "30", "--log-every", "7", "--json"]));
    assert_eq!(epoch_lines(&err), [7, 14, 21, 28, 30], "{err}");
    // --json stays one record per epoch (plus the summary)
    assert_eq!(json.lines().count(), 31);
    // the default: every epoch up to 100 epochs …
    let (_, err) = ok(d, &args(&["--epochs", "5"]));
    assert_eq!(epoch_lines(&err), [1, 2, 3, 4, 5]);
    // … else every epochs/50 (here 2), about 50 lines
    let (_, err) = ok(d, &args(&["--epochs", "101"]));
    let lines = epoch_lines(&err);
    assert_eq!(lines.len(), 51, "{err}");
    assert_eq!(lines[..3], [2, 4, 6]);
    assert_eq!(lines.last(), Some(&101));
    // an early stop's last epoch is printed too, though not a multiple of N
    let (_, err) = ok(
        d,
        &[
            "train",
            "--hidden",
            "8",
            "--epochs",
            "500",
            "--target-loss",
            "0.5",
            "--log-every",
            "100",
        ],
    );
    let lines = epoch_lines(&err);
    assert_eq!(lines.len(), 1, "{err}");
    assert!(
        lines[0] < 100 && err.contains("target loss reached"),
        "{err}"
    );
    fails(d, &["train", "--log-every", "0"], &["--log-every 0"]);
}

/// Significant digits of a JSON number's text (leading zeros and the exponent don't count).
fn significant_digits(num: &str) -> usize {
    let mantissa = num.split(['e', 'E']).next().unwrap();
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let digits = digits.trim_start_matches('0');
    let digits = if mantissa.contains('.') {
        digits
    } else {
        digits.trim_end_matches('0')
    };
    digits.trim_end_matches('0').len()
}

fn numbers(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Number(n) => out.push(n.to_string()),
        serde_json::Value::Array(a) => a.iter().for_each(|x| numbers(x, out)),
        serde_json::Value::Object(o) => o.values().for_each(|x| numbers(x, out)),
        _ => {}
    }
}

#[test]
fn json_ends_with_a_summary_of_the_saved_model_in_short_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (stdout, _) = ok(
        d,
        &[
            "train",
            "--hidden",
            "8",
            "--epochs",
            "40",
            "--early-stopping",
            "3",
            "--lr",
            "0.05",
            "--json",
            "--quiet",
            "--out",
            "m.safetensors",
        ],
    );
    let recs: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let (epochs, last) = recs.split_at(recs.len() - 1);
    assert!(epochs.iter().all(|r| r.get("epoch").is_some()));
    let s = &last[0]["summary"];
    assert_eq!(s["stop"], "early_stopping", "{s}");
    assert_eq!(s["epochs"], epochs.len());
    assert_eq!(s["restored_best"], true);
    // the saved model is the best epoch's, and its metrics are that epoch's record
    assert_eq!(s["saved_epoch"], s["best_epoch"]);
    let best = s["best_epoch"].as_u64().unwrap() as usize;
    assert!(best < epochs.len(), "{s}");
    let rec = &epochs[best - 1];
    assert_eq!(s["train"]["loss"], rec["train_loss"]);
    assert_eq!(s["train"]["accuracy"], rec["train_accuracy"]);
    assert_eq!(s["validation"]["loss"], rec["val_loss"]);
    assert_eq!(s["validation"]["accuracy"], rec["val_accuracy"]);
    // the built-in digits hold out a test part
    assert!(s["test"]["accuracy"].as_f64().unwrap() > 0.8, "{s}");
    assert!(s["test"]["loss"].as_f64().unwrap() > 0.0);
    assert_eq!(s["model"], "m.safetensors");
    assert!(s["seconds"].as_f64().unwrap() > 0.0);
    // short numbers: the f32 learning rate 0.05 is 0.05, not 0.05000000074505806
    assert!(stdout.contains("\"lr\":0.05,") || stdout.contains("\"lr\":0.05}"));
    let mut nums = Vec::new();
    recs.iter().for_each(|r| numbers(r, &mut nums));
    for n in &nums {
        assert!(significant_digits(n) <= 6, "{n} in {stdout}");
    }
    assert!(nums.len() > 20, "{stdout}");
}

/// A hand-set classifier whose logits are its inputs' linear map `weight`; saved as a model
/// file with the given classes, features x0… and target column y.
fn hand_model(path: &Path, weight: &str, inputs: usize, classes: &[&str]) {
    let units = classes.len();
    let spec = MlpSpec::from_json(&format!(
        r#"{{"in_features": {inputs}, "layers": [{{"units": {units}, "activation": "identity",
            "init": {{"weight": {weight}, "bias": {:?}}}}}]}}"#,
        vec![0.0; units]
    ))
    .unwrap();
    let mut m = Model::from_spec(spec).unwrap();
    m.meta.loss = Loss::CrossEntropy;
    m.meta.task = TaskInfo::Classification {
        classes: classes.iter().map(|c| c.to_string()).collect(),
    };
    m.meta.feature_names = (0..inputs).map(|i| format!("x{i}")).collect();
    m.meta.target_columns = vec!["y".into()];
    m.save(path).unwrap();
}

/// The numbers after `label` on the report line that starts with it.
fn row(report: &str, label: &str) -> Vec<f64> {
    let line = report
        .lines()
        .find(|l| l.trim_start().starts_with(label))
        .unwrap_or_else(|| panic!("no {label:?} line in {report}"));
    line.trim_start()[label.len()..]
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect()
}

fn close(got: f64, want: f64, tol: f64, what: &str, report: &str) {
    assert!(
        (got - want).abs() <= tol,
        "{what}: {got} vs {want}\n{report}"
    );
}

#[test]
fn evaluate_binary_matches_scikit_learn() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // logits (0, x): P(pos) = σ(x); predicted pos when x > 0 (x = 0 is a tie: the first class)
    hand_model(&d.join("m.safetensors"), "[[0], [1]]", 1, &["neg", "pos"]);
    let xs = ["-2", "-1", "-0.5", "0", "0", "0.5", "1", "1", "2", "3"];
    let ys = [
        "neg", "neg", "pos", "neg", "pos", "neg", "pos", "pos", "pos", "pos",
    ];
    let csv: String = std::iter::once("x0,y\n".to_string())
        .chain(xs.iter().zip(ys).map(|(x, y)| format!("{x},{y}\n")))
        .collect();
    std::fs::write(d.join("t.csv"), csv).unwrap();
    let (rep, _) = ok(d, &["evaluate", "m.safetensors", "t.csv"]);
    // Expected values from scikit-learn 1.9.1 (numpy 2.4.6) on the same numbers:
    //   x = [-2, -1, -0.5, 0, 0, 0.5, 1, 1, 2, 3]; y = [0, 0, 1, 0, 1, 0, 1, 1, 1, 1]
    //   p1 = 1 / (1 + exp(-x)); P = column_stack([1 - p1, p1]); pred = (x > 0)
    //   precision_recall_fscore_support(y, pred, average="macro" | "weighted")
    //   log_loss(y, P); roc_auc_score(y, p1)
    assert!(rep.starts_with("accuracy 0.7000 (7/10 correct)"), "{rep}");
    let m = row(&rep, "macro avg");
    close(m[0], 0.7000000000, 1e-4, "macro precision", &rep);
    close(m[1], 0.7083333333, 1e-4, "macro recall", &rep);
    close(m[2], 0.6969696970, 1e-4, "macro f1", &rep);
    assert_eq!(m[3], 10.0);
    let w = row(&rep, "weighted avg");
    close(w[0], 0.7200000000, 1e-4, "weighted precision", &rep);
    close(w[1], 0.7000000000, 1e-4, "weighted recall", &rep);
    close(w[2], 0.7030303030, 1e-4, "weighted f1", &rep);
    close(
        row(&rep, "log-loss")[0],
        0.4576676766,
        2e-6,
        "log-loss",
        &rep,
    );
    // the tie at x = 1 (a positive with a positive) and at x = 0 (a negative with a positive)
    // count one half
    close(row(&rep, "ROC-AUC")[0], 0.8541666667, 1e-6, "ROC-AUC", &rep);
    assert!(rep.contains("probability of \"pos\""), "{rep}");

    // only one class present: ROC-AUC is undefined, not NaN
    std::fs::write(d.join("one.csv"), "x0,y\n1,pos\n2,pos\n").unwrap();
    let (rep, _) = ok(d, &["evaluate", "m.safetensors", "one.csv"]);
    assert!(rep.contains("ROC-AUC undefined"), "{rep}");
}

#[test]
fn evaluate_multiclass_averages_and_log_loss_match_scikit_learn() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // four classes, the logits are the inputs; class d never occurs nor is predicted, so the
    // macro average is over a, b, c (as scikit-learn's classification_report)
    let eye = "[[1,0,0,0],[0,1,0,0],[0,0,1,0],[0,0,0,1]]";
    hand_model(&d.join("m.safetensors"), eye, 4, &["a", "b", "c", "d"]);
    let rows = [
        ("2,0,0,-5", "a"),
        ("1,0.5,0,-5", "a"),
        ("0,1,0,-5", "a"),
        ("0.2,0,1,-5", "a"),
        ("0,2,1,-5", "b"),
        ("0,0,1,-5", "b"),
        ("0,0,3,-5", "c"),
        ("1,0,0.5,-5", "c"),
        ("0,0,2,-5", "c"),
    ];
    let csv: String = std::iter::once("x0,x1,x2,x3,y\n".to_string())
        .chain(rows.iter().map(|(x, y)| format!("{x},{y}\n")))
        .collect();
    std::fs::write(d.join("t.csv"), csv).unwrap();
    let (rep, _) = ok(d, &["evaluate", "m.safetensors", "t.csv"]);
    // Expected values from scikit-learn 1.9.1 (numpy 2.4.6):
    //   X = the rows above; Y = [0, 0, 0, 0, 1, 1, 2, 2, 2]; S = softmax(X, axis=1)
    //   pred = X.argmax(1) = [0, 0, 1, 2, 1, 2, 2, 0, 2]
    //   precision_recall_fscore_support(Y, pred, average="macro" | "weighted", zero_division=0)
    //   log_loss(Y, S, labels=[0, 1, 2, 3])
    assert!(rep.starts_with("accuracy 0.5556 (5/9 correct)"), "{rep}");
    let m = row(&rep, "macro avg");
    close(m[0], 0.5555555556, 1e-4, "macro precision", &rep);
    close(m[1], 0.5555555556, 1e-4, "macro recall", &rep);
    close(m[2], 0.5476190476, 1e-4, "macro f1", &rep);
    let w = row(&rep, "weighted avg");
    close(w[0], 0.5740740741, 1e-4, "weighted precision", &rep);
    close(w[1], 0.5555555556, 1e-4, "weighted recall", &rep);
    close(w[2], 0.5555555556, 1e-4, "weighted f1", &rep);
    assert_eq!(w[3], 9.0);
    close(
        row(&rep, "log-loss")[0],
        0.8168246025,
        2e-6,
        "log-loss",
        &rep,
    );
    assert!(!rep.contains("ROC-AUC"), "two classes only: {rep}");
}

/// `fold i/k: accuracy 0.9667, loss 0.1234 (18 held out; …)` → (score, loss, held out).
fn folds(out: &str) -> Vec<(f64, f64, usize)> {
    out.lines()
        .filter(|l| l.starts_with("fold "))
        .map(|l| {
            let nums: Vec<&str> = l
                .split([' ', ',', '(', ';'])
                .filter(|w| !w.is_empty())
                .collect();
            let at = |key: &str| nums[nums.iter().position(|w| *w == key).unwrap() + 1];
            let score = at(if l.contains("accuracy") {
                "accuracy"
            } else {
                "R²"
            });
            let held = nums[nums.iter().position(|w| *w == "held").unwrap() - 1];
            (
                score.parse().unwrap(),
                at("loss").parse().unwrap(),
                held.parse().unwrap(),
            )
        })
        .collect()
}

fn mean_std(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let m = v.iter().sum::<f64>() / n;
    (
        m,
        (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / n).sqrt(),
    )
}

#[test]
fn cv_reports_each_fold_then_mean_and_std_and_saves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    blobs(d);
    let args = [
        "cv",
        "blobs.csv",
        "--folds",
        "5",
        "--epochs",
        "40",
        "--seed",
        "3",
    ];
    let (out, err) = ok(d, &args);
    assert!(err.contains("5 stratified folds"), "{err}");
    let f = folds(&out);
    assert_eq!(f.len(), 5, "{out}");
    // 90 samples, 30 per class: every held-out fold is 18 (6 of each class)
    assert!(f.iter().all(|&(_, _, held)| held == 18), "{out}");
    let scores: Vec<f64> = f.iter().map(|x| x.0).collect();
    let (m, s) = mean_std(&scores);
    let last = out.lines().last().unwrap();
    assert!(last.starts_with("accuracy: mean "), "{out}");
    let got = row(&last.replace([',', ';'], " "), "accuracy: mean");
    // (the fold lines are rounded to 4 decimals)
    close(got[0], m, 2e-4, "mean", &out);
    close(got[1], s, 2e-4, "std", &out);
    assert!(m > 0.9, "{out}");
    // nothing written
    let files: Vec<_> = std::fs::read_dir(d).unwrap().collect();
    assert_eq!(files.len(), 1, "only blobs.csv: {files:?}");
    // the same seed gives the same report; another seed other folds
    assert_eq!(ok(d, &args).0, out);
    let other = ok(
        d,
        &[
            "cv",
            "blobs.csv",
            "--folds",
            "5",
            "--epochs",
            "40",
            "--seed",
            "4",
        ],
    )
    .0;
    assert_ne!(other, out);

    // --json: a record per fold and a summary whose mean is the folds' mean
    let (json, _) = ok(
        d,
        &["cv", "blobs.csv", "--folds", "3", "--epochs", "5", "--json"],
    );
    let recs: Vec<serde_json::Value> = json
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(recs.len(), 4, "{json}");
    let acc: Vec<f64> = recs[..3]
        .iter()
        .map(|r| r["accuracy"].as_f64().unwrap())
        .collect();
    let s = &recs[3]["summary"];
    assert_eq!(s["folds"], 3);
    assert_eq!(s["metric"], "accuracy");
    close(
        s["mean"].as_f64().unwrap(),
        mean_std(&acc).0,
        1e-5,
        "mean",
        &json,
    );
    close(
        s["std"].as_f64().unwrap(),
        mean_std(&acc).1,
        1e-5,
        "std",
        &json,
    );
    assert!(recs[..3].iter().all(|r| r["held_out"] == 30));
}

#[test]
fn cv_of_a_regression_reports_r2() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    linear(d);
    let (out, err) = ok(
        d,
        &[
            "cv",
            "linear.csv",
            "--folds",
            "4",
            "--epochs",
            "150",
            "--hidden",
            "none",
            "--lr",
            "0.05",
        ],
    );
    assert!(!err.contains("stratified"), "{err}");
    let f = folds(&out);
    assert_eq!(f.len(), 4, "{out}");
    assert!(f.iter().all(|&(_, _, held)| held == 15), "{out}");
    // a linear model of linear data: R² near 1 in every fold, loss (MSE) in the target's units
    assert!(
        f.iter().all(|&(r2, mse, _)| r2 > 0.95 && mse < 1.0),
        "{out}"
    );
    assert!(
        out.lines().last().unwrap().starts_with("R²: mean "),
        "{out}"
    );
}

#[test]
fn cv_refuses_flags_that_only_make_sense_for_one_saved_model() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    blobs(d);
    let cv = |extra: &[&'static str]| -> Vec<&str> {
        ["cv", "blobs.csv"].iter().chain(extra).copied().collect()
    };
    fails(
        d,
        &cv(&["--out", "m.safetensors"]),
        &["--out", "saves none"],
    );
    fails(
        d,
        &cv(&["-o", "model.safetensors"]),
        &["--out", "saves none"],
    );
    fails(d, &cv(&["--resume", "x.ckpt"]), &["--resume", "saves none"]);
    fails(d, &cv(&["--history", "h.csv"]), &["--history"]);
    fails(
        d,
        &cv(&["--test-split", "0.2"]),
        &["--test-split", "--folds"],
    );
    fails(d, &cv(&["--folds", "1"]), &["--folds 1"]);
    fails(d, &cv(&["--folds", "91"]), &["--folds 91", "90 samples"]);
    assert!(std::fs::read_dir(d).unwrap().count() == 1);
    let (help, _) = ok(d, &["cv", "--help"]);
    assert!(help.contains("backprop cv data.csv --folds 5") && help.contains("No model is saved"));
    assert!(!help.contains("--resume <CKPT>"), "hidden: {help}");
}

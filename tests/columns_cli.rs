//! Issue 23 through the real binary: column roles (identifiers, dates, free text), missing
//! values and targets, the printed plan and `inspect`, unseen categories, the default target,
//! regression reports in the target's units, and predict/evaluate on files with other columns.

use std::path::{Path, PathBuf};
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

/// Succeeds; (stdout, stderr).
fn ok(dir: &Path, args: &[&str]) -> (String, String) {
    let out = run(dir, args);
    assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
    (text(&out.stdout), text(&out.stderr))
}

/// Exit code 2, one `error:` line with every needle.
fn fails(dir: &Path, args: &[&str], needles: &[&str]) {
    let out = run(dir, args);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
    assert!(err.starts_with("error: "), "{args:?}: {err}");
    assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
    for n in needles {
        assert!(err.contains(n), "{args:?}: {n:?} not in {err}");
    }
}

fn has(s: &str, needles: &[&str]) {
    for n in needles {
        assert!(s.contains(n), "{n:?} not in {s}");
    }
}

/// The line of `s` that starts (after spaces) with `name`.
fn line_of<'a>(s: &'a str, name: &str) -> &'a str {
    s.lines()
        .find(|l| l.trim_start().starts_with(name))
        .unwrap_or_else(|| panic!("no line for {name} in {s}"))
}

fn write(dir: &Path, name: &str, s: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, s).unwrap();
    p
}

/// A survey: an ID, a date, free-text notes, a colour, a size with gaps, and a class that
/// follows size and colour; rows 5 and 9 lack the class.
fn survey(dir: &Path) {
    let mut s = String::from("id,when,note,colour,size,kind\n");
    let mut r = backprop::Rng::seed(7);
    for i in 0..120 {
        let colour = ["red", "blue", "green"][i % 3];
        let size = 2.0 * (i % 2) as f32 + 0.3 * r.normal();
        let kind = if (i % 2 == 0) == (colour != "green") {
            "a"
        } else {
            "b"
        };
        let kind = if i == 5 || i == 9 { "NA" } else { kind };
        let size = if i % 10 == 3 {
            String::new()
        } else {
            format!("{size:.3}")
        };
        let note = format!("seen near the {} gate at {} in the morning", i % 7, i);
        let when = format!("2020-{:02}-{:02}", 1 + i % 12, 1 + i % 28);
        s += &format!("S{i:04},{when},{note},{colour},{size},{kind}\n");
    }
    write(dir, "survey.csv", &s);
}

#[test]
fn roles_are_found_printed_and_overridable() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    survey(d);
    let (plan, _) = ok(d, &["inspect", "survey.csv"]);
    has(
        line_of(&plan, "id"),
        &[
            "dropped",
            "an identifier: 118 distinct values in 118 rows",
            "--keep id",
        ],
    );
    has(line_of(&plan, "note"), &["dropped", "free text"]);
    has(
        line_of(&plan, "when"),
        &["date", "fractional year", "2020.0"],
    );
    has(
        line_of(&plan, "colour"),
        &["category", "3 levels: blue, green, red"],
    );
    has(
        line_of(&plan, "size"),
        &["number", "12 missing", "(median)"],
    );
    has(
        &plan,
        &[
            "target: kind (the last column; --target to choose)",
            "2 classes: a, b",
        ],
    );
    has(&plan, &["2 rows without a target value are left out"]);
    // --keep makes the identifier a category; --json says the same as the text
    let (plan, _) = ok(d, &["inspect", "survey.csv", "--keep", "id"]);
    has(line_of(&plan, "id"), &["category", "118 levels"]);
    let (json, _) = ok(d, &["inspect", "survey.csv", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let roles: Vec<&str> = v["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["role"].as_str().unwrap())
        .collect();
    assert_eq!(
        roles,
        ["dropped", "date", "dropped", "category", "number", "target"]
    );
    assert_eq!(v["columns"][0]["reason"], "identifier");
    assert_eq!(v["columns"][2]["reason"], "free_text");
    assert_eq!(v["target"]["rows_without_target"], 2);
    // train prints the same plan before its start line, and learns from the kept columns
    let (_, err) = ok(d, &["train", "survey.csv"]);
    let plan_at = err.find("target: kind").expect("the plan is printed");
    assert!(plan_at < err.find("training on").unwrap(), "{err}");
    has(&err, &["118 train"]);
    let (report, _) = ok(d, &["evaluate", "model.safetensors", "survey.csv"]);
    let acc: f64 = report.split_whitespace().nth(1).unwrap().parse().unwrap();
    assert!(acc > 0.9, "{report}");
}

#[test]
fn missing_values_and_targets_are_filled_or_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    survey(d);
    fails(
        d,
        &["train", "survey.csv", "--impute", "error"],
        &["survey.csv:5:", "column 5 (size)", "missing value"],
    );
    fails(
        d,
        &["train", "survey.csv", "--missing-target", "error"],
        &[
            "survey.csv:7:",
            "column 6 (kind)",
            "expected a target value, found \"NA\"",
        ],
    );
    ok(d, &["train", "survey.csv", "--epochs", "5", "--quiet"]);
    // a missing category and a missing number in new rows get the fill values
    write(d, "new.csv", "colour,size,when\n,1.9,2020-03-03\nred,,\n");
    let (pred, _) = ok(d, &["predict", "model.safetensors", "new.csv"]);
    assert_eq!(pred.lines().count(), 3, "{pred}");
    // evaluate leaves rows without a target out, or refuses them
    let (_, err) = ok(d, &["evaluate", "model.safetensors", "survey.csv"]);
    has(&err, &["2 row(s) without a target value left out"]);
    fails(
        d,
        &[
            "evaluate",
            "model.safetensors",
            "survey.csv",
            "--missing-target",
            "error",
        ],
        &["survey.csv:7:", "kind", "missing"],
    );
}

#[test]
fn unseen_categories_are_zeros_with_a_count_or_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    survey(d);
    ok(d, &["train", "survey.csv", "--epochs", "5", "--quiet"]);
    write(
        d,
        "odd.csv",
        "colour,size,when\npurple,1,2020-01-01\nred,1,2020-01-01\nteal,0,2020-01-01\n",
    );
    let (pred, err) = ok(d, &["predict", "model.safetensors", "odd.csv"]);
    assert_eq!(pred.lines().count(), 4);
    has(
        &err,
        &[
            "odd.csv: 2 value(s) were categories the model never saw (colour: 2)",
            "all zeros",
        ],
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    fails(
        d,
        &[
            "predict",
            "model.safetensors",
            "odd.csv",
            "--unknown",
            "error",
        ],
        &[
            "odd.csv:2:",
            "column 1 (colour)",
            "unknown category \"purple\"",
            "blue, green, red",
        ],
    );
}

#[test]
fn a_default_target_that_is_text_or_an_identifier_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let rows: String = (0..40)
        .map(|i| {
            format!(
                "{i},{},bird number {i} was ringed on the east side\n",
                i % 3
            )
        })
        .collect();
    write(d, "notes.csv", &format!("a,b,comment\n{rows}"));
    fails(
        d,
        &["train", "notes.csv"],
        &[
            "column 3 (comment)",
            "the default target, looks like free text",
            "--target",
        ],
    );
    let (plan, _) = ok(d, &["inspect", "notes.csv", "--target", "b"]);
    has(&plan, &["target: b: classification"]);
    assert!(!plan.contains("the last column"), "{plan}");
}

#[test]
fn regression_reports_are_in_the_targets_units() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut r = backprop::Rng::seed(2);
    let mut s = String::from("x,when,price\n");
    for i in 0..200 {
        let x = r.normal();
        let year = 2000 + i % 11;
        let price = 5000.0 + 1000.0 * x + 300.0 * (year - 2000) as f32 + 100.0 * r.normal();
        s += &format!("{x:.4},{year}-06-01,{price:.1}\n");
    }
    write(d, "prices.csv", &s);
    let (json, _) = ok(d, &["train", "prices.csv", "--json", "--quiet"]);
    let summary: serde_json::Value = serde_json::from_str(json.lines().last().unwrap()).unwrap();
    let train_mse = summary["summary"]["train"]["mse"].as_f64().unwrap();
    let (report, _) = ok(d, &["evaluate", "model.safetensors", "prices.csv"]);
    let eval_mse: f64 = report.split_whitespace().nth(2).unwrap().parse().unwrap();
    // standardised units would be ~10⁶ times smaller
    assert!(
        train_mse / eval_mse > 0.3 && train_mse / eval_mse < 3.0,
        "train MSE {train_mse} vs evaluate {eval_mse}"
    );
    // a later date than any in training predicts a higher price (the date is a number)
    write(d, "later.csv", "x,when\n0,2005-06-01\n0,2014-06-01\n");
    let (pred, _) = ok(d, &["predict", "model.safetensors", "later.csv"]);
    let v: Vec<f64> = pred.lines().skip(1).map(|l| l.parse().unwrap()).collect();
    assert!(v[1] > v[0] + 1000.0, "{v:?}");
}

#[test]
fn predict_and_evaluate_match_columns_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    survey(d);
    ok(d, &["train", "survey.csv", "--epochs", "5", "--quiet"]);
    // extra columns are ignored with one note; --id copies a key column
    write(
        d,
        "more.csv",
        "key,colour,extra,size,when\nk1,red,9,1,2020-01-01\nk2,blue,9,0,2020-02-01\n",
    );
    let (pred, err) = ok(
        d,
        &["predict", "model.safetensors", "more.csv", "--id", "key"],
    );
    has(&err, &["column(s) the model does not use, ignored: extra"]);
    assert!(!err.contains("key"), "{err}");
    let lines: Vec<&str> = pred.lines().collect();
    assert!(lines[0].starts_with("key,class,p_a,p_b"), "{pred}");
    assert!(
        lines[1].starts_with("k1,") && lines[2].starts_with("k2,"),
        "{pred}"
    );
    // a feature column as --target: a message that agrees with itself
    fails(
        d,
        &[
            "evaluate",
            "model.safetensors",
            "survey.csv",
            "--target",
            "colour",
        ],
        &[
            "\"colour\" is an input column of the model, not a target",
            "predicts kind",
        ],
    );
    ok(
        d,
        &[
            "evaluate",
            "model.safetensors",
            "survey.csv",
            "--target",
            "kind",
        ],
    );
    // training-only flags are not in predict's or evaluate's help, and refused
    for cmd in ["predict", "evaluate"] {
        let (help, _) = ok(d, &[cmd, "--help"]);
        for flag in ["--impute", "--keep", "--task"] {
            assert!(!help.contains(flag), "{cmd} --help lists {flag}");
        }
        has(&help, &["--unknown"]);
    }
    fails(
        d,
        &[
            "predict",
            "model.safetensors",
            "more.csv",
            "--impute",
            "mean",
        ],
        &["--impute applies to training"],
    );
}

#[test]
fn resume_takes_the_data_flags_from_the_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    survey(d);
    let first = [
        "train",
        "survey.csv",
        "--target",
        "kind",
        "--drop",
        "when",
        "--keep",
        "id",
        "--impute",
        "mean",
        "--epochs",
        "4",
        "--checkpoint-every",
        "2",
        "--quiet",
    ];
    ok(d, &first);
    ok(
        d,
        &[
            "train",
            "survey.csv",
            "--resume",
            "model.safetensors.ckpt",
            "--epochs",
            "6",
            "--quiet",
        ],
    );
    fails(
        d,
        &[
            "train",
            "survey.csv",
            "--resume",
            "model.safetensors.ckpt",
            "--epochs",
            "8",
            "--drop",
            "note",
        ],
        &["--drop note conflicts with the checkpoint's run (--drop when)"],
    );
}

/// `--sample-weight COL`: a column of per-row weights, not a feature; weight 0 leaves a row out
/// of the loss, so with every `pos` row at 0 the model only ever learns `neg`. The plan names
/// the column's role, predict reads files without it, bad weights name file, line and column,
/// and `--resume` takes the column from the checkpoint.
#[test]
fn sample_weight_column() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (mut all, mut zero, mut plain) = (
        String::from("x,w,y\n"),
        String::from("x,w,y\n"),
        String::from("x\n"),
    );
    for i in 0..200 {
        let x = (i as f32 + 0.5) / 200.0;
        let y = if x > 0.5 { "pos" } else { "neg" };
        all.push_str(&format!("{x},1,{y}\n"));
        zero.push_str(&format!("{x},{},{y}\n", u8::from(y == "neg")));
        plain.push_str(&format!("{x}\n"));
    }
    write(d, "all.csv", &all);
    write(d, "zero.csv", &zero);
    write(d, "plain.csv", &plain);
    let (plan, _) = ok(d, &["inspect", "zero.csv", "--sample-weight", "w"]);
    has(line_of(&plan, "w "), &["weight", "not a feature"]);
    let classes = |model: &str| {
        let (out, _) = ok(d, &["predict", model, "plain.csv"]);
        out.lines()
            .skip(1)
            .map(|l| l.split(',').next().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    let common = ["--epochs", "60", "--lr", "0.05", "-q"];
    ok(
        d,
        &[
            &[
                "train",
                "zero.csv",
                "--sample-weight",
                "w",
                "--out",
                "z.safetensors",
                "--checkpoint-every",
                "30",
            ][..],
            &common,
        ]
        .concat(),
    );
    ok(
        d,
        &[
            &[
                "train",
                "all.csv",
                "--sample-weight",
                "w",
                "--out",
                "a.safetensors",
            ][..],
            &common,
        ]
        .concat(),
    );
    assert!(
        classes("z.safetensors").iter().all(|c| c == "neg"),
        "weight 0 on every pos row"
    );
    let a = classes("a.safetensors");
    assert!(a.iter().filter(|c| *c == "pos").count() > 80, "{a:?}");
    // bad weights, a list, and the flag where a saved model reads data
    write(d, "neg.csv", &zero.replacen(",1,neg", ",-2,neg", 1));
    fails(
        d,
        &["train", "neg.csv", "--sample-weight", "w"],
        &["neg.csv:2", "(w)", "a finite number ≥ 0", "\"-2\""],
    );
    fails(
        d,
        &["train", "zero.csv", "--sample-weight", "x,w"],
        &["expected one column"],
    );
    fails(
        d,
        &["train", "zero.csv", "--sample-weight", "y"],
        &["both the sample weight and a target"],
    );
    fails(
        d,
        &[
            "predict",
            "z.safetensors",
            "zero.csv",
            "--sample-weight",
            "w",
        ],
        &["--sample-weight applies to training"],
    );
    // resume: the checkpoint holds the column; another one conflicts
    fails(
        d,
        &[
            "train",
            "zero.csv",
            "--resume",
            "z.safetensors.ckpt",
            "--epochs",
            "70",
            "--sample-weight",
            "x",
        ],
        &["--sample-weight x conflicts", "--sample-weight w"],
    );
    ok(
        d,
        &[
            "train",
            "zero.csv",
            "--resume",
            "z.safetensors.ckpt",
            "--epochs",
            "70",
            "--out",
            "z.safetensors",
            "-q",
        ],
    );
    assert!(
        classes("z.safetensors").iter().all(|c| c == "neg"),
        "resumed with the weights"
    );
}

/// A category level with a comma in it is quoted in the plan, so the list of levels reads one
/// way only.
#[test]
fn plan_quotes_levels_with_commas() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut csv = String::from("stage,x,y\n");
    for i in 0..30 {
        let stage = if i % 2 == 0 {
            "\"Adult, 1 Egg Stage\""
        } else {
            "Chick"
        };
        csv.push_str(&format!("{stage},{i},{}\n", i % 3));
    }
    write(d, "stages.csv", &csv);
    let (plan, _) = ok(d, &["inspect", "stages.csv", "--target", "y"]);
    has(
        line_of(&plan, "stage "),
        &["2 levels: \"Adult, 1 Egg Stage\", Chick"],
    );
}

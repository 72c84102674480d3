//! The real `backprop` binary: round trips, the built-in default, JSON records, determinism,
//! kill-and-resume, and every error path's message and exit code.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_backprop"))
}

fn run(dir: &Path, args: &[&str]) -> Output {
    bin()
        .current_dir(dir)
        .args(args)
        .output()
        .expect("the binary runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A user mistake: exit code 2, one `error:` line naming what was wrong, no panic.
fn fails(dir: &Path, args: &[&str], needles: &[&str]) {
    let out = run(dir, args);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
    assert!(err.starts_with("error: "), "{args:?}: {err}");
    assert!(
        !err.contains("panicked") && !err.contains("RUST_BACKTRACE"),
        "{args:?}: {err}"
    );
    for n in needles {
        assert!(err.contains(n), "{args:?}: {n:?} not in {err}");
    }
}

/// A small CSV: two well-separated blobs per class, string labels.
fn blobs(dir: &Path) -> PathBuf {
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
    let p = dir.join("blobs.csv");
    std::fs::write(&p, s).unwrap();
    p
}

#[test]
fn train_predict_evaluate_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    blobs(d);
    let out = run(
        d,
        &[
            "train",
            "blobs.csv",
            "--epochs",
            "60",
            "--out",
            "m.safetensors",
            "--history",
            "h.csv",
            "--quiet",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let h = std::fs::read_to_string(d.join("h.csv")).unwrap();
    assert!(h.starts_with("epoch,train_loss,train_accuracy"));
    assert!(h.lines().count() > 2);

    let out = run(d, &["predict", "m.safetensors", "blobs.csv"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let pred = text(&out.stdout);
    let mut lines = pred.lines();
    assert_eq!(lines.next(), Some("class,p_large,p_small,p_tall"));
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 90);
    let want = ["small", "large", "tall"];
    let right = rows
        .iter()
        .enumerate()
        .filter(|(i, r)| r.starts_with(&format!("{},", want[i % 3])))
        .count();
    assert!(right >= 85, "{right}/90 predicted right");

    // the same file through stdin, without its label column
    let unlabelled: String = std::fs::read_to_string(d.join("blobs.csv"))
        .unwrap()
        .lines()
        .map(|l| l.rsplit_once(',').unwrap().0.to_string() + "\n")
        .collect();
    let mut child = bin()
        .current_dir(d)
        .args(["predict", "m.safetensors", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), unlabelled.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(text(&out.stdout), pred);

    let out = run(d, &["evaluate", "m.safetensors", "blobs.csv"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let rep = text(&out.stdout);
    assert!(
        rep.contains("accuracy") && rep.contains("confusion matrix") && rep.contains("precision"),
        "{rep}"
    );
}

#[test]
fn built_in_digits_is_the_default() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(dir.path(), &["train", "--epochs", "15"]);
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("built-in UCI digits"), "{err}");
    let line = err
        .lines()
        .find(|l| l.contains("held-out test"))
        .expect("a held-out line");
    let acc: f32 = line
        .split("accuracy ")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(acc > 90.0, "{line}");
    assert!(dir.path().join("model.safetensors").exists());
}

#[test]
fn json_records_one_per_epoch() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(
        dir.path(),
        &[
            "train",
            "--epochs",
            "4",
            "--early-stopping",
            "0",
            "--json",
            "--quiet",
        ],
    );
    assert!(out.status.success());
    let recs: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // one record per epoch, then the summary (tests/reports.rs checks it)
    assert_eq!(recs.len(), 5);
    assert!(recs[4].get("summary").is_some());
    for (i, r) in recs[..4].iter().enumerate() {
        assert_eq!(r["epoch"], i + 1);
        assert!(r["train_loss"].as_f64().unwrap() > 0.0);
        assert!(r["val_accuracy"].as_f64().unwrap() > 0.0);
    }
}

#[test]
fn same_seed_gives_the_same_bytes_on_one_and_two_threads() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let args = |out: &'static str, threads: &'static str| {
        vec![
            "train",
            "--epochs",
            "5",
            "--hidden",
            "300",
            "--batch-size",
            "512",
            "--quiet",
            "--out",
            out,
            "--threads",
            threads,
        ]
    };
    assert!(run(d, &args("a", "1")).status.success());
    assert!(run(d, &args("b", "1")).status.success());
    assert!(run(d, &args("c", "2")).status.success());
    let (a, b, c) = (
        std::fs::read(d.join("a")).unwrap(),
        std::fs::read(d.join("b")).unwrap(),
        std::fs::read(d.join("c")).unwrap(),
    );
    assert_eq!(a, b, "two runs, same seed");
    assert_eq!(a, c, "one thread vs two");
    assert!(run(
        d,
        &[
            "train",
            "--epochs",
            "5",
            "--hidden",
            "300",
            "--batch-size",
            "512",
            "--quiet",
            "--out",
            "e",
            "--seed",
            "1"
        ]
    )
    .status
    .success());
    assert_ne!(a, std::fs::read(d.join("e")).unwrap(), "another seed");
}

#[test]
fn killed_run_resumes_to_the_same_model() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let common = [
        "train",
        "--hidden",
        "256,256",
        "--batch-size",
        "1",
        "--epochs",
        "12",
        "--early-stopping",
        "0",
        "--quiet",
        "--checkpoint-every",
        "1",
    ];
    let mut args: Vec<&str> = common.to_vec();
    args.extend(["--out", "full.safetensors"]);
    let full = run(d, &args);
    assert!(full.status.success(), "{}", text(&full.stderr));

    let mut args: Vec<&str> = common.to_vec();
    args.extend(["--out", "part.safetensors", "--checkpoint", "part.ckpt"]);
    let mut child = bin()
        .current_dir(d)
        .args(&args)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let ckpt = d.join("part.ckpt");
    let start = std::time::Instant::now();
    while !ckpt.exists() {
        assert!(start.elapsed().as_secs() < 120, "no checkpoint appeared");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL
    let status = child.wait().unwrap();
    assert!(!status.success(), "the run was killed before it finished");
    assert!(
        !d.join("part.safetensors").exists(),
        "killed before writing its model"
    );
    let epoch = backprop::io::Checkpoint::load(&ckpt).unwrap().state.epoch;
    assert!(epoch < 12, "killed mid-training, at epoch {epoch}");

    let out = run(
        d,
        &[
            "train",
            "--resume",
            "part.ckpt",
            "--out",
            "part.safetensors",
            "--checkpoint",
            "part.ckpt",
            "--checkpoint-every",
            "1",
            "--quiet",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        std::fs::read(d.join("full.safetensors")).unwrap(),
        std::fs::read(d.join("part.safetensors")).unwrap(),
        "resumed from epoch {epoch}"
    );
}

#[test]
fn errors_are_one_clear_line_with_exit_code_2() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("ragged.csv"), "a,b,y\n1,2,0\n3,1\n").unwrap();
    std::fs::write(d.join("text.csv"), "a,b,y\n1,2,0\n3,x,1\n").unwrap();
    std::fs::write(d.join("empty.csv"), "").unwrap();
    std::fs::write(d.join("notamodel"), "hello").unwrap();
    fails(
        d,
        &["train", "missing.csv"],
        &["missing.csv", "No such file"],
    );
    fails(
        d,
        &["train", "ragged.csv"],
        &["ragged.csv:3", "expected 3 fields"],
    );
    fails(
        d,
        &["train", "text.csv"],
        &["text.csv:3", "b", "expected a number"],
    );
    fails(d, &["train", "empty.csv"], &["empty.csv"]);
    fails(d, &["train", "--hidden", "64,x"], &["--hidden"]);
    fails(
        d,
        &["train", "--optimizer", "nadam"],
        &["optimizer", "nadam"],
    );
    fails(d, &["train", "--loss", "nope"], &["unknown loss"]);
    fails(d, &["train", "--batch-size", "many"], &["--batch-size"]);
    fails(
        d,
        &["train", "--val-split", "0.7", "--test-split", "0.5"],
        &["--val-split"],
    );
    fails(d, &["train", "--target", "nosuch"], &["nosuch"]);
    fails(d, &["train", "mnist:/nonexistent"], &["/nonexistent"]);
    fails(
        d,
        &["predict", "nomodel.safetensors", "x.csv"],
        &["nomodel.safetensors"],
    );
    fails(
        d,
        &["predict", "notamodel", "x.csv"],
        &["notamodel", "not a valid safetensors file"],
    );
    fails(d, &["train", "--resume", "notamodel"], &["notamodel"]);
    fails(d, &["frobnicate"], &["frobnicate"]);
    // a model trained on 64 digit features meets a file with 2 features
    assert!(run(d, &["train", "--epochs", "1", "--quiet"])
        .status
        .success());
    blobs(d);
    fails(
        d,
        &["predict", "model.safetensors", "blobs.csv"],
        &["blobs.csv"],
    );
    fails(
        d,
        &["evaluate", "model.safetensors", "blobs.csv"],
        &["blobs.csv"],
    );
}

#[test]
fn help_of_each_command_shows_an_example() {
    for cmd in [
        "train",
        "predict",
        "evaluate",
        "explain",
        "gradcheck",
        "summary",
        "bench",
    ] {
        let out = bin().args([cmd, "--help"]).output().unwrap();
        assert!(out.status.success());
        let help = text(&out.stdout);
        assert!(
            help.contains("Example") && help.contains(&format!("backprop {cmd}")),
            "{cmd}: {help}"
        );
    }
}

#[test]
fn gradcheck_passes_on_a_trained_model() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    blobs(d);
    assert!(run(
        d,
        &[
            "train",
            "blobs.csv",
            "--epochs",
            "20",
            "--activation",
            "tanh",
            "--quiet"
        ]
    )
    .status
    .success());
    let out = run(d, &["gradcheck", "model.safetensors", "blobs.csv"]);
    let s = text(&out.stdout);
    assert!(out.status.success(), "{s}{}", text(&out.stderr));
    assert!(s.contains("layers.0.weight") && s.contains("PASS"), "{s}");
}

#[test]
fn explain_reproduces_the_lfd_worked_example() {
    let out = bin()
        .args(["explain", "--example", "lfd"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let s = text(&out.stdout);
    // the seed's forward values, δ's and gradients, to the digits the seed prints
    for needle in [
        "[0.7, 1]",
        "[1, 0.6044, 0.7616]",
        "[-1.48]",
        "[-0.6658]",
        "[-1.855]",
        "[-0.6945]",
        "[-0.4408, 0.875]",
        "1.75",
        "1.672",
    ] {
        assert!(s.contains(needle), "{needle:?} not in\n{s}");
    }
    assert!(s.contains("W(1) − η·∂e/∂W(1)"), "{s}");
    // updated W(1) bias entry: 0.1 − 0.1·(−0.4408) = 0.1441
    assert!(s.contains("0.1441"), "{s}");
    fails(Path::new("."), &["explain", "--example", "nope"], &["lfd"]);
    fails(Path::new("."), &["explain"], &["--example lfd"]);
}

#[test]
fn explain_reads_a_json_spec_and_summary_describes_a_model() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let spec = r#"{"input": [2.0], "target": [1.0], "layers": [
        {"activation": "tanh", "W": [[0.1, 0.2], [0.3, 0.4]]},
        {"activation": "tanh", "W": [[0.2], [1.0], [-3.0]]},
        {"activation": "tanh", "W": [[1.0], [2.0]]}]}"#;
    std::fs::write(d.join("net.json"), spec).unwrap();
    let out = run(d, &["explain", "--spec", "net.json"]);
    assert!(
        out.status.success() && text(&out.stdout).contains("[-1.855]"),
        "{}",
        text(&out.stderr)
    );
    std::fs::write(d.join("bad.json"), r#"{"input": [2.0], "target": [1.0], "layers": [{"activation": "tanh", "W": [[0.1], [0.2], [0.3]]}]}"#).unwrap();
    fails(d, &["explain", "--spec", "bad.json"], &["bad.json", "W(1)"]);

    assert!(run(
        d,
        &[
            "train",
            "--epochs",
            "3",
            "--hidden",
            "16",
            "--quiet",
            "--plot",
            "curves.svg"
        ]
    )
    .status
    .success());
    let svg = std::fs::read_to_string(d.join("curves.svg")).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("Loss") && svg.contains("Accuracy"));
    let out = run(d, &["summary", "model.safetensors"]);
    let s = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    for needle in [
        "layers.0",
        "64 → 16",
        "relu",
        "cross_entropy",
        "standard",
        "1210",
    ] {
        assert!(s.contains(needle), "{needle:?} not in\n{s}");
    }
    let out = run(
        d,
        &[
            "explain",
            "--model",
            "model.safetensors",
            "--data",
            "-",
            "--row",
            "0",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn bench_prints_a_table_and_a_json_line() {
    let out = bin()
        .args([
            "bench",
            "--synthetic",
            "--batch-sizes",
            "1",
            "--epochs",
            "1",
            "--steps",
            "20",
            "--xor-steps",
            "200",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let s = text(&out.stdout);
    assert!(
        s.contains("samples/s") && s.contains("XOR 2-2-1 step"),
        "{s}"
    );
    let json: serde_json::Value = serde_json::from_str(s.lines().last().unwrap()).unwrap();
    assert_eq!(json["mlp"][0]["batch"], 1);
    assert!(json["xor"]["median_us"].as_f64().unwrap() > 0.0);
    fails(
        Path::new("."),
        &["bench", "--batch-sizes", "0"],
        &["--batch-sizes"],
    );
}

#[test]
fn labels_and_rows_the_model_does_not_know_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    blobs(d);
    assert!(run(d, &["train", "blobs.csv", "--epochs", "2", "--quiet"])
        .status
        .success());
    let other = std::fs::read_to_string(d.join("blobs.csv"))
        .unwrap()
        .replace("tall", "wide");
    std::fs::write(d.join("other.csv"), other).unwrap();
    fails(
        d,
        &["evaluate", "model.safetensors", "other.csv"],
        &["other.csv", "\"wide\"", "classes"],
    );
    fails(
        d,
        &[
            "explain",
            "--model",
            "model.safetensors",
            "--data",
            "blobs.csv",
            "--row",
            "500",
        ],
        &["--row 500", "90 rows"],
    );
}

/// Matt Mazur's "A Step by Step Backpropagation Example" (2015), from the command line: a 2-2-2
/// sigmoid net with E = ½Σ(target − out)², one shared bias per layer that is not updated,
/// η = 0.5. The published values (9 digits) are reproduced to 1e-6 relative.
#[test]
fn explain_reproduces_a_published_example_with_shared_frozen_biases() {
    let dir = tempfile::tempdir().unwrap();
    let spec = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/explain/mazur.json");
    let out = run(dir.path(), &["explain", "--spec", spec, "--format", "json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let close = |got: &serde_json::Value, want: f64, what: &str| {
        let g = got.as_f64().unwrap_or(f64::NAN);
        assert!(
            ((g - want) / want).abs() <= 1e-6,
            "{what}: {g} vs published {want}"
        );
    };
    close(&v["error"], 0.298371109, "E_total");
    let (l1, l2) = (&v["layers"][0], &v["layers"][1]);
    close(&l1["x"][0], 0.593269992, "out_h1");
    close(&l1["x"][1], 0.596884378, "out_h2");
    close(&l2["x"][0], 0.75136507, "out_o1");
    close(&l2["x"][1], 0.772928465, "out_o2");
    // rows of `updated`: one per input, one column per unit (no bias row: the bias is shared)
    let w = |l: &serde_json::Value, r: usize, c: usize| l["updated"][r][c].clone();
    for (got, want, name) in [
        (w(l2, 0, 0), 0.35891648, "w5"),
        (w(l2, 1, 0), 0.408666186, "w6"),
        (w(l2, 0, 1), 0.511301270, "w7"),
        (w(l2, 1, 1), 0.561370121, "w8"),
        (w(l1, 0, 0), 0.149780716, "w1"),
        (w(l1, 1, 0), 0.19956143, "w2"),
        (w(l1, 0, 1), 0.24975114, "w3"),
        (w(l1, 1, 1), 0.29950229, "w4"),
    ] {
        close(&got, want, name);
    }
    // the shared biases are reported, and not updated
    for (l, b) in [(l1, 0.35), (l2, 0.60)] {
        close(&l["shared_bias"]["value"], b, "b");
        assert_eq!(l["shared_bias"]["updated"], l["shared_bias"]["value"]);
        assert!(l["shared_bias"]["grad"].as_f64().unwrap() > 0.0);
    }
    // the table at 9 digits shows the same numbers; --loss overrides the file's loss
    let out = run(dir.path(), &["explain", "--spec", spec, "--digits", "9"]);
    let t = text(&out.stdout);
    assert!(
        t.contains("0.358916491") && t.contains("bias frozen"),
        "{t}"
    );
    let out = run(
        dir.path(),
        &[
            "explain",
            "--spec",
            spec,
            "--loss",
            "squared_error",
            "--format",
            "json",
        ],
    );
    let v2: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v2["loss"], "squared_error");
    close(
        &v2["error"],
        2.0 * 0.298371109,
        "E = (1/N)Σ‖·‖² = 2 × ½Σ for one sample",
    );
    fails(
        dir.path(),
        &["explain", "--spec", spec, "--digits", "0"],
        &["--digits 0"],
    );
    fails(
        dir.path(),
        &["explain", "--spec", spec, "--format", "yaml"],
        &["--format \"yaml\""],
    );
}

/// `gradcheck` on a regression model whose targets are in the hundreds and a ReLU net: it used to
/// report FAIL from f32 round-off and kinks; now it passes, saying what it skipped and why.
#[test]
fn gradcheck_passes_on_a_relu_regression_model_with_large_targets() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = String::from("a,b,c,y\n");
    let mut r = backprop::Rng::seed(9);
    for _ in 0..80 {
        let (a, b, c) = (r.normal(), r.normal(), r.normal());
        s += &format!("{a},{b},{c},{}\n", 150.0 + 60.0 * a - 30.0 * b * c);
    }
    std::fs::write(dir.path().join("r.csv"), s).unwrap();
    let out = run(dir.path(), &["train", "r.csv", "--epochs", "30", "--quiet"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = run(
        dir.path(),
        &["gradcheck", "model.safetensors", "r.csv", "--rows", "16"],
    );
    let o = text(&out.stdout);
    assert!(out.status.success(), "{o}{}", text(&out.stderr));
    assert!(
        o.contains("PASS") && o.contains("kink") && o.contains("noise"),
        "{o}"
    );
}

/// `--class-weight balanced` on imbalanced classes (90 % / 10 %, overlapping): the minority class
/// is predicted more often than without weights, and the weights go into the checkpoint.
#[test]
fn balanced_class_weights_favour_the_minority_class() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = String::from("a,b,kind\n");
    let mut r = backprop::Rng::seed(4);
    for i in 0..400 {
        let rare = i % 10 == 0;
        let c = if rare { 0.8 } else { 0.0 };
        s += &format!(
            "{},{},{}\n",
            c + r.normal(),
            c + r.normal(),
            if rare { "rare" } else { "common" }
        );
    }
    std::fs::write(dir.path().join("imb.csv"), s).unwrap();
    let rare_predictions = |extra: &[&str]| {
        let mut args = vec![
            "train",
            "imb.csv",
            "--epochs",
            "30",
            "--quiet",
            "--val-split",
            "0",
        ];
        args.extend_from_slice(extra);
        let out = run(dir.path(), &args);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let out = run(dir.path(), &["predict", "model.safetensors", "imb.csv"]);
        text(&out.stdout)
            .lines()
            .filter(|l| l.starts_with("rare,"))
            .count()
    };
    let plain = rare_predictions(&[]);
    let weighted = rare_predictions(&["--class-weight", "balanced", "--checkpoint-every", "30"]);
    assert!(
        weighted > plain + 20,
        "rare predicted {plain} → {weighted} times"
    );
    let c = backprop::io::Checkpoint::load(dir.path().join("model.safetensors.ckpt")).unwrap();
    let w = c.trainer.class_weights.unwrap();
    assert!((w[1] / w[0] - 9.0).abs() < 1e-3, "{w:?}"); // classes sorted: common, rare
    fails(
        dir.path(),
        &[
            "train",
            "imb.csv",
            "--class-weight",
            "balanced",
            "--loss",
            "mse",
        ],
        &["class weights", "cross_entropy"],
    );
}

/// `--pretrain autoencoder:E` trains the hidden layers before fine-tuning: on a deep narrow
/// sigmoid net that SGD cannot start in a few epochs, the pre-trained one learns.
#[test]
fn pretraining_gets_a_deep_sigmoid_net_going() {
    let dir = tempfile::tempdir().unwrap();
    let acc = |extra: &[&str]| {
        let mut args = vec![
            "train",
            "--hidden",
            "32,32,32,32,32",
            "--activation",
            "sigmoid",
            "--optimizer",
            "sgd",
            "--lr",
            "0.1",
            "--momentum",
            "0.9",
            "--epochs",
            "8",
            "--early-stopping",
            "0",
        ];
        args.extend_from_slice(extra);
        let out = run(dir.path(), &args);
        let err = text(&out.stderr);
        assert!(out.status.success(), "{err}");
        let line = err
            .lines()
            .find(|l| l.contains("held-out test"))
            .unwrap()
            .to_string();
        line.split("accuracy ")
            .nth(1)
            .unwrap()
            .split(' ')
            .next()
            .unwrap()
            .parse::<f32>()
            .unwrap()
    };
    let (plain, pre) = (acc(&[]), acc(&["--pretrain", "autoencoder:5"]));
    assert!(plain < 30.0 && pre > 60.0, "{plain} vs {pre}");
    fails(
        dir.path(),
        &["train", "--pretrain", "rbm"],
        &["--pretrain", "'rbm'", "autoencoder[:EPOCHS[:DENOISE]]"],
    );
}

/// The bytes of a safetensors file with the JSON metadata under `key` rewritten by `f`.
fn edit_metadata(bytes: &[u8], key: &str, f: impl Fn(&mut serde_json::Value)) -> Vec<u8> {
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let mut header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + n]).unwrap();
    let mut meta: serde_json::Value =
        serde_json::from_str(header["__metadata__"][key].as_str().unwrap()).unwrap();
    f(&mut meta);
    header["__metadata__"][key] = serde_json::Value::String(meta.to_string());
    let mut h = header.to_string().into_bytes();
    while !h.len().is_multiple_of(8) {
        h.push(b' ');
    }
    let mut out = (h.len() as u64).to_le_bytes().to_vec();
    out.extend(h);
    out.extend(&bytes[8 + n..]);
    out
}

/// Values that make no sense (a NaN slope, an infinite or negative ε, a negative clip) are
/// refused with exit 2 before any training, whether they come as flags, in a network
/// description, or in a model or checkpoint file (which the error names); each used to start
/// training and die of NaN, or panic.
#[test]
fn hostile_settings_exit_2_before_training() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let xor = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/data/xor.csv");
    let train = |extra: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = ["train", xor, "--target", "y", "--epochs", "2", "--quiet"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    let fails_train = |extra: &[&str], needles: &[&str]| {
        let args = train(extra);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        fails(d, &args, needles);
        assert!(!d.join("model.safetensors").exists(), "{extra:?} trained");
    };
    for (flag, value, why) in [
        ("--activation", "leaky_relu:nan", "finite"),
        ("--activation", "leaky_relu:inf", "finite"),
        ("--output-activation", "leaky_relu:-inf", "finite"),
        ("--init", "uniform:inf", "positive and finite"),
        ("--init", "uniform:nan", "positive and finite"),
        ("--init", "uniform:-1", "positive and finite"),
        ("--init", "lecun", "xavier_uniform"),
        ("--scale", "zscore", "minmax"),
        ("--pretrain", "autoencoder:0", "EPOCHS ≥ 1"),
        ("--pretrain", "autoencoder:5:nan", "DENOISE in [0, 1)"),
        ("--precision", "f16", "f32 or bf16"),
        ("--loss", "nope", "unknown loss"),
        ("--batch-size", "many", "`full`"),
    ] {
        fails_train(&[flag, value], &[flag, value, why]);
    }
    fails_train(&["--clip-norm=-1"], &["clip_grad_norm", "-1"]);
    fails_train(
        &["--lr-schedule", "cosine:0"],
        &["--lr-schedule", "cosine:0"],
    );
    fails_train(
        &["--lr-schedule", "exponential:nan"],
        &["--lr-schedule", "gamma"],
    );
    fails_train(
        &["--warmup", "2", "--lr-schedule", "warmup:3"],
        &["--warmup", "both give a warm-up"],
    );
    // a warm-up flag and a schedule are one schedule
    let args = train(&["--warmup", "2", "--lr-schedule", "cosine:10"]);
    let out = run(d, &args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::remove_file(d.join("model.safetensors")).unwrap();
    // the same in a network description, named
    std::fs::write(
        d.join("nan.json"),
        r#"{"in_features": 2, "layers": [{"units": 2, "activation": "leaky_relu:nan"}, {"units": 1, "activation": "sigmoid"}]}"#,
    )
    .unwrap();
    std::fs::write(
        d.join("inf.json"),
        r#"{"in_features": 2, "layers": [{"units": 2, "activation": {"leaky_relu": 1e39}}, {"units": 1, "activation": "sigmoid"}]}"#,
    )
    .unwrap();
    fails_train(&["--arch", "nan.json"], &["nan.json", "layer 1", "finite"]);
    fails_train(&["--arch", "inf.json"], &["inf.json", "layer 1", "finite"]);

    // a model file whose initialiser is U(±∞), and a checkpoint whose clip value is −1
    let args = train(&["--out", "good.safetensors", "--checkpoint-every", "1"]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    assert!(run(d, &args).status.success());
    let model = std::fs::read(d.join("good.safetensors")).unwrap();
    let bad = edit_metadata(&model, "backprop", |m| {
        m["init"] = serde_json::json!({"uniform": 1e39})
    });
    std::fs::write(d.join("badinit.safetensors"), bad).unwrap();
    fails(
        d,
        &["summary", "badinit.safetensors"],
        &["badinit.safetensors", "init"],
    );
    let ckpt = std::fs::read(d.join("good.safetensors.ckpt")).unwrap();
    let bad = edit_metadata(&ckpt, "backprop-checkpoint", |m| {
        m["trainer"]["clip_grad_value"] = serde_json::json!(-1.0)
    });
    std::fs::write(d.join("clip.ckpt"), bad).unwrap();
    fails_train(
        &["--resume", "clip.ckpt"],
        &["clip.ckpt", "clip_grad_value", "-1"],
    );
    let bad = edit_metadata(&ckpt, "backprop-checkpoint", |m| {
        m["model"]["init"] = serde_json::json!({"uniform": -1.0})
    });
    std::fs::write(d.join("init.ckpt"), bad).unwrap();
    fails_train(&["--resume", "init.ckpt"], &["init.ckpt", "init"]);
}

/// The names in `dir`, sorted.
fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// Every place a run writes is checked before the data is even loaded (the data file here does
/// not exist, so reaching the data would give another error), and the check leaves no file.
#[test]
fn destinations_are_checked_before_the_data_is_loaded() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("plain"), "a file, not a directory").unwrap();
    let train = |extra: &[&str], needles: &[&str]| {
        let mut args = vec!["train", "absent.csv", "--epochs", "1", "--quiet"];
        args.extend(extra);
        fails(d, &args, needles);
    };
    for flag in ["--out", "--checkpoint", "--history", "--plot"] {
        let path = format!("missing/f{flag}");
        train(
            &[flag, &path],
            &[
                &format!("{flag} {path}"),
                "the directory missing does not exist",
            ],
        );
        train(
            &[flag, "plain/f"],
            &[&format!("{flag} plain/f"), "plain is not a directory"],
        );
    }
    train(&["--out", "."], &["--out", "expected a file path"]);
    train(&["--out", "plain"], &["absent.csv"]); // an existing file is replaced: on to the data
    train(
        &["--plot", "sub/"],
        &["--plot \"sub/\"", "expected a file path"],
    );
    std::fs::create_dir(d.join("sub")).unwrap();
    train(&["--out", "sub"], &["--out sub", "is a directory"]);
    // the default checkpoint, OUT.ckpt, is checked with --out (same directory)
    train(
        &["--out", "missing/m.safetensors"],
        &["--out missing/m.safetensors", "missing does not exist"],
    );
    #[cfg(target_os = "linux")]
    train(
        &["--out", "/proc/backprop-test.safetensors"],
        &[
            "--out /proc/backprop-test.safetensors",
            "cannot write in the directory /proc",
        ],
    );
    fails(
        d,
        &["export", "absent.safetensors", "--onnx", "missing/m.onnx"],
        &[
            "--onnx missing/m.onnx",
            "the directory missing does not exist",
        ],
    );
    assert_eq!(
        listing(d),
        ["plain", "sub"],
        "nothing written, nothing created"
    );
    assert_eq!(listing(&d.join("sub")), Vec::<String>::new());

    // a good destination: the run writes its files and the check leaves nothing behind
    let data = blobs(d);
    let out = run(
        d,
        &[
            "train",
            data.to_str().unwrap(),
            "--epochs",
            "2",
            "--quiet",
            "--out",
            "sub/m.safetensors",
            "--history",
            "sub/h.csv",
            "--plot",
            "sub/p.svg",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(listing(&d.join("sub")), ["h.csv", "m.safetensors", "p.svg"]);
}

/// `timeout -s INT` signals the process and then its group, so two SIGINTs arrive together:
/// they are one interrupt, and every run saves its model, checkpoint, history and plot.
#[test]
fn two_signals_together_are_one_interrupt_and_every_run_saves() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for i in 0..5 {
        let (m, h, p) = (
            format!("m{i}.safetensors"),
            format!("h{i}.csv"),
            format!("p{i}.svg"),
        );
        // 2 s leaves room for a slow start on a loaded machine; the run itself never ends
        // (-k: SIGKILL a minute later if the interrupt is ignored)
        let out = Command::new("timeout")
            .current_dir(d)
            .args(["-s", "INT", "--preserve-status", "-k", "60", "2"])
            .arg(env!("CARGO_BIN_EXE_backprop"))
            .args(["train", "--epochs", "100000", "--early-stopping", "0"])
            .args(["--quiet", "--out", &m, "--history", &h, "--plot", &p])
            .output()
            .expect("timeout (coreutils) runs");
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(130), "run {i}: {err}");
        assert!(err.contains("interrupted during epoch"), "run {i}: {err}");
        for f in [&m, &format!("{m}.ckpt"), &h, &p] {
            assert!(d.join(f).exists(), "run {i} did not write {f}: {err}");
        }
        backprop::io::Model::load(d.join(&m)).unwrap();
    }
}

/// A training run in `dir` whose history goes to the FIFO `hist` (nobody reads it yet, so after
/// an interrupt the run waits there with its model and checkpoint written), started and
/// watched until its first epoch line: the signal handler is installed and training runs.
#[cfg(unix)]
struct FifoRun {
    child: std::process::Child,
    lines: std::sync::mpsc::Receiver<String>,
    reader: std::thread::JoinHandle<()>,
    seen: Vec<String>,
}

#[cfg(unix)]
impl FifoRun {
    fn start(d: &Path) -> FifoRun {
        use std::io::BufRead as _;
        let fifo = Command::new("mkfifo").arg(d.join("hist")).status().unwrap();
        assert!(fifo.success());
        let mut child = bin()
            .current_dir(d)
            .args(["train", "--epochs", "100000", "--early-stopping", "0"])
            .args([
                "--log-every",
                "1",
                "--out",
                "m.safetensors",
                "--history",
                "hist",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, lines) = std::sync::mpsc::channel::<String>();
        let reader = std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut seen: Vec<String> = vec![];
        while !seen.iter().any(|l| l.trim_start().starts_with("epoch")) {
            match lines.recv_timeout(std::time::Duration::from_secs(120)) {
                Ok(line) => seen.push(line),
                Err(e) => {
                    let _ = child.kill();
                    panic!("no epoch line ({e}): {seen:?}");
                }
            }
        }
        FifoRun {
            child,
            lines,
            reader,
            seen,
        }
    }

    fn sigint(&self) {
        let pid = self.child.id().to_string();
        let kill = Command::new("kill").args(["-INT", &pid]).status().unwrap();
        assert!(kill.success(), "the run had already ended");
    }

    /// Polls until the model and its checkpoint are written (the run then waits on the FIFO).
    fn wait_for_the_model(&mut self, d: &Path) {
        let start = std::time::Instant::now();
        while !d.join("m.safetensors.ckpt").exists() || !d.join("m.safetensors").exists() {
            assert!(
                self.child.try_wait().unwrap().is_none(),
                "the run ended without saving"
            );
            assert!(
                start.elapsed().as_secs() < 120,
                "the interrupt saved nothing"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    /// Waits (at most a minute) for the exit; its code and everything written to stderr.
    fn end(mut self) -> (Option<i32>, String) {
        let start = std::time::Instant::now();
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            if start.elapsed().as_secs() > 60 {
                let _ = self.child.kill();
                panic!("the run did not end");
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        };
        self.reader.join().unwrap();
        self.seen.extend(self.lines.try_iter());
        (status.code(), self.seen.join("\n"))
    }
}

/// A second signal 0.2 s after the first is part of the same interrupt: the run goes on to
/// write its history (read here from the FIFO) and ends as an interrupted run does.
#[cfg(unix)]
#[test]
fn a_second_signal_soon_after_the_first_still_saves_everything() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut run = FifoRun::start(d);
    run.sigint();
    std::thread::sleep(std::time::Duration::from_millis(200));
    run.sigint();
    run.wait_for_the_model(d);
    let fifo = d.join("hist");
    let reading = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read_to_string(fifo).unwrap())
    };
    let (code, err) = run.end();
    // a run that ended without opening its history leaves the reader waiting: release it
    let start = std::time::Instant::now();
    while !reading.is_finished() && start.elapsed().as_secs() < 10 {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    if !reading.is_finished() {
        drop(std::fs::OpenOptions::new().write(true).open(&fifo));
    }
    let history = reading.join().unwrap();
    assert!(history.starts_with("epoch,train_loss"), "{err}\n{history}");
    assert!(history.lines().count() >= 2, "{history}");
    assert_eq!(code, Some(130), "{err}");
    assert!(err.contains("interrupted during epoch"), "{err}");
    assert!(!err.contains("interrupted again"), "{err}");
}

/// A signal more than a second after the first ends the run at once, saying so (the run is
/// held on the FIFO, model and checkpoint written, history not).
#[cfg(unix)]
#[test]
fn a_later_second_signal_exits_at_once_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut run = FifoRun::start(d);
    run.sigint();
    run.wait_for_the_model(d);
    std::thread::sleep(std::time::Duration::from_millis(2500));
    assert!(run.child.try_wait().unwrap().is_none(), "held on the FIFO");
    run.sigint();
    let (code, err) = run.end();
    assert_eq!(code, Some(130), "{err}");
    assert!(err.contains("interrupted again"), "{err}");
    assert!(err.contains("without saving"), "{err}");
    assert!(!err.contains("interrupted during epoch"), "{err}");
}

//! The training surface through the real binary: the classic nets from their `--arch` files in
//! `examples/arch/`, several targets, one output unit for a 0/1 target under squared error or
//! BCE, learning-rate schedules, resume that extends a run (and refuses conflicting flags or
//! other data), frozen parameters, Ctrl-C, step units, and bad descriptions.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

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

/// Runs and asserts success; returns stdout.
fn ok(dir: &Path, args: &[&str]) -> String {
    let out = run(dir, args);
    assert!(
        out.status.success(),
        "{args:?} failed ({:?}): {}",
        out.status.code(),
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// A user mistake: exit code 2, an `error:` line containing every needle, no panic. Returns
/// stderr.
fn fails(dir: &Path, args: &[&str], needles: &[&str]) -> String {
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
    err
}

/// A file in `examples/` as an absolute path.
fn example(rel: &str) -> String {
    format!("{}/examples/{rel}", env!("CARGO_MANIFEST_DIR"))
}

/// The settings the classic nets train with (see examples/arch/README.md).
const CLASSIC: [&str; 15] = [
    "--val-split",
    "0",
    "--test-split",
    "0",
    "--early-stopping",
    "0",
    "--quiet",
    "--scale",
    "none",
    "--batch-size",
    "full",
    "--optimizer",
    "adam",
    "--lr",
    "0.1",
];

/// Trains `data` with `arch` and the classic settings for `epochs`, writing `m.safetensors`.
fn train_classic(dir: &Path, data: &str, arch: &str, epochs: &str, extra: &[&str]) {
    let (data, arch) = (example(data), example(arch));
    let mut args = vec!["train", &data, "--arch", &arch, "--epochs", epochs];
    args.extend(CLASSIC);
    args.extend(extra);
    args.extend(["--out", "m.safetensors"]);
    ok(dir, &args);
}

/// The layer rows of `backprop summary`.
fn layer_rows(summary: &str) -> Vec<&str> {
    summary
        .lines()
        .filter(|l| l.trim_start().starts_with("layers."))
        .collect()
}

/// The `in → out` column of a summary layer row.
fn in_out(row: &str) -> (usize, usize) {
    let t: Vec<&str> = row.split_whitespace().collect();
    let i = t
        .iter()
        .position(|&x| x == "→")
        .unwrap_or_else(|| panic!("no in → out in {row:?}"));
    (t[i - 1].parse().unwrap(), t[i + 1].parse().unwrap())
}

/// The last column of each data row of a CSV file (the 0/1 target `y` of xor.csv, six.csv).
fn last_column(path: &str) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.rsplit(',').next().unwrap().to_string())
        .collect()
}

/// How many rows `predict`'s class column gets right against `want`.
fn right_classes(pred: &str, want: &[String]) -> usize {
    let mut lines = pred.lines();
    assert_eq!(lines.next(), Some("class,p_0,p_1"), "{pred}");
    let classes: Vec<&str> = lines.map(|l| l.split(',').next().unwrap()).collect();
    assert_eq!(classes.len(), want.len(), "{pred}");
    classes.iter().zip(want).filter(|(c, w)| *c == w).count()
}

/// Row-wise argmax of a predict CSV of values.
fn argmax_rows(pred: &str) -> Vec<usize> {
    pred.lines()
        .skip(1)
        .map(|l| {
            let v: Vec<f32> = l.split(',').map(|x| x.parse().unwrap()).collect();
            (0..v.len()).max_by(|&a, &b| v[a].total_cmp(&v[b])).unwrap()
        })
        .collect()
}

#[test]
fn xor_2_2_1_learns_xor_from_its_arch_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    train_classic(d, "data/xor.csv", "arch/xor-2-2-1.json", "300", &[]);
    let want = last_column(&example("data/xor.csv"));
    let pred = ok(d, &["predict", "m.safetensors", &example("data/xor.csv")]);
    assert_eq!(right_classes(&pred, &want), want.len(), "{pred}");
    let s = ok(d, &["summary", "m.safetensors"]);
    let rows = layer_rows(&s);
    assert_eq!(rows.len(), 2, "{s}");
    assert!(
        in_out(rows[0]) == (2, 2) && rows[0].contains("sigmoid"),
        "{s}"
    );
    assert!(
        in_out(rows[1]) == (2, 1) && rows[1].contains("sigmoid"),
        "{s}"
    );
    assert!(s.contains("9 parameters"), "{s}");
}

#[test]
fn xor_with_one_hidden_unit_and_skip_connections_learns_xor() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    train_classic(d, "data/xor.csv", "arch/xor-skip.json", "300", &[]);
    let want = last_column(&example("data/xor.csv"));
    let pred = ok(d, &["predict", "m.safetensors", &example("data/xor.csv")]);
    assert_eq!(right_classes(&pred, &want), want.len(), "{pred}");
    let s = ok(d, &["summary", "m.safetensors"]);
    let rows = layer_rows(&s);
    assert_eq!(rows.len(), 2, "{s}");
    assert_eq!(in_out(rows[0]), (2, 1), "{s}");
    // the output reads the hidden unit and both inputs: 3 weights + a bias
    assert!(
        rows[1].contains("layers.0 + input") && in_out(rows[1]) == (3, 1),
        "{s}"
    );
    assert!(s.contains("7 parameters"), "{s}");
}

#[test]
fn encoder_8_3_8_reproduces_each_pattern() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    train_classic(
        d,
        "data/encoder.csv",
        "arch/encoder-8-3-8.json",
        "1000",
        &["--target", "y*"],
    );
    let pred = ok(
        d,
        &[
            "predict",
            "m.safetensors",
            &example("data/encoder.csv"),
            "--target",
            "y*",
        ],
    );
    assert!(pred.starts_with("y0,y1,y2,y3,y4,y5,y6,y7\n"), "{pred}");
    let want: Vec<usize> = (0..32).map(|i| i % 8).collect();
    assert_eq!(argmax_rows(&pred), want, "{pred}");
    let s = ok(d, &["summary", "m.safetensors"]);
    let rows = layer_rows(&s);
    assert!(
        in_out(rows[0]) == (8, 3) && in_out(rows[1]) == (3, 8),
        "{s}"
    );
    assert!(
        s.contains("8 targets") && s.contains("59 parameters"),
        "{s}"
    );
}

#[test]
fn six_2_1_has_one_output_unit_and_learns_its_target() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    train_classic(d, "data/six.csv", "arch/six-2-1.json", "300", &[]);
    let want = last_column(&example("data/six.csv"));
    assert_eq!(want.len(), 64);
    let pred = ok(d, &["predict", "m.safetensors", &example("data/six.csv")]);
    let right = right_classes(&pred, &want);
    assert!(right * 10 >= want.len() * 9, "{right}/64 right\n{pred}");
    let s = ok(d, &["summary", "m.safetensors"]);
    let rows = layer_rows(&s);
    assert_eq!(rows.len(), 2, "{s}");
    assert_eq!(in_out(rows[0]), (6, 2), "{s}");
    assert!(
        in_out(rows[1]) == (2, 1) && rows[1].contains("sigmoid"),
        "{s}"
    );
    assert!(s.contains("17 parameters"), "{s}");
}

#[test]
fn tied_autoencoder_trains_with_one_shared_weight() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    train_classic(
        d,
        "data/encoder.csv",
        "arch/autoencoder-tied.json",
        "1000",
        &["--target", "y*"],
    );
    let pred = ok(
        d,
        &[
            "predict",
            "m.safetensors",
            &example("data/encoder.csv"),
            "--target",
            "y*",
        ],
    );
    let want: Vec<usize> = (0..32).map(|i| i % 8).collect();
    assert_eq!(argmax_rows(&pred), want, "{pred}");
    let s = ok(d, &["summary", "m.safetensors"]);
    let rows = layer_rows(&s);
    assert!(
        in_out(rows[1]) == (3, 8) && rows[1].contains("W(1)ᵀ"),
        "{s}"
    );
    // 8·3 + 3 own parameters in layer 1, only the 8 biases in layer 2
    assert!(s.contains("35 parameters"), "{s}");
    let m = backprop::io::Model::load(d.join("m.safetensors")).unwrap();
    let names: Vec<&str> = m.params.named().map(|(n, _)| n).collect();
    assert_eq!(names.len(), 3, "{names:?}");
    assert!(!names.contains(&"layers.1.weight"), "{names:?}");
}

#[test]
fn a_list_of_targets_and_a_glob_give_the_same_model() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let data = example("data/encoder.csv");
    let common = [
        "--hidden",
        "3",
        "--activation",
        "sigmoid",
        "--epochs",
        "5",
        "--quiet",
    ];
    let list = "y0,y1,y2,y3,y4,y5,y6,y7";
    for (target, out) in [(list, "list.safetensors"), ("y*", "glob.safetensors")] {
        let mut args = vec!["train", &data, "--target", target, "--out", out];
        args.extend(common);
        ok(d, &args);
    }
    let list_bytes = std::fs::read(d.join("list.safetensors")).unwrap();
    assert_eq!(
        list_bytes,
        std::fs::read(d.join("glob.safetensors")).unwrap(),
        "--target {list} and --target 'y*'"
    );
    let m = backprop::io::Model::load(d.join("list.safetensors")).unwrap();
    assert_eq!(m.out_features(), 8);
    let s = ok(d, &["summary", "list.safetensors"]);
    assert_eq!(in_out(layer_rows(&s)[1]), (3, 8), "{s}");
    assert!(
        s.contains("8 targets: y0, y1, y2, y3, y4, y5, y6, y7"),
        "{s}"
    );
    // several 0/1 targets default to BCE with sigmoid outputs
    assert!(
        s.contains("loss:   bce") && layer_rows(&s)[1].contains("sigmoid"),
        "{s}"
    );
}

#[test]
fn a_single_binary_target_under_squared_error_or_bce_gets_one_output_unit() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let data = example("data/xor.csv");
    for (loss, units) in [("squared_error", 1), ("bce", 1), ("cross_entropy", 2)] {
        let out = format!("{loss}.safetensors");
        ok(
            d,
            &[
                "train", &data, "--hidden", "4", "--loss", loss, "--epochs", "3", "--quiet",
                "--out", &out,
            ],
        );
        let s = ok(d, &["summary", &out]);
        let rows = layer_rows(&s);
        assert_eq!(in_out(rows.last().unwrap()), (4, units), "{loss}: {s}");
        assert!(s.contains("2 classes"), "{loss}: {s}");
        // still a classifier: predict gives a class and both probabilities
        let pred = ok(d, &["predict", &out, &data]);
        assert!(pred.starts_with("class,p_0,p_1\n"), "{loss}: {pred}");
    }
}

/// The `lr` column of a `--history` file.
fn lr_column(path: &Path) -> Vec<f32> {
    let h = std::fs::read_to_string(path).unwrap();
    let mut lines = h.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let j = header
        .iter()
        .position(|c| *c == "lr")
        .unwrap_or_else(|| panic!("no lr column in {header:?}"));
    lines
        .map(|l| l.split(',').nth(j).unwrap().parse().unwrap())
        .collect()
}

fn close(got: &[f32], want: &[f32]) -> bool {
    got.len() == want.len() && got.iter().zip(want).all(|(a, b)| (a - b).abs() < 1e-6)
}

#[test]
fn lr_schedules_show_in_the_history() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let data = example("data/xor.csv");
    let common = [
        "train",
        &data,
        "--hidden",
        "4",
        "--optimizer",
        "sgd",
        "--lr",
        "0.1",
        "--epochs",
        "4",
        "--val-split",
        "0",
        "--test-split",
        "0",
        "--early-stopping",
        "0",
        "--quiet",
    ];
    let mut args = common.to_vec();
    args.extend(["--lr-schedule", "step:2:0.5", "--history", "step.csv"]);
    ok(d, &args);
    let lrs = lr_column(&d.join("step.csv"));
    assert!(close(&lrs, &[0.1, 0.1, 0.05, 0.05]), "{lrs:?}");

    let mut args = common.to_vec();
    args.extend(["--warmup", "2", "--history", "warmup.csv", "--json"]);
    let json = ok(d, &args);
    let lrs = lr_column(&d.join("warmup.csv"));
    assert!(
        close(&lrs, &[0.1 / 3.0, 0.2 / 3.0, 0.1, 0.1]),
        "warm-up from lr/3: {lrs:?}"
    );
    let from_json: Vec<f32> = json
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|r| r.get("summary").is_none())
        .map(|r| r["lr"].as_f64().unwrap() as f32)
        .collect();
    assert!(close(&from_json, &lrs), "{from_json:?} vs {lrs:?}");

    // without a schedule the rate stays put
    let mut args = common.to_vec();
    args.extend(["--history", "none.csv"]);
    ok(d, &args);
    assert!(close(&lr_column(&d.join("none.csv")), &[0.1; 4]));
}

/// A history file without its wall-time column.
fn history_without_seconds(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| l.rsplit_once(',').unwrap().0.to_string())
        .collect()
}

/// The flags of the run that `resume_*` tests extend: mini-batches, momentum, a schedule and a
/// validation split, so that shuffling, optimizer state, schedule state and the split all have
/// to carry over.
fn resumable_run(data: &str) -> Vec<&str> {
    vec![
        "train",
        data,
        "--hidden",
        "4",
        "--batch-size",
        "8",
        "--optimizer",
        "sgd",
        "--lr",
        "0.1",
        "--momentum",
        "0.9",
        "--lr-schedule",
        "step:2:0.5",
        "--val-split",
        "0.25",
        "--test-split",
        "0.125",
        "--checkpoint-every",
        "1",
        "--quiet",
    ]
}

#[test]
fn resume_extends_a_finished_run_to_the_same_model() {
    resume_extends(false);
}

/// The same with batch norm: the running statistics carry over in the checkpoint.
#[test]
fn resume_extends_a_batch_norm_run_to_the_same_model() {
    resume_extends(true);
}

fn resume_extends(batch_norm: bool) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let data = example("data/six.csv");
    let mut args = resumable_run(&data);
    if batch_norm {
        args.push("--batch-norm");
    }
    args.extend(["--epochs", "3", "--out", "short.safetensors"]);
    ok(d, &args);
    let ckpt = backprop::io::Checkpoint::load(d.join("short.safetensors.ckpt")).unwrap();
    assert_eq!(ckpt.state.epoch, 3);

    ok(
        d,
        &[
            "train",
            &data,
            "--resume",
            "short.safetensors.ckpt",
            "--epochs",
            "6",
            "--out",
            "resumed.safetensors",
            "--history",
            "resumed.csv",
            "--quiet",
        ],
    );
    let mut args = resumable_run(&data);
    if batch_norm {
        args.push("--batch-norm");
    }
    args.extend([
        "--epochs",
        "6",
        "--out",
        "full.safetensors",
        "--history",
        "full.csv",
    ]);
    ok(d, &args);
    let resumed = history_without_seconds(&d.join("resumed.csv"));
    assert_eq!(resumed.len(), 1 + 6, "{resumed:?}");
    assert_eq!(resumed, history_without_seconds(&d.join("full.csv")));
    assert_eq!(
        std::fs::read(d.join("resumed.safetensors")).unwrap(),
        std::fs::read(d.join("full.safetensors")).unwrap(),
        "3 epochs + resume to 6 vs 6 epochs"
    );
    assert_ne!(
        std::fs::read(d.join("short.safetensors")).unwrap(),
        std::fs::read(d.join("full.safetensors")).unwrap(),
        "the extension trained"
    );
    let full = backprop::io::Model::load(d.join("full.safetensors")).unwrap();
    let stats = full.params.find("layers.0.bn.running_var");
    assert_eq!(
        stats.is_some(),
        batch_norm,
        "running statistics saved iff batch norm"
    );
}

#[test]
fn resume_refuses_a_different_lr_and_different_data() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let data = example("data/six.csv");
    let mut args = resumable_run(&data);
    args.extend(["--epochs", "2", "--out", "m.safetensors"]);
    ok(d, &args);
    let resume = |extra: &[&str], data: &str| -> Vec<String> {
        let mut a = vec![
            "train",
            data,
            "--resume",
            "m.safetensors.ckpt",
            "--epochs",
            "4",
            "--quiet",
            "--out",
            "r.safetensors",
        ];
        a.extend(extra);
        a.into_iter().map(String::from).collect()
    };
    let args = resume(&["--lr", "0.5"], &data);
    fails(d, &strs(&args), &["--resume", "--lr", "conflict"]);
    let args = resume(&["--hidden", "5", "--batch-size", "4"], &data);
    fails(d, &strs(&args), &["--hidden", "--batch-size"]);

    // one row's target flipped: same shape, other data
    let other: String =
        std::fs::read_to_string(&data)
            .unwrap()
            .replacen("0,0,0,0,0,1,0\n", "0,0,0,0,0,1,1\n", 1);
    assert_ne!(other, std::fs::read_to_string(&data).unwrap());
    std::fs::write(d.join("other.csv"), other).unwrap();
    fails(
        d,
        &strs(&resume(&[], "other.csv")),
        &["--resume", "fingerprint"],
    );

    // the same rows under another name are the same data
    std::fs::copy(&data, d.join("copy.csv")).unwrap();
    ok(d, &strs(&resume(&[], "copy.csv")));
}

#[test]
fn resume_accepts_flags_equal_to_the_checkpoints() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let data = example("data/six.csv");
    let mut args = resumable_run(&data);
    args.extend(["--epochs", "2", "--out", "m.safetensors"]);
    ok(d, &args);
    for extra in [
        &["--lr", "0.1"][..],
        &["--momentum", "0.9"],
        &["--optimizer", "sgd"],
        &["--batch-size", "8"],
        &["--optimizer", "sgd", "--lr", "0.1", "--momentum", "0.9"],
    ] {
        let mut a = vec![
            "train",
            &data,
            "--resume",
            "m.safetensors.ckpt",
            "--epochs",
            "3",
            "--quiet",
            "--out",
            "r.safetensors",
        ];
        a.extend(extra);
        ok(d, &a);
    }
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// The raw bytes of one tensor in a safetensors file.
fn tensor_bytes(path: &Path, name: &str) -> Vec<u8> {
    let bytes = std::fs::read(path).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    st.tensor(name).unwrap().data().to_vec()
}

fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

#[test]
fn frozen_parameters_keep_their_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // explicit starting values, so "unchanged" can be checked byte for byte; layer 2's bias is
    // frozen by the description itself
    let net = r#"{"in_features": 2, "layers": [
        {"units": 3, "activation": "tanh",
         "init": {"weight": [[0.5, -0.5], [0.25, 0.75], [-1.0, 0.125]], "bias": [0.25, -0.5, 0.125]}},
        {"units": 1, "activation": "sigmoid", "trainable": {"bias": false},
         "init": {"weight": [[1.0, -1.0, 0.5]], "bias": [0.375]}}]}"#;
    std::fs::write(d.join("net.json"), net).unwrap();
    let data = example("data/xor.csv");
    let train = |out: &str, extra: &[&str]| {
        let mut a = vec![
            "train",
            &data,
            "--arch",
            "net.json",
            "--optimizer",
            "adamw",
            "--lr",
            "0.05",
            "--weight-decay",
            "0.1",
            "--epochs",
            "20",
            "--batch-size",
            "4",
            "--early-stopping",
            "0",
            "--quiet",
            "--out",
            out,
        ];
        a.extend(extra);
        ok(d, &a);
        d.join(out)
    };
    let frozen = train("frozen.safetensors", &["--freeze", "layers.0.bias"]);
    let free = train("free.safetensors", &[]);
    let b0 = f32_bytes(&[0.25, -0.5, 0.125]);
    let b1 = f32_bytes(&[0.375]);
    assert_eq!(tensor_bytes(&frozen, "layers.0.bias"), b0, "--freeze");
    assert_eq!(
        tensor_bytes(&frozen, "layers.1.bias"),
        b1,
        "trainable: false"
    );
    assert_eq!(tensor_bytes(&free, "layers.1.bias"), b1, "trainable: false");
    // the control: without --freeze the same bias moves, and the weights move in both runs
    assert_ne!(tensor_bytes(&free, "layers.0.bias"), b0);
    let w0 = f32_bytes(&[0.5, -0.5, 0.25, 0.75, -1.0, 0.125]);
    assert_ne!(tensor_bytes(&frozen, "layers.0.weight"), w0);
    assert_ne!(tensor_bytes(&free, "layers.0.weight"), w0);
    // the loaded model agrees, and summary marks the description's frozen bias
    let m = backprop::io::Model::load(&frozen).unwrap();
    let id = m.params.find("layers.0.bias").unwrap();
    assert_eq!(m.params[id].data(), &[0.25, -0.5, 0.125]);
    let s = ok(d, &["summary", "frozen.safetensors"]);
    assert!(layer_rows(&s)[1].contains("per_unit,frozen"), "{s}");
    // a name that is no parameter is an error naming it
    fails(
        d,
        &[
            "train",
            &data,
            "--arch",
            "net.json",
            "--freeze",
            "layers.9.bias",
            "--epochs",
            "1",
            "--quiet",
        ],
        &["layers.9.bias"],
    );
}

/// Starts `backprop train ARGS` in `dir`, waits until it has printed `epochs` epoch lines, sends
/// SIGINT, and returns the exit code and everything it wrote to stderr.
fn interrupt_after(dir: &Path, args: &[&str], epochs: usize) -> (Option<i32>, String) {
    let mut child = bin()
        .current_dir(dir)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    // wait for complete epochs, so there is something to checkpoint
    let start = Instant::now();
    let mut seen: Vec<String> = vec![];
    while seen
        .iter()
        .filter(|l| l.trim_start().starts_with("epoch"))
        .count()
        < epochs
    {
        let left = Duration::from_secs(120).saturating_sub(start.elapsed());
        match rx.recv_timeout(left) {
            Ok(line) => seen.push(line),
            Err(e) => {
                let _ = child.kill();
                panic!("no epoch line after {:?} ({e}): {seen:?}", start.elapsed())
            }
        }
    }
    let pid = child.id().to_string();
    let kill = Command::new("kill").args(["-INT", &pid]).status().unwrap();
    assert!(kill.success());
    let status = child.wait().unwrap();
    reader.join().unwrap();
    seen.extend(rx.try_iter());
    (status.code(), seen.join("\n"))
}

#[test]
fn sigint_saves_the_model_and_a_checkpoint_that_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let args = [
        "train",
        "--epochs",
        "100000",
        "--early-stopping",
        "0",
        "--out",
        "sig.safetensors",
        // a line per epoch (the default for 100000 epochs is one per 2000)
        "--log-every",
        "1",
    ];
    let (code, err) = interrupt_after(d, &args, 1);
    assert_eq!(code, Some(130), "{err}");
    assert!(err.contains("interrupted during epoch"), "{err}");
    assert!(!err.contains("panicked"), "{err}");

    let model = backprop::io::Model::load(d.join("sig.safetensors")).unwrap();
    assert_eq!(model.out_features(), 10);
    let ckpt = backprop::io::Checkpoint::load(d.join("sig.safetensors.ckpt")).unwrap();
    let done = ckpt.state.epoch;
    assert!(done >= 1, "the checkpoint has {done} complete epochs");
    assert_eq!(ckpt.state.history.len(), done);
    assert_eq!(ckpt.trainer.epochs, 100000);

    let to = (done + 2).to_string();
    ok(
        d,
        &[
            "train",
            "--resume",
            "sig.safetensors.ckpt",
            "--epochs",
            &to,
            "--out",
            "resumed.safetensors",
            "--history",
            "resumed.csv",
            "--quiet",
        ],
    );
    let h = std::fs::read_to_string(d.join("resumed.csv")).unwrap();
    assert_eq!(h.lines().count(), 1 + done + 2, "{h}");
    backprop::io::Model::load(d.join("resumed.safetensors")).unwrap();
}

/// With early stopping's restore-best on, an interrupted run saves the best epoch's weights.
#[test]
fn sigint_with_restore_best_saves_the_best_weights() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let args = [
        "train",
        "--epochs",
        "100000",
        "--early-stopping",
        "100000",
        "--out",
        "best.safetensors",
        // a line per epoch (the default for 100000 epochs is one per 2000)
        "--log-every",
        "1",
    ];
    let (code, err) = interrupt_after(d, &args, 3);
    assert_eq!(code, Some(130), "{err}");
    assert!(err.contains("interrupted during epoch"), "{err}");
    let model = backprop::io::Model::load(d.join("best.safetensors")).unwrap();
    let ckpt = backprop::io::Checkpoint::load(d.join("best.safetensors.ckpt")).unwrap();
    assert!(ckpt.state.epoch >= 3, "{}", ckpt.state.epoch);
    let best = ckpt
        .state
        .best_params
        .as_ref()
        .expect("restore-best keeps the best parameters");
    assert_eq!(&model.params, best);
}

#[test]
fn step_units_cannot_be_trained() {
    let dir = tempfile::tempdir().unwrap();
    fails(
        dir.path(),
        &[
            "train",
            &example("data/xor.csv"),
            "--arch",
            &example("arch/xor-threshold.json"),
            "--quiet",
        ],
        &["layer 1", "step", "no gradient"],
    );
    assert!(!dir.path().join("model.safetensors").exists());
}

#[test]
fn bad_descriptions_are_refused_naming_the_layer() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let data = example("data/xor.csv");
    let cases = [
        (
            "tie_later.json",
            r#"{"in_features": 2, "layers": [
                {"units": 2, "activation": "sigmoid"},
                {"units": 2, "activation": "sigmoid", "tie": {"layer": 3}},
                {"units": 2, "activation": "sigmoid"},
                {"units": 1, "activation": "sigmoid"}]}"#,
            &["layer 2", "ties to layer 3", "earlier layer"][..],
        ),
        (
            "init_shape.json",
            r#"{"in_features": 2, "layers": [
                {"units": 2, "activation": "sigmoid"},
                {"units": 1, "activation": "sigmoid", "init": {"weight": [[1, 2, 3]]}}]}"#,
            &["layer 2", "init.weight", "1×3", "1×2"],
        ),
        (
            "tie_shape.json",
            r#"{"in_features": 2, "layers": [
                {"units": 3, "activation": "sigmoid"},
                {"units": 1, "activation": "sigmoid", "tie": {"layer": 1}}]}"#,
            &["layer 2", "W(1)"],
        ),
        (
            "unknown.json",
            r#"{"in_features": 2, "layers": [
                {"units": 2, "activation": "sigmoid"},
                {"units": 1, "activation": "sigmoid", "colour": "red"}]}"#,
            &["unknown.json", "colour"],
        ),
        (
            "wide.json",
            r#"{"in_features": 6, "layers": [{"units": 1, "activation": "sigmoid"}]}"#,
            &["6 inputs", "2 features"],
        ),
    ];
    for (file, json, needles) in cases {
        std::fs::write(d.join(file), json).unwrap();
        fails(d, &["train", &data, "--arch", file, "--quiet"], needles);
    }
    // --arch is the whole network
    fails(
        d,
        &[
            "train",
            &data,
            "--arch",
            &example("arch/xor-2-2-1.json"),
            "--hidden",
            "4",
        ],
        &["--arch", "--hidden"],
    );
}

#[test]
fn an_unknown_field_names_its_layer() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("unknown.json"),
        r#"{"in_features": 2, "layers": [
            {"units": 2, "activation": "sigmoid"},
            {"units": 1, "activation": "sigmoid", "colour": "red"}]}"#,
    )
    .unwrap();
    fails(
        d,
        &[
            "train",
            &example("data/xor.csv"),
            "--arch",
            "unknown.json",
            "--quiet",
        ],
        &["layer 2", "colour"],
    );
}

#[test]
fn a_multi_target_model_predicts_on_its_training_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let data = example("data/encoder.csv");
    ok(
        d,
        &[
            "train", &data, "--target", "y*", "--hidden", "3", "--epochs", "2", "--quiet",
        ],
    );
    let with = ok(
        d,
        &["predict", "model.safetensors", &data, "--target", "y*"],
    );
    let without = ok(d, &["predict", "model.safetensors", &data]);
    assert_eq!(with, without);
    ok(d, &["evaluate", "model.safetensors", &data]);
}

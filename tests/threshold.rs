//! McCulloch–Pitts threshold nets with hand-set weights (seed 003, slides 8–33), run from the
//! command line without training: AND, OR, NOT and the two-layer XOR give their truth tables.

use std::process::Command;

fn predict(arch: &str, data: &str) -> Vec<String> {
    let root = env!("CARGO_MANIFEST_DIR");
    let out = Command::new(env!("CARGO_BIN_EXE_backprop"))
        .args([
            "predict",
            "--arch",
            &format!("{root}/examples/arch/{arch}"),
            &format!("{root}/examples/data/{data}"),
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{arch}: {err}");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.lines().skip(1).map(String::from).collect()
}

#[test]
fn truth_tables_of_the_hand_set_threshold_nets() {
    // rows: (0,0), (0,1), (1,0), (1,1)
    assert_eq!(predict("and.json", "truth2.csv"), ["0", "0", "0", "1"]);
    assert_eq!(predict("or.json", "truth2.csv"), ["0", "1", "1", "1"]);
    assert_eq!(
        predict("xor-threshold.json", "truth2.csv"),
        ["0", "1", "1", "0"]
    );
    assert_eq!(predict("not.json", "truth1.csv"), ["1", "0"]);
}

#[test]
fn summary_and_explain_work_on_a_threshold_net() {
    let root = env!("CARGO_MANIFEST_DIR");
    let out = Command::new(env!("CARGO_BIN_EXE_backprop"))
        .args([
            "summary",
            "--arch",
            &format!("{root}/examples/arch/xor-threshold.json"),
        ])
        .output()
        .unwrap();
    let s = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && s.contains("step") && s.contains("frozen"),
        "{s}"
    );
    // explain: a description plus the sample; no gradient passes a step unit, so δ is 0
    let dir = tempfile::tempdir().unwrap();
    let arch = std::fs::read_to_string(format!("{root}/examples/arch/xor-threshold.json")).unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&arch).unwrap();
    v["input"] = serde_json::json!([1.0, 0.0]);
    v["target"] = serde_json::json!([1.0]);
    let spec = dir.path().join("xor.json");
    std::fs::write(&spec, v.to_string()).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_backprop"))
        .args([
            "explain",
            "--spec",
            spec.to_str().unwrap(),
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let e: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(e["layers"][1]["x"], serde_json::json!([1.0]));
    assert_eq!(e["error"], serde_json::json!(0.0));
    assert_eq!(e["layers"][0]["delta"], serde_json::json!([0.0, 0.0]));
}

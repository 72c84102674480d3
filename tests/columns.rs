//! Real-world tables: labels are names (classes by value), `--drop`, the delimiter sniffed,
//! categorical columns one-hot encoded, missing values imputed, `.npy` input — through the
//! library, and through the real binary (train → predict/evaluate without repeating the flags).

use backprop::data::*;
use backprop::io::{Model, TaskInfo};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn write(dir: &Path, name: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

/// Panics unless `msg` contains every part.
fn check(msg: &str, parts: &[&str]) {
    for p in parts {
        assert!(msg.contains(p), "error {msg:?} should contain {p:?}");
    }
}

fn read(text: &str, opts: &CsvOptions) -> backprop::Result<Dataset> {
    read_csv_from(text.as_bytes(), "t.csv", opts)
}

fn read_err(text: &str, opts: &CsvOptions) -> String {
    read(text, opts).unwrap_err().to_string()
}

fn classes(ds: &Dataset) -> (Vec<u32>, Vec<String>) {
    match ds.targets() {
        Targets::Classes { labels, names } => (labels.clone(), names.clone()),
        t => panic!("expected classes, got {t:?}"),
    }
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn rows(ds: &Dataset) -> Vec<Vec<f32>> {
    let t = ds.features_tensor();
    (0..ds.len()).map(|i| t.row(i).to_vec()).collect()
}

/// A plan-reading of `text` with the plan fitted on `train`.
fn by_plan(train: &Dataset, text: &str, opts: &CsvOptions) -> backprop::Result<FeatureTable> {
    let opts = CsvOptions {
        columns: train.columns.clone(),
        ..opts.clone()
    };
    read_csv_features_from(text.as_bytes(), "new.csv", &opts, None)
}

// ---- labels are names ----

#[test]
fn integer_labels_are_classes_by_value() {
    let ds = read("a,y\n1,1\n2,2\n3,1\n", &CsvOptions::default()).unwrap();
    assert_eq!(
        classes(&ds),
        (vec![0, 1, 0], strings(&["1", "2"])),
        "no phantom class 0"
    );
    let ds = read("a,y\n1,0\n2,1\n3,1000\n4,1\n", &CsvOptions::default()).unwrap();
    assert_eq!(
        classes(&ds),
        (vec![0, 1, 2, 1], strings(&["0", "1", "1000"])),
        "three classes, numeric order, not 1001"
    );
    let ds = read("a,y\n1,10\n2,9\n3,-3\n", &CsvOptions::default()).unwrap();
    assert_eq!(
        classes(&ds).1,
        strings(&["-3", "9", "10"]),
        "numeric, not byte order"
    );
    let ds = read("a,y\n1,01\n2,1\n3,2\n", &CsvOptions::default()).unwrap();
    assert_eq!(
        classes(&ds),
        (vec![0, 0, 1], strings(&["1", "2"])),
        "01 is 1"
    );
    // strings keep byte order (as before)
    let ds = read("a,y\n1,b\n2,B\n3,a\n4,10\n", &CsvOptions::default()).unwrap();
    assert_eq!(classes(&ds).1, strings(&["10", "B", "a", "b"]));
    assert_eq!(class_labels(&["2", "1"]).1, strings(&["1", "2"]));
}

#[test]
fn regression_only_when_asked_or_clearly_continuous() {
    let reg = CsvOptions {
        task: Task::Regression,
        ..CsvOptions::default()
    };
    assert!(matches!(
        read("a,y\n1,1\n2,2\n", &reg).unwrap().targets(),
        Targets::Values { .. }
    ));
    assert!(matches!(
        read("a,y\n1,1.5\n2,2\n", &CsvOptions::default())
            .unwrap()
            .targets(),
        Targets::Values { .. }
    ));
    let many: String = (0..=AUTO_MAX).map(|i| format!("{i},{}\n", i * 3)).collect();
    assert!(matches!(
        read(&many, &CsvOptions::default()).unwrap().targets(),
        Targets::Values { .. }
    ));
    let few: String = (0..AUTO_MAX).map(|i| format!("{i},{}\n", i * 3)).collect();
    assert_eq!(
        read(&few, &CsvOptions::default()).unwrap().num_classes(),
        Some(AUTO_MAX)
    );
}

const AUTO_MAX: usize = backprop::data::csv::AUTO_MAX_CLASSES;

// ---- --drop ----

#[test]
fn drop_by_name_and_by_index() {
    let text = "id,a,name,b,y\n7,1,ann,2,0\n8,3,bob,4,1\n";
    let by_name = CsvOptions {
        drop: vec![
            TargetColumn::Name("id".into()),
            TargetColumn::Name("name".into()),
        ],
        ..CsvOptions::default()
    };
    let ds = read(text, &by_name).unwrap();
    assert_eq!(ds.feature_names, ["a", "b"]);
    assert_eq!(rows(&ds), [[1.0, 2.0], [3.0, 4.0]]);
    let plan = ds.columns.as_ref().unwrap();
    let user = |n: &str| Column::Dropped {
        name: n.into(),
        reason: Default::default(),
    };
    assert_eq!(plan.columns[0], user("id"));
    assert_eq!(plan.columns[2], user("name"));
    let by_index = CsvOptions {
        drop: vec![TargetColumn::Index(0), TargetColumn::Index(2)],
        ..CsvOptions::default()
    };
    assert_eq!(read(text, &by_index).unwrap(), ds);
    let pattern = CsvOptions {
        drop: vec![TargetColumn::Name("*a*".into()), TargetColumn::Index(0)],
        ..CsvOptions::default()
    };
    assert_eq!(read(text, &pattern).unwrap().feature_names, ["b"]);
}

#[test]
fn drop_errors_name_the_column() {
    let drop = |c: TargetColumn| CsvOptions {
        drop: vec![c],
        ..CsvOptions::default()
    };
    check(
        &read_err("a,b,y\n1,2,0\n", &drop(TargetColumn::Name("id".into()))),
        &[
            "t.csv:1:",
            "drop",
            "no column named \"id\"; columns are a, b, y",
        ],
    );
    check(
        &read_err("a,b,y\n1,2,0\n", &drop(TargetColumn::Index(9))),
        &["t.csv:1:", "drop", "column index 9", "3 columns"],
    );
    check(
        &read_err("1,2,0\n", &drop(TargetColumn::Name("a".into()))),
        &["t.csv:1:", "the file has no header"],
    );
    check(
        &read_err("a,b,y\n1,2,0\n", &drop(TargetColumn::Name("y".into()))),
        &["t.csv:1:", "column 3 (y) is both a target and dropped"],
    );
    let both = CsvOptions {
        drop: vec![TargetColumn::Index(0), TargetColumn::Index(1)],
        ..CsvOptions::default()
    };
    check(
        &read_err("a,b,y\n1,2,0\n", &both),
        &["expected at least one feature column", "dropped"],
    );
}

// ---- the delimiter ----

#[test]
fn delimiter_is_sniffed() {
    let comma = read("a,b,y\n1,2,x\n3,4,z\n", &CsvOptions::default()).unwrap();
    for text in ["a;b;y\n1;2;x\n3;4;z\n", "a\tb\ty\n1\t2\tx\n3\t4\tz\n"] {
        assert_eq!(
            read(text, &CsvOptions::default()).unwrap(),
            comma,
            "{text:?}"
        );
    }
    // a decimal comma inside ;-separated fields: ; is the delimiter
    let semi = read("a;y\n1,5;x\n2,5;z\n", &CsvOptions::default()).unwrap_err();
    check(
        &semi.to_string(),
        &["t.csv:2:", "column 1 (a)", "\"1,5\"", "decimal point"],
    );
    // quoted delimiters do not count
    assert_eq!(sniff_delimiter(b"a,\"b;c\",d\n1,2,3\n", true, b','), b',');
    assert_eq!(sniff_delimiter(b"a|b\n1|2\n", true, b'|'), b'|', "fallback");
    // a byte-order mark from a spreadsheet export is not part of the first name
    let bom = read("\u{feff}a;b;y\n1;2;x\n3;4;z\n", &CsvOptions::default()).unwrap();
    assert_eq!(bom, comma);
    // a given delimiter is used as it is
    let given = CsvOptions {
        delimiter: b'|',
        sniff_delimiter: false,
        ..CsvOptions::default()
    };
    assert_eq!(read("a|b|y\n1|2|x\n3|4|z\n", &given).unwrap(), comma);
}

// ---- categories and missing values ----

#[test]
fn text_columns_are_one_hot_with_sorted_categories() {
    let text = "colour,size,y\nred,1,a\nblue,2,b\ngreen,3,a\nred,4,b\n";
    let ds = read(text, &CsvOptions::default()).unwrap();
    assert_eq!(
        ds.feature_names,
        ["colour=blue", "colour=green", "colour=red", "size"]
    );
    assert_eq!(
        rows(&ds),
        [
            [0.0, 0.0, 1.0, 1.0],
            [1.0, 0.0, 0.0, 2.0],
            [0.0, 1.0, 0.0, 3.0],
            [0.0, 0.0, 1.0, 4.0]
        ]
    );
    let plan = ds.columns.clone().unwrap();
    assert_eq!(
        plan.columns[0],
        Column::Categorical {
            name: "colour".into(),
            categories: strings(&["blue", "green", "red"]),
            fill: None,
        }
    );
    assert_eq!(plan.out_features(), 4);
    // the plan survives JSON (it is saved in the model)
    let json = serde_json::to_string(&plan).unwrap();
    assert_eq!(serde_json::from_str::<ColumnPlan>(&json).unwrap(), plan);
    // headerless: x<i>=category
    let ds = read("red,1,a\nblue,2,b\nred,3,a\n", &CsvOptions::default()).unwrap();
    assert_eq!(ds.feature_names, ["x0=blue", "x0=red", "x1"]);
}

#[test]
fn a_missing_value_is_an_error_that_suggests_impute() {
    for (text, found) in [
        ("a,b,y\n1,2,0\n3,,1\n", "an empty field"),
        ("a,b,y\n1,2,0\n3,NA,1\n", "\"NA\""),
        ("a,b,y\n1,2,0\n3,?,1\n", "\"?\""),
        ("a,b,y\n1,2,0\n3,NaN,1\n", "\"NaN\""),
    ] {
        let err = read_err(text, &CsvOptions::default());
        check(
            &err,
            &[
                "t.csv:3:",
                "column 2 (b)",
                found,
                "missing value",
                "--impute mean",
            ],
        );
    }
}

#[test]
fn impute_mean_and_median_are_fitted_and_kept() {
    let text = "a,b,colour,y\n1,,red,0\n2,4,,1\n3,1,blue,0\nNA,10,red,1\n";
    let mean = CsvOptions {
        impute: Impute::Mean,
        ..CsvOptions::default()
    };
    let ds = read(text, &mean).unwrap();
    assert_eq!(ds.feature_names, ["a", "b", "colour=blue", "colour=red"]);
    assert_eq!(
        rows(&ds),
        [
            [1.0, 5.0, 0.0, 1.0],
            [2.0, 4.0, 0.0, 1.0], // a missing category: the most frequent level
            [3.0, 1.0, 1.0, 0.0],
            [2.0, 10.0, 0.0, 1.0]
        ]
    );
    let plan = ds.columns.as_ref().unwrap();
    assert_eq!(
        plan.columns[1],
        Column::Numeric {
            name: "b".into(),
            impute: Some(5.0)
        }
    );
    let median = CsvOptions {
        impute: Impute::Median,
        ..CsvOptions::default()
    };
    let ds = read(text, &median).unwrap();
    assert_eq!(rows(&ds)[0][1], 4.0, "median of 4, 1, 10");
    // the fitted value fills a gap at prediction time too
    let t = by_plan(&ds, "a,b,colour\n,7,blue\n", &CsvOptions::default()).unwrap();
    assert_eq!(t.features, [2.0, 7.0, 1.0, 0.0]);
}

#[test]
fn columns_that_cannot_be_features_are_errors() {
    check(
        &read_err(
            "a,b,y\n1,,0\n2,,1\n",
            &CsvOptions {
                impute: Impute::Mean,
                ..CsvOptions::default()
            },
        ),
        &[
            "t.csv:1:",
            "column 2 (b)",
            "every value is missing",
            "--drop",
        ],
    );
    // numbers then text: the text is the odd one out
    check(
        &read_err("a,b,y\n1,2,0\n3,abc,1\n", &CsvOptions::default()),
        &[
            "t.csv:3:",
            "column 2 (b)",
            "expected a number, found \"abc\"",
        ],
    );
    // text then a number
    check(
        &read_err("a,b,y\n1,red,0\n3,blue,1\n4,7,0\n", &CsvOptions::default()),
        &[
            "t.csv:4:",
            "column 2 (b)",
            "\"red\" on line 2",
            "found the number \"7\"",
        ],
    );
    // an identifier (every value different) is no error: it is dropped (tests/roles.rs)
    let ids: String = (0..30)
        .map(|i| format!("user{i},{i},{}\n", i % 2))
        .collect();
    let ds = read(&format!("id,a,y\n{ids}"), &CsvOptions::default()).unwrap();
    assert_eq!(ds.feature_names, ["a"]);
}

// ---- reading new data by a model's plan ----

#[test]
fn the_plan_reads_new_files_by_name_or_position() {
    let train = "id,colour,size,y\n1,red,1.5,a\n2,blue,2.5,b\n3,red,0.5,a\n";
    let opts = CsvOptions {
        drop: vec![TargetColumn::Name("id".into())],
        ..CsvOptions::default()
    };
    let ds = read(train, &opts).unwrap();
    // the same file gives the same features
    let same = by_plan(&ds, train, &CsvOptions::default()).unwrap();
    assert_eq!(same.features, ds.features_tensor().to_vec());
    assert_eq!(same.targets, Some(strings(&["a", "b", "a"])));
    // by name: any order, the dropped and target columns may be absent
    let t = by_plan(&ds, "size,colour\n9,blue\n", &CsvOptions::default()).unwrap();
    assert_eq!((t.features, t.targets), (vec![1.0, 0.0, 9.0], None));
    // by position: the training layout, with or without the target
    let t = by_plan(&ds, "5,blue,9\n", &CsvOptions::default()).unwrap();
    assert_eq!((t.features, t.targets), (vec![1.0, 0.0, 9.0], None));
    let t = by_plan(&ds, "5,blue,9,b\n", &CsvOptions::default()).unwrap();
    assert_eq!(t.targets, Some(strings(&["b"])));
    // another delimiter
    let t = by_plan(&ds, "size\tcolour\n9\tred\n", &CsvOptions::default()).unwrap();
    assert_eq!(t.features, [0.0, 1.0, 9.0]);
}

#[test]
fn targets_keep_their_order_through_the_plan() {
    // headerless, targets given as columns 2 then 0
    let opts = CsvOptions {
        target: TargetColumn::Index(2),
        targets: vec![TargetColumn::Index(0)],
        ..CsvOptions::default()
    };
    let ds = read("0.5,1,2.5\n1.5,2,3.5\n", &opts).unwrap();
    match ds.targets() {
        Targets::Values { data, names } => {
            assert_eq!(
                (data.as_slice(), names.as_slice()),
                (&[2.5, 0.5, 3.5, 1.5][..], &strings(&["y0", "y1"])[..])
            )
        }
        t => panic!("{t:?}"),
    }
    let t = by_plan(&ds, "0.5,1,2.5\n", &CsvOptions::default()).unwrap();
    assert_eq!(t.targets, Some(strings(&["2.5", "0.5"])));
    assert_eq!(t.target_names, ["y0", "y1"]);
    let t = by_plan(&ds, "7\n", &CsvOptions::default()).unwrap();
    assert_eq!((t.features, t.targets), (vec![7.0], None));
    // with a header, a renamed target column given at prediction time
    let ds = read("a,y\n1,x\n2,z\n", &CsvOptions::default()).unwrap();
    let renamed = CsvOptions {
        target: TargetColumn::Name("label".into()),
        ..CsvOptions::default()
    };
    let t = by_plan(&ds, "label,a\nz,3\n", &renamed).unwrap();
    assert_eq!((t.features, t.targets), (vec![3.0], Some(strings(&["z"]))));
    let t = by_plan(&ds, "a\n3\n", &renamed).unwrap();
    assert_eq!(
        t.targets, None,
        "a named target that is not there is absent"
    );
}

#[test]
fn the_plan_names_what_does_not_fit() {
    let ds = read(
        "colour,size,y\nred,1.5,a\nblue,2.5,b\n",
        &CsvOptions::default(),
    )
    .unwrap();
    let refuse = CsvOptions {
        unknown: backprop::data::Unknown::Error,
        ..CsvOptions::default()
    };
    let err = by_plan(&ds, "colour,size\nred,1\npurple,2\n", &refuse)
        .unwrap_err()
        .to_string();
    check(
        &err,
        &[
            "new.csv:3:",
            "column 1 (colour)",
            "unknown category \"purple\"",
            "blue, red",
        ],
    );
    let err = by_plan(&ds, "colour,weight\nred,1\n", &CsvOptions::default())
        .unwrap_err()
        .to_string();
    check(&err, &["new.csv:1:", "no column named \"size\""]);
    // a column the model does not know is left out, and named
    let t = by_plan(&ds, "colour,size,note\nred,1,x\n", &CsvOptions::default()).unwrap();
    assert_eq!(
        (t.features, t.ignored),
        (vec![0.0, 1.0, 1.0], strings(&["note"]))
    );
    let drop_note = CsvOptions {
        drop: vec![TargetColumn::Name("note".into())],
        ..CsvOptions::default()
    };
    assert_eq!(
        by_plan(&ds, "colour,size,note\nred,1,x\n", &drop_note)
            .unwrap()
            .features,
        [0.0, 1.0, 1.0]
    );
    let err = by_plan(&ds, "colour,size\nred,\n", &CsvOptions::default())
        .unwrap_err()
        .to_string();
    check(
        &err,
        &[
            "new.csv:2:",
            "column 2 (size)",
            "missing value",
            "without --impute",
        ],
    );
    let err = by_plan(&ds, "red,1,a,b\n", &CsvOptions::default())
        .unwrap_err()
        .to_string();
    check(
        &err,
        &[
            "new.csv:1:",
            "expected 2 fields",
            "or 3 with the target",
            "found 4",
        ],
    );
}

#[test]
fn a_model_checks_its_plan_against_the_network() {
    let ds = read("colour,y\nred,0\nblue,1\n", &CsvOptions::default()).unwrap();
    let spec = backprop::nn::MlpSpec::from_sizes(
        &[3, 2],
        backprop::nn::Activation::Relu,
        backprop::nn::Activation::Identity,
    );
    let mut meta = Model::meta(
        spec,
        backprop::Loss::CrossEntropy,
        TaskInfo::Classification {
            classes: strings(&["0", "1"]),
        },
        strings(&["a", "b", "c"]),
        Scaler::None,
        backprop::nn::Init::Zeros,
        0,
    );
    assert!(meta.validate().is_ok());
    meta.columns = ds.columns.clone(); // 2 features for a network of 3 inputs
    check(
        &meta.validate().unwrap_err(),
        &["column plan makes 2 features", "takes 3"],
    );
}

// ---- npy ----

fn npy(descr: &str, shape: &str, data: &[u8]) -> Vec<u8> {
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut v = b"\x93NUMPY\x01\x00".to_vec();
    v.extend((header.len() as u16).to_le_bytes());
    v.extend(header.bytes());
    v.extend_from_slice(data);
    v
}

fn f32s(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn i64s(v: &[i64]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

#[test]
fn npy_tables_with_a_target_column_or_a_labels_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // rows (x0, x1, label): labels 1 and 2 are two classes
    let xy = write(
        d,
        "xy.npy",
        npy(
            "<f4",
            "(3, 3)",
            &f32s(&[0.5, 1.0, 1.0, 1.5, 2.0, 2.0, 2.5, 3.0, 1.0]),
        ),
    );
    let ds = read_npy_table(&xy, None, &CsvOptions::default()).unwrap();
    assert_eq!(classes(&ds), (vec![0, 1, 0], strings(&["1", "2"])));
    assert_eq!(ds.feature_names, ["x0", "x1"]);
    // the target by index, a column dropped
    let opts = CsvOptions {
        target: TargetColumn::Index(0),
        drop: vec![TargetColumn::Index(1)],
        ..CsvOptions::default()
    };
    let ds = read_npy_table(&xy, None, &opts).unwrap();
    assert_eq!(ds.n_features(), 1);
    assert!(
        matches!(ds.targets(), Targets::Values { .. }),
        "0.5, 1.5, 2.5"
    );
    // features and labels apart; a NaN feature imputed
    let x = write(
        d,
        "x.npy",
        npy("<f4", "(3, 2)", &f32s(&[1.0, f32::NAN, 2.0, 4.0, 3.0, 6.0])),
    );
    let y = write(d, "y.npy", npy("<i8", "(3,)", &i64s(&[0, 1000, 0])));
    let err = read_npy_table(&x, Some(&y), &CsvOptions::default())
        .unwrap_err()
        .to_string();
    check(
        &err,
        &["x.npy:1:", "column 2", "missing value", "--impute mean"],
    );
    let mean = CsvOptions {
        impute: Impute::Mean,
        ..CsvOptions::default()
    };
    let ds = read_npy_table(&x, Some(&y), &mean).unwrap();
    assert_eq!(classes(&ds), (vec![0, 1, 0], strings(&["0", "1000"])));
    assert_eq!(rows(&ds)[0], [1.0, 5.0]);
    // for a model: by the plan, with or without the target column
    let ds = read_npy_table(&xy, None, &CsvOptions::default()).unwrap();
    let t = read_npy_features(&xy, None, ds.columns.as_ref(), &CsvOptions::default()).unwrap();
    assert_eq!(t.features, ds.features_tensor().to_vec());
    assert_eq!(t.targets, Some(strings(&["1", "2", "1"])));
    let t = read_npy_features(&x, Some(&y), ds.columns.as_ref(), &CsvOptions::default())
        .unwrap_err()
        .to_string();
    check(&t, &["x.npy:1:", "column 2", "missing value"]);
    // errors
    let named = CsvOptions {
        target: TargetColumn::Name("y".into()),
        ..CsvOptions::default()
    };
    check(
        &read_npy_table(&xy, None, &named).unwrap_err().to_string(),
        &["xy.npy", "no column names", "0-based column index"],
    );
    let short = write(d, "short.npy", npy("<i8", "(2,)", &i64s(&[0, 1])));
    check(
        &read_npy_table(&x, Some(&short), &mean)
            .unwrap_err()
            .to_string(),
        &["short.npy", "expected 3 rows"],
    );
}

// ---- through the binary ----

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

fn ok(dir: &Path, args: &[&str]) -> String {
    let out = run(dir, args);
    assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
    text(&out.stdout)
}

/// Exit code 2, one `error:` line with every needle, no panic.
fn fails(dir: &Path, args: &[&str], needles: &[&str]) {
    let out = run(dir, args);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
    assert!(err.starts_with("error: "), "{args:?}: {err}");
    assert!(!err.contains("panicked"), "{args:?}: {err}");
    for n in needles {
        assert!(err.contains(n), "{args:?}: {n:?} not in {err}");
    }
}

/// A `;`-separated shop table: an ID, a colour (the class follows it), a size, a weight with gaps,
/// and integer labels 1, 2 and 1000.
fn shop(dir: &Path, sep: &str) -> PathBuf {
    let mut s = ["id", "colour", "size", "weight", "label"].join(sep) + "\n";
    let mut r = backprop::Rng::seed(3);
    for i in 0..90 {
        let (colour, label) = [("red", 1), ("blue", 2), ("green", 1000)][i % 3];
        let weight = if i % 7 == 0 {
            String::new()
        } else {
            format!("{:.2}", 5.0 + r.normal())
        };
        let row = [
            format!("u{i}"),
            colour.to_string(),
            format!("{:.2}", r.normal()),
            weight,
            label.to_string(),
        ];
        s += &(row.join(sep) + "\n");
    }
    let name = if sep == "\t" { "shop.tsv" } else { "shop.csv" };
    write(dir, name, s)
}

#[test]
fn cli_round_trip_with_drop_categories_impute_and_semicolons() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    shop(d, ";");
    shop(d, "\t");
    fails(
        d,
        &[
            "train", "shop.csv", "--drop", "id", "--impute", "error", "--quiet",
        ],
        &[
            "shop.csv:2:",
            "column 4 (weight)",
            "missing value",
            "--impute mean",
        ],
    );
    // the ID column is dropped as an identifier without --drop
    let plan = ok(d, &["inspect", "shop.csv"]);
    check(
        &plan,
        &["id", "dropped", "an identifier: 90 distinct values"],
    );
    fails(
        d,
        &["train", "shop.csv", "--impute", "mode", "--quiet"],
        &["--impute", "mode"],
    );
    ok(
        d,
        &[
            "train", "shop.csv", "--drop", "id", "--impute", "mean", "--epochs", "40", "--quiet",
        ],
    );
    let summary = ok(d, &["summary", "model.safetensors"]);
    check(
        &summary,
        &[
            "3 classes: 1, 2, 1000",
            "colour=blue, colour=green, colour=red, size, weight",
        ],
    );
    // predict and evaluate on the TSV twin, without repeating --drop, --impute or --target
    let pred = ok(d, &["predict", "model.safetensors", "shop.tsv"]);
    let mut lines = pred.lines();
    assert_eq!(lines.next(), Some("class,p_1,p_2,p_1000"));
    let want = ["1", "2", "1000"];
    let right = lines
        .enumerate()
        .filter(|(i, l)| l.starts_with(&format!("{},", want[i % 3])))
        .count();
    assert!(right >= 85, "{right}/90 right");
    let report = ok(d, &["evaluate", "model.safetensors", "shop.csv"]);
    check(&report, &["accuracy", "1000"]);
    // new rows by name, in another order, without the ID and the label
    write(d, "new.csv", "weight,size,colour\n5,0.1,green\n,0.2,red\n");
    let pred = ok(d, &["predict", "model.safetensors", "new.csv"]);
    let classes: Vec<&str> = pred
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap())
        .collect();
    assert_eq!(classes, ["1000", "1"]);
    write(d, "odd.csv", "weight,size,colour\n5,0.1,purple\n");
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
            "column 3 (colour)",
            "unknown category \"purple\"",
            "blue, green, red",
        ],
    );
}

#[test]
fn cli_delimiter_flag() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "pipe.csv", "a|b|y\n0|0|x\n1|1|z\n0|1|x\n1|0|z\n");
    write(
        d,
        "tabs.txt",
        "a\tb\ty\n0\t0\tx\n1\t1\tz\n0\t1\tx\n1\t0\tz\n",
    );
    for args in [
        &["train", "pipe.csv", "--delimiter", "|"][..],
        &["train", "tabs.txt", "--delimiter", "tab"],
        &["train", "tabs.txt", "--delimiter", "\\t"],
        &["train", "tabs.txt"],
    ] {
        let mut a = args.to_vec();
        a.extend([
            "--epochs",
            "2",
            "--quiet",
            "--test-split",
            "0",
            "--val-split",
            "0",
        ]);
        ok(d, &a);
    }
    fails(
        d,
        &["train", "pipe.csv", "--delimiter", "ab"],
        &["--delimiter", "one character"],
    );
}

#[test]
fn cli_labels_are_names() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut s = String::from("a,label\n");
    for i in 0..40 {
        s += &format!("{},{}\n", i % 2, [1, 2][i % 2]);
    }
    write(d, "one_two.csv", s);
    ok(d, &["train", "one_two.csv", "--epochs", "30", "--quiet"]);
    let pred = ok(d, &["predict", "model.safetensors", "one_two.csv"]);
    assert_eq!(
        pred.lines().next(),
        Some("class,p_1,p_2"),
        "no phantom class 0"
    );
    check(
        &ok(d, &["evaluate", "model.safetensors", "one_two.csv"]),
        &["accuracy"],
    );
}

/// `backprop train ARGS --epochs 40 --quiet` in `d`, which must succeed.
fn train40(d: &Path, args: &[&str]) -> String {
    ok(
        d,
        &[&["train"][..], args, &["--epochs", "40", "--quiet"]].concat(),
    )
}

#[test]
fn cli_npy_input() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut x = Vec::new();
    let mut xy = Vec::new();
    let mut y = Vec::new();
    let mut r = backprop::Rng::seed(5);
    for i in 0..60 {
        let c = [3i64, 7][i % 2];
        let (a, b) = (c as f32 + 0.3 * r.normal(), -(c as f32) + 0.3 * r.normal());
        x.extend([a, b]);
        xy.extend([a, b, c as f32]);
        y.push(c);
    }
    write(d, "X.npy", npy("<f4", "(60, 2)", &f32s(&x)));
    write(d, "y.npy", npy("<i8", "(60,)", &i64s(&y)));
    write(d, "xy.npy", npy("<f4", "(60, 3)", &f32s(&xy)));
    write(d, "t.csv", "a,y\n1,0\n");
    write(d, "t4.csv", "a,b,c,d\n1,2,3,4\n");
    train40(d, &["X.npy", "--labels", "y.npy", "--out", "a.safetensors"]);
    let pred = ok(d, &["predict", "a.safetensors", "X.npy"]);
    assert_eq!(pred.lines().next(), Some("class,p_3,p_7"));
    assert_eq!(pred.lines().count(), 61);
    check(
        &ok(
            d,
            &["evaluate", "a.safetensors", "X.npy", "--labels", "y.npy"],
        ),
        &["accuracy 1.0000"],
    );
    // one array, the target its last column
    train40(d, &["xy.npy", "--out", "b.safetensors"]);
    check(
        &ok(d, &["evaluate", "b.safetensors", "xy.npy"]),
        &["accuracy 1.0000"],
    );
    let with = ok(d, &["predict", "b.safetensors", "xy.npy"]);
    assert_eq!(with, ok(d, &["predict", "b.safetensors", "X.npy"]));
    // regression when asked, by index
    let regression = ["--target", "0", "--task", "regression"];
    train40(
        d,
        &[&["xy.npy"][..], &regression, &["--out", "c.safetensors"]].concat(),
    );
    assert_eq!(
        ok(d, &["predict", "c.safetensors", "xy.npy"])
            .lines()
            .next(),
        Some("y")
    );
    fails(
        d,
        &["train", "t.csv", "--labels", "y.npy"],
        &["--labels", ".npy"],
    );
    fails(
        d,
        &["train", "xy.npy", "--target", "label"],
        &["xy.npy", "no column names"],
    );
    // a model from a headerless array reads a CSV by position
    assert_eq!(
        ok(d, &["predict", "b.safetensors", "t.csv"])
            .lines()
            .count(),
        2
    );
    fails(
        d,
        &["predict", "b.safetensors", "t4.csv"],
        &[
            "t4.csv:1:",
            "expected 2 fields",
            "or 3 with the target columns, found 4",
        ],
    );
}

//! Loading data (CSV, IDX, npy) and preparing it (splits, scaling), through the public API.
//! Every bad input has its own test that checks the error names the file, the line and the
//! column or field, and says what was expected.

use backprop::data::preprocess::{one_hot, split, ScaleKind, Scaler, SplitSizes};
use backprop::data::*;
use backprop::Rng;
use std::io::Write;
use std::path::{Path, PathBuf};

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

fn csv(name: &str, text: &str, opts: &CsvOptions) -> backprop::Result<Dataset> {
    let dir = tempfile::tempdir().unwrap();
    read_csv(write(dir.path(), name, text), opts)
}

fn csv_err(name: &str, text: &str, opts: &CsvOptions) -> String {
    csv(name, text, opts).unwrap_err().to_string()
}

fn classes(ds: &Dataset) -> (Vec<u32>, Vec<String>) {
    match ds.targets() {
        Targets::Classes { labels, names } => (labels.clone(), names.clone()),
        t => panic!("expected classes, got {t:?}"),
    }
}

fn values(ds: &Dataset) -> (Vec<f32>, Vec<String>) {
    match ds.targets() {
        Targets::Values { data, names } => (data.clone(), names.clone()),
        t => panic!("expected values, got {t:?}"),
    }
}

fn f32s(ds: &Dataset) -> Vec<f32> {
    ds.features_tensor().to_vec()
}

fn opts(target: TargetColumn) -> CsvOptions {
    CsvOptions {
        target,
        ..CsvOptions::default()
    }
}

// ---- CSV: happy paths ----

#[test]
fn csv_header_and_integer_labels() {
    let ds = csv(
        "a.csv",
        "a,b,label\n1,2,0\n3,4.5,2\n5,6,1\n",
        &CsvOptions::default(),
    )
    .unwrap();
    assert_eq!(ds.feature_names, ["a", "b"]);
    assert_eq!(f32s(&ds), [1.0, 2.0, 3.0, 4.5, 5.0, 6.0]);
    assert_eq!(
        classes(&ds),
        (vec![0, 2, 1], vec!["0".into(), "1".into(), "2".into()])
    );
}

#[test]
fn csv_without_header_and_labels_from_one() {
    let ds = csv("b.csv", "1,2,1\n3,4,3\n", &CsvOptions::default()).unwrap();
    assert_eq!(ds.feature_names, ["x0", "x1"]);
    assert_eq!(ds.len(), 2);
    // Labels are names: the classes are the labels that occur, "1" and "3" (no empty class 0).
    assert_eq!(
        classes(&ds),
        (vec![0, 1], ["1", "3"].map(String::from).to_vec())
    );
    let forced = CsvOptions {
        header: Some(false),
        ..CsvOptions::default()
    };
    assert_eq!(csv("b.csv", "1,2,1\n3,4,3\n", &forced).unwrap(), ds);
}

#[test]
fn csv_string_labels_without_header() {
    let text = "5.1,3.5,Iris-setosa\n6.0,2.2,Iris-virginica\n5.9,3.0,Iris-versicolor\n5.0,3.4,Iris-setosa\n";
    let ds = csv("iris.data", text, &CsvOptions::default()).unwrap();
    assert_eq!(
        ds.len(),
        4,
        "a first row whose only text is the label is data"
    );
    let names = ["Iris-setosa", "Iris-versicolor", "Iris-virginica"]
        .map(String::from)
        .to_vec();
    assert_eq!(classes(&ds), (vec![0, 2, 1, 0], names));
}

#[test]
fn csv_header_of_numbers_detected_by_target_column() {
    let ds = csv("n.csv", "0,1,y\n1,2,0.5\n3,4,1.5\n", &CsvOptions::default()).unwrap();
    assert_eq!(ds.feature_names, ["0", "1"]);
    assert_eq!(values(&ds), (vec![0.5, 1.5], vec!["y".into()]));
}

#[test]
fn csv_target_by_name_and_by_index() {
    let text = "label,a,b\n0,1,2\n1,3,4\n";
    let by_name = csv("t.csv", text, &opts(TargetColumn::Name("label".into()))).unwrap();
    assert_eq!(by_name.feature_names, ["a", "b"]);
    assert_eq!(f32s(&by_name), [1.0, 2.0, 3.0, 4.0]);
    assert_eq!(classes(&by_name).0, [0, 1]);
    let by_index = csv("t.csv", text, &opts(TargetColumn::Index(0))).unwrap();
    assert_eq!(by_index, by_name);
}

#[test]
fn csv_multi_target_regression() {
    let o = CsvOptions {
        target: TargetColumn::Index(1),
        targets: vec![TargetColumn::Last],
        ..CsvOptions::default()
    };
    let ds = csv("m.csv", "a,y1,y2\n1,0.5,1.5\n2,2.5,3.5\n", &o).unwrap();
    assert_eq!(ds.feature_names, ["a"]);
    assert_eq!(f32s(&ds), [1.0, 2.0]);
    assert_eq!(ds.target_width(), 2);
    assert_eq!(
        values(&ds),
        (vec![0.5, 1.5, 2.5, 3.5], vec!["y1".into(), "y2".into()])
    );
}

#[test]
fn csv_crlf_and_trailing_empty_line() {
    let ds = csv(
        "crlf.csv",
        "a,b,c\r\n1,2,0\r\n3,4,1\r\n\r\n",
        &CsvOptions::default(),
    )
    .unwrap();
    assert_eq!(ds.feature_names, ["a", "b"]);
    assert_eq!(f32s(&ds), [1.0, 2.0, 3.0, 4.0]);
    assert_eq!(classes(&ds).0, [0, 1]);
}

#[test]
fn csv_from_reader_with_delimiter() {
    let o = CsvOptions {
        delimiter: b';',
        ..CsvOptions::default()
    };
    let ds = read_csv_from(&b"a;b\n1;x\n2;y\n"[..], "-", &o).unwrap();
    assert_eq!(classes(&ds), (vec![0, 1], vec!["x".into(), "y".into()]));
    let err = read_csv_from(&b"a;b\n1;x\nz;y\n"[..], "-", &o)
        .unwrap_err()
        .to_string();
    check(&err, &["-:3:", "column 1 (a)"]);
}

#[test]
fn csv_auto_task_rule() {
    let many: String = (0..30).map(|i| format!("{i},{}\n", i * 7)).collect();
    assert!(matches!(
        csv("r.csv", &many, &CsvOptions::default())
            .unwrap()
            .targets(),
        Targets::Values { .. }
    ));
    let frac = csv("r.csv", "1,1.0\n2,0.0\n", &CsvOptions::default()).unwrap();
    assert!(
        matches!(frac.targets(), Targets::Values { .. }),
        "written with a decimal point means regression"
    );
    let forced = CsvOptions {
        task: Task::Classification,
        ..CsvOptions::default()
    };
    // forced classification: one class per distinct label (0, 7, …, 203), not 0..=203
    assert_eq!(
        csv("r.csv", &many, &forced).unwrap().num_classes(),
        Some(30)
    );
    let reg = CsvOptions {
        task: Task::Regression,
        ..CsvOptions::default()
    };
    assert_eq!(
        values(&csv("r.csv", "1,0\n2,1\n", &reg).unwrap()).0,
        [0.0, 1.0]
    );
    let neg = csv("r.csv", "1,-1\n2,1\n3,-1\n", &CsvOptions::default()).unwrap();
    assert_eq!(
        classes(&neg),
        (vec![0, 1, 0], vec!["-1".into(), "1".into()])
    );
}

#[test]
fn csv_features_for_prediction() {
    let dir = tempfile::tempdir().unwrap();
    let names: Vec<String> = vec!["a".into(), "b".into()];
    let with = write(dir.path(), "with.csv", "a,b,label\n1,2,cat\n3,4,dog\n");
    let t = read_csv_features(&with, &CsvOptions::default(), Some(&names)).unwrap();
    assert_eq!(
        (t.len(), t.n_features, t.features.clone()),
        (2, 2, vec![1.0, 2.0, 3.0, 4.0])
    );
    assert_eq!(t.targets, Some(vec!["cat".into(), "dog".into()]));
    assert_eq!(t.target_names, ["label"]);
    let without = write(dir.path(), "without.csv", "a,b\n1,2\n3,4\n");
    let t = read_csv_features(&without, &CsvOptions::default(), Some(&names)).unwrap();
    assert_eq!(
        (t.features.clone(), t.targets),
        (vec![1.0, 2.0, 3.0, 4.0], None)
    );
    let by_name = opts(TargetColumn::Name("label".into()));
    assert_eq!(
        read_csv_features(&without, &by_name, None).unwrap().targets,
        None
    );
    let bare = write(dir.path(), "bare.csv", "1,2\n3,4\n");
    let t = read_csv_features(&bare, &by_name, Some(&names)).unwrap();
    assert_eq!(
        (t.len(), t.targets, t.feature_names),
        (2, None, vec!["x0".into(), "x1".into()])
    );
    let generated: Vec<String> = vec!["x0".into(), "x1".into()];
    assert_eq!(
        read_csv_features(&without, &CsvOptions::default(), Some(&generated))
            .unwrap()
            .feature_names,
        names
    );
    let three: Vec<String> = vec!["a".into(), "b".into(), "c".into()];
    let err = read_csv_features(&without, &CsvOptions::default(), Some(&three))
        .unwrap_err()
        .to_string();
    check(
        &err,
        &[
            "without.csv:1:",
            "expected 3 fields (the model's features), or 4 with the target columns, found 2",
        ],
    );
}

// ---- CSV: one test per bad input ----

#[test]
fn csv_ragged_row() {
    let err = csv("ragged.csv", "a,b,c\n1,2,0\n3,4\n", &CsvOptions::default()).unwrap_err();
    assert!(
        matches!(&err, backprop::Error::Parse { line: 3, field, .. } if field == "row"),
        "{err:?}"
    );
    check(
        &err.to_string(),
        &["ragged.csv:3:", "expected 3 fields, found 2"],
    );
}

#[test]
fn csv_non_numeric_field() {
    let err = csv_err(
        "text.csv",
        "a,b,c\n1,2,0\n3,abc,1\n",
        &CsvOptions::default(),
    );
    assert!(
        err.ends_with("text.csv:3: column 2 (b): expected a number, found \"abc\""),
        "{err}"
    );
}

#[test]
fn csv_nan_field() {
    let err = csv_err("nan.csv", "a,b,c\n1,NaN,0\n", &CsvOptions::default());
    check(
        &err,
        &[
            "nan.csv:2:",
            "column 2 (b)",
            "expected a finite number, found \"NaN\"",
        ],
    );
}

#[test]
fn csv_inf_field() {
    let err = csv_err("inf.csv", "1,2,0\n-inf,2,1\n", &CsvOptions::default());
    check(
        &err,
        &[
            "inf.csv:2:",
            "column 1:",
            "expected a finite number, found \"-inf\"",
        ],
    );
}

#[test]
fn csv_non_finite_regression_target() {
    let o = CsvOptions {
        task: Task::Regression,
        ..CsvOptions::default()
    };
    let err = csv_err("y.csv", "a,y\n1,2\n2,inf\n", &o);
    check(
        &err,
        &[
            "y.csv:3:",
            "column 2 (y)",
            "expected a finite number, found \"inf\"",
        ],
    );
    let err = csv_err("y.csv", "a,y\n1,2\n2,big\n", &o);
    check(
        &err,
        &[
            "y.csv:3:",
            "column 2 (y)",
            "expected a number, found \"big\"",
        ],
    );
}

#[test]
fn csv_empty_file() {
    check(
        &csv_err("empty.csv", "", &CsvOptions::default()),
        &["empty.csv:1:", "no data rows"],
    );
}

#[test]
fn csv_header_only() {
    check(
        &csv_err("head.csv", "a,b,c\r\n", &CsvOptions::default()),
        &["head.csv:2:", "no data rows after the header"],
    );
}

#[test]
fn csv_missing_target_column() {
    let err = csv_err(
        "cols.csv",
        "a,b,c\n1,2,3\n",
        &opts(TargetColumn::Name("y".into())),
    );
    check(
        &err,
        &[
            "cols.csv:1:",
            "target",
            "no column named \"y\"; columns are a, b, c",
        ],
    );
}

#[test]
fn csv_target_name_without_header() {
    let err = csv_err(
        "nohead.csv",
        "1,2,3\n",
        &opts(TargetColumn::Name("y".into())),
    );
    check(
        &err,
        &[
            "nohead.csv:1:",
            "target",
            "no column named \"y\": the file has no header",
        ],
    );
    let o = CsvOptions {
        header: Some(false),
        ..opts(TargetColumn::Name("a".into()))
    };
    check(
        &csv_err("nohead.csv", "a,b\n1,2\n", &o),
        &["nohead.csv:1:", "the file has no header"],
    );
}

#[test]
fn csv_target_index_out_of_range() {
    let err = csv_err("idx.csv", "1,2,3\n", &opts(TargetColumn::Index(5)));
    check(
        &err,
        &[
            "idx.csv:1:",
            "target",
            "column index 5",
            "the file has 3 columns",
        ],
    );
}

#[test]
fn csv_header_mismatch_for_prediction() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "pred.csv", "a,c,label\n1,2,0\n");
    let names: Vec<String> = vec!["a".into(), "b".into()];
    let err = read_csv_features(&p, &CsvOptions::default(), Some(&names))
        .unwrap_err()
        .to_string();
    assert!(
        err.ends_with(
            "pred.csv:1: column 2 (c): expected \"b\" (the model's feature 2), found \"c\""
        ),
        "{err}"
    );
}

// ---- IDX ----

fn idx_images(n: u32, rows: u32, cols: u32, pixels: &[u8]) -> Vec<u8> {
    let mut v = [0x0803u32, n, rows, cols]
        .iter()
        .flat_map(|w| w.to_be_bytes())
        .collect::<Vec<u8>>();
    v.extend_from_slice(pixels);
    v
}

fn idx_labels(n: u32, labels: &[u8]) -> Vec<u8> {
    let mut v = [0x0801u32, n]
        .iter()
        .flat_map(|w| w.to_be_bytes())
        .collect::<Vec<u8>>();
    v.extend_from_slice(labels);
    v
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

fn mnist_err(images: Vec<u8>, labels: Vec<u8>) -> String {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "train-images-idx3-ubyte", images);
    write(dir.path(), "train-labels-idx1-ubyte", labels);
    read_mnist_dir(dir.path(), true).unwrap_err().to_string()
}

#[test]
fn idx_gzip_and_raw() {
    let dir = tempfile::tempdir().unwrap();
    let pixels: Vec<u8> = (0..3 * 2 * 2).map(|i| i as u8 * 20).collect();
    write(
        dir.path(),
        "train-images-idx3-ubyte.gz",
        gzip(&idx_images(3, 2, 2, &pixels)),
    );
    write(
        dir.path(),
        "train-labels-idx1-ubyte",
        idx_labels(3, &[7, 0, 9]),
    );
    let ds = read_mnist_dir(dir.path(), true).unwrap();
    assert_eq!((ds.len(), ds.n_features()), (3, 4));
    assert_eq!(
        ds.features(),
        &Features::U8 {
            data: pixels.clone(),
            scale: 1.0 / 255.0
        }
    );
    assert_eq!(
        classes(&ds),
        (vec![7, 0, 9], (0..10).map(|d| d.to_string()).collect())
    );
    // Compression is detected from the content, not the name.
    let raw_named_gz = write(dir.path(), "raw.gz", idx_images(3, 2, 2, &pixels));
    let gz_named_raw = write(
        dir.path(),
        "packed.idx",
        gzip(&idx_images(3, 2, 2, &pixels)),
    );
    assert_eq!(
        read_idx_images(raw_named_gz).unwrap(),
        (pixels.clone(), 2, 2)
    );
    assert_eq!(read_idx_images(gz_named_raw).unwrap(), (pixels, 2, 2));
    assert_eq!(
        read_idx_labels(write(dir.path(), "l.gz", gzip(&idx_labels(2, &[1, 2])))).unwrap(),
        [1, 2]
    );
    check(
        &read_mnist_dir(dir.path(), false).unwrap_err().to_string(),
        &["t10k-images-idx3-ubyte", "not found"],
    );
}

#[test]
fn idx_wrong_magic() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "labels-as-images", idx_labels(2, &[1, 2]));
    let err = read_idx_images(&p).unwrap_err().to_string();
    check(
        &err,
        &[
            "labels-as-images:0: magic:",
            "expected 0x00000803 (IDX images), found 0x00000801 (IDX labels)",
        ],
    );
}

#[test]
fn idx_truncated_images() {
    let err = mnist_err(idx_images(3, 2, 2, &[0; 10]), idx_labels(3, &[0, 1, 2]));
    check(
        &err,
        &[
            "train-images-idx3-ubyte:0: data:",
            "expected 28 bytes",
            "3 images of 2x2",
            "found 26",
            "truncated",
        ],
    );
}

#[test]
fn idx_truncated_labels() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "labels.gz", gzip(&idx_labels(5, &[1, 2, 3])));
    let err = read_idx_labels(&p).unwrap_err().to_string();
    check(
        &err,
        &[
            "labels.gz:0: data:",
            "expected 13 bytes",
            "5 labels",
            "found 11 after decompression",
            "truncated",
        ],
    );
    // A gzip stream cut short is reported the same way.
    let cut = gzip(&idx_labels(4000, &[3; 4000]));
    let p = write(dir.path(), "cut.gz", &cut[..cut.len() - 12]);
    check(
        &read_idx_labels(&p).unwrap_err().to_string(),
        &["cut.gz:0: data:", "expected 4008 bytes", "truncated"],
    );
}

#[test]
fn idx_header_larger_than_file_allocates_nothing_big() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "huge",
        idx_images(u32::MAX, 60000, 60000, &[1, 2, 3]),
    );
    check(
        &read_idx_images(&p).unwrap_err().to_string(),
        &["huge:0:", "found 19", "truncated"],
    );
}

#[test]
fn idx_count_mismatch() {
    let err = mnist_err(idx_images(3, 2, 2, &[0; 12]), idx_labels(2, &[0, 1]));
    check(
        &err,
        &[
            "train-labels-idx1-ubyte:0: count:",
            "expected 3 labels, one per image",
            "found 2",
        ],
    );
}

#[test]
fn idx_label_out_of_range() {
    let err = mnist_err(idx_images(3, 2, 2, &[0; 12]), idx_labels(3, &[0, 1, 12]));
    check(
        &err,
        &[
            "train-labels-idx1-ubyte:3: label:",
            "expected a digit 0..9, found 12",
        ],
    );
}

// ---- npy ----

/// A `.npy` file of format `version` (1, 2 or 3), padded like NumPy's to a multiple of 64.
fn npy(version: u8, descr: &str, fortran: bool, shape: &str, data: &[u8]) -> Vec<u8> {
    let f = if fortran { "True" } else { "False" };
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': {f}, 'shape': {shape}, }}");
    let prefix = if version == 1 { 10 } else { 12 };
    while (prefix + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut v = b"\x93NUMPY".to_vec();
    v.extend([version, 0]);
    match version {
        1 => v.extend((header.len() as u16).to_le_bytes()),
        _ => v.extend((header.len() as u32).to_le_bytes()),
    }
    v.extend(header.bytes());
    v.extend_from_slice(data);
    v
}

fn npy_err(name: &str, bytes: Vec<u8>) -> String {
    let dir = tempfile::tempdir().unwrap();
    read_npy(write(dir.path(), name, bytes))
        .unwrap_err()
        .to_string()
}

#[test]
fn npy_dtypes() {
    let vals = [1.0f32, -2.0, 3.0, 4.0, 0.5, 6.0];
    let ints = [1i64, -2, 3, 4, 0, 6];
    let cases: Vec<(&str, Vec<u8>, Vec<f32>)> = vec![
        (
            "<f4",
            vals.iter().flat_map(|v| v.to_le_bytes()).collect(),
            vals.to_vec(),
        ),
        (
            "<f8",
            vals.iter()
                .flat_map(|&v| (v as f64).to_le_bytes())
                .collect(),
            vals.to_vec(),
        ),
        (
            ">f8",
            vals.iter()
                .flat_map(|&v| (v as f64).to_be_bytes())
                .collect(),
            vals.to_vec(),
        ),
        (
            "|i1",
            ints.iter().flat_map(|&v| (v as i8).to_le_bytes()).collect(),
            ints.map(|v| v as f32).to_vec(),
        ),
        (
            "<i2",
            ints.iter()
                .flat_map(|&v| (v as i16).to_le_bytes())
                .collect(),
            ints.map(|v| v as f32).to_vec(),
        ),
        (
            "<i4",
            ints.iter()
                .flat_map(|&v| (v as i32).to_le_bytes())
                .collect(),
            ints.map(|v| v as f32).to_vec(),
        ),
        (
            ">i4",
            ints.iter()
                .flat_map(|&v| (v as i32).to_be_bytes())
                .collect(),
            ints.map(|v| v as f32).to_vec(),
        ),
        (
            "<i8",
            ints.iter().flat_map(|&v| v.to_le_bytes()).collect(),
            ints.map(|v| v as f32).to_vec(),
        ),
        (
            "|u1",
            vec![0, 1, 2, 3, 254, 255],
            vec![0.0, 1.0, 2.0, 3.0, 254.0, 255.0],
        ),
        (
            "<u2",
            [0u16, 1, 2, 3, 4, 65535]
                .iter()
                .flat_map(|v| v.to_le_bytes())
                .collect(),
            [0., 1., 2., 3., 4., 65535.].into(),
        ),
        (
            "<u4",
            [0u32, 1, 2, 3, 4, 70000]
                .iter()
                .flat_map(|v| v.to_le_bytes())
                .collect(),
            [0., 1., 2., 3., 4., 70000.].into(),
        ),
        (
            "<u8",
            [0u64, 1, 2, 3, 4, 5]
                .iter()
                .flat_map(|v| v.to_le_bytes())
                .collect(),
            [0., 1., 2., 3., 4., 5.].into(),
        ),
    ];
    for (i, (descr, bytes, want)) in cases.into_iter().enumerate() {
        let version = [1, 2, 3][i % 3];
        let dir = tempfile::tempdir().unwrap();
        let p = write(
            dir.path(),
            "a.npy",
            npy(version, descr, false, "(2, 3)", &bytes),
        );
        assert_eq!(
            read_npy(&p).unwrap(),
            (want, vec![2, 3]),
            "{descr} v{version}"
        );
    }
}

#[test]
fn npy_dataset_classes_and_values() {
    let dir = tempfile::tempdir().unwrap();
    let x: Vec<u8> = (0..8).flat_map(|v| (v as f32).to_le_bytes()).collect();
    let xp = write(dir.path(), "x.npy", npy(1, "<f4", false, "(4, 2)", &x));
    let y: Vec<u8> = [1i64, 0, 2, 1]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let yp = write(dir.path(), "y.npy", npy(1, "<i8", false, "(4,)", &y));
    let ds = read_npy_dataset(&xp, &yp, Task::Auto).unwrap();
    assert_eq!((ds.len(), ds.n_features()), (4, 2));
    assert_eq!(classes(&ds).0, [1, 0, 2, 1]);
    let r: Vec<u8> = [0.5f64, 1.5, 2.5, 3.5, 4.5, 5.5, 6.5, 7.5]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let rp = write(dir.path(), "r.npy", npy(1, "<f8", false, "(4, 2)", &r));
    let ds = read_npy_dataset(&xp, &rp, Task::Auto).unwrap();
    assert_eq!(values(&ds).1, ["y0", "y1"]);
    let short = write(dir.path(), "s.npy", npy(1, "<i8", false, "(3,)", &y[..24]));
    let err = read_npy_dataset(&xp, &short, Task::Auto)
        .unwrap_err()
        .to_string();
    check(
        &err,
        &["s.npy:0: shape:", "expected 4 rows", "found shape [3]"],
    );
}

#[test]
fn npy_bad_magic() {
    let err = npy_err("bad.npy", b"PK\x03\x04 not numpy at all".to_vec());
    check(
        &err,
        &[
            "bad.npy:0: magic:",
            "expected \"\\x93NUMPY\"",
            "found \"PK\\x03\\x04 n\"",
        ],
    );
}

#[test]
fn npy_truncated() {
    let err = npy_err("short.npy", npy(1, "<f4", false, "(2, 3)", &[0; 20]));
    check(
        &err,
        &[
            "short.npy:0: data:",
            "expected 24 data bytes",
            "found 20",
            "truncated",
        ],
    );
}

#[test]
fn npy_fortran_order() {
    let err = npy_err("f.npy", npy(1, "<f4", true, "(2, 3)", &[0; 24]));
    check(
        &err,
        &[
            "f.npy:0: fortran_order:",
            "expected C order, found Fortran order",
        ],
    );
}

#[test]
fn npy_unsupported_dtype() {
    check(
        &npy_err("c.npy", npy(1, "<c8", false, "(2,)", &[0; 16])),
        &["c.npy:0: descr:", "unsupported dtype \"<c8\""],
    );
}

/// A `.npy` file of format `version` whose header text is exactly `header` (its padding and
/// newline included), then `data`.
fn npy_raw(version: [u8; 2], header: &str, data: &[u8]) -> Vec<u8> {
    let mut v = b"\x93NUMPY".to_vec();
    v.extend(version);
    match version[0] {
        1 => v.extend((header.len() as u16).to_le_bytes()),
        _ => v.extend((header.len() as u32).to_le_bytes()),
    }
    v.extend(header.as_bytes());
    v.extend_from_slice(data);
    v
}

/// Two `<f4` values, for headers of shape `(2,)`.
const TWO_F4: [u8; 8] = [0, 0, 128, 63, 0, 0, 0, 64];

#[test]
fn npy_headers_numpy_writes_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let shape = |version: [u8; 2], header: &str, data: &[u8]| -> Vec<usize> {
        let path = write(dir.path(), "ok.npy", npy_raw(version, header, data));
        read_npy(&path)
            .unwrap_or_else(|e| panic!("{header:?}: {e}"))
            .1
    };
    // `dict` padded with spaces and a newline so the data starts at a multiple of `align`
    let pad = |dict: &str, prefix: usize, align: usize| {
        let n = (align - (prefix + dict.len() + 1) % align) % align;
        format!("{dict}{}\n", " ".repeat(n))
    };
    // as NumPy 2.x writes them: aligned to 64 bytes, in each format version
    let v1 = pad(
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }",
        10,
        64,
    );
    assert_eq!(shape([1, 0], &v1, &TWO_F4), [2]);
    let v2 = pad(
        "{'descr': '|b1', 'fortran_order': False, 'shape': (2,), }",
        12,
        64,
    );
    assert_eq!(shape([2, 0], &v2, &[1, 0]), [2]);
    let v3 = pad(
        "{'descr': '<f4', 'fortran_order': False, 'shape': (), }",
        12,
        64,
    );
    assert_eq!(shape([3, 0], &v3, &TWO_F4[..4]), [0usize; 0]);
    let empty = pad(
        "{'descr': '<f4', 'fortran_order': False, 'shape': (0, 2), }",
        10,
        64,
    );
    assert_eq!(shape([1, 0], &empty, &[]), [0, 2]);
    // as older NumPy (aligned to 16 bytes, Python 2 longs) and other writers do
    let old = pad(
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2L, 1L), }",
        10,
        16,
    );
    assert_eq!(shape([1, 0], &old, &TWO_F4), [2, 1]);
    let plain = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,)}\n";
    assert_eq!(shape([1, 0], plain, &TWO_F4), [2]);
    let reordered = "{\"shape\": (2, 1), \"descr\": \"<f4\", \"fortran_order\": False}\n";
    assert_eq!(shape([1, 0], reordered, &TWO_F4), [2, 1]);
    let fortran_1d = "{'descr': '<f4', 'fortran_order': True, 'shape': (2,), }\n";
    assert_eq!(shape([1, 0], fortran_1d, &TWO_F4), [2]);
}

#[test]
fn npy_headers_numpy_refuses_are_refused() {
    let head = |dict: &str| format!("{dict}\n");
    let cases: Vec<(&str, [u8; 2], String, Vec<&str>)> = vec![
        (
            "no closing brace",
            [1, 0],
            head("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), "),
            vec![
                "h.npy:0: header:",
                "expected a key or '}' closing the header dict, found the end of the header",
            ],
        ),
        (
            "no closing brace after a value",
            [1, 0],
            head("{'descr': '<f4', 'fortran_order': False, 'shape': (2,)"),
            vec![
                "h.npy:0: header:",
                "expected ',' or '}' closing the header dict after the value of 'shape'",
            ],
        ),
        (
            "not a dict",
            [1, 0],
            head("['descr', '<f4']"),
            vec![
                "header:",
                "expected a dict starting with '{', found \"['descr'",
            ],
        ),
        (
            "text after the dict",
            [1, 0],
            head("{'descr': '<f4', 'fortran_order': False, 'shape': (2,)} x"),
            vec![
                "header:",
                "expected spaces and a newline ('\\n') after the header dict, found \" x\\n\"",
            ],
        ),
        (
            "no newline",
            [1, 0],
            "{'descr': '<f4', 'fortran_order': False, 'shape': (2,)}   ".into(),
            vec![
                "header:",
                "expected spaces and a newline ('\\n') after the header dict, found \"   \"",
            ],
        ),
        (
            "an extra key",
            [1, 0],
            head("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}"),
            vec![
                "header:",
                "expected only the keys 'descr', 'fortran_order' and 'shape', found 'x'",
            ],
        ),
        (
            "a missing key",
            [1, 0],
            head("{'descr': '<f4', 'shape': (2,)}"),
            vec![
                "header:",
                "expected the keys 'descr', 'fortran_order' and 'shape', found no 'fortran_order'",
            ],
        ),
        (
            "a key twice",
            [1, 0],
            head("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'shape': (2,)}"),
            vec!["header:", "expected each key once, found 'shape' twice"],
        ),
        (
            "an int shape",
            [1, 0],
            head("{'descr': '<f4', 'fortran_order': False, 'shape': (2)}"),
            vec![
                "h.npy:0: shape:",
                "found (2), which is the integer 2: a 1-D shape is written (2,)",
            ],
        ),
        (
            "a list shape",
            [1, 0],
            head("{'descr': '<f4', 'fortran_order': False, 'shape': [2]}"),
            vec![
                "shape:",
                "expected a tuple of sizes such as (150, 4), found \"[2]}\"",
            ],
        ),
        (
            "a negative size",
            [1, 0],
            head("{'descr': '<f4', 'fortran_order': False, 'shape': (-2,)}"),
            vec!["shape:", "sizes are never negative), found \"-2,)}\""],
        ),
        (
            "a float size",
            [1, 0],
            head("{'descr': '<f4', 'fortran_order': False, 'shape': (2.0,)}"),
            vec![
                "shape:",
                "expected ',' or ')' after a size, found \".0,)}\"",
            ],
        ),
        (
            "a long in version 3",
            [3, 0],
            head("{'descr': '<f4', 'fortran_order': False, 'shape': (2L,)}"),
            vec!["shape:", "expected ',' or ')' after a size, found \"L,)}\""],
        ),
        (
            "a size too large",
            [1, 0],
            head("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999999,)}"),
            vec!["shape:", "size 99999999999999999999999 is too large"],
        ),
        (
            "fortran_order 0",
            [1, 0],
            head("{'descr': '<f4', 'fortran_order': 0, 'shape': (2,)}"),
            vec![
                "h.npy:0: fortran_order:",
                "expected True or False, found \"0, 'shape': (2,)}\"",
            ],
        ),
        (
            "fortran_order a string",
            [1, 0],
            head("{'descr': '<f4', 'fortran_order': 'False', 'shape': (2,)}"),
            vec!["fortran_order:", "expected True or False"],
        ),
        (
            "descr not a string",
            [1, 0],
            head("{'descr': 4, 'fortran_order': False, 'shape': (2,)}"),
            vec![
                "h.npy:0: descr:",
                "expected a dtype string such as '<f4', found \"4, ",
            ],
        ),
        (
            "a structured descr",
            [1, 0],
            head("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,)}"),
            vec![
                "descr:",
                "unsupported dtype: a structured dtype (a list of fields)",
            ],
        ),
        (
            "minor version 1",
            [1, 1],
            head("{'descr': '<f4', 'fortran_order': False, 'shape': (2,)}"),
            vec![
                "h.npy:0: version:",
                "expected format version 1.0, 2.0 or 3.0, found 1.1",
            ],
        ),
        (
            "major version 4",
            [4, 0],
            head("{'descr': '<f4', 'fortran_order': False, 'shape': (2,)}"),
            vec!["version:", "found 4.0"],
        ),
        (
            "a header over numpy's limit",
            [2, 0],
            format!(
                "{:<11999}\n",
                "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }"
            ),
            vec![
                "header:",
                "expected a header of at most 10000 characters (NumPy's limit), found 12000",
            ],
        ),
    ];
    for (name, version, header, parts) in cases {
        let err = npy_err("h.npy", npy_raw(version, &header, &TWO_F4));
        for p in parts {
            assert!(
                err.contains(p),
                "{name}: error {err:?} should contain {p:?}"
            );
        }
    }
}

#[test]
fn npy_files_cut_short_name_what_is_missing() {
    check(
        &npy_err("m.npy", b"\x93NUMPY".to_vec()),
        &[
            "m.npy:0: version:",
            "expected a format version after the magic, found a file of 6 bytes",
        ],
    );
    check(
        &npy_err("m.npy", b"\x93NUMPY\x01\x00\x10".to_vec()),
        &[
            "m.npy:0: header:",
            "expected a header length, found a file of 9 bytes",
        ],
    );
    let mut short = npy_raw(
        [1, 0],
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2,)}\n",
        &[],
    );
    short.truncate(30);
    check(
        &npy_err("m.npy", short),
        &[
            "m.npy:0: header:",
            "expected a header of 56 bytes, found 20: the file is truncated",
        ],
    );
}

// ---- splits and scaling ----

/// `n` samples whose only feature is their index, with the given class sizes.
fn labelled(sizes: &[usize]) -> Dataset {
    let labels: Vec<u32> = sizes
        .iter()
        .enumerate()
        .flat_map(|(c, &s)| std::iter::repeat_n(c as u32, s))
        .collect();
    let names = (0..sizes.len()).map(|c| c.to_string()).collect();
    let features = Features::F32((0..labels.len()).map(|i| i as f32).collect());
    Dataset::new(features, 1, Targets::Classes { labels, names }).unwrap()
}

fn class_counts(ds: &Dataset, k: usize) -> Vec<usize> {
    let mut c = vec![0; k];
    classes(ds).0.iter().for_each(|&l| c[l as usize] += 1);
    c
}

#[test]
fn split_is_stratified() {
    let ds = labelled(&[50, 30, 20]);
    let (train, val, test) = split(
        &ds,
        SplitSizes::Fractions {
            val: 0.2,
            test: 0.1,
        },
        &mut Rng::seed(3),
    )
    .unwrap();
    assert_eq!(class_counts(&train, 3), [35, 21, 14]);
    assert_eq!(class_counts(&val, 3), [10, 6, 4]);
    assert_eq!(class_counts(&test, 3), [5, 3, 2]);
    let mut all: Vec<f32> = [f32s(&train), f32s(&val), f32s(&test)].concat();
    all.sort_by(f32::total_cmp);
    assert_eq!(
        all,
        (0..100).map(|i| i as f32).collect::<Vec<_>>(),
        "every sample exactly once"
    );
    // Uneven classes: exact totals, each class within one sample of its share.
    let ds = labelled(&[7, 5, 3]);
    let (train, val, test) = split(
        &ds,
        SplitSizes::Counts { val: 3, test: 3 },
        &mut Rng::seed(3),
    )
    .unwrap();
    assert_eq!((train.len(), val.len(), test.len()), (9, 3, 3));
    assert_eq!(class_counts(&val, 3), [1, 1, 1]); // exact 1.4, 1.0, 0.6: the largest remainder gets the spare
    for (c, &n) in [7usize, 5, 3].iter().enumerate() {
        assert!((class_counts(&test, 3)[c] as f64 - n as f64 * 3.0 / 15.0).abs() < 1.0);
    }
}

#[test]
fn split_is_seeded() {
    let ds = labelled(&[40, 40]);
    let f = SplitSizes::Fractions {
        val: 0.25,
        test: 0.25,
    };
    let a = split(&ds, f, &mut Rng::seed(9)).unwrap();
    assert_eq!(a, split(&ds, f, &mut Rng::seed(9)).unwrap());
    assert_ne!(a, split(&ds, f, &mut Rng::seed(10)).unwrap());
    let y = Targets::Values {
        data: (0..10).map(|i| i as f32).collect(),
        names: vec!["y".into()],
    };
    let reg = Dataset::new(Features::F32(vec![0.0; 10]), 1, y).unwrap();
    let (tr, va, te) = split(
        &reg,
        SplitSizes::Counts { val: 3, test: 2 },
        &mut Rng::seed(1),
    )
    .unwrap();
    assert_eq!((tr.len(), va.len(), te.len()), (5, 3, 2));
    assert!(split(
        &ds,
        SplitSizes::Fractions {
            val: 0.6,
            test: 0.5
        },
        &mut Rng::seed(1)
    )
    .is_err());
    assert!(split(
        &ds,
        SplitSizes::Counts { val: 60, test: 30 },
        &mut Rng::seed(1)
    )
    .is_err());
}

fn table(rows: &[[f32; 2]]) -> Dataset {
    let labels = vec![0; rows.len()];
    Dataset::new(
        Features::F32(rows.concat()),
        2,
        Targets::Classes {
            labels,
            names: vec!["a".into()],
        },
    )
    .unwrap()
}

#[test]
fn scaler_is_fitted_on_train_and_applied_identically() {
    let train = table(&[[1.0, 10.0], [3.0, 20.0], [5.0, 30.0]]);
    let mut val = table(&[[7.0, 40.0], [3.0, 0.0]]);
    let s = Scaler::fit(ScaleKind::Standard, &train);
    let sd = (8.0f32 / 3.0).sqrt();
    let Scaler::Standard { mean, std } = &s else {
        panic!("{s:?}")
    };
    assert_eq!(mean, &[3.0, 20.0]);
    assert!(
        (std[0] - sd).abs() < 1e-6 && (std[1] / (5.0 * sd) - 1.0).abs() < 1e-6,
        "{std:?}"
    );
    s.transform(&mut val);
    let mut row = [7.0, 40.0];
    s.transform_row(&mut row);
    assert_eq!(&f32s(&val)[..2], &row);
    assert!((row[0] - 4.0 / sd).abs() < 1e-6 && (row[1] - 4.0 / sd).abs() < 1e-6);
    let m = Scaler::fit(ScaleKind::MinMax, &train);
    assert_eq!(
        m,
        Scaler::MinMax {
            min: vec![1.0, 10.0],
            max: vec![5.0, 30.0]
        }
    );
    let mut t = train.clone();
    m.transform(&mut t);
    assert_eq!(f32s(&t), [0.0, 0.0, 0.5, 0.5, 1.0, 1.0]);
    assert_eq!(Scaler::fit(ScaleKind::None, &train), Scaler::None);
}

#[test]
fn scaler_constant_column_and_bytes() {
    let train = table(&[[2.0, 1.0], [2.0, 3.0]]);
    let s = Scaler::fit(ScaleKind::Standard, &train);
    assert_eq!(
        s,
        Scaler::Standard {
            mean: vec![2.0, 2.0],
            std: vec![1.0, 1.0]
        }
    );
    let mut t = train.clone();
    s.transform(&mut t);
    assert_eq!(f32s(&t), [0.0, -1.0, 0.0, 1.0]);
    let m = Scaler::fit(ScaleKind::MinMax, &train);
    m.transform(&mut t);
    assert!(f32s(&t).iter().all(|x| x.is_finite()));
    let targets = Targets::Classes {
        labels: vec![0, 0],
        names: vec!["a".into()],
    };
    let mut bytes = Dataset::new(
        Features::U8 {
            data: vec![0, 255, 255, 255],
            scale: 1.0 / 255.0,
        },
        2,
        targets,
    )
    .unwrap();
    let s = Scaler::fit(ScaleKind::MinMax, &bytes);
    s.transform(&mut bytes);
    assert_eq!(bytes.features(), &Features::F32(vec![0.0, 0.0, 1.0, 0.0]));
}

#[test]
fn one_hot_rows() {
    let t = one_hot(&[1, 0, 2], 3);
    assert_eq!(t.dims(), [3, 3]);
    assert_eq!(t.to_vec(), [0.0, 1.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0]);
}

// ---- the real datasets, when ../shared is there ----

fn shared(rel: &str) -> Option<PathBuf> {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/datasets")
        .join(rel);
    [here, Path::new("/work/shared/datasets").join(rel)]
        .into_iter()
        .find(|p| p.exists())
}

#[test]
fn real_datasets_if_present() {
    if let Some(p) = shared("digits/digits.csv") {
        let ds = read_csv(p, &CsvOptions::default()).unwrap();
        assert_eq!(
            (ds.len(), ds.n_features(), ds.num_classes()),
            (1797, 64, Some(10))
        );
        assert_eq!(ds.feature_names[0], "pixel_0_0");
    }
    if let Some(p) = shared("iris/iris.csv") {
        let ds = read_csv(p, &CsvOptions::default()).unwrap();
        assert_eq!(
            (ds.len(), ds.n_features(), ds.num_classes()),
            (150, 4, Some(3))
        );
        let (train, _, test) = split(
            &ds,
            SplitSizes::Fractions {
                val: 0.2,
                test: 0.2,
            },
            &mut Rng::seed(0),
        )
        .unwrap();
        assert_eq!(
            (class_counts(&train, 3), class_counts(&test, 3)),
            (vec![30; 3], vec![10; 3])
        );
    }
    if let Some(p) = shared("diabetes/diabetes.csv") {
        let ds = read_csv(p, &CsvOptions::default()).unwrap();
        assert_eq!((ds.len(), ds.n_features(), ds.target_width()), (442, 10, 1));
        assert!(matches!(ds.targets(), Targets::Values { .. }));
    }
    if let Some(p) = shared("mnist") {
        let ds = read_mnist_dir(p, false).unwrap();
        assert_eq!(
            (ds.len(), ds.n_features(), ds.num_classes()),
            (10000, 784, Some(10))
        );
    }
}

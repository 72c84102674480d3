//! 2-D `.npy` arrays read as tables of numbers, like CSV files: for training (fitting a
//! [`ColumnPlan`]: target columns by index, dropped columns, NaN as missing values) and for a
//! trained model (applying its plan). The `.npy` format itself is read by [`super::npy`].

use super::cell::Cell;
use super::columns::fit::Fitter;
use super::columns::plan::{Column, ColumnPlan};
use super::csv::{CsvOptions, FeatureTable, TargetColumn};
use super::labels::{label_text, target_names, targets_from_text};
use super::npy::read_npy;
use super::{Dataset, Features, Targets};
use crate::error::{Error, Result};
use std::path::Path;

/// `(rows, columns)` of an npy array read as a table: 1-D is one column; dimensions after the
/// first are flattened.
fn table_shape(path: &Path, shape: &[usize]) -> Result<(usize, usize)> {
    match shape {
        [] => Err(Error::Parse {
            path: path.into(),
            line: 0,
            field: "shape".into(),
            msg: "expected an array of one row per sample, found a scalar".into(),
        }),
        [0, ..] => Err(Error::Parse {
            path: path.into(),
            line: 0,
            field: "shape".into(),
            msg: format!("{shape:?} has no rows; expected at least one sample"),
        }),
        [n, rest @ ..] => Ok((*n, rest.iter().product())),
    }
}

/// 0-based column indices for `cols` in an npy array of `width` columns (no names there).
fn npy_columns(path: &Path, cols: &[TargetColumn], width: usize, what: &str) -> Result<Vec<usize>> {
    let err = |msg: String| Error::Parse {
        path: path.into(),
        line: 0,
        field: what.into(),
        msg,
    };
    let mut out = Vec::new();
    for c in cols {
        let j = match c {
            TargetColumn::Last => width.saturating_sub(1),
            TargetColumn::Index(i) if *i < width => *i,
            TargetColumn::Index(i) => {
                return Err(err(format!(
                    "column index {i} (0-based) is out of range: the array has {width} columns"
                )))
            }
            TargetColumn::Name(n) => {
                return Err(err(format!(
                    "\"{n}\": a .npy array has no column names; give a 0-based column index"
                )))
            }
        };
        if !out.contains(&j) {
            out.push(j);
        }
    }
    Ok(out)
}

/// The targets of a labels array for `n` rows: their text and names.
fn read_labels(labels: &Path, n: usize, features: &Path) -> Result<(Vec<String>, Vec<String>)> {
    let (y, ys) = read_npy(labels)?;
    let err = |line, field: String, msg| Error::Parse {
        path: labels.into(),
        line,
        field,
        msg,
    };
    if ys.first() != Some(&n) {
        let msg = format!(
            "expected {n} rows, one per row of {}, found shape {ys:?}",
            features.display()
        );
        return Err(err(0, "shape".into(), msg));
    }
    let k = ys[1..].iter().product::<usize>().max(1);
    if let Some(i) = y.iter().position(|v| !v.is_finite()) {
        let msg = format!("expected a finite label, found {}", y[i]);
        return Err(err(i / k + 1, format!("column {}", i % k + 1), msg));
    }
    Ok((y.into_iter().map(label_text).collect(), target_names(k)))
}

/// Reads a `.npy` array for training, as a table of numbers: with `labels`, the array holds
/// the features (`(n, …)`, flattened per row) and `labels` the targets (`(n,)` or `(n, k)`);
/// without, it is `(n, columns)` and `opts.target`/`opts.targets` (indices, or the last column)
/// pick the target column(s). `opts.drop` (indices) leaves columns out, `opts.impute` fills NaN
/// features, and `opts.task` decides as for CSV: integral labels are classes by value.
///
/// ```
/// # let dir = tempfile::tempdir().unwrap();
/// # let path = dir.path().join("xy.npy");
/// # let head = "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 3), }";
/// # let mut b = b"\x93NUMPY\x01\x00".to_vec();
/// # let pad = (64 - (10 + head.len() + 1) % 64) % 64;
/// # b.extend(((head.len() + pad + 1) as u16).to_le_bytes());
/// # b.extend(head.bytes().chain(std::iter::repeat(b' ').take(pad)).chain([b'\n']));
/// # for v in [0.5f32, 1.0, 1.0, 1.5, 2.0, 2.0, 2.5, 3.0, 1.0] { b.extend(v.to_le_bytes()) }
/// # std::fs::write(&path, b).unwrap();
/// use backprop::data::{read_npy_table, CsvOptions, Targets};
/// let ds = read_npy_table(&path, None, &CsvOptions::default())?; // rows x0, x1, label
/// assert!(matches!(ds.targets(), Targets::Classes { names, .. } if names == &["1", "2"]));
/// # Ok::<(), backprop::Error>(())
/// ```
pub fn read_npy_table(
    path: impl AsRef<Path>,
    labels: Option<&Path>,
    opts: &CsvOptions,
) -> Result<Dataset> {
    let path = path.as_ref();
    let (x, xs) = read_npy(path)?;
    let (n, w) = table_shape(path, &xs)?;
    let pe = |line, field: String, msg: String| Error::Parse {
        path: path.into(),
        line,
        field,
        msg,
    };
    let tcols = match labels {
        Some(_) => vec![],
        None if xs.len() != 2 => {
            let msg = format!("expected a 2-D array (rows, columns) whose target is a column, or features with --labels, found shape {xs:?}");
            return Err(pe(0, "shape".into(), msg));
        }
        None => {
            let wanted: Vec<TargetColumn> = std::iter::once(&opts.target)
                .chain(&opts.targets)
                .cloned()
                .collect();
            npy_columns(path, &wanted, w, "target")?
        }
    };
    let dcols = npy_columns(path, &opts.drop, w, "drop")?;
    if let Some(j) = dcols.iter().find(|j| tcols.contains(j)) {
        let msg = format!("column {} is both a target and dropped", j + 1);
        return Err(pe(0, "drop".into(), msg));
    }
    let (mut columns, kept) = raw_columns(w, &tcols, &dcols);
    if kept.is_empty() || n == 0 {
        let msg = format!("expected at least one row and one feature column, found shape {xs:?} with {} target and {} dropped column(s)", tcols.len(), dcols.len());
        return Err(pe(0, "shape".into(), msg));
    }
    let names = kept
        .iter()
        .map(|&j| columns[j].name().to_string())
        .collect();
    let mut fitter = Fitter::new(names, opts.impute, vec![false; kept.len()]);
    let mut text = Vec::with_capacity(n * tcols.len());
    for (r, row) in x.chunks_exact(w).enumerate() {
        for (k, &j) in kept.iter().enumerate() {
            fitter
                .push(k, Cell::Num(row[j]), r as u64 + 1)
                .map_err(|m| pe(r + 1, format!("column {}", j + 1), m))?;
        }
        for &j in &tcols {
            if !row[j].is_finite() {
                let msg = format!("expected a finite target, found {}", row[j]);
                return Err(pe(r + 1, format!("column {}", j + 1), msg));
            }
            text.push(label_text(row[j]));
        }
    }
    let (fitted, _, features) = fitter
        .finish()
        .map_err(|(k, m)| pe(0, format!("column {}", kept[k] + 1), m))?;
    for (c, &j) in fitted.into_iter().zip(&kept) {
        columns[j] = c;
    }
    let targets = table_targets(path, labels, (n, &tcols), text, opts)?;
    let plan = ColumnPlan {
        columns,
        header: false,
        impute: opts.impute,
        kept: Vec::new(),
        stats: None,
    };
    let mut ds = Dataset::new(Features::F32(features), plan.out_features(), targets)?;
    ds.feature_names = plan.feature_names();
    ds.columns = Some(plan);
    Ok(ds)
}

/// The raw columns of an array of `w` columns with targets `tcols` and dropped columns `dcols`
/// (numeric until fitted), and the feature columns among them.
fn raw_columns(w: usize, tcols: &[usize], dcols: &[usize]) -> (Vec<Column>, Vec<usize>) {
    let mut columns: Vec<Column> = Vec::with_capacity(w);
    let mut kept = Vec::new();
    let mut i = 0;
    for j in 0..w {
        if let Some(t) = tcols.iter().position(|&c| c == j) {
            let name = target_names(tcols.len()).swap_remove(t);
            columns.push(Column::Target { name, index: t });
            continue;
        }
        let name = format!("x{i}");
        i += 1;
        if dcols.contains(&j) {
            columns.push(Column::Dropped {
                name,
                reason: Default::default(),
            });
        } else {
            kept.push(j);
            columns.push(Column::Numeric { name, impute: None });
        }
    }
    (columns, kept)
}

/// The targets of an array of `n` rows read from `path`: the target columns' `text` (`tcols`),
/// or the `labels` file's.
fn table_targets(
    path: &Path,
    labels: Option<&Path>,
    (n, tcols): (usize, &[usize]),
    text: Vec<String>,
    opts: &CsvOptions,
) -> Result<Targets> {
    let (text, names, lpath) = match labels {
        Some(l) => {
            let (text, names) = read_labels(l, n, path)?;
            (text, names, l)
        }
        None => (text, target_names(tcols.len()), path),
    };
    let k = names.len();
    let targets = targets_from_text(&text, names, opts.task, |row, t, msg| {
        let col = if labels.is_some() { t } else { tcols[t] };
        Error::Parse {
            path: lpath.into(),
            line: row + 1,
            field: format!("column {}", col + 1),
            msg,
        }
    })?;
    debug_assert_eq!(text.len(), n * k);
    Ok(targets)
}

/// Reads a `.npy` array of features for a trained model: by its column `plan` when it has one
/// (the array in the training layout, with or without the target columns), else every column
/// is a feature. `opts.drop` (indices) removes further columns first; `labels` gives the
/// targets' text (it must not be given when the array has them too).
pub fn read_npy_features(
    path: impl AsRef<Path>,
    labels: Option<&Path>,
    plan: Option<&ColumnPlan>,
    opts: &CsvOptions,
) -> Result<FeatureTable> {
    let path = path.as_ref();
    let (x, xs) = read_npy(path)?;
    let (n, w) = table_shape(path, &xs)?;
    let pe = |line, field: String, msg: String| Error::Parse {
        path: path.into(),
        line,
        field,
        msg,
    };
    let dcols = npy_columns(path, &opts.drop, w, "drop")?;
    let cols: Vec<usize> = (0..w).filter(|j| !dcols.contains(j)).collect();
    let (mut features, n_features, feature_names, mut targets, mut target_names);
    match plan {
        None => {
            n_features = cols.len();
            features = Vec::with_capacity(n * n_features);
            for row in x.chunks_exact(w.max(1)) {
                features.extend(cols.iter().map(|&j| row[j]));
            }
            feature_names = (0..n_features).map(|i| format!("x{i}")).collect();
            (targets, target_names) = (None, Vec::new());
        }
        Some(plan) => {
            plan.validate()
                .map_err(|msg| pe(0, "columns".into(), msg))?;
            let (raw, nt) = (plan.columns.len(), plan.n_targets());
            let present = match cols.len() {
                c if c == raw => nt > 0,
                c if c + nt == raw => false,
                c => {
                    let msg = format!(
                        "expected {} columns (the model's input columns{}), or {raw} with the target columns, found {c}",
                        raw - nt,
                        if dcols.is_empty() { "" } else { " after --drop" }
                    );
                    return Err(pe(0, "shape".into(), msg));
                }
            };
            let slots: Vec<usize> = (0..raw)
                .filter(|&p| present || !matches!(plan.columns[p], Column::Target { .. }))
                .collect();
            let offsets = plan.offsets();
            n_features = plan.out_features();
            features = vec![0.0; n * n_features];
            let mut text = vec![String::new(); if present { n * nt } else { 0 }];
            for (r, (row, out)) in x
                .chunks_exact(w.max(1))
                .zip(features.chunks_exact_mut(n_features))
                .enumerate()
            {
                for (&j, &p) in cols.iter().zip(&slots) {
                    let c = &plan.columns[p];
                    if let Some(t) = plan.target_index(p) {
                        text[r * nt + t] = label_text(row[j]);
                        continue;
                    }
                    let o = offsets[p];
                    let refuse = opts.unknown == crate::data::csv::Unknown::Error;
                    plan.encode(p, Cell::Num(row[j]), &mut out[o..o + c.width()], refuse)
                        .map_err(|m| pe(r + 1, format!("column {} ({})", j + 1, c.name()), m))?;
                }
            }
            feature_names = plan.feature_names();
            (targets, target_names) = match present {
                true => (Some(text), plan.target_names()),
                false => (None, Vec::new()),
            };
        }
    }
    if let Some(l) = labels {
        if targets.is_some() {
            let msg = "the array has the target columns, and --labels gives targets too; give one of them".to_string();
            return Err(pe(0, "labels".into(), msg));
        }
        let (text, names) = read_labels(l, n, path)?;
        (targets, target_names) = (Some(text), names);
    }
    Ok(FeatureTable {
        features,
        n_features,
        feature_names,
        targets,
        target_names,
        lines: Vec::new(),
        unseen: Vec::new(),
        ignored: Vec::new(),
        ids: Vec::new(),
    })
}

//! Reading a CSV file for training: its layout (header, targets, dropped columns), then every
//! row's feature fields go to a [`Fitter`], which fits the file's [`ColumnPlan`].

use super::layout::{detect_header, header_given, resolve, wanted, Slot, SAMPLE_ROWS};
use super::rows::{col_label, line_of, parse_error, Rows};
use super::{CsvOptions, MissingTarget, TargetColumn};
use crate::data::cell::{is_missing, Cell};
use crate::data::columns::fit::{role_of, Fitter, Seen};
use crate::data::columns::plan::{Column, ColumnPlan, DropReason, PlanStats};
use crate::data::labels::{target_name, targets_from_text};
use crate::data::{Dataset, Features};
use crate::error::{Error, Result};
use ::csv::StringRecord;
use std::io::Read;
use std::path::Path;

/// Where a training file's targets and dropped columns are, and whether it has a header.
struct Layout {
    header: bool,
    tcols: Vec<usize>,
    dcols: Vec<usize>,
    kcols: Vec<usize>,
    /// The sample-weight column (also in `dcols`).
    wcol: Option<usize>,
}

/// Like [`read_csv`](super::read_csv) from any reader (e.g. stdin); `name` is the file name
/// used in errors.
pub fn read_csv_from(
    reader: impl Read,
    name: impl AsRef<Path>,
    opts: &CsvOptions,
) -> Result<Dataset> {
    let path = name.as_ref();
    let mut rows = Rows::open(reader, path, opts)?;
    let (first, line1) = rows.first()?;
    let row1: Vec<String> = first.iter().map(String::from).collect();
    let width = row1.len();
    let pe = |line: u64, field: &str, msg: String| parse_error(path, line, field, msg);
    let mut sample = Vec::new();
    let mut rec = StringRecord::new();
    while sample.len() < SAMPLE_ROWS && rows.next(&mut rec)? {
        sample.push(rec.clone());
    }
    let at = |field: &str, msg: String| pe(line1, field, msg);
    let Layout {
        header,
        tcols,
        dcols,
        kcols,
        wcol,
    } = layout(opts, &row1, &sample, &at)?;
    let hnames = header.then_some(&row1[..]);
    let (mut columns, slots, kept) = raw_columns(hnames, width, &tcols, &dcols, wcol);
    let kept_names = kept
        .iter()
        .map(|&j| columns[j].name().to_string())
        .collect();
    let keep = kept.iter().map(|j| kcols.contains(j)).collect();
    let mut fitter = Fitter::new(kept_names, opts.impute, keep);
    let (mut targets, mut lines, mut rows_read) = (Vec::new(), Vec::new(), 0usize);
    let mut weights = Vec::new();
    let mut push = |rec: &StringRecord, line: u64| -> Result<()> {
        if rec.len() != width {
            let msg = format!("expected {width} fields, found {}", rec.len());
            return Err(pe(line, "row", msg));
        }
        rows_read += 1;
        if let Some(&j) = tcols.iter().find(|&&j| is_missing(&rec[j])) {
            if opts.missing_target == MissingTarget::Skip {
                return Ok(());
            }
            let msg = format!(
                "expected a target value, found {} (a row without a target; by default such rows are left out, as without --missing-target error)",
                shown(&rec[j])
            );
            return Err(pe(line, &col_label(hnames, j), msg));
        }
        if let Some(j) = wcol {
            weights.push(sample_weight(&rec[j]).map_err(|m| pe(line, &col_label(hnames, j), m))?);
        }
        for (j, s) in rec.iter().enumerate() {
            if let Slot::Feature(k) = slots[j] {
                fitter
                    .push(k, Cell::Text(s), line)
                    .map_err(|msg| pe(line, &col_label(hnames, j), msg))?;
            }
        }
        targets.extend(tcols.iter().map(|&j| rec[j].to_string()));
        lines.push(line);
        Ok(())
    };
    if !header {
        push(&first, line1)?;
    }
    for r in &sample {
        push(r, line_of(r))?;
    }
    drop(sample);
    while rows.next(&mut rec)? {
        push(&rec, line_of(&rec))?;
    }
    if lines.is_empty() {
        return Err(pe(line1 + 1, "rows", no_rows(rows_read)));
    }
    default_target_role(opts, &targets, |msg| {
        pe(line1, &col_label(hnames, tcols[0]), msg)
    })?;
    let (fitted, seen, features) = fitter
        .finish()
        .map_err(|(k, msg)| pe(line1, &col_label(hnames, kept[k]), msg))?;
    let stats = place(&mut columns, fitted, seen, &kept, (rows_read, lines.len()));
    let plan = ColumnPlan {
        columns,
        header,
        impute: opts.impute,
        kept: kcols.iter().map(|&j| columns_name(hnames, j)).collect(),
        stats: Some(stats),
    };
    let target_names = plan.target_names();
    let targets = targets_from_text(&targets, target_names.clone(), opts.task, |i, t, msg| {
        pe(lines[i], &col_label(hnames, tcols[t]), msg)
    })?;
    let ds = dataset(features, plan, targets, target_names, header)?;
    match wcol {
        Some(j) => ds
            .with_weights(weights)
            .map_err(|e| pe(line1, &col_label(hnames, j), e.to_string())),
        None => Ok(ds),
    }
}

/// The dataset of `features` and `targets` read by `plan`.
fn dataset(
    features: Vec<f32>,
    plan: ColumnPlan,
    targets: crate::data::Targets,
    target_names: Vec<String>,
    header: bool,
) -> Result<Dataset> {
    let mut ds = Dataset::new(Features::F32(features), plan.out_features(), targets)?;
    ds.feature_names = plan.feature_names();
    ds.target_columns = if header { target_names } else { vec![] };
    ds.columns = Some(plan);
    Ok(ds)
}

/// Why a file gave no training rows, having read `rows_read` data rows.
fn no_rows(rows_read: usize) -> String {
    match rows_read {
        0 => "no data rows after the header".to_string(),
        n => format!("none of the {n} data rows has a target value"),
    }
}

/// A sample weight: a finite number ≥ 0 (0 leaves the row out of the loss).
fn sample_weight(s: &str) -> std::result::Result<f32, String> {
    match s.trim().parse::<f32>() {
        Ok(w) if w.is_finite() && w >= 0.0 => Ok(w),
        _ => Err(format!(
            "expected a sample weight (a finite number ≥ 0), found {}",
            shown(s)
        )),
    }
}

/// The layout of a training file whose first row is `row1` and next rows `sample`; `at` makes
/// an error on the first row.
fn layout(
    opts: &CsvOptions,
    row1: &[String],
    sample: &[StringRecord],
    at: &dyn Fn(&str, String) -> Error,
) -> Result<Layout> {
    let width = row1.len();
    let header_given = header_given(opts, row1);
    let names = (header_given == Some(true)).then_some(row1);
    let tcols = resolve(&wanted(opts), names, width, at, "target")?;
    let mut dcols = resolve(&opts.drop, names, width, at, "drop")?;
    let wcol = match &opts.weight {
        Some(w) => {
            let hits = resolve(std::slice::from_ref(w), names, width, at, "sample-weight")?;
            let [j] = hits[..] else {
                let msg = format!("{} columns match; expected one", hits.len());
                return Err(at("sample-weight", msg));
            };
            if tcols.contains(&j) || dcols.contains(&j) {
                let what = if tcols.contains(&j) {
                    "a target"
                } else {
                    "dropped"
                };
                let msg = format!(
                    "{} is both the sample weight and {what}",
                    col_label(names, j)
                );
                return Err(at("sample-weight", msg));
            }
            dcols.push(j);
            Some(j)
        }
        None => None,
    };
    if let Some(&j) = dcols.iter().find(|j| tcols.contains(j)) {
        let msg = format!("{} is both a target and dropped", col_label(names, j));
        return Err(at("drop", msg));
    }
    if tcols.len() + dcols.len() >= width {
        let msg = match dcols.is_empty() {
            true => "expected at least one feature column besides the targets",
            false => {
                "expected at least one feature column besides the targets and the dropped columns"
            }
        };
        return Err(at("row", msg.into()));
    }
    let header = header_given.unwrap_or_else(|| detect_header(row1, sample, &tcols, &dcols));
    let names = header.then_some(row1);
    let kcols = resolve(&opts.keep, names, width, at, "keep")?;
    if let Some(&j) = kcols
        .iter()
        .find(|j| tcols.contains(j) || dcols.contains(j))
    {
        let what = if tcols.contains(&j) {
            "a target"
        } else {
            "dropped"
        };
        let msg = format!("{} is both kept (--keep) and {what}", col_label(names, j));
        return Err(at("keep", msg));
    }
    Ok(Layout {
        header,
        tcols,
        dcols,
        kcols,
        wcol,
    })
}

/// Puts the fitted feature columns (raw columns `kept`) into the plan's columns, and returns
/// the stats of what they held; `rows` is (data rows read, rows with a target).
fn place(
    columns: &mut [Column],
    fitted: Vec<Column>,
    seen: Vec<Seen>,
    kept: &[usize],
    rows: (usize, usize),
) -> PlanStats {
    let mut stats = PlanStats {
        rows: rows.0,
        missing_targets: rows.0 - rows.1,
        ..PlanStats::default()
    };
    let w = columns.len();
    stats.missing = vec![0; w];
    stats.distinct = vec![0; w];
    stats.present = vec![0; w];
    stats.range = vec![None; w];
    for ((c, s), &j) in fitted.into_iter().zip(seen).zip(kept) {
        columns[j] = c;
        stats.missing[j] = s.missing;
        stats.distinct[j] = s.distinct;
        stats.present[j] = s.present;
        stats.range[j] = s.range;
    }
    stats
}

/// Column `j`'s header name, or `x<j>`.
fn columns_name(hnames: Option<&[String]>, j: usize) -> String {
    hnames.map_or_else(|| j.to_string(), |h| h[j].clone())
}

/// `an empty field`, or the value quoted.
fn shown(s: &str) -> String {
    if s.is_empty() {
        "an empty field".into()
    } else {
        format!("\"{s}\"")
    }
}

/// Refuses a default target (the last column, no `--target`) whose text looks like an
/// identifier or free text: a classifier of comments or IDs is a mistake, not a model.
fn default_target_role(
    opts: &CsvOptions,
    targets: &[String],
    err: impl Fn(String) -> Error,
) -> Result<()> {
    if opts.target != TargetColumn::Last || !opts.targets.is_empty() {
        return Ok(());
    }
    let Some(reason) = role_of(targets.iter().map(String::as_str)) else {
        return Ok(());
    };
    let distinct = targets
        .iter()
        .collect::<std::collections::HashSet<_>>()
        .len();
    let what = match reason {
        DropReason::Identifier => "an identifier",
        _ => "free text",
    };
    Err(err(format!(
        "the last column, the default target, looks like {what} ({distinct} distinct values in the {} rows that have one), not something to predict; pass --target COLUMN to choose the target",
        targets.len()
    )))
}

/// The plan's columns before fitting (features numeric), what each raw column becomes while
/// reading, and the raw indices of the feature columns. Names come from the header `hnames`,
/// else `x<i>` (counting every column but the targets) and `y`/`y<t>`.
fn raw_columns(
    hnames: Option<&[String]>,
    width: usize,
    tcols: &[usize],
    dcols: &[usize],
    wcol: Option<usize>,
) -> (Vec<Column>, Vec<Slot>, Vec<usize>) {
    let mut slots = vec![Slot::Skip; width];
    let mut kept = Vec::new();
    let mut columns = Vec::with_capacity(width);
    for j in 0..width {
        let raw_name = |i: usize| hnames.map_or_else(|| format!("x{i}"), |h| h[j].clone());
        if let Some(t) = tcols.iter().position(|&c| c == j) {
            slots[j] = Slot::Target(t);
            let name = hnames.map_or_else(|| target_name(t, tcols.len()), |h| h[j].clone());
            columns.push(Column::Target { name, index: t });
            continue;
        }
        let name = raw_name(j - tcols.iter().filter(|&&c| c < j).count());
        if dcols.contains(&j) {
            let reason = match wcol == Some(j) {
                true => DropReason::SampleWeight,
                false => DropReason::User,
            };
            columns.push(Column::Dropped { name, reason });
        } else {
            slots[j] = Slot::Feature(kept.len());
            kept.push(j);
            columns.push(Column::Numeric { name, impute: None });
        }
    }
    (columns, slots, kept)
}

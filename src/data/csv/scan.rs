//! Reading a CSV file for a model from before column plans: numbers only, the targets there
//! or not, a header checked against the model's feature names.

use super::layout::{glob_match, header_given, is_pattern, resolve, wanted};
use super::rows::{col_label, is_num, line_of, parse_error, Rows};
use super::{CsvOptions, FeatureTable, TargetColumn};
use crate::data::cell::number;
use crate::data::labels::target_name;
use crate::error::{Error, Result};
use ::csv::StringRecord;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Features for a model without a column plan (see
/// [`read_csv_features`](super::read_csv_features)).
pub(super) fn features_without_plan(
    reader: impl Read,
    path: &Path,
    opts: &CsvOptions,
    expected: Option<&[String]>,
) -> Result<FeatureTable> {
    let t = scan(reader, path, opts, expected)?;
    let feature_names = t.feature_names();
    let generated =
        expected.is_some_and(|e| e.iter().enumerate().all(|(i, n)| *n == format!("x{i}")));
    if let (Some(_), Some(e), false) = (&t.header, expected, generated) {
        let cols = (0..t.width).filter(|j| !t.tcols.contains(j) && !t.dcols.contains(j));
        let mut pairs = cols.zip(&feature_names).zip(e).enumerate();
        if let Some((i, ((j, got), want))) = pairs.find(|(_, ((_, g), w))| g != w) {
            let msg = format!(
                "expected \"{want}\" (the model's feature {}), found \"{got}\"",
                i + 1
            );
            return Err(t.err_at(t.header_line, &col_label(t.header.as_deref(), j), msg));
        }
    }
    let has_targets = !t.tcols.is_empty();
    Ok(FeatureTable {
        n_features: t.width - t.tcols.len() - t.dcols.len(),
        target_names: if has_targets {
            t.target_names()
        } else {
            Vec::new()
        },
        features: t.features,
        targets: has_targets.then_some(t.targets),
        lines: t.lines,
        unseen: Vec::new(),
        ignored: Vec::new(),
        ids: Vec::new(),
        feature_names,
    })
}

/// One file split into feature values and raw target text.
struct Table {
    path: PathBuf,
    header: Option<Vec<String>>,
    header_line: u64,
    width: usize,
    tcols: Vec<usize>,
    dcols: Vec<usize>,
    features: Vec<f32>,
    targets: Vec<String>,
    lines: Vec<u64>,
}

impl Table {
    fn err_at(&self, line: u64, field: &str, msg: String) -> Error {
        parse_error(&self.path, line, field, msg)
    }
    /// Header names of columns `cols`, or `default(i)` for the i-th of them without a header.
    fn names(
        &self,
        cols: impl Iterator<Item = usize>,
        default: impl Fn(usize) -> String,
    ) -> Vec<String> {
        cols.enumerate()
            .map(|(i, j)| {
                self.header
                    .as_ref()
                    .map_or_else(|| default(i), |h| h[j].clone())
            })
            .collect()
    }
    fn feature_names(&self) -> Vec<String> {
        let cols = (0..self.width).filter(|j| !self.tcols.contains(j) && !self.dcols.contains(j));
        self.names(cols, |i| format!("x{i}"))
    }
    fn target_names(&self) -> Vec<String> {
        let k = self.tcols.len();
        self.names(self.tcols.iter().copied(), |i| target_name(i, k))
    }
}

/// Reads every row for a model without a column plan: numbers only, the target columns optional
/// (see [`read_csv_features`](super::read_csv_features)); `expected` is the model's feature names.
fn scan(
    reader: impl Read,
    path: &Path,
    opts: &CsvOptions,
    expected: Option<&[String]>,
) -> Result<Table> {
    let mut rows = Rows::open(reader, path, opts)?;
    let (mut first, line1) = rows.first()?;
    let width = first.len();
    let pe = |line: u64, field: &str, msg: String| parse_error(path, line, field, msg);
    let at = |field: &str, msg: String| pe(line1, field, msg);
    let row1: Vec<String> = first.iter().map(String::from).collect();
    let (tcols, dcols, header) = scan_layout(opts, &row1, expected, &at)?;
    let w = width - dcols.len();
    let mut t = Table {
        path: path.into(),
        header: None,
        header_line: line1,
        width,
        tcols,
        dcols,
        features: Vec::new(),
        targets: Vec::new(),
        lines: Vec::new(),
    };
    if header == Some(true) {
        t.header = Some(row1.clone());
    } else {
        push_row(&mut t, &first)?;
    }
    while rows.next(&mut first)? {
        push_row(&mut t, &first)?;
    }
    // An undecided first row (only its targets non-numeric) is a header iff no later target is.
    let k = t.tcols.len();
    if header.is_none() && t.lines.len() > 1 && t.targets[k..].iter().all(|s| is_num(s)) {
        t.header = Some(row1);
        t.features.drain(..w - k);
        t.targets.drain(..k);
        t.lines.remove(0);
    }
    if t.lines.is_empty() {
        return Err(pe(
            line1 + 1,
            "rows",
            "no data rows after the header".into(),
        ));
    }
    Ok(t)
}

/// The target and dropped columns of a file read without a plan, and whether its first row
/// `row1` is a header (`None`: undecided, only its targets are text); `at` makes an error on
/// the first row.
fn scan_layout(
    opts: &CsvOptions,
    row1: &[String],
    expected: Option<&[String]>,
    at: &dyn Fn(&str, String) -> Error,
) -> Result<(Vec<usize>, Vec<usize>, Option<bool>)> {
    let width = row1.len();
    let wanted = wanted(opts);
    // A column given by name implies a header, unless the first row is all numbers.
    let header_given = header_given(opts, row1);
    let names = (header_given == Some(true)).then_some(row1);
    let dcols = resolve(&opts.drop, names, width, at, "drop")?;
    // how many columns the targets are: a pattern stands for every header column it matches
    let n_wanted: usize = wanted
        .iter()
        .map(|t| match (t, names) {
            (TargetColumn::Name(n), Some(h)) if is_pattern(n) => {
                h.iter().filter(|c| glob_match(n, c)).count()
            }
            _ => 1,
        })
        .sum();
    let w = width - dcols.len();
    let present = match expected.map(<[String]>::len) {
        Some(n) if w == n + n_wanted => true,
        Some(n) if w == n => false,
        Some(n) => {
            let with = n + n_wanted;
            let msg = format!("expected {n} fields (the model's features), or {with} with the target columns, found {w}");
            return Err(at("row", msg));
        }
        None => wanted.iter().all(|t| match t {
            TargetColumn::Name(n) => names.is_some_and(|h| h.iter().any(|c| glob_match(n, c))),
            _ => true,
        }),
    };
    let tcols = match present {
        true => resolve(&wanted, names, width, at, "target")?,
        false => vec![],
    };
    if let Some(&j) = dcols.iter().find(|j| tcols.contains(j)) {
        let msg = format!("{} is both a target and dropped", col_label(names, j));
        return Err(at("drop", msg));
    }
    if tcols.len() + dcols.len() >= width {
        let msg = "expected at least one feature column besides the targets".to_string();
        return Err(at("row", msg));
    }
    let features = |j: &usize| !tcols.contains(j) && !dcols.contains(j);
    let header =
        header_given.or_else(
            || match (0..width).filter(features).any(|j| !is_num(&row1[j])) {
                true => Some(true),
                false => tcols.iter().all(|&j| is_num(&row1[j])).then_some(false),
            },
        );
    Ok((tcols, dcols, header))
}

fn push_row(t: &mut Table, rec: &StringRecord) -> Result<()> {
    let line = line_of(rec);
    if rec.len() != t.width {
        return Err(t.err_at(
            line,
            "row",
            format!("expected {} fields, found {}", t.width, rec.len()),
        ));
    }
    for (j, s) in rec.iter().enumerate() {
        if !t.tcols.contains(&j) && !t.dcols.contains(&j) {
            let v =
                number(s).map_err(|msg| t.err_at(line, &col_label(t.header.as_deref(), j), msg))?;
            t.features.push(v);
        }
    }
    t.targets
        .extend(t.tcols.iter().map(|&j| rec[j].to_string()));
    t.lines.push(line);
    Ok(())
}

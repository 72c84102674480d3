//! CSV files → [`Dataset`]: feature columns (numbers, or text one-hot encoded), and one class
//! column or one or more regression columns.
//!
//! - **Delimiter** (`sniff_delimiter`, the default): the first of tab, `;` and `,` that appears
//!   the same number of times (at least once) on each of the first lines, outside quotes; else
//!   the most frequent of them; else `delimiter`.
//! - **Header** (`header: None`): the first row is a header when one of its fields is text
//!   (not a number, not a missing value) above a feature column that has a number (or nothing)
//!   in the rows below, or above a target column whose values below are all numbers
//!   (`1.2,3.4,y` then numbers). `5.1,3.5,1.4,0.2,Iris-setosa` is data. When no column has a
//!   number anywhere (text only), it is a header if none of its fields appears again in its
//!   column. The rows below are the first 1000. A target or dropped column given by name implies
//!   a header unless the first row is all numbers.
//! - **Feature columns**: numbers, or text one-hot encoded; missing values (`--impute`) and
//!   dropped columns (`--drop`): see [`super::columns`], which fits the [`ColumnPlan`] that a
//!   model saves and [`read_csv_features`] applies.
//! - **Task** ([`Task::Auto`]): classification when there is one target column and its values
//!   are not all numbers, or are all integers (written `-?[0-9]+`) with at most
//!   [`AUTO_MAX_CLASSES`] distinct values; regression otherwise (several target columns,
//!   fractional values such as `1.0`, or more distinct integers).
//! - **Classes** are the distinct labels, by value ([`super::columns::class_labels`]): labels
//!   `1, 2` are two classes named `"1"` and `"2"` (sorted numerically), string labels are sorted
//!   in byte order.
//! - **Errors** name the file, the 1-based line, the column (1-based, with its header name) and
//!   what was expected. ±inf is rejected. CRLF line ends, blank lines and a UTF-8 byte-order
//!   mark are fine.

use super::columns::{targets_from_text, Cell, Column, ColumnPlan, Fitter, Impute};
use super::{Dataset, Features};
use crate::error::{Error, Result};
use ::csv::{Reader, ReaderBuilder, StringRecord, Trim};
use std::io::{Chain, Cursor, Read};
use std::path::{Path, PathBuf};

/// With [`Task::Auto`], integer targets with more distinct values than this mean regression.
pub const AUTO_MAX_CLASSES: usize = 20;

/// Which column holds a target.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum TargetColumn {
    /// The column at this **0-based** index (error messages count columns from 1).
    Index(usize),
    /// The column with this header name (the file must then have a header).
    Name(String),
    /// The last column.
    #[default]
    Last,
}

/// What the targets are to be learned as.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Task {
    /// Decide from the target values (see the [module docs](self)).
    #[default]
    Auto,
    /// Class labels.
    Classification,
    /// Real values, one or more per sample.
    Regression,
}

/// How to read a CSV file. The default: auto-detected header, last column is the target,
/// task decided from the data, delimiter detected, no column dropped, a missing value is an
/// error.
#[derive(Clone, Debug, PartialEq)]
pub struct CsvOptions {
    /// Whether the first row is a header; `None` detects it (see the [module docs](self)).
    pub header: Option<bool>,
    /// The (first) target column.
    pub target: TargetColumn,
    /// Further target columns, for multi-output regression; the targets are `target` then these.
    pub targets: Vec<TargetColumn>,
    /// Classification, regression, or decide from the data.
    pub task: Task,
    /// The field separator when `sniff_delimiter` is false, or when detection finds none of
    /// `,` `;` tab.
    pub delimiter: u8,
    /// Detect the delimiter from the first lines (see the [module docs](self)).
    pub sniff_delimiter: bool,
    /// Columns never read, by name (a pattern with `*` and `?` too) or index (`--drop`).
    pub drop: Vec<TargetColumn>,
    /// Missing feature values when reading for training (`--impute`).
    pub impute: Impute,
    /// A trained model's column plan: [`read_csv_features`] reads by it (columns matched by
    /// header name, or by position). [`read_csv`] always fits a new plan and ignores this.
    pub columns: Option<ColumnPlan>,
}

impl Default for CsvOptions {
    fn default() -> Self {
        CsvOptions {
            header: None,
            target: TargetColumn::Last,
            targets: Vec::new(),
            task: Task::Auto,
            delimiter: b',',
            sniff_delimiter: true,
            drop: Vec::new(),
            impute: Impute::Error,
            columns: None,
        }
    }
}

/// Features read for prediction by [`read_csv_features`], with the target text if it was there.
#[derive(Clone, Debug, PartialEq)]
pub struct FeatureTable {
    /// Row-major `len × n_features` values.
    pub features: Vec<f32>,
    /// Features per row.
    pub n_features: usize,
    /// The feature names from the header, or `x0, x1, …`.
    pub feature_names: Vec<String>,
    /// The raw target fields, row-major `len × target_names.len()`, when the file had them.
    pub targets: Option<Vec<String>>,
    /// The target column names (empty when the file had no target columns).
    pub target_names: Vec<String>,
}

impl FeatureTable {
    /// The number of rows.
    pub fn len(&self) -> usize {
        self.features.len() / self.n_features.max(1)
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.features.is_empty()
    }
}

/// Reads a CSV file into a [`Dataset`] for training, fitting its [`ColumnPlan`] (kept in
/// [`Dataset::columns`]); see the [module docs](self) for the rules.
///
/// ```
/// use backprop::data::{read_csv, CsvOptions, Targets};
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("flowers.csv");
/// std::fs::write(&path, "petal,sepal,species\n1.4,0.2,setosa\n4.7,1.4,versicolor\n").unwrap();
/// let ds = read_csv(&path, &CsvOptions::default()).unwrap();
/// assert_eq!(ds.len(), 2);
/// assert_eq!(ds.feature_names, ["petal", "sepal"]);
/// assert!(matches!(ds.targets(), Targets::Classes { labels, .. } if labels == &[0, 1]));
///
/// let err = read_csv_from_bytes("a,b,y\n1,x,0\n2,,1\n");
/// assert_eq!(err, "data.csv:3: column 2 (b): expected a value, found an empty field \
///     (a missing value; --impute mean or --impute median fills missing values)");
/// # fn read_csv_from_bytes(s: &str) -> String {
/// #     let opts = CsvOptions::default();
/// #     backprop::data::read_csv_from(s.as_bytes(), "data.csv", &opts).unwrap_err().to_string()
/// # }
/// ```
pub fn read_csv(path: impl AsRef<Path>, opts: &CsvOptions) -> Result<Dataset> {
    read_csv_from(open(path.as_ref())?, path, opts)
}

fn open(path: &Path) -> Result<std::io::BufReader<std::fs::File>> {
    let file = std::fs::File::open(path).map_err(|source| Error::Io {
        path: path.into(),
        cause: source,
    })?;
    Ok(std::io::BufReader::new(file))
}

/// Rows after the first that decide whether the first is a header.
const SAMPLE_ROWS: usize = 1000;

/// What becomes of a raw column while reading.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Slot {
    /// Feature column `k` (training: among the kept columns; prediction: plan column `k`).
    Feature(usize),
    /// Target `t`, in the order the targets are learned.
    Target(usize),
    Skip,
}

/// Like [`read_csv`] from any reader (e.g. stdin); `name` is the file name used in errors.
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
    let wanted: Vec<TargetColumn> = std::iter::once(&opts.target)
        .chain(&opts.targets)
        .cloned()
        .collect();
    let named = wanted
        .iter()
        .chain(&opts.drop)
        .any(|c| matches!(c, TargetColumn::Name(_)));
    let header_given = opts
        .header
        .or((named && !row1.iter().all(|s| is_num(s))).then_some(true));
    let names = (header_given == Some(true)).then_some(&row1[..]);
    let at = |field: &str, msg: String| pe(line1, field, msg);
    let tcols = resolve(&wanted, names, width, &at, "target")?;
    let dcols = resolve(&opts.drop, names, width, &at, "drop")?;
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
    let header = header_given.unwrap_or_else(|| detect_header(&row1, &sample, &tcols, &dcols));
    let hnames = header.then_some(&row1[..]);
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
            columns.push(Column::Dropped { name });
        } else {
            slots[j] = Slot::Feature(kept.len());
            kept.push(j);
            columns.push(Column::Numeric { name, impute: None });
        }
    }
    let kept_names = kept
        .iter()
        .map(|&j| columns[j].name().to_string())
        .collect();
    let mut fitter = Fitter::new(kept_names, opts.impute);
    let (mut targets, mut lines) = (Vec::new(), Vec::new());
    let mut push = |rec: &StringRecord, line: u64| -> Result<()> {
        if rec.len() != width {
            let msg = format!("expected {width} fields, found {}", rec.len());
            return Err(pe(line, "row", msg));
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
        return Err(pe(
            line1 + 1,
            "rows",
            "no data rows after the header".into(),
        ));
    }
    let (fitted, features) = fitter
        .finish()
        .map_err(|(k, msg)| pe(line1, &col_label(hnames, kept[k]), msg))?;
    for (c, &j) in fitted.into_iter().zip(&kept) {
        columns[j] = c;
    }
    let plan = ColumnPlan {
        columns,
        header,
        impute: opts.impute,
    };
    let target_names = plan.target_names();
    let targets = targets_from_text(&targets, target_names.clone(), opts.task, |i, t, msg| {
        pe(lines[i], &col_label(hnames, tcols[t]), msg)
    })?;
    let mut ds = Dataset::new(Features::F32(features), plan.out_features(), targets)?;
    ds.feature_names = plan.feature_names();
    ds.target_columns = if header { target_names } else { vec![] };
    ds.columns = Some(plan);
    Ok(ds)
}

/// `y` for one target, `y<t>` for several.
fn target_name(t: usize, k: usize) -> String {
    if k == 1 {
        "y".into()
    } else {
        format!("y{t}")
    }
}

fn is_num(s: &str) -> bool {
    s.parse::<f32>().is_ok()
}

/// Text: not a number, not a missing value.
fn is_text(s: &str) -> bool {
    !super::columns::is_missing(s) && !is_num(s)
}

/// Whether the first row is a header (see the [module docs](self)); `sample` is the rows below.
fn detect_header(
    row1: &[String],
    sample: &[StringRecord],
    tcols: &[usize],
    dcols: &[usize],
) -> bool {
    let below = |j: usize| {
        sample
            .iter()
            .filter_map(move |r| r.get(j))
            .filter(|s| !super::columns::is_missing(s))
    };
    let mut any_number = false;
    for (j, s) in row1.iter().enumerate().filter(|(j, _)| !dcols.contains(j)) {
        any_number |= is_num(s) || below(j).any(is_num);
        if !is_text(s) {
            continue;
        }
        let header_like = if tcols.contains(&j) {
            !sample.is_empty() && sample.iter().all(|r| r.get(j).is_some_and(is_num))
        } else {
            below(j).next().is_none() || below(j).any(is_num)
        };
        if header_like {
            return true;
        }
    }
    // text only: a header's names do not appear again below them
    !any_number
        && !sample.is_empty()
        && row1
            .iter()
            .enumerate()
            .filter(|(j, _)| !dcols.contains(j))
            .all(|(j, s)| sample.iter().all(|r| r.get(j) != Some(s.as_str())))
}

/// 0-based indices of `cols` (targets, or columns to drop; `what` says which, for errors) in a
/// file of `width` columns. A name needs `names` (a header); a pattern (`*`, `?`) stands for
/// every header column it matches, in file order. A target given twice is an error; a column
/// dropped twice is dropped once.
fn resolve(
    cols: &[TargetColumn],
    names: Option<&[String]>,
    width: usize,
    at: &dyn Fn(&str, String) -> Error,
    what: &str,
) -> Result<Vec<usize>> {
    let mut out = Vec::new();
    for c in cols {
        let hits: Vec<usize> = match (c, names) {
            (TargetColumn::Last, _) => vec![width - 1],
            (TargetColumn::Index(i), _) if *i < width => vec![*i],
            (TargetColumn::Index(i), _) => {
                let msg = format!(
                    "column index {i} (0-based) is out of range: the file has {width} columns"
                );
                return Err(at(what, msg));
            }
            (TargetColumn::Name(n), Some(h)) if is_pattern(n) => {
                let hits: Vec<usize> = (0..width).filter(|&j| glob_match(n, &h[j])).collect();
                if hits.is_empty() {
                    let msg = format!("no column matches \"{n}\"; columns are {}", h.join(", "));
                    return Err(at(what, msg));
                }
                hits
            }
            (TargetColumn::Name(n), None) if is_pattern(n) => {
                let msg = format!("{what} pattern \"{n}\" needs a header row naming the columns");
                return Err(at(what, msg));
            }
            (TargetColumn::Name(n), Some(h)) => match h.iter().position(|c| c == n) {
                Some(j) => vec![j],
                None => {
                    let msg = format!("no column named \"{n}\"; columns are {}", h.join(", "));
                    return Err(at(what, msg));
                }
            },
            (TargetColumn::Name(n), None) => {
                let msg = format!("no column named \"{n}\": the file has no header");
                return Err(at(what, msg));
            }
        };
        for j in hits {
            if !out.contains(&j) {
                out.push(j);
            } else if what == "target" {
                let msg = format!("column {} is given twice as a target", j + 1);
                return Err(at(what, msg));
            }
        }
    }
    Ok(out)
}

/// Reads features for prediction with the training layout of `opts`; the target columns may be
/// present (their text is returned) or absent.
///
/// With `opts.columns` (a model's [`ColumnPlan`]), the plan decides: a file with a header is
/// matched by column name (any order; a dropped column may be absent; a column the model does
/// not know is an error unless `opts.drop` names it), a file without by position (the training
/// file's columns, with or without the targets). Explicit targets in `opts` (not the default
/// last column) override the plan's by name. Categories and missing values are encoded as in
/// training.
///
/// Without a plan (models from before plans): with `expected` (the model's feature names) the
/// row width decides whether the targets are there, and a header must name the same features in
/// the same order; the error names the first column that differs. Generated names (`x0, x1, …`)
/// are not checked against a header. Without `expected`, targets named by a header name are
/// present if the header has them, and targets by position are assumed present.
pub fn read_csv_features(
    path: impl AsRef<Path>,
    opts: &CsvOptions,
    expected: Option<&[String]>,
) -> Result<FeatureTable> {
    read_csv_features_from(open(path.as_ref())?, path, opts, expected)
}

/// Like [`read_csv_features`] from any reader; `name` is the file name used in errors.
pub fn read_csv_features_from(
    reader: impl Read,
    name: impl AsRef<Path>,
    opts: &CsvOptions,
    expected: Option<&[String]>,
) -> Result<FeatureTable> {
    if let Some(plan) = &opts.columns {
        return features_by_plan(reader, name.as_ref(), opts, plan);
    }
    let t = scan(reader, name.as_ref(), opts, expected)?;
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
        feature_names,
    })
}

/// The plan's columns that a file of `n` columns (after `--drop`) holds by position: all of
/// them, or all but the targets.
fn positional(plan: &ColumnPlan, n: usize) -> Option<Vec<usize>> {
    let raw = plan.columns.len();
    if n == raw {
        Some((0..raw).collect())
    } else if n + plan.n_targets() == raw {
        Some(
            (0..raw)
                .filter(|&p| plan.target_index(p).is_none())
                .collect(),
        )
    } else {
        None
    }
}

/// Whether the first row of a file read by `plan` is a header: it names every feature column
/// of a plan with names, or it has text where a numeric column's number would be (text only,
/// when its width fits no layout of the plan).
fn plan_header(plan: &ColumnPlan, row1: &[String], drop: &[TargetColumn]) -> bool {
    let features = plan
        .columns
        .iter()
        .filter(|c| matches!(c, Column::Numeric { .. } | Column::Categorical { .. }));
    if plan.header && features.clone().all(|c| row1.iter().any(|s| s == c.name())) {
        return true;
    }
    let w = row1.len();
    let dropped: Vec<usize> = drop
        .iter()
        .filter_map(|d| match d {
            TargetColumn::Index(i) => Some(*i),
            TargetColumn::Last => w.checked_sub(1),
            TargetColumn::Name(_) => None,
        })
        .collect();
    let eff: Vec<usize> = (0..w).filter(|j| !dropped.contains(j)).collect();
    match positional(plan, eff.len()) {
        Some(ps) => eff
            .iter()
            .zip(ps)
            .any(|(&j, p)| matches!(plan.columns[p], Column::Numeric { .. }) && is_text(&row1[j])),
        // a header of other names, or a data row of another width
        None => {
            row1.iter().any(|s| is_text(s))
                && row1
                    .iter()
                    .all(|s| is_text(s) || super::columns::is_missing(s))
        }
    }
}

/// Features by a model's column plan (see [`read_csv_features`]).
fn features_by_plan(
    reader: impl Read,
    path: &Path,
    opts: &CsvOptions,
    plan: &ColumnPlan,
) -> Result<FeatureTable> {
    let pe = |line: u64, field: &str, msg: String| parse_error(path, line, field, msg);
    plan.validate().map_err(|msg| pe(0, "columns", msg))?;
    let mut rows = Rows::open(reader, path, opts)?;
    let (first, line1) = rows.first()?;
    let row1: Vec<String> = first.iter().map(String::from).collect();
    let width = row1.len();
    let at = |field: &str, msg: String| pe(line1, field, msg);
    let explicit = opts.target != TargetColumn::Last || !opts.targets.is_empty();
    let mut wanted: Vec<TargetColumn> = match explicit {
        true => std::iter::once(&opts.target)
            .chain(&opts.targets)
            .cloned()
            .collect(),
        false => vec![],
    };
    let named = wanted
        .iter()
        .chain(&opts.drop)
        .any(|c| matches!(c, TargetColumn::Name(_)));
    let header = opts.header.unwrap_or_else(|| {
        (named && !row1.iter().all(|s| is_num(s))) || plan_header(plan, &row1, &opts.drop)
    });
    let names = header.then_some(&row1[..]);
    let dcols = resolve(&opts.drop, names, width, &at, "drop")?;
    // explicit targets named by a header that has none of them: the targets are absent
    let absent = |t: &TargetColumn| match (t, names) {
        (TargetColumn::Name(n), Some(h)) => !h.iter().any(|c| c == n || glob_match(n, c)),
        _ => false,
    };
    let explicit_absent = explicit && wanted.iter().all(absent);
    if explicit_absent {
        wanted.clear();
    }
    let tcols = resolve(&wanted, names, width, &at, "target")?;
    let nt = plan.n_targets();
    let (slots, present) = if header && plan.header {
        by_name(plan, &row1, &dcols, explicit.then_some(&tcols[..]), &at)?
    } else {
        by_position(plan, width, &dcols, &at)?
    };
    let present = present && !explicit_absent;
    // column labels for errors: the header's names, or the plan's by position
    let labels: Vec<String> = (0..width)
        .map(|j| match (names, slots[j]) {
            (Some(_), _) => col_label(names, j),
            (None, Slot::Feature(p)) => format!("column {} ({})", j + 1, plan.columns[p].name()),
            (None, _) => col_label(None, j),
        })
        .collect();
    let mut tnames = plan.target_names();
    if let Some(h) = names {
        for (j, s) in slots.iter().enumerate() {
            if let Slot::Target(t) = s {
                tnames[*t] = h[j].clone();
            }
        }
    }
    let (n_out, offsets) = (plan.out_features(), plan.offsets());
    let (mut features, mut targets, mut n) = (Vec::new(), Vec::new(), 0usize);
    let mut push = |rec: &StringRecord, line: u64| -> Result<()> {
        if rec.len() != width {
            let msg = format!("expected {width} fields, found {}", rec.len());
            return Err(pe(line, "row", msg));
        }
        let base = features.len();
        features.resize(base + n_out, 0.0);
        let tbase = targets.len();
        if present {
            targets.resize(tbase + nt, String::new());
        }
        for (j, s) in rec.iter().enumerate() {
            match slots[j] {
                Slot::Feature(p) => {
                    let o = base + offsets[p];
                    let end = o + plan.columns[p].width();
                    plan.encode(p, Cell::Text(s), &mut features[o..end])
                        .map_err(|msg| pe(line, &labels[j], msg))?;
                }
                Slot::Target(t) if present => targets[tbase + t] = s.to_string(),
                _ => {}
            }
        }
        n += 1;
        Ok(())
    };
    if !header {
        push(&first, line1)?;
    }
    let mut rec = StringRecord::new();
    while rows.next(&mut rec)? {
        push(&rec, line_of(&rec))?;
    }
    if n == 0 {
        return Err(pe(
            line1 + 1,
            "rows",
            "no data rows after the header".into(),
        ));
    }
    Ok(FeatureTable {
        features,
        n_features: n_out,
        feature_names: plan.feature_names(),
        targets: present.then_some(targets),
        target_names: if present { tnames } else { Vec::new() },
    })
}

/// Slots of a file with a header matched to `plan` by name, and whether the targets are there.
fn by_name(
    plan: &ColumnPlan,
    row1: &[String],
    dcols: &[usize],
    explicit: Option<&[usize]>,
    at: &dyn Fn(&str, String) -> Error,
) -> Result<(Vec<Slot>, bool)> {
    let width = row1.len();
    let nt = plan.n_targets();
    let mut slots: Vec<Option<Slot>> = vec![None; width];
    for &j in dcols {
        slots[j] = Some(Slot::Skip);
    }
    if let Some(tcols) = explicit.filter(|t| !t.is_empty()) {
        if tcols.len() != nt {
            let msg = format!(
                "{} target column(s) given, but the model has {nt}: {}",
                tcols.len(),
                plan.target_names().join(", ")
            );
            return Err(at("target", msg));
        }
        for (t, &j) in tcols.iter().enumerate() {
            slots[j] = Some(Slot::Target(t));
        }
    }
    let mut found = Vec::new();
    for (p, c) in plan.columns.iter().enumerate() {
        let j = (0..width).find(|&j| slots[j].is_none() && row1[j] == c.name());
        match (c, j) {
            (Column::Numeric { .. } | Column::Categorical { .. }, Some(j)) => {
                slots[j] = Some(Slot::Feature(p))
            }
            (Column::Numeric { .. } | Column::Categorical { .. }, None) => {
                let mut msg = format!(
                    "no column named \"{}\" (an input column of the model); columns are {}",
                    c.name(),
                    row1.join(", ")
                );
                if width == 1 {
                    msg += " (one column: is the delimiter right? --delimiter C)";
                }
                return Err(at("header", msg));
            }
            (Column::Target { index, .. }, Some(j)) if explicit.is_none() => {
                slots[j] = Some(Slot::Target(*index));
                found.push(c.name());
            }
            (Column::Dropped { .. }, Some(j)) => slots[j] = Some(Slot::Skip),
            _ => {}
        }
    }
    if !found.is_empty() && found.len() != nt {
        let msg = format!(
            "the file has target column(s) {} but not all of the model's: {}",
            found.join(", "),
            plan.target_names().join(", ")
        );
        return Err(at("header", msg));
    }
    if let Some(j) = slots.iter().position(Option::is_none) {
        let known: Vec<String> = plan.columns.iter().map(|c| c.name().to_string()).collect();
        let msg = format!(
            "not a column the model was trained on (it knows {}); --drop \"{}\" leaves it out",
            known.join(", "),
            row1[j]
        );
        return Err(at(&col_label(Some(row1), j), msg));
    }
    let present = match explicit {
        Some(t) => !t.is_empty(),
        None => nt > 0 && found.len() == nt,
    };
    Ok((
        slots.into_iter().map(|s| s.unwrap_or(Slot::Skip)).collect(),
        present,
    ))
}

/// Slots of a file read by position, and whether the targets are there.
fn by_position(
    plan: &ColumnPlan,
    width: usize,
    dcols: &[usize],
    at: &dyn Fn(&str, String) -> Error,
) -> Result<(Vec<Slot>, bool)> {
    let eff: Vec<usize> = (0..width).filter(|j| !dcols.contains(j)).collect();
    let (raw, nt) = (plan.columns.len(), plan.n_targets());
    let Some(ps) = positional(plan, eff.len()) else {
        let dropped = plan
            .columns
            .iter()
            .any(|c| matches!(c, Column::Dropped { .. }));
        let what = match (dropped, dcols.is_empty()) {
            (true, _) => "the training file's columns, dropped ones included",
            (false, true) => "the model's input columns",
            (false, false) => "the model's input columns, after --drop",
        };
        let msg = match nt {
            0 => format!("expected {raw} fields ({what}), found {}", eff.len()),
            _ => format!(
                "expected {} fields ({what}), or {raw} with the target columns, found {}",
                raw - nt,
                eff.len()
            ),
        };
        return Err(at("row", msg));
    };
    let mut slots = vec![Slot::Skip; width];
    for (&j, p) in eff.iter().zip(ps) {
        slots[j] = match &plan.columns[p] {
            Column::Numeric { .. } | Column::Categorical { .. } => Slot::Feature(p),
            Column::Target { index, .. } => Slot::Target(*index),
            Column::Dropped { .. } => Slot::Skip,
        };
    }
    Ok((slots, nt > 0 && eff.len() == raw))
}

/// A parsed finite `f32`, or the message saying what was found instead.
pub(crate) fn number(s: &str) -> std::result::Result<f32, String> {
    match s.parse::<f32>() {
        Ok(v) if v.is_finite() => Ok(v),
        Ok(_) => Err(format!("expected a finite number, found \"{s}\"")),
        Err(_) => Err(format!("expected a number, found \"{s}\"")),
    }
}

/// `column 3 (petal_width)`, or `column 3` without a header.
fn col_label(header: Option<&[String]>, j: usize) -> String {
    match header.and_then(|h| h.get(j)) {
        Some(name) => format!("column {} ({name})", j + 1),
        None => format!("column {}", j + 1),
    }
}

fn parse_error(path: &Path, line: u64, field: &str, msg: String) -> Error {
    Error::Parse {
        path: path.into(),
        line: line as usize,
        field: field.into(),
        msg,
    }
}

fn line_of(rec: &StringRecord) -> u64 {
    rec.position().map_or(0, |p| p.line())
}

/// Bytes and lines looked at to detect the delimiter.
const SNIFF_BYTES: usize = 64 * 1024;
const SNIFF_LINES: usize = 10;

/// The delimiter of a file that starts with `head` (`complete`: that is the whole file): the
/// first of tab, `;`, `,` that appears the same number of times, at least once, outside double
/// quotes on each of the first (up to 10) non-blank lines; else the one of them that appears
/// most often; else `fallback`.
///
/// ```
/// use backprop::data::sniff_delimiter;
/// assert_eq!(sniff_delimiter(b"a\tb\tc\n1\t2\t3\n", true, b','), b'\t');
/// assert_eq!(sniff_delimiter(b"a;b\n1,5;2,25\n", true, b','), b';');
/// assert_eq!(sniff_delimiter(b"a,\"x;y\"\n1,2\n", true, b','), b',');
/// assert_eq!(sniff_delimiter(b"just one column\n", true, b','), b',');
/// ```
pub fn sniff_delimiter(head: &[u8], complete: bool, fallback: u8) -> u8 {
    let mut lines: Vec<&[u8]> = head.split(|&b| b == b'\n').collect();
    if !complete && lines.len() > 1 {
        lines.pop(); // a partial last line
    }
    let lines: Vec<&[u8]> = lines
        .into_iter()
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .filter(|l| !l.iter().all(u8::is_ascii_whitespace))
        .take(SNIFF_LINES)
        .collect();
    let count = |line: &[u8], d: u8| {
        let mut quoted = false;
        line.iter()
            .filter(|&&b| {
                if b == b'"' {
                    quoted = !quoted;
                }
                !quoted && b == d
            })
            .count()
    };
    let candidates = [b'\t', b';', b','];
    for d in candidates {
        let counts: Vec<usize> = lines.iter().map(|l| count(l, d)).collect();
        if counts.first().is_some_and(|&c| c > 0) && counts.iter().all(|&c| c == counts[0]) {
            return d;
        }
    }
    let total = |d: u8| lines.iter().map(|l| count(l, d)).sum::<usize>();
    match candidates
        .into_iter()
        .max_by_key(|&d| (total(d), d == b','))
    {
        Some(d) if total(d) > 0 => d,
        _ => fallback,
    }
}

/// A CSV reader over a file whose delimiter was detected from its first bytes.
struct Rows<R: Read> {
    rdr: Reader<Chain<Cursor<Vec<u8>>, R>>,
    path: PathBuf,
}

impl<R: Read> Rows<R> {
    fn open(mut reader: R, path: &Path, opts: &CsvOptions) -> Result<Rows<R>> {
        let mut head = Vec::new();
        let mut complete = false;
        let mut buf = [0u8; 8192];
        while head.len() < SNIFF_BYTES
            && head.iter().filter(|&&b| b == b'\n').count() <= SNIFF_LINES
        {
            match reader.read(&mut buf) {
                Ok(0) => {
                    complete = true;
                    break;
                }
                Ok(n) => head.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(cause) => {
                    return Err(Error::Io {
                        path: path.into(),
                        cause,
                    })
                }
            }
        }
        // a UTF-8 byte-order mark (spreadsheet exports) is not part of the first column's name
        if head.starts_with(b"\xEF\xBB\xBF") {
            head.drain(..3);
        }
        let delimiter = match opts.sniff_delimiter {
            true => sniff_delimiter(&head, complete, opts.delimiter),
            false => opts.delimiter,
        };
        let rdr = ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .trim(Trim::All)
            .delimiter(delimiter)
            .from_reader(Cursor::new(head).chain(reader));
        Ok(Rows {
            rdr,
            path: path.into(),
        })
    }

    fn next(&mut self, rec: &mut StringRecord) -> Result<bool> {
        self.rdr
            .read_record(rec)
            .map_err(|e| csv_error(&self.path, e))
    }

    /// The first record and its line; an empty file is an error.
    fn first(&mut self) -> Result<(StringRecord, u64)> {
        let mut rec = StringRecord::new();
        if !self.next(&mut rec)? {
            let msg = "no data rows (the file is empty)".to_string();
            return Err(parse_error(&self.path, 1, "rows", msg));
        }
        let line = line_of(&rec);
        Ok((rec, line))
    }
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
/// (see [`read_csv_features`]); `expected` is the model's feature names.
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
    let wanted: Vec<TargetColumn> = std::iter::once(&opts.target)
        .chain(&opts.targets)
        .cloned()
        .collect();
    let row1: Vec<String> = first.iter().map(String::from).collect();
    // A column given by name implies a header, unless the first row is all numbers.
    let named = wanted
        .iter()
        .chain(&opts.drop)
        .any(|c| matches!(c, TargetColumn::Name(_)));
    let header_given = opts
        .header
        .or((named && !row1.iter().all(|s| is_num(s))).then_some(true));
    let names = (header_given == Some(true)).then_some(&row1[..]);
    let dcols = resolve(&opts.drop, names, width, &at, "drop")?;
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
        true => resolve(&wanted, names, width, &at, "target")?,
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

fn csv_error(path: &Path, e: ::csv::Error) -> Error {
    let line = e.position().map_or(0, |p| p.line()) as usize;
    match e.into_kind() {
        ::csv::ErrorKind::Io(source) => Error::Io {
            path: path.into(),
            cause: source,
        },
        ::csv::ErrorKind::Utf8 { err, .. } => {
            let field = format!("column {}", err.field() + 1);
            Error::Parse {
                path: path.into(),
                line,
                field,
                msg: "expected UTF-8 text".into(),
            }
        }
        other => Error::Parse {
            path: path.into(),
            line,
            field: "row".into(),
            msg: format!("{other:?}"),
        },
    }
}

fn is_pattern(s: &str) -> bool {
    s.contains('*') || s.contains('?')
}

/// Shell-style matching of a whole column name: `*` any run of characters, `?` one character.
fn glob_match(pattern: &str, name: &str) -> bool {
    let (p, n): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    // classic two-pointer match with backtracking to the last star
    let (mut i, mut j, mut star, mut mark) = (0, 0, None, 0);
    while j < n.len() {
        if i < p.len() && (p[i] == '?' || p[i] == n[j]) {
            i += 1;
            j += 1;
        } else if i < p.len() && p[i] == '*' {
            star = Some(i);
            mark = j;
            i += 1;
        } else if let Some(s) = star {
            i = s + 1;
            mark += 1;
            j = mark;
        } else {
            return false;
        }
    }
    p[i..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod glob_tests {
    use super::glob_match;

    #[test]
    fn globs_match_whole_names() {
        assert!(glob_match("y*", "y0") && glob_match("y*", "y") && glob_match("*_t", "a_t"));
        assert!(glob_match("y?", "y1") && !glob_match("y?", "y10") && !glob_match("y*", "xy"));
        assert!(glob_match("a*b*c", "aXbYc") && !glob_match("a*b*c", "aXbY"));
    }
}

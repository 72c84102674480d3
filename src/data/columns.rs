//! Column plans: how the raw columns of a table — a CSV file, or a 2-D `.npy` array — become a
//! network's input features. A plan is fitted when data is read for training, saved in the
//! model, and applied unchanged when data is read for `predict` and `evaluate`.
//!
//! A [`ColumnPlan`] has one [`Column`] per raw column, in file order:
//!
//! - **Numeric**: one feature. A missing value — an empty field, `NA`, `N/A`, `NaN` or `?` (any
//!   case), or a NaN in an npy array — is an error with [`Impute::Error`] (the default), or is
//!   filled with the column's mean ([`Impute::Mean`]) or median ([`Impute::Median`]).
//! - **Categorical**: text, one-hot encoded: one feature per category, the categories in sorted
//!   (byte) order, named `column=category` (`colour=blue`, `colour=red`). When imputing, a
//!   missing value is a row of zeros (as pandas' `get_dummies`); otherwise it is an error. A
//!   category that training never saw is an error naming the known ones (the network has no
//!   input for it).
//! - **Dropped** (`--drop`): never read. **Target**: a target column.
//!
//! When fitting, a column is numeric if every value that is not missing is a number, and
//! categorical if none is; a column mixing numbers and text is an error at the first value of
//! the other kind, and so is a number written with a decimal comma (`1,5`). A text column of more than [`MAX_CATEGORIES`] distinct values, or of more
//! than 20 values all different, is an error (an identifier or free text: drop it). The categories and fill values are fitted on **all
//! the rows given to training** — the whole file, before the validation and test parts are split
//! off. They use no labels; a held-out mean differs from a training-part mean only slightly.
//!
//! Targets are names ([`class_labels`]): integer labels are classes by value, like strings.

use super::csv::{number, CsvOptions, FeatureTable, TargetColumn, Task};
use super::npy::read_npy;
use super::preprocess::is_classification;
use super::{Dataset, Features, Targets};
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::collections::HashMap;
use std::path::Path;

/// More distinct text values than this in one column is an error when fitting a plan.
pub const MAX_CATEGORIES: usize = 1000;

/// A text column with more values than this, all different, is an identifier (an error when
/// fitting a plan: one-hot encoding it would teach nothing).
const ID_MIN_ROWS: usize = 20;

/// What to do with a missing feature value (`--impute`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Impute {
    /// A missing value is an error naming the file, line and column.
    #[default]
    Error,
    /// Fill a number with the column's mean (a category with a row of zeros).
    Mean,
    /// Fill a number with the column's median (a category with a row of zeros).
    Median,
}

/// One raw column of a table and what becomes of it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Column {
    /// A number per row: one feature.
    Numeric {
        /// The header name, or `x<i>` without a header.
        name: String,
        /// The value a missing field gets (fitted with [`Impute::Mean`] or [`Impute::Median`]).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        impute: Option<f32>,
    },
    /// Text: one feature per category, one-hot.
    Categorical {
        /// The header name, or `x<i>` without a header.
        name: String,
        /// The categories, sorted and distinct.
        categories: Vec<String>,
    },
    /// Never read (`--drop`).
    Dropped {
        /// The header name, or `x<i>` without a header.
        name: String,
    },
    /// A target column.
    Target {
        /// The header name, or `y` (`y<i>` for several) without a header.
        name: String,
        /// Its place among the targets (the order they were given in, e.g. `--target c,a`).
        #[serde(default)]
        index: usize,
    },
}

impl Column {
    /// The column's name.
    pub fn name(&self) -> &str {
        match self {
            Column::Numeric { name, .. }
            | Column::Categorical { name, .. }
            | Column::Dropped { name }
            | Column::Target { name, .. } => name,
        }
    }

    /// The number of features it gives: 1, the number of categories, or 0.
    pub fn width(&self) -> usize {
        match self {
            Column::Numeric { .. } => 1,
            Column::Categorical { categories, .. } => categories.len(),
            Column::Dropped { .. } | Column::Target { .. } => 0,
        }
    }

    fn is_feature(&self) -> bool {
        matches!(self, Column::Numeric { .. } | Column::Categorical { .. })
    }
}

/// How a table's raw columns map to features (see the [module docs](self)).
///
/// ```
/// use backprop::data::{read_csv_from, CsvOptions, Column};
/// let csv = "id,colour,size,kind\n7,red,1.5,a\n8,blue,2.5,b\n9,red,,a\n";
/// let opts = CsvOptions {
///     drop: vec![backprop::data::TargetColumn::Name("id".into())],
///     impute: backprop::data::Impute::Mean,
///     ..CsvOptions::default()
/// };
/// let ds = read_csv_from(csv.as_bytes(), "shop.csv", &opts)?;
/// assert_eq!(ds.feature_names, ["colour=blue", "colour=red", "size"]);
/// assert_eq!(ds.features_tensor().row(2), &[0.0, 1.0, 2.0]); // the mean fills the gap
/// let plan = ds.columns.as_ref().unwrap();
/// assert_eq!(plan.columns[0], Column::Dropped { name: "id".into() });
/// assert_eq!(plan.out_features(), 3);
/// # Ok::<(), backprop::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ColumnPlan {
    /// One entry per raw column, in file order.
    pub columns: Vec<Column>,
    /// Whether the names came from a header row: a file with a header is then matched to the
    /// plan by column name, in any order; otherwise (and for files without a header) by position.
    pub header: bool,
    /// How missing values were handled when fitting (with [`Impute::Error`], a missing category
    /// is an error at prediction time too).
    #[serde(default)]
    pub impute: Impute,
}

/// One field of a row: CSV text, or an npy number.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Cell<'a> {
    Text(&'a str),
    Num(f32),
}

/// A field read as a value.
enum Value<'a> {
    Missing,
    Number(f32),
    Text(&'a str),
}

/// Whether a text field is a missing value: empty, `NA`, `N/A`, `NaN`, `?` (any case).
pub fn is_missing(s: &str) -> bool {
    s.is_empty()
        || s == "?"
        || ["na", "n/a", "nan"]
            .iter()
            .any(|m| s.eq_ignore_ascii_case(m))
}

fn value(cell: Cell<'_>) -> std::result::Result<Value<'_>, String> {
    match cell {
        Cell::Text(s) if is_missing(s) => Ok(Value::Missing),
        Cell::Text(s) => match s.parse::<f32>() {
            Ok(v) if v.is_finite() => Ok(Value::Number(v)),
            Ok(_) => Err(format!("expected a finite number, found \"{s}\"")),
            Err(_) => Ok(Value::Text(s)),
        },
        Cell::Num(v) if v.is_nan() => Ok(Value::Missing),
        Cell::Num(v) if v.is_infinite() => Err(format!("expected a finite number, found {v}")),
        Cell::Num(v) => Ok(Value::Number(v)),
    }
}

const FIT_HINT: &str = "--impute mean or --impute median fills missing values";
const PREDICT_HINT: &str = "the model was trained without --impute, so it has no fill value";

fn missing(cell: Cell<'_>, hint: &str) -> String {
    match cell {
        Cell::Text("") => {
            format!("expected a value, found an empty field (a missing value; {hint})")
        }
        Cell::Text(s) if s.eq_ignore_ascii_case("nan") => {
            format!("expected a finite number, found \"{s}\" (a missing value; {hint})")
        }
        Cell::Text(s) => format!("expected a value, found \"{s}\" (a missing value; {hint})"),
        Cell::Num(_) => format!("expected a finite number, found NaN (a missing value; {hint})"),
    }
}

impl ColumnPlan {
    /// The number of features the plan makes (the network's `in_features`).
    pub fn out_features(&self) -> usize {
        self.columns.iter().map(Column::width).sum()
    }

    /// The feature names: numeric columns by name, categories as `name=category`.
    pub fn feature_names(&self) -> Vec<String> {
        let mut out = Vec::with_capacity(self.out_features());
        for c in &self.columns {
            match c {
                Column::Numeric { name, .. } => out.push(name.clone()),
                Column::Categorical { name, categories } => {
                    out.extend(categories.iter().map(|k| format!("{name}={k}")))
                }
                _ => {}
            }
        }
        out
    }

    /// The target columns' names, in the order the targets are learned.
    pub fn target_names(&self) -> Vec<String> {
        let mut t: Vec<(usize, &str)> = self
            .columns
            .iter()
            .filter_map(|c| match c {
                Column::Target { name, index } => Some((*index, name.as_str())),
                _ => None,
            })
            .collect();
        t.sort();
        t.into_iter().map(|(_, n)| n.to_string()).collect()
    }

    /// The place among the targets of column `p`, if it is a target.
    pub(crate) fn target_index(&self, p: usize) -> Option<usize> {
        match self.columns[p] {
            Column::Target { index, .. } => Some(index),
            _ => None,
        }
    }

    /// The number of target columns in the table.
    pub fn n_targets(&self) -> usize {
        self.columns
            .iter()
            .filter(|c| matches!(c, Column::Target { .. }))
            .count()
    }

    /// Checks what a model file could have damaged: at least one feature, categories sorted
    /// and distinct, fill values finite.
    pub fn validate(&self) -> std::result::Result<(), String> {
        if !self.columns.iter().any(Column::is_feature) {
            return Err("the column plan has no feature column".into());
        }
        let mut order: Vec<usize> = (0..self.columns.len())
            .filter_map(|p| match self.columns[p] {
                Column::Target { index, .. } => Some(index),
                _ => None,
            })
            .collect();
        order.sort_unstable();
        if order.iter().enumerate().any(|(i, &t)| i != t) {
            return Err(format!(
                "column plan: target indices {order:?}; expected 0 to {}",
                order.len().saturating_sub(1)
            ));
        }
        for c in &self.columns {
            match c {
                Column::Categorical { name, categories }
                    if categories.is_empty() || categories.windows(2).any(|w| w[0] >= w[1]) =>
                {
                    return Err(format!(
                        "column plan: the categories of \"{name}\" are not sorted, distinct and non-empty"
                    ));
                }
                Column::Numeric {
                    name,
                    impute: Some(v),
                } if !v.is_finite() => {
                    return Err(format!(
                        "column plan: the fill value of \"{name}\" is not finite"
                    ));
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Where each column's features start in a row.
    pub(crate) fn offsets(&self) -> Vec<usize> {
        let mut at = 0;
        self.columns
            .iter()
            .map(|c| {
                let o = at;
                at += c.width();
                o
            })
            .collect()
    }

    /// Writes column `p`'s features for one field into `out` (its `width()` slots).
    pub(crate) fn encode(
        &self,
        p: usize,
        cell: Cell<'_>,
        out: &mut [f32],
    ) -> std::result::Result<(), String> {
        match &self.columns[p] {
            Column::Numeric { impute, .. } => {
                out[0] = match value(cell)? {
                    Value::Number(v) => v,
                    Value::Missing => impute.ok_or_else(|| missing(cell, PREDICT_HINT))?,
                    Value::Text(s) => return Err(format!("expected a number, found \"{s}\"")),
                };
            }
            Column::Categorical { categories, .. } => {
                let text = match cell {
                    Cell::Text(s) => s.to_string(),
                    Cell::Num(v) => v.to_string(),
                };
                out[..categories.len()].fill(0.0);
                if is_missing(&text) || matches!(cell, Cell::Num(v) if v.is_nan()) {
                    if self.impute == Impute::Error {
                        return Err(missing(cell, PREDICT_HINT));
                    }
                    return Ok(());
                }
                match categories.binary_search_by(|c| c.as_str().cmp(&text)) {
                    Ok(i) => out[i] = 1.0,
                    Err(_) => {
                        return Err(format!(
                            "unknown category \"{text}\": the model knows {}",
                            list(categories)
                        ))
                    }
                }
            }
            Column::Dropped { .. } | Column::Target { .. } => {}
        }
        Ok(())
    }
}

/// `a, b, c`, or the first 20 and how many there are.
fn list(items: &[String]) -> String {
    if items.len() <= 20 {
        items.join(", ")
    } else {
        format!("{}, … ({} in all)", items[..20].join(", "), items.len())
    }
}

/// What a column has shown so far while fitting.
enum Kind {
    /// Only missing values.
    Unknown,
    Numeric,
    Text {
        index: HashMap<String, u32>,
        names: Vec<String>,
        first: String,
        line: u64,
        /// Values seen (not missing).
        count: usize,
    },
}

/// Fits the feature columns of a plan from rows given one field at a time, keeping the values
/// row-major (NaN where missing; a category's first-seen code) until [`Fitter::finish`].
pub(crate) struct Fitter {
    names: Vec<String>,
    kinds: Vec<Kind>,
    impute: Impute,
    cells: Vec<f32>,
}

impl Fitter {
    /// A fitter for the feature columns named `names` (in row order).
    pub(crate) fn new(names: Vec<String>, impute: Impute) -> Fitter {
        let kinds = names.iter().map(|_| Kind::Unknown).collect();
        Fitter {
            names,
            kinds,
            impute,
            cells: Vec::new(),
        }
    }

    /// Adds feature column `k`'s field of the current row (read on `line`).
    pub(crate) fn push(
        &mut self,
        k: usize,
        cell: Cell<'_>,
        line: u64,
    ) -> std::result::Result<(), String> {
        let v = match value(cell)? {
            Value::Missing if self.impute == Impute::Error => return Err(missing(cell, FIT_HINT)),
            Value::Missing => f32::NAN,
            Value::Number(v) => match &self.kinds[k] {
                Kind::Unknown | Kind::Numeric => {
                    self.kinds[k] = Kind::Numeric;
                    v
                }
                Kind::Text { first, line, .. } => {
                    let s = match cell {
                        Cell::Text(s) => s.to_string(),
                        Cell::Num(v) => v.to_string(),
                    };
                    return Err(format!(
                        "expected text like the column's other values (\"{first}\" on line {line}), found the number \"{s}\": a column is all numbers or all text"
                    ));
                }
            },
            Value::Text(s) if decimal_comma(s) => {
                return Err(format!(
                    "expected a number, found \"{s}\": write numbers with a decimal point (1.5, not 1,5)"
                ))
            }
            Value::Text(s) => {
                if let Kind::Unknown = self.kinds[k] {
                    self.kinds[k] = Kind::Text {
                        index: HashMap::new(),
                        names: Vec::new(),
                        first: s.to_string(),
                        line,
                        count: 0,
                    };
                }
                match &mut self.kinds[k] {
                    Kind::Text {
                        index,
                        names,
                        count,
                        ..
                    } => {
                        *count += 1;
                        let next = names.len() as u32;
                        let code = *index.entry(s.to_string()).or_insert_with(|| {
                            names.push(s.to_string());
                            next
                        });
                        code as f32
                    }
                    _ => return Err(format!("expected a number, found \"{s}\"")),
                }
            }
        };
        self.cells.push(v);
        Ok(())
    }

    /// The fitted columns (in the order of `names`) and the features, row-major with
    /// `out_features` values per row; or the feature column that cannot be used and why.
    pub(crate) fn finish(self) -> std::result::Result<(Vec<Column>, Vec<f32>), (usize, String)> {
        let w = self.kinds.len();
        let n = self.cells.len() / w.max(1);
        let mut cols = Vec::with_capacity(w);
        let mut remaps: Vec<Vec<u32>> = Vec::with_capacity(w);
        for (k, (kind, name)) in self.kinds.into_iter().zip(self.names).enumerate() {
            match kind {
                Kind::Unknown => {
                    return Err((k, "every value is missing (--drop the column)".into()))
                }
                Kind::Numeric => {
                    let values = (0..n).map(|i| self.cells[i * w + k]);
                    let impute = fill(self.impute, values);
                    cols.push(Column::Numeric { name, impute });
                    remaps.push(vec![]);
                }
                Kind::Text { names, count, .. } => {
                    if names.len() == count && count > ID_MIN_ROWS {
                        return Err((k, format!(
                            "every one of its {count} values is different: an identifier, not a category? --drop the column"
                        )));
                    }
                    if names.len() > MAX_CATEGORIES {
                        return Err((k, format!(
                            "{} distinct text values, more than the {MAX_CATEGORIES} categories one-hot encoding takes: an identifier or free text? --drop the column",
                            names.len()
                        )));
                    }
                    let mut order: Vec<usize> = (0..names.len()).collect();
                    order.sort_by(|&a, &b| names[a].cmp(&names[b]));
                    let mut remap = vec![0u32; names.len()];
                    for (new, &old) in order.iter().enumerate() {
                        remap[old] = new as u32;
                    }
                    let categories = order.iter().map(|&i| names[i].clone()).collect();
                    cols.push(Column::Categorical { name, categories });
                    remaps.push(remap);
                }
            }
        }
        let mut cells = self.cells;
        if cols.iter().all(|c| matches!(c, Column::Numeric { .. })) {
            // the common case: numbers only, filled in place
            for row in cells.chunks_exact_mut(w.max(1)) {
                for (v, c) in row.iter_mut().zip(&cols) {
                    if let (
                        true,
                        Column::Numeric {
                            impute: Some(f), ..
                        },
                    ) = (v.is_nan(), c)
                    {
                        *v = *f;
                    }
                }
            }
            return Ok((cols, cells));
        }
        let out_w: usize = cols.iter().map(Column::width).sum();
        let mut out = vec![0.0; n * out_w];
        for (row, dst) in cells.chunks_exact(w).zip(out.chunks_exact_mut(out_w)) {
            let mut o = 0;
            for ((&v, c), remap) in row.iter().zip(&cols).zip(&remaps) {
                match c {
                    Column::Numeric { impute, .. } => {
                        dst[o] = if v.is_nan() { impute.unwrap_or(v) } else { v };
                    }
                    _ if v.is_nan() => {} // a missing category: a row of zeros
                    _ => dst[o + remap[v as usize] as usize] = 1.0,
                }
                o += c.width();
            }
        }
        Ok((cols, out))
    }
}

/// Whether `s` looks like a number with a decimal comma (`-?[0-9]+,[0-9]+`), which would
/// otherwise be read as a category.
fn decimal_comma(s: &str) -> bool {
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    let s = s.strip_prefix('-').unwrap_or(s);
    s.split_once(',')
        .is_some_and(|(a, b)| digits(a) && digits(b))
}

/// The fill value of a numeric column from its values (NaN = missing; at least one is not).
fn fill(impute: Impute, values: impl Iterator<Item = f32>) -> Option<f32> {
    let present = values.filter(|v| !v.is_nan());
    match impute {
        Impute::Error => None,
        Impute::Mean => {
            let (sum, n) = present.fold((0.0f64, 0usize), |(s, n), v| (s + v as f64, n + 1));
            Some((sum / n.max(1) as f64) as f32)
        }
        Impute::Median => {
            let mut v: Vec<f32> = present.collect();
            v.sort_unstable_by(f32::total_cmp);
            let m = v.len() / 2;
            Some(match v.len() {
                0 => 0.0,
                n if n % 2 == 1 => v[m],
                _ => ((v[m - 1] as f64 + v[m] as f64) / 2.0) as f32,
            })
        }
    }
}

// ---- targets ----

/// The canonical form of an integer label written `-?[0-9]+` (no leading zeros, no `-0`), or
/// `None` for anything else: `"007"` → `"7"`, `"-0"` → `"0"`, `"1.0"` → `None`.
pub fn canonical_integer(s: &str) -> Option<String> {
    let (neg, digits) = match s.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, s),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let magnitude = digits.trim_start_matches('0');
    Some(match (neg, magnitude) {
        (_, "") => "0".into(),
        (true, m) => format!("-{m}"),
        (false, m) => m.into(),
    })
}

/// Numeric order of two canonical integers of any length.
fn cmp_integers(a: &str, b: &str) -> Ordering {
    let key = |s: &str| -> (bool, usize, String) {
        let neg = s.starts_with('-');
        let m = s.trim_start_matches('-');
        (!neg, m.len(), m.to_string())
    };
    let ((pa, la, ma), (pb, lb, mb)) = (key(a), key(b));
    match (pa, pb) {
        (true, true) => (la, ma).cmp(&(lb, mb)),
        (false, false) => (lb, mb).cmp(&(la, ma)),
        (a, b) => a.cmp(&b),
    }
}

/// Class indices and names for labels, which are names, not indices: the classes are the
/// distinct labels, integers (`-?[0-9]+`, e.g. `"1"`, `"2"`; `"0"`, `"1"`, `"1000"`) in
/// numeric order with their canonical spelling (`"01"` is `"1"`), other numbers in numeric
/// order, and anything else in byte order.
///
/// ```
/// use backprop::data::class_labels;
/// assert_eq!(class_labels(&["2", "1", "2"]), (vec![1, 0, 1], vec!["1".into(), "2".into()]));
/// let (labels, names) = class_labels(&["1000", "0", "1"]);
/// assert_eq!((labels, names), (vec![2, 0, 1], vec!["0".into(), "1".into(), "1000".into()]));
/// assert_eq!(class_labels(&["b", "a"]).1, ["a", "b"]);
/// ```
pub fn class_labels<S: AsRef<str>>(values: &[S]) -> (Vec<u32>, Vec<String>) {
    let ints: Option<Vec<String>> = values
        .iter()
        .map(|s| canonical_integer(s.as_ref()))
        .collect();
    let keys: Vec<String> = match ints {
        Some(v) => v,
        None => values.iter().map(|s| s.as_ref().to_string()).collect(),
    };
    let mut names: Vec<String> = keys.clone();
    names.sort_unstable();
    names.dedup();
    let all_int = values
        .iter()
        .all(|s| canonical_integer(s.as_ref()).is_some());
    let nums: Option<Vec<f64>> = names
        .iter()
        .map(|s| s.parse::<f64>().ok().filter(|v| v.is_finite()))
        .collect();
    if all_int {
        names.sort_by(|a, b| cmp_integers(a, b));
    } else if let Some(nums) = nums {
        let mut pairs: Vec<(f64, String)> = nums.into_iter().zip(names).collect();
        pairs.sort_by(|a, b| a.0.total_cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
        names = pairs.into_iter().map(|p| p.1).collect();
    }
    let index: HashMap<&str, u32> = names
        .iter()
        .enumerate()
        .map(|(i, n)| (n.as_str(), i as u32))
        .collect();
    let labels = keys.iter().map(|k| index[k.as_str()]).collect();
    (labels, names)
}

/// Targets from raw target text (row-major, one field per target name): the
/// [`Task::Auto`] rule, then class labels by value, or numbers. `err(row, target, msg)` makes
/// the error for a bad field.
pub(crate) fn targets_from_text(
    text: &[String],
    names: Vec<String>,
    task: Task,
    err: impl Fn(usize, usize, String) -> Error,
) -> Result<Targets> {
    let k = names.len();
    let task = match task {
        Task::Classification if k > 1 => {
            return Err(Error::invalid(
                "targets",
                k,
                "one target column for classification",
            ))
        }
        Task::Auto if k == 1 && is_classification(text) => Task::Classification,
        Task::Auto => Task::Regression,
        task => task,
    };
    if task == Task::Classification {
        if let Some(i) = text.iter().position(String::is_empty) {
            return Err(err(
                i,
                0,
                "expected a class label, found an empty field".into(),
            ));
        }
        let (labels, names) = class_labels(text);
        return Ok(Targets::Classes { labels, names });
    }
    let mut data = Vec::with_capacity(text.len());
    for (i, s) in text.iter().enumerate() {
        data.push(number(s).map_err(|msg| err(i / k, i % k, msg))?);
    }
    Ok(Targets::Values { data, names })
}

// ---- npy arrays as tables ----

/// An npy value as label text: integral values as integers (`3.0` → `"3"`).
fn label_text(v: f32) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        v.to_string()
    }
}

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

fn target_names(k: usize) -> Vec<String> {
    if k == 1 {
        vec!["y".into()]
    } else {
        (0..k).map(|i| format!("y{i}")).collect()
    }
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
            columns.push(Column::Dropped { name });
        } else {
            kept.push(j);
            columns.push(Column::Numeric { name, impute: None });
        }
    }
    if kept.is_empty() || n == 0 {
        let msg = format!("expected at least one row and one feature column, found shape {xs:?} with {} target and {} dropped column(s)", tcols.len(), dcols.len());
        return Err(pe(0, "shape".into(), msg));
    }
    let names = kept
        .iter()
        .map(|&j| columns[j].name().to_string())
        .collect();
    let mut fitter = Fitter::new(names, opts.impute);
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
    let (fitted, features) = fitter
        .finish()
        .map_err(|(k, m)| pe(0, format!("column {}", kept[k] + 1), m))?;
    for (c, &j) in fitted.into_iter().zip(&kept) {
        columns[j] = c;
    }
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
    let plan = ColumnPlan {
        columns,
        header: false,
        impute: opts.impute,
    };
    let mut ds = Dataset::new(Features::F32(features), plan.out_features(), targets)?;
    ds.feature_names = plan.feature_names();
    ds.columns = Some(plan);
    Ok(ds)
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
                    plan.encode(p, Cell::Num(row[j]), &mut out[o..o + c.width()])
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
    })
}

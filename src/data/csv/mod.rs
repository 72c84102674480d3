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
//! - **Feature columns**: numbers, dates (a fractional year), or text one-hot encoded;
//!   identifiers and free text dropped (`--keep`), missing values (`--impute`) and dropped
//!   columns (`--drop`): see [`super::columns`], which fits the [`ColumnPlan`] that a model saves
//!   and [`read_csv_features`] applies. A row whose target is missing is left out and counted
//!   ([`MissingTarget`]); a default target (the last column) that looks like an identifier or
//!   free text is an error.
//! - **Task** and **classes**: see [`super::labels`] ([`Task::Auto`] decides from the values:
//!   at most [`AUTO_MAX_CLASSES`] distinct integers, or text, is classification).
//! - **Errors** name the file, the 1-based line, the column (1-based, with its header name) and
//!   what was expected. ±inf is rejected. CRLF line ends, blank lines and a UTF-8 byte-order
//!   mark are fine.

//!
//! The files: `rows.rs` reads the text (delimiter, records, errors), `layout.rs` finds the
//! header, targets and dropped columns, `train.rs` reads a file for training (its rows fit a
//! [`ColumnPlan`]), `predict.rs` reads one by a model's plan, and `scan.rs` reads one for a model
//! from before plans (numbers only).

mod layout;
mod predict;
mod rows;
mod scan;
mod train;

pub use self::rows::sniff_delimiter;
pub use self::train::read_csv_from;
pub use crate::data::labels::{Task, AUTO_MAX_CLASSES};

use self::rows::open;
use crate::data::columns::plan::{ColumnPlan, Impute};
use crate::data::Dataset;
use crate::error::Result;
use std::io::Read;
use std::path::Path;

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
    /// Text columns kept as categories even if they look like an identifier or free text
    /// (`--keep`), by name or index.
    pub keep: Vec<TargetColumn>,
    /// A column of per-row sample weights (`--sample-weight`), by name or index: read as numbers
    /// ≥ 0 into [`Dataset::weights`](crate::data::Dataset::weights), never a feature (the plan
    /// lists it as dropped, so predict and evaluate leave it out).
    pub weight: Option<TargetColumn>,
    /// Rows whose target value is missing (empty, `NA`, …): left out (counted in the plan's
    /// stats) or an error (`--missing-target`).
    pub missing_target: MissingTarget,
    /// Reading by a model's plan: a category the model never saw is a row of zeros (counted in
    /// [`FeatureTable::unseen`]) or an error (`--unknown`).
    pub unknown: Unknown,
    /// Reading by a model's plan: a key column whose values are returned per row in
    /// [`FeatureTable::ids`] (`predict --id`), by name or index.
    pub id: Option<TargetColumn>,
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
            keep: Vec::new(),
            weight: None,
            missing_target: MissingTarget::Skip,
            unknown: Unknown::Zeros,
            id: None,
            columns: None,
        }
    }
}

/// What to do with a row whose target value is missing (`--missing-target`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MissingTarget {
    /// Leave the row out of training (or evaluation), and count it.
    #[default]
    Skip,
    /// An error naming the file, line and column.
    Error,
}

/// What to do with a category a model never saw (`--unknown`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Unknown {
    /// All zeros for that column's one-hot features (scikit-learn's
    /// `OneHotEncoder(handle_unknown="ignore")`), counted in [`FeatureTable::unseen`].
    #[default]
    Zeros,
    /// An error naming the file, line, column and value.
    Error,
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
    /// The 1-based line of each row in the file (empty where rows have no lines).
    pub lines: Vec<u64>,
    /// Per column that had any: its name and how many of its values were categories the model
    /// never saw (read as all zeros).
    pub unseen: Vec<(String, usize)>,
    /// Columns of the file (by header name) that the model does not use: left out.
    pub ignored: Vec<String>,
    /// The `opts.id` column's value in each row (empty without one).
    pub ids: Vec<String>,
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

/// Reads features for prediction with the training layout of `opts`; the target columns may be
/// present (their text is returned) or absent.
///
/// With `opts.columns` (a model's [`ColumnPlan`]), the plan decides: a file with a header is
/// matched by column name (any order; a dropped column may be absent; a column the model does
/// not know is left out and named in [`FeatureTable::ignored`]), a file without by position (the training
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
        return predict::features_by_plan(reader, name.as_ref(), opts, plan);
    }
    scan::features_without_plan(reader, name.as_ref(), opts, expected)
}

//! The column plan itself: one [`Column`] per raw column of a table, saved in a model and
//! checked on load ([`ColumnPlan::validate`]). See [`super`] for what each kind means.

use serde::{Deserialize, Serialize};

/// More distinct text values than this in one column is an error when fitting a plan.
pub const MAX_CATEGORIES: usize = 1000;

/// What to do with a missing feature value (`--impute`; the command line's default is
/// [`Impute::Median`], the library's [`Impute::Error`]).
///
/// When filling, a category gets its most frequent level (scikit-learn's `SimpleImputer`
/// default for text, `strategy="most_frequent"`): a row then looks like the commonest row,
/// which the network has seen most; a model saved before this (no fill level) reads a missing
/// category as a row of zeros.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Impute {
    /// A missing value is an error naming the file, line and column.
    #[default]
    Error,
    /// Fill a number or date with the column's mean (a category with its most frequent level).
    Mean,
    /// Fill a number or date with the column's median (a category with its most frequent
    /// level), as scikit-learn's `SimpleImputer(strategy="median")`: robust to a few extreme values.
    Median,
}

/// Why a column is left out.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DropReason {
    /// The user asked (`--drop`).
    #[default]
    User,
    /// Text without spaces (most values) that is different in most rows: more than
    /// [`TEXT_MIN_DISTINCT`] of its values distinct, more than [`ROLE_MIN_VALUES`] values
    /// (`N1A2`, `user17`, `PAL0708-17`). `--keep` keeps it as a category.
    Identifier,
    /// Words (a space in most values) that are different in most rows — more than
    /// [`TEXT_MIN_DISTINCT`] distinct, more than [`ROLE_MIN_VALUES`] values (names, titles) —
    /// or long: a mean length over [`TEXT_MIN_LENGTH`] characters with more than
    /// [`LONG_MIN_DISTINCT`] of the values distinct (comments). `--keep` keeps it as a category.
    FreeText,
    /// The per-row sample weights (`--sample-weight`): read for training, never a feature.
    SampleWeight,
}

impl DropReason {
    fn is_user(&self) -> bool {
        *self == DropReason::User
    }
}

/// A text column needs more values than this (not missing) to be an identifier or free text.
pub const ROLE_MIN_VALUES: usize = 20;
/// More than this fraction of distinct values (of those not missing) makes a text column an
/// identifier (without spaces) or free text (with).
pub const TEXT_MIN_DISTINCT: f64 = 0.5;
/// A mean length (characters) over this, with spaces in most values, makes a text column free
/// text when more than [`LONG_MIN_DISTINCT`] of its values are distinct.
pub const TEXT_MIN_LENGTH: f64 = 30.0;
/// See [`TEXT_MIN_LENGTH`]: long class names (`Adelie Penguin (Pygoscelis adeliae)`) repeat.
pub const LONG_MIN_DISTINCT: f64 = 0.1;

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
        /// The category a missing value gets (its most frequent level, when imputing); `None`:
        /// a row of zeros, or an error with [`Impute::Error`].
        #[serde(default, skip_serializing_if = "Option::is_none")]
        fill: Option<String>,
    },
    /// An ISO date (`2007-11-09`) or date-time (`2007-11-09T13:45:00`, `2007-11-09 13:45`,
    /// with an optional `Z` or `±hh:mm` that is ignored) read as a fractional year (2007.857…):
    /// one feature, a number, so that a later date is a larger value the network can extrapolate to.
    Date {
        /// The header name, or `x<i>` without a header.
        name: String,
        /// The fractional year a missing date gets (as a number's fill).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        impute: Option<f32>,
    },
    /// Never read: `--drop`, or text found to be an identifier or free text.
    Dropped {
        /// The header name, or `x<i>` without a header.
        name: String,
        /// Why.
        #[serde(default, skip_serializing_if = "DropReason::is_user")]
        reason: DropReason,
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
            | Column::Date { name, .. }
            | Column::Dropped { name, .. }
            | Column::Target { name, .. } => name,
        }
    }

    /// The number of features it gives: 1, the number of categories, or 0.
    pub fn width(&self) -> usize {
        match self {
            Column::Numeric { .. } | Column::Date { .. } => 1,
            Column::Categorical { categories, .. } => categories.len(),
            Column::Dropped { .. } | Column::Target { .. } => 0,
        }
    }

    pub(crate) fn is_feature(&self) -> bool {
        matches!(
            self,
            Column::Numeric { .. } | Column::Categorical { .. } | Column::Date { .. }
        )
    }

    /// Whether it is read as one number (a numeric or date column).
    pub(crate) fn is_number(&self) -> bool {
        matches!(self, Column::Numeric { .. } | Column::Date { .. })
    }

    /// The fill value of a numeric or date column.
    pub(crate) fn number_fill(&self) -> Option<f32> {
        match self {
            Column::Numeric { impute, .. } | Column::Date { impute, .. } => *impute,
            _ => None,
        }
    }
}

/// How a table's raw columns map to features (see the [module docs](super)).
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
/// assert_eq!(plan.columns[0], Column::Dropped { name: "id".into(), reason: Default::default() });
/// assert_eq!(plan.out_features(), 3);
/// # Ok::<(), backprop::Error>(())
/// ```
#[derive(Clone, Debug, Serialize, Deserialize)]
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
    /// The columns given to `--keep` (kept as categories whatever they look like), by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kept: Vec<String>,
    /// What the training file held (rows, missing values, levels, ranges): for the printed
    /// plan, not saved in a model (`None` there) and not compared by `==`.
    #[serde(skip)]
    pub stats: Option<PlanStats>,
}

impl PartialEq for ColumnPlan {
    fn eq(&self, other: &Self) -> bool {
        (&self.columns, self.header, self.impute) == (&other.columns, other.header, other.impute)
    }
}

/// What a plan was fitted on, column by column (for [`ColumnPlan::stats`]).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct PlanStats {
    /// Data rows read, those without a target included.
    pub rows: usize,
    /// Rows left out because a target value was missing.
    pub missing_targets: usize,
    /// Per raw column: missing values among the rows kept.
    pub missing: Vec<usize>,
    /// Per raw column: distinct text values (0 for a numeric column).
    pub distinct: Vec<usize>,
    /// Per raw column: values not missing.
    pub present: Vec<usize>,
    /// Per raw column: the smallest and largest number (a date's as a fractional year).
    pub range: Vec<Option<(f32, f32)>>,
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
                Column::Date { name, .. } => out.push(name.clone()),
                Column::Categorical {
                    name, categories, ..
                } => out.extend(categories.iter().map(|k| format!("{name}={k}"))),
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
                Column::Categorical {
                    name,
                    categories,
                    fill,
                } if fill.as_ref().is_some_and(|f| !categories.contains(f)) => {
                    return Err(format!(
                        "column plan: the fill level of \"{name}\" is not one of its categories"
                    ));
                }
                Column::Categorical {
                    name, categories, ..
                } if categories.is_empty() || categories.windows(2).any(|w| w[0] >= w[1]) => {
                    return Err(format!(
                        "column plan: the categories of \"{name}\" are not sorted, distinct and non-empty"
                    ));
                }
                Column::Numeric {
                    name,
                    impute: Some(v),
                }
                | Column::Date {
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
}

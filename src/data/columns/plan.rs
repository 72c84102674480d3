//! The column plan itself: one [`Column`] per raw column of a table, saved in a model and
//! checked on load ([`ColumnPlan::validate`]). See [`super`] for what each kind means.

use serde::{Deserialize, Serialize};

/// More distinct text values than this in one column is an error when fitting a plan.
pub const MAX_CATEGORIES: usize = 1000;

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

    pub(crate) fn is_feature(&self) -> bool {
        matches!(self, Column::Numeric { .. } | Column::Categorical { .. })
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
}

//! Applying a column plan: the features of one field ([`ColumnPlan::encode`], for rows read
//! for `predict` and `evaluate`), and of the training rows the plan was just fitted on
//! ([`encode_fitted`]).

use super::plan::{Column, ColumnPlan, Impute};
use crate::data::cell::{date_year, is_missing, missing, value, Cell, Value, PREDICT_HINT};

/// What a field that [`ColumnPlan::encode`] read became, besides its features.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Encoded {
    /// Read as the plan says (or filled).
    Known,
    /// A category the model never saw: a row of zeros.
    Unseen,
}

impl ColumnPlan {
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

    /// Writes column `p`'s features for one field into `out` (its `width()` slots). A category
    /// the model never saw is a row of zeros ([`Encoded::Unseen`]), or an error when
    /// `refuse_unseen`.
    pub(crate) fn encode(
        &self,
        p: usize,
        cell: Cell<'_>,
        out: &mut [f32],
        refuse_unseen: bool,
    ) -> std::result::Result<Encoded, String> {
        match &self.columns[p] {
            Column::Numeric { impute, .. } => {
                out[0] = match value(cell)? {
                    Value::Number(v) => v,
                    Value::Missing => impute.ok_or_else(|| missing(cell, PREDICT_HINT))?,
                    Value::Text(s) => return Err(format!("expected a number, found \"{s}\"")),
                };
            }
            Column::Date { impute, .. } => {
                out[0] = match value(cell)? {
                    Value::Missing => impute.ok_or_else(|| missing(cell, PREDICT_HINT))?,
                    Value::Text(s) => match date_year(s) {
                        Some(y) => y as f32,
                        None => return Err(format!(
                            "expected an ISO date (2007-11-09, or 2007-11-09T13:45:00), found \"{s}\""
                        )),
                    },
                    Value::Number(v) => v, // a fractional year as a number
                };
            }
            Column::Categorical {
                categories, fill, ..
            } => return self.category(categories, fill.as_deref(), cell, out, refuse_unseen),
            Column::Dropped { .. } | Column::Target { .. } => {}
        }
        Ok(Encoded::Known)
    }

    fn category(
        &self,
        categories: &[String],
        fill: Option<&str>,
        cell: Cell<'_>,
        out: &mut [f32],
        refuse_unseen: bool,
    ) -> std::result::Result<Encoded, String> {
        let text = match cell {
            Cell::Text(s) => s.to_string(),
            Cell::Num(v) => v.to_string(),
        };
        out[..categories.len()].fill(0.0);
        let text = if is_missing(&text) || matches!(cell, Cell::Num(v) if v.is_nan()) {
            match (self.impute, fill) {
                (Impute::Error, _) => return Err(missing(cell, PREDICT_HINT)),
                (_, Some(f)) => f.to_string(),
                (_, None) => return Ok(Encoded::Known), // a model from before fill levels
            }
        } else {
            text
        };
        match categories.binary_search_by(|c| c.as_str().cmp(&text)) {
            Ok(i) => out[i] = 1.0,
            Err(_) if refuse_unseen => {
                return Err(format!(
                    "unknown category \"{text}\": the model knows {} (without --unknown error, an unseen category is read as all zeros)",
                    list(categories)
                ))
            }
            Err(_) => return Ok(Encoded::Unseen),
        }
        Ok(Encoded::Known)
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

/// The plan's columns that a file of `n` columns (after `--drop`) holds by position: all of
/// them, or all but the targets.
pub(crate) fn positional(plan: &ColumnPlan, n: usize) -> Option<Vec<usize>> {
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

/// The features of the training rows a plan's feature columns `cols` were fitted on: `cells`
/// holds one value per column and row, row-major (NaN where missing; a category's code in the
/// order first seen; a date's fractional year), and `remaps[k]` turns column `k`'s codes into
/// category indices. Dropped columns give nothing.
pub(crate) fn encode_fitted(cols: &[Column], remaps: &[Vec<u32>], mut cells: Vec<f32>) -> Vec<f32> {
    let w = cols.len();
    let n = cells.len() / w.max(1);
    if cols.iter().all(Column::is_number) {
        // the common case: numbers only, filled in place
        for row in cells.chunks_exact_mut(w.max(1)) {
            for (v, c) in row.iter_mut().zip(cols) {
                if let (true, Some(f)) = (v.is_nan(), c.number_fill()) {
                    *v = f;
                }
            }
        }
        return cells;
    }
    // each category's fill level as an index
    let fills: Vec<Option<usize>> = cols
        .iter()
        .map(|c| match c {
            Column::Categorical {
                categories,
                fill: Some(f),
                ..
            } => categories.iter().position(|k| k == f),
            _ => None,
        })
        .collect();
    let out_w: usize = cols.iter().map(Column::width).sum();
    let mut out = vec![0.0; n * out_w];
    for (row, dst) in cells.chunks_exact(w).zip(out.chunks_exact_mut(out_w)) {
        let mut o = 0;
        for (k, (&v, c)) in row.iter().zip(cols).enumerate() {
            match c {
                c if c.is_number() => {
                    dst[o] = if v.is_nan() {
                        c.number_fill().unwrap_or(v)
                    } else {
                        v
                    };
                }
                Column::Categorical { .. } if v.is_nan() => {
                    if let Some(i) = fills[k] {
                        dst[o + i] = 1.0;
                    } // else a missing category: a row of zeros
                }
                Column::Categorical { .. } => dst[o + remaps[k][v as usize] as usize] = 1.0,
                _ => {}
            }
            o += c.width();
        }
    }
    out
}

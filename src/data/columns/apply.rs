//! Applying a column plan: the features of one field ([`ColumnPlan::encode`], for rows read
//! for `predict` and `evaluate`), and of the training rows the plan was just fitted on
//! ([`encode_fitted`]).

use super::plan::{Column, ColumnPlan, Impute};
use crate::data::cell::{is_missing, missing, value, Cell, Value, PREDICT_HINT};

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
/// order first seen), and `remaps[k]` turns column `k`'s codes into category indices.
pub(crate) fn encode_fitted(cols: &[Column], remaps: &[Vec<u32>], mut cells: Vec<f32>) -> Vec<f32> {
    let w = cols.len();
    let n = cells.len() / w.max(1);
    if cols.iter().all(|c| matches!(c, Column::Numeric { .. })) {
        // the common case: numbers only, filled in place
        for row in cells.chunks_exact_mut(w.max(1)) {
            for (v, c) in row.iter_mut().zip(cols) {
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
        return cells;
    }
    let out_w: usize = cols.iter().map(Column::width).sum();
    let mut out = vec![0.0; n * out_w];
    for (row, dst) in cells.chunks_exact(w).zip(out.chunks_exact_mut(out_w)) {
        let mut o = 0;
        for ((&v, c), remap) in row.iter().zip(cols).zip(remaps) {
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
    out
}

//! Fitting a column plan's feature columns on the rows given to training: each column's kind
//! (numeric or categorical), its categories, and its fill value for missing values.

use super::apply::encode_fitted;
use super::plan::{Column, Impute, MAX_CATEGORIES};
use crate::data::cell::{missing, value, Cell, Value, FIT_HINT};
use std::collections::HashMap;

/// A text column with more values than this, all different, is an identifier (an error when
/// fitting a plan: one-hot encoding it would teach nothing).
const ID_MIN_ROWS: usize = 20;

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
                    let (column, remap) = categorical(name, names, count).map_err(|m| (k, m))?;
                    cols.push(column);
                    remaps.push(remap);
                }
            }
        }
        let features = encode_fitted(&cols, &remaps, self.cells);
        Ok((cols, features))
    }
}

/// A text column of `names` (distinct, in the order first seen; `count` values in all) as a
/// categorical column, and the map from first-seen codes to category indices.
fn categorical(
    name: String,
    names: Vec<String>,
    count: usize,
) -> std::result::Result<(Column, Vec<u32>), String> {
    if names.len() == count && count > ID_MIN_ROWS {
        return Err(format!(
            "every one of its {count} values is different: an identifier, not a category? --drop the column"
        ));
    }
    if names.len() > MAX_CATEGORIES {
        return Err(format!(
            "{} distinct text values, more than the {MAX_CATEGORIES} categories one-hot encoding takes: an identifier or free text? --drop the column",
            names.len()
        ));
    }
    let mut order: Vec<usize> = (0..names.len()).collect();
    order.sort_by(|&a, &b| names[a].cmp(&names[b]));
    let mut remap = vec![0u32; names.len()];
    for (new, &old) in order.iter().enumerate() {
        remap[old] = new as u32;
    }
    let categories = order.iter().map(|&i| names[i].clone()).collect();
    Ok((Column::Categorical { name, categories }, remap))
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

//! Fitting a column plan's feature columns on the rows given to training: each column's role
//! (number, category, date, or dropped as an identifier or free text), its categories, and its
//! fill value for missing values.

use super::apply::encode_fitted;
use super::plan::{
    Column, DropReason, Impute, LONG_MIN_DISTINCT, MAX_CATEGORIES, ROLE_MIN_VALUES,
    TEXT_MIN_DISTINCT, TEXT_MIN_LENGTH,
};
use crate::data::cell::{date_year, missing, value, Cell, Value, FIT_HINT};
use std::collections::HashMap;

/// What a column has shown so far while fitting.
enum Kind {
    /// Only missing values.
    Unknown,
    Numeric,
    Text(Box<Text>),
}

/// A text column's distinct values (by first-seen code) and what they look like.
struct Text {
    index: HashMap<String, u32>,
    names: Vec<String>,
    /// How many times each value was seen.
    counts: Vec<usize>,
    first: String,
    line: u64,
    /// Values seen (not missing).
    count: usize,
    /// Characters of every value, and values with a space.
    chars: usize,
    spaced: usize,
    /// Whether every distinct value so far is an ISO date.
    dates: bool,
}

/// What one fitted column held (for [`PlanStats`](super::plan::PlanStats)).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Seen {
    pub(crate) missing: usize,
    pub(crate) present: usize,
    pub(crate) distinct: usize,
    pub(crate) range: Option<(f32, f32)>,
}

/// The fitted columns, what each held, and the features (row-major).
pub(crate) type Fitted = (Vec<Column>, Vec<Seen>, Vec<f32>);

/// Fits the feature columns of a plan from rows given one field at a time, keeping the values
/// row-major (NaN where missing; a category's first-seen code) until [`Fitter::finish`].
pub(crate) struct Fitter {
    names: Vec<String>,
    kinds: Vec<Kind>,
    impute: Impute,
    keep: Vec<bool>,
    missing: Vec<usize>,
    cells: Vec<f32>,
}

impl Fitter {
    /// A fitter for the feature columns named `names` (in row order); `keep[k]`: column `k` is
    /// a category even if it looks like an identifier or free text (`--keep`).
    pub(crate) fn new(names: Vec<String>, impute: Impute, keep: Vec<bool>) -> Fitter {
        let kinds = names.iter().map(|_| Kind::Unknown).collect();
        Fitter {
            missing: vec![0; names.len()],
            names,
            kinds,
            impute,
            keep,
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
            Value::Missing => {
                self.missing[k] += 1;
                f32::NAN
            }
            Value::Number(v) => match &self.kinds[k] {
                Kind::Unknown | Kind::Numeric => {
                    self.kinds[k] = Kind::Numeric;
                    v
                }
                Kind::Text(t) => {
                    let s = match cell {
                        Cell::Text(s) => s.to_string(),
                        Cell::Num(v) => v.to_string(),
                    };
                    return Err(format!(
                        "expected text like the column's other values (\"{}\" on line {}), found the number \"{s}\": a column is all numbers or all text",
                        t.first, t.line
                    ));
                }
            },
            Value::Text(s) if decimal_comma(s) => {
                return Err(format!(
                    "expected a number, found \"{s}\": write numbers with a decimal point (1.5, not 1,5)"
                ))
            }
            Value::Text(s) => self.text(k, s, line)?,
        };
        self.cells.push(v);
        Ok(())
    }

    /// A text value of column `k`: its first-seen code.
    fn text(&mut self, k: usize, s: &str, line: u64) -> std::result::Result<f32, String> {
        if let Kind::Unknown = self.kinds[k] {
            self.kinds[k] = Kind::Text(Box::new(Text {
                index: HashMap::new(),
                names: Vec::new(),
                counts: Vec::new(),
                first: s.to_string(),
                line,
                count: 0,
                chars: 0,
                spaced: 0,
                dates: true,
            }));
        }
        let Kind::Text(t) = &mut self.kinds[k] else {
            return Err(format!("expected a number, found \"{s}\""));
        };
        t.count += 1;
        t.chars += s.chars().count();
        t.spaced += usize::from(s.contains(' '));
        let next = t.names.len() as u32;
        let code = match t.index.get(s) {
            Some(&c) => c,
            None => {
                t.index.insert(s.to_string(), next);
                t.names.push(s.to_string());
                t.counts.push(0);
                t.dates &= date_year(s).is_some();
                next
            }
        };
        t.counts[code as usize] += 1;
        Ok(code as f32)
    }

    /// The fitted columns (in the order of `names`), what each held, and the features,
    /// row-major with `out_features` values per row; or the feature column that cannot be used
    /// and why.
    pub(crate) fn finish(mut self) -> std::result::Result<Fitted, (usize, String)> {
        let w = self.kinds.len();
        let n = self.cells.len() / w.max(1);
        let mut cols = Vec::with_capacity(w);
        let mut seen = Vec::with_capacity(w);
        let mut remaps: Vec<Vec<u32>> = Vec::with_capacity(w);
        let kinds = std::mem::take(&mut self.kinds);
        let names = std::mem::take(&mut self.names);
        for (k, (kind, name)) in kinds.into_iter().zip(names).enumerate() {
            let mut s = Seen {
                missing: self.missing[k],
                present: n - self.missing[k],
                ..Seen::default()
            };
            let (column, remap) = match kind {
                Kind::Unknown => {
                    return Err((k, "every value is missing (--drop the column)".into()))
                }
                Kind::Numeric => {
                    let values = || (0..n).map(|i| self.cells[i * w + k]);
                    s.range = range(values());
                    let impute = fill(self.impute, values());
                    (Column::Numeric { name, impute }, vec![])
                }
                Kind::Text(t) if t.dates => {
                    s.distinct = t.names.len();
                    let years: Vec<f64> = t.names.iter().filter_map(|d| date_year(d)).collect();
                    for i in 0..n {
                        let c = &mut self.cells[i * w + k];
                        if !c.is_nan() {
                            *c = years[*c as usize] as f32;
                        }
                    }
                    let values = || (0..n).map(|i| self.cells[i * w + k]);
                    s.range = range(values());
                    let impute = fill(self.impute, values());
                    (Column::Date { name, impute }, vec![])
                }
                Kind::Text(t) => {
                    s.distinct = t.names.len();
                    let keep = self.keep[k];
                    text_column(name, *t, keep, self.impute).map_err(|m| (k, m))?
                }
            };
            cols.push(column);
            seen.push(s);
            remaps.push(remap);
        }
        let features = encode_fitted(&cols, &remaps, self.cells);
        Ok((cols, seen, features))
    }
}

/// The role text values suggest: an identifier, free text, or (`None`) a category. See
/// [`DropReason`] for the rules.
pub(crate) fn text_role(
    distinct: usize,
    count: usize,
    chars: usize,
    spaced: usize,
) -> Option<DropReason> {
    let share = distinct as f64 / count.max(1) as f64;
    let many = count > ROLE_MIN_VALUES;
    let words = 2 * spaced > count;
    let long = chars as f64 / count.max(1) as f64 > TEXT_MIN_LENGTH;
    match words {
        false if many && share > TEXT_MIN_DISTINCT => Some(DropReason::Identifier),
        true if (many && share > TEXT_MIN_DISTINCT) || (long && share > LONG_MIN_DISTINCT) => {
            Some(DropReason::FreeText)
        }
        _ => None,
    }
}

/// The role of a column's raw text values (missing ones skipped), as [`text_role`]; `None`
/// when a value is a number (not a text column).
pub(crate) fn role_of<'a>(values: impl Iterator<Item = &'a str>) -> Option<DropReason> {
    let mut set = std::collections::HashSet::new();
    let (mut count, mut chars, mut spaced) = (0, 0, 0);
    for s in values.filter(|s| !crate::data::cell::is_missing(s)) {
        if s.parse::<f32>().is_ok() {
            return None;
        }
        count += 1;
        chars += s.chars().count();
        spaced += usize::from(s.contains(' '));
        set.insert(s);
    }
    text_role(set.len(), count, chars, spaced)
}

/// A text column as a category, or dropped as an identifier or free text (unless `keep`), and
/// the map from first-seen codes to category indices.
fn text_column(
    name: String,
    t: Text,
    keep: bool,
    impute: Impute,
) -> std::result::Result<(Column, Vec<u32>), String> {
    let role = text_role(t.names.len(), t.count, t.chars, t.spaced);
    if let (Some(reason), false) = (role, keep) {
        return Ok((Column::Dropped { name, reason }, vec![]));
    }
    let names = t.names;
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
    // the most frequent level; ties go to the first in sorted order (as scikit-learn's)
    let fill = (impute != Impute::Error).then(|| {
        let mut best = order[0];
        for &i in &order {
            if t.counts[i] > t.counts[best] {
                best = i;
            }
        }
        names[best].clone()
    });
    let categories = order.iter().map(|&i| names[i].clone()).collect();
    let column = Column::Categorical {
        name,
        categories,
        fill,
    };
    Ok((column, remap))
}

/// Whether `s` looks like a number with a decimal comma (`-?[0-9]+,[0-9]+`), which would
/// otherwise be read as a category.
fn decimal_comma(s: &str) -> bool {
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    let s = s.strip_prefix('-').unwrap_or(s);
    s.split_once(',')
        .is_some_and(|(a, b)| digits(a) && digits(b))
}

/// The smallest and largest of the values that are not NaN.
fn range(values: impl Iterator<Item = f32>) -> Option<(f32, f32)> {
    values.filter(|v| !v.is_nan()).fold(None, |r, v| match r {
        None => Some((v, v)),
        Some((a, b)) => Some((a.min(v), b.max(v))),
    })
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

//! Where the columns of a CSV file are: whether the first row is a header, and which columns
//! are targets or dropped (by index, name or pattern); see the [module docs](super).

use super::rows::{is_num, is_text};
use super::{CsvOptions, TargetColumn};
use crate::data::cell::is_missing;
use crate::error::{Error, Result};
use ::csv::StringRecord;

/// Rows after the first that decide whether the first is a header.
pub(super) const SAMPLE_ROWS: usize = 1000;

/// What becomes of a raw column while reading.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Slot {
    /// Feature column `k` (training: among the kept columns; prediction: plan column `k`).
    Feature(usize),
    /// Target `t`, in the order the targets are learned.
    Target(usize),
    Skip,
}

/// The target columns asked for: `opts.target`, then `opts.targets`.
pub(super) fn wanted(opts: &CsvOptions) -> Vec<TargetColumn> {
    std::iter::once(&opts.target)
        .chain(&opts.targets)
        .cloned()
        .collect()
}

/// Whether `cols` or `drop` give a column by name.
pub(super) fn named(cols: &[TargetColumn], drop: &[TargetColumn]) -> bool {
    cols.iter()
        .chain(drop)
        .any(|c| matches!(c, TargetColumn::Name(_)))
}

/// Whether the first row is a header as far as the options tell: `opts.header`, else yes when
/// a target or dropped column is given by name and the first row is not all numbers.
pub(super) fn header_given(opts: &CsvOptions, row1: &[String]) -> Option<bool> {
    let named =
        named(&wanted(opts), &opts.drop) || matches!(opts.weight, Some(TargetColumn::Name(_)));
    opts.header
        .or((named && !row1.iter().all(|s| is_num(s))).then_some(true))
}

/// Whether the first row is a header (see the [module docs](self)); `sample` is the rows below.
pub(super) fn detect_header(
    row1: &[String],
    sample: &[StringRecord],
    tcols: &[usize],
    dcols: &[usize],
) -> bool {
    let below = |j: usize| {
        sample
            .iter()
            .filter_map(move |r| r.get(j))
            .filter(|s| !is_missing(s))
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
pub(super) fn resolve(
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

pub(super) fn is_pattern(s: &str) -> bool {
    s.contains('*') || s.contains('?')
}

/// Shell-style matching of a whole column name: `*` any run of characters, `?` one character.
pub(super) fn glob_match(pattern: &str, name: &str) -> bool {
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

//! Class labels and targets from raw target text, shared by the CSV and npy readers: the
//! [`Task::Auto`] rule (classification or regression), class indices by label value
//! ([`class_labels`]), and the names targets get without a header (`y`, or `y0, y1, …`).
//!
//! - **Task** ([`Task::Auto`]): classification when there is one target column and its values
//!   are not all numbers, or are all integers (written `-?[0-9]+`) with at most
//!   [`AUTO_MAX_CLASSES`] distinct values; regression otherwise (several target columns,
//!   fractional values such as `1.0`, or more distinct integers).
//! - **Classes** are the distinct labels, by value: labels `1, 2` are two classes named `"1"`
//!   and `"2"` (sorted numerically), string labels are sorted in byte order.

use super::cell::number;
use super::Targets;
use crate::error::{Error, Result};
use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};

/// With [`Task::Auto`], integer targets with more distinct values than this mean regression.
pub const AUTO_MAX_CLASSES: usize = 20;

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

/// The [`Task::Auto`] rule on raw target text, shared by CSV and npy (empty fields are ignored;
/// see the [module docs](self)).
pub(crate) fn is_classification<S: AsRef<str>>(values: &[S]) -> bool {
    let mut distinct = HashSet::new();
    let mut all_int = true;
    for s in values.iter().map(AsRef::as_ref).filter(|s| !s.is_empty()) {
        if s.parse::<f32>().is_err() {
            return true;
        }
        if all_int {
            let digits = s.strip_prefix('-').unwrap_or(s);
            let magnitude = digits.trim_start_matches('0');
            all_int = !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit());
            distinct.insert((s.starts_with('-') && !magnitude.is_empty(), magnitude));
            all_int &= distinct.len() <= AUTO_MAX_CLASSES;
        }
    }
    all_int
}

/// An npy value as label text: integral values as integers (`3.0` → `"3"`).
pub(crate) fn label_text(v: f32) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        v.to_string()
    }
}

/// `y` for one target, `y<t>` for several (`k` of them): a target's name without a header.
pub(crate) fn target_name(t: usize, k: usize) -> String {
    if k == 1 {
        "y".into()
    } else {
        format!("y{t}")
    }
}

/// The names of `k` targets without a header: `y`, or `y0, y1, …`.
pub(crate) fn target_names(k: usize) -> Vec<String> {
    (0..k).map(|t| target_name(t, k)).collect()
}

//! One field of a table row, as read (CSV text or an npy number), and what it holds: a missing
//! value, a number or text. Shared by the readers, fitting a column plan and applying one.

/// One field of a row: CSV text, or an npy number.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Cell<'a> {
    Text(&'a str),
    Num(f32),
}

/// A field read as a value.
pub(crate) enum Value<'a> {
    Missing,
    Number(f32),
    Text(&'a str),
}

/// Whether a text field is a missing value: empty, `NA`, `N/A`, `NaN`, `?` (any case).
///
/// ```
/// use backprop::data::columns::is_missing;
/// assert!(is_missing("") && is_missing("N/A") && is_missing("nan") && is_missing("?"));
/// assert!(!is_missing("0") && !is_missing("none"));
/// ```
pub fn is_missing(s: &str) -> bool {
    s.is_empty()
        || s == "?"
        || ["na", "n/a", "nan"]
            .iter()
            .any(|m| s.eq_ignore_ascii_case(m))
}

/// What a field holds, or the message for a non-finite number.
pub(crate) fn value(cell: Cell<'_>) -> std::result::Result<Value<'_>, String> {
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

/// A parsed finite `f32`, or the message saying what was found instead.
pub(crate) fn number(s: &str) -> std::result::Result<f32, String> {
    match s.parse::<f32>() {
        Ok(v) if v.is_finite() => Ok(v),
        Ok(_) => Err(format!("expected a finite number, found \"{s}\"")),
        Err(_) => Err(format!("expected a number, found \"{s}\"")),
    }
}

/// The hint of a missing value while fitting a plan.
pub(crate) const FIT_HINT: &str = "--impute mean or --impute median fills missing values";
/// The hint of a missing value while applying a plan fitted without imputation.
pub(crate) const PREDICT_HINT: &str =
    "the model was trained without --impute, so it has no fill value";

/// The message for a missing value in `cell`, with `hint` saying what would fill it.
pub(crate) fn missing(cell: Cell<'_>, hint: &str) -> String {
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

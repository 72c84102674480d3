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

/// An ISO date `YYYY-MM-DD`, or a date-time `YYYY-MM-DDThh:mm[:ss[.fff]]` (`T` or a space;
/// a trailing `Z` or `±hh[:mm]` is ignored), as a fractional year: the year plus the fraction
/// of it gone by (`2000-07-02` → 2000.5). `None` for anything else.
pub(crate) fn date_year(s: &str) -> Option<f64> {
    let b = s.as_bytes();
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        let t = s.get(r)?;
        (!t.is_empty() && t.bytes().all(|c| c.is_ascii_digit())).then(|| t.parse().ok())?
    };
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let days = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if !(1..=12).contains(&month) || day == 0 || day > days[month as usize - 1] {
        return None;
    }
    let seconds = match &s[10..] {
        "" => 0.0,
        rest => time_of_day(rest)?,
    };
    let before: u32 = days[..month as usize - 1].iter().sum::<u32>() + day - 1;
    let in_year = if leap { 366.0 } else { 365.0 };
    Some(year as f64 + (before as f64 + seconds / 86_400.0) / in_year)
}

/// `Thh:mm[:ss[.fff]][Z|±hh[:mm]]` (or with a space for `T`) as seconds into the day.
fn time_of_day(rest: &str) -> Option<f64> {
    let t = rest.strip_prefix(['T', ' '])?;
    let t = t.strip_suffix('Z').unwrap_or(t);
    // an offset after the seconds: ignored (the local time of day is what was written)
    let t = match t.get(5..).and_then(|r| r.find(['+', '-'])) {
        Some(i) => &t[..5 + i],
        None => t,
    };
    let mut parts = t.split(':');
    let h: f64 = digits(parts.next()?)?;
    let m: f64 = digits(parts.next()?)?;
    let sec: f64 = match parts.next() {
        Some(p) => p
            .parse::<f64>()
            .ok()
            .filter(|v| (0.0..61.0).contains(v) && p.as_bytes()[0].is_ascii_digit())?,
        None => 0.0,
    };
    if parts.next().is_some() || h >= 24.0 || m >= 60.0 {
        return None;
    }
    Some(h * 3600.0 + m * 60.0 + sec)
}

fn digits(p: &str) -> Option<f64> {
    (p.len() == 2 && p.bytes().all(|c| c.is_ascii_digit())).then(|| p.parse().ok())?
}

#[cfg(test)]
mod date_tests {
    use super::date_year;

    #[test]
    fn iso_dates_and_times_are_fractional_years() {
        assert_eq!(date_year("2001-01-01"), Some(2001.0));
        assert_eq!(date_year("2000-07-02"), Some(2000.0 + 183.0 / 366.0));
        let noon = date_year("2001-01-01T12:00:00").unwrap();
        assert!((noon - (2001.0 + 0.5 / 365.0)).abs() < 1e-9);
        assert_eq!(date_year("2001-01-01 12:00"), Some(noon));
        assert_eq!(date_year("2001-01-01T12:00:00Z"), Some(noon));
        assert_eq!(date_year("2001-01-01T12:00:00+02:00"), Some(noon));
        assert!(date_year("2007-11-09").unwrap() < date_year("2008-01-01").unwrap());
        for bad in [
            "2001-13-01",
            "2001-02-29",
            "2001-1-01",
            "01/02/2001",
            "2001-01-01x",
            "N80A2",
            "2001-01-01T25:00",
        ] {
            assert_eq!(date_year(bad), None, "{bad}");
        }
    }
}

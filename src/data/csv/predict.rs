//! Reading a CSV file by a trained model's [`ColumnPlan`]: its columns matched to the plan by
//! header name or by position, then every row's fields encoded as in training.

use super::layout::{glob_match, named, resolve, wanted, Slot};
use super::rows::{col_label, is_num, is_text, line_of, parse_error, Rows};
use super::{CsvOptions, FeatureTable, TargetColumn, Unknown};
use crate::data::cell::{is_missing, Cell};
use crate::data::columns::apply::positional;
use crate::data::columns::apply::Encoded;
use crate::data::columns::plan::{Column, ColumnPlan};
use crate::error::{Error, Result};
use ::csv::StringRecord;
use std::io::Read;
use std::path::Path;

/// Features by a model's column plan (see [`read_csv_features`](super::read_csv_features)).
pub(super) fn features_by_plan(
    reader: impl Read,
    path: &Path,
    opts: &CsvOptions,
    plan: &ColumnPlan,
) -> Result<FeatureTable> {
    let pe = |line: u64, field: &str, msg: String| parse_error(path, line, field, msg);
    plan.validate().map_err(|msg| pe(0, "columns", msg))?;
    let mut rows = Rows::open(reader, path, opts)?;
    let (first, line1) = rows.first()?;
    let row1: Vec<String> = first.iter().map(String::from).collect();
    let width = row1.len();
    let at = |field: &str, msg: String| pe(line1, field, msg);
    let Matched {
        header,
        slots,
        present,
        labels,
        tnames,
        ignored,
    } = match_plan(plan, opts, &row1, &at)?;
    let id = id_column(opts, header.then_some(&row1[..]), width, &at)?;
    let mut ids = Vec::new();
    let nt = plan.n_targets();
    let (n_out, offsets) = (plan.out_features(), plan.offsets());
    let (mut features, mut targets, mut lines) = (Vec::new(), Vec::new(), Vec::new());
    let mut unseen = vec![0usize; plan.columns.len()];
    let refuse = opts.unknown == Unknown::Error;
    let mut push = |rec: &StringRecord, line: u64| -> Result<()> {
        if rec.len() != width {
            let msg = format!("expected {width} fields, found {}", rec.len());
            return Err(pe(line, "row", msg));
        }
        let base = features.len();
        features.resize(base + n_out, 0.0);
        let tbase = targets.len();
        if present {
            targets.resize(tbase + nt, String::new());
        }
        for (j, s) in rec.iter().enumerate() {
            match slots[j] {
                Slot::Feature(p) => {
                    let o = base + offsets[p];
                    let end = o + plan.columns[p].width();
                    let e = plan
                        .encode(p, Cell::Text(s), &mut features[o..end], refuse)
                        .map_err(|msg| pe(line, &labels[j], msg))?;
                    unseen[p] += usize::from(e == Encoded::Unseen);
                }
                Slot::Target(t) if present => targets[tbase + t] = s.to_string(),
                _ => {}
            }
        }
        if let Some(j) = id {
            ids.push(rec[j].to_string());
        }
        lines.push(line);
        Ok(())
    };
    if !header {
        push(&first, line1)?;
    }
    let mut rec = StringRecord::new();
    while rows.next(&mut rec)? {
        push(&rec, line_of(&rec))?;
    }
    if lines.is_empty() {
        return Err(pe(
            line1 + 1,
            "rows",
            "no data rows after the header".into(),
        ));
    }
    Ok(FeatureTable {
        features,
        n_features: n_out,
        feature_names: plan.feature_names(),
        targets: present.then_some(targets),
        target_names: if present { tnames } else { Vec::new() },
        lines,
        unseen: unseen_counts(plan, &unseen),
        ignored,
        ids,
    })
}

/// The raw column of `opts.id` (`--id`), if given.
fn id_column(
    opts: &CsvOptions,
    names: Option<&[String]>,
    width: usize,
    at: &dyn Fn(&str, String) -> Error,
) -> Result<Option<usize>> {
    match &opts.id {
        None => Ok(None),
        Some(c) => Ok(resolve(std::slice::from_ref(c), names, width, at, "id")?
            .first()
            .copied()),
    }
}

/// The columns with unseen categories, by name, and how many.
pub(crate) fn unseen_counts(plan: &ColumnPlan, unseen: &[usize]) -> Vec<(String, usize)> {
    plan.columns
        .iter()
        .zip(unseen)
        .filter(|(_, &n)| n > 0)
        .map(|(c, &n)| (c.name().to_string(), n))
        .collect()
}

/// How a file whose first row is `row1` matches a model's plan.
struct Matched {
    /// Whether the first row is a header.
    header: bool,
    /// What each raw column becomes.
    slots: Vec<Slot>,
    /// Whether the target columns are there.
    present: bool,
    /// Each raw column's label in errors.
    labels: Vec<String>,
    /// The target names (the header's, where it has them).
    tnames: Vec<String>,
    /// Columns of the file the model does not use.
    ignored: Vec<String>,
}

/// Matches a file whose first row is `row1` to `plan`: by header name or by position, with
/// the targets of `opts` if it names them; `at` makes an error on the first row.
fn match_plan(
    plan: &ColumnPlan,
    opts: &CsvOptions,
    row1: &[String],
    at: &dyn Fn(&str, String) -> Error,
) -> Result<Matched> {
    let width = row1.len();
    let explicit = opts.target != TargetColumn::Last || !opts.targets.is_empty();
    let mut wanted: Vec<TargetColumn> = match explicit {
        true => wanted(opts),
        false => vec![],
    };
    let named = named(&wanted, &opts.drop);
    let header = opts.header.unwrap_or_else(|| {
        (named && !row1.iter().all(|s| is_num(s))) || plan_header(plan, row1, &opts.drop)
    });
    let names = header.then_some(row1);
    let dcols = resolve(&opts.drop, names, width, at, "drop")?;
    // explicit targets named by a header that has none of them: the targets are absent
    let absent = |t: &TargetColumn| match (t, names) {
        (TargetColumn::Name(n), Some(h)) => !h.iter().any(|c| c == n || glob_match(n, c)),
        _ => false,
    };
    let explicit_absent = explicit && wanted.iter().all(absent);
    if explicit_absent {
        wanted.clear();
    }
    let tcols = resolve(&wanted, names, width, at, "target")?;
    let (slots, present, ignored) = if header && plan.header {
        by_name(plan, row1, &dcols, explicit.then_some(&tcols[..]), at)?
    } else {
        let (slots, present) = by_position(plan, width, &dcols, at)?;
        (slots, present, vec![])
    };
    let present = present && !explicit_absent;
    // column labels for errors: the header's names, or the plan's by position
    let labels: Vec<String> = (0..width)
        .map(|j| match (names, slots[j]) {
            (Some(_), _) => col_label(names, j),
            (None, Slot::Feature(p)) => format!("column {} ({})", j + 1, plan.columns[p].name()),
            (None, _) => col_label(None, j),
        })
        .collect();
    let mut tnames = plan.target_names();
    if let Some(h) = names {
        for (j, s) in slots.iter().enumerate() {
            if let Slot::Target(t) = s {
                tnames[*t] = h[j].clone();
            }
        }
    }
    Ok(Matched {
        header,
        slots,
        present,
        labels,
        tnames,
        ignored,
    })
}

/// Whether the first row of a file read by `plan` is a header: it names every feature column
/// of a plan with names, or it has text where a numeric column's number would be (text only,
/// when its width fits no layout of the plan).
fn plan_header(plan: &ColumnPlan, row1: &[String], drop: &[TargetColumn]) -> bool {
    let features = plan.columns.iter().filter(|c| c.is_feature());
    if plan.header && features.clone().all(|c| row1.iter().any(|s| s == c.name())) {
        return true;
    }
    let w = row1.len();
    let dropped: Vec<usize> = drop
        .iter()
        .filter_map(|d| match d {
            TargetColumn::Index(i) => Some(*i),
            TargetColumn::Last => w.checked_sub(1),
            TargetColumn::Name(_) => None,
        })
        .collect();
    let eff: Vec<usize> = (0..w).filter(|j| !dropped.contains(j)).collect();
    match positional(plan, eff.len()) {
        Some(ps) => eff
            .iter()
            .zip(ps)
            .any(|(&j, p)| matches!(plan.columns[p], Column::Numeric { .. }) && is_text(&row1[j])),
        // a header of other names, or a data row of another width
        None => row1.iter().any(|s| is_text(s)) && row1.iter().all(|s| is_text(s) || is_missing(s)),
    }
}

/// Slots of a file with a header matched to `plan` by name, and whether the targets are there.
fn by_name(
    plan: &ColumnPlan,
    row1: &[String],
    dcols: &[usize],
    explicit: Option<&[usize]>,
    at: &dyn Fn(&str, String) -> Error,
) -> Result<(Vec<Slot>, bool, Vec<String>)> {
    let width = row1.len();
    let nt = plan.n_targets();
    let mut slots: Vec<Option<Slot>> = vec![None; width];
    if let Some(&j) = explicit.unwrap_or_default().iter().find(|&&j| {
        plan.columns
            .iter()
            .any(|c| c.is_feature() && c.name() == row1[j])
    }) {
        let msg = format!(
            "\"{}\" is an input column of the model, not a target; the model predicts {} (leave --target out to use it)",
            row1[j],
            plan.target_names().join(", ")
        );
        return Err(at("target", msg));
    }
    for &j in dcols {
        slots[j] = Some(Slot::Skip);
    }
    if let Some(tcols) = explicit.filter(|t| !t.is_empty()) {
        if tcols.len() != nt {
            let msg = format!(
                "{} target column(s) given, but the model has {nt}: {}",
                tcols.len(),
                plan.target_names().join(", ")
            );
            return Err(at("target", msg));
        }
        for (t, &j) in tcols.iter().enumerate() {
            slots[j] = Some(Slot::Target(t));
        }
    }
    let mut found = Vec::new();
    for (p, c) in plan.columns.iter().enumerate() {
        let j = (0..width).find(|&j| slots[j].is_none() && row1[j] == c.name());
        match (c, j) {
            (c, Some(j)) if c.is_feature() => slots[j] = Some(Slot::Feature(p)),
            (c, None) if c.is_feature() => {
                let mut msg = format!(
                    "no column named \"{}\" (an input column of the model); columns are {}",
                    c.name(),
                    row1.join(", ")
                );
                if width == 1 {
                    msg += " (one column: is the delimiter right? --delimiter C)";
                }
                return Err(at("header", msg));
            }
            (Column::Target { index, .. }, Some(j)) if explicit.is_none() => {
                slots[j] = Some(Slot::Target(*index));
                found.push(c.name());
            }
            (Column::Dropped { .. }, Some(j)) => slots[j] = Some(Slot::Skip),
            _ => {}
        }
    }
    if !found.is_empty() && found.len() != nt {
        let msg = format!(
            "the file has target column(s) {} but not all of the model's: {}",
            found.join(", "),
            plan.target_names().join(", ")
        );
        return Err(at("header", msg));
    }
    // columns the model does not know: left out (columns are matched by name), and named
    let ignored: Vec<String> = (0..width)
        .filter(|&j| slots[j].is_none())
        .map(|j| row1[j].clone())
        .collect();
    let present = match explicit {
        Some(t) => !t.is_empty(),
        None => nt > 0 && found.len() == nt,
    };
    Ok((
        slots.into_iter().map(|s| s.unwrap_or(Slot::Skip)).collect(),
        present,
        ignored,
    ))
}

/// Slots of a file read by position, and whether the targets are there.
fn by_position(
    plan: &ColumnPlan,
    width: usize,
    dcols: &[usize],
    at: &dyn Fn(&str, String) -> Error,
) -> Result<(Vec<Slot>, bool)> {
    let eff: Vec<usize> = (0..width).filter(|j| !dcols.contains(j)).collect();
    let (raw, nt) = (plan.columns.len(), plan.n_targets());
    let Some(ps) = positional(plan, eff.len()) else {
        let dropped = plan
            .columns
            .iter()
            .any(|c| matches!(c, Column::Dropped { .. }));
        let what = match (dropped, dcols.is_empty()) {
            (true, _) => "the training file's columns, dropped ones included",
            (false, true) => "the model's input columns",
            (false, false) => "the model's input columns, after --drop",
        };
        let msg = match nt {
            0 => format!("expected {raw} fields ({what}), found {}", eff.len()),
            _ => format!(
                "expected {} fields ({what}), or {raw} with the target columns, found {}",
                raw - nt,
                eff.len()
            ),
        };
        return Err(at("row", msg));
    };
    let mut slots = vec![Slot::Skip; width];
    for (&j, p) in eff.iter().zip(ps) {
        slots[j] = match &plan.columns[p] {
            c if c.is_feature() => Slot::Feature(p),
            Column::Target { index, .. } => Slot::Target(*index),
            _ => Slot::Skip,
        };
    }
    Ok((slots, nt > 0 && eff.len() == raw))
}

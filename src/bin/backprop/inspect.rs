//! `backprop inspect DATA [--target y] [--json]`: the column plan `train` would fit, without
//! training — the target (name, task, classes or range, rows lacking it) and per column its
//! role (number, category, date, dropped and why), levels, missing values and their fill. The
//! same text opens `backprop train`'s output.

use crate::args::InspectArgs;
use crate::data::{load, Source};
use anyhow::{bail, Result};
use backprop::data::{Column, ColumnPlan, Dataset, DropReason, Impute, PlanStats, Targets};
use serde_json::{json, Value};

pub fn run(a: &InspectArgs) -> Result<()> {
    let src = Source::parse(Some(&a.data));
    check_source(&src)?;
    let ds = load(&src, &a.data_args, false)?;
    let default_target = a.data_args.target.is_none();
    if a.json {
        crate::outln!("{}", plan_json(&ds, &src.describe(), default_target))?;
    } else {
        crate::out!("{}", plan_text(&ds, &src.describe(), default_target))?;
    }
    Ok(())
}

/// The plan as text: a heading, the target, one line per column (a long run of plain number
/// columns as one line), and how missing values are filled.
pub fn plan_text(ds: &Dataset, source: &str, default_target: bool) -> String {
    let Some(plan) = &ds.columns else {
        return format!(
            "{source}: {} rows, {} features (no column plan)\n",
            ds.len(),
            ds.n_features()
        );
    };
    let stats = plan.stats.clone().unwrap_or_default();
    let mut s = format!(
        "{source}: {} rows, {} columns → {} features\n",
        stats.rows.max(ds.len()),
        plan.columns.len(),
        plan.out_features()
    );
    s += &target_line(plan, ds, default_target);
    if stats.missing_targets > 0 {
        s += &format!(
            "  {} rows without a target value are left out (--missing-target error refuses them)\n",
            stats.missing_targets
        );
    }
    let w = plan
        .columns
        .iter()
        .map(|c| c.name().chars().count())
        .max()
        .unwrap_or(0)
        .min(28);
    let mut p = 0;
    while p < plan.columns.len() {
        let run = plain_run(plan, &stats, p);
        if run >= 8 {
            let (a, b) = (plan.columns[p].name(), plan.columns[p + run - 1].name());
            s += &format!(
                "  {:w$}  number    {run} columns, nothing missing\n",
                format!("{a} … {b}")
            );
            p += run;
            continue;
        }
        if let Some((role, what)) = column_line(plan, &stats, p) {
            s += &format!("  {:w$}  {role:8}  {what}\n", plan.columns[p].name());
        }
        p += 1;
    }
    if stats.missing.iter().any(|&m| m > 0) {
        s += &format!("missing values: {}\n", fill_rule(plan.impute));
    }
    s
}

/// `target: Species (the last column; --target to choose): classification, 3 classes: …`.
fn target_line(plan: &ColumnPlan, ds: &Dataset, default_target: bool) -> String {
    let names = plan.target_names();
    let how = if default_target {
        " (the last column; --target to choose)"
    } else {
        ""
    };
    let task = match ds.targets() {
        Targets::Classes { names: classes, .. } => {
            format!(
                "classification, {} classes: {}",
                classes.len(),
                list(classes, 12)
            )
        }
        Targets::Values { data, names: t } => {
            let k = t.len().max(1);
            let ranges: Vec<String> = (0..k)
                .map(|j| {
                    let (lo, hi) = data
                        .iter()
                        .skip(j)
                        .step_by(k)
                        .fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &v| {
                            (a.min(v), b.max(v))
                        });
                    format!("{} … {}", num(lo), num(hi))
                })
                .collect();
            format!("regression, range {}", ranges.join("; "))
        }
    };
    format!("target: {}{how}: {task}\n", names.join(", "))
}

/// How many columns from `p` on are numbers with nothing missing.
fn plain_run(plan: &ColumnPlan, stats: &PlanStats, p: usize) -> usize {
    (p..plan.columns.len())
        .take_while(|&q| {
            matches!(plan.columns[q], Column::Numeric { .. })
                && stats.missing.get(q).copied().unwrap_or(0) == 0
        })
        .count()
}

/// A column's role and what to say about it (`None` for a target, said above).
fn column_line(plan: &ColumnPlan, stats: &PlanStats, p: usize) -> Option<(&'static str, String)> {
    let missing = stats.missing.get(p).copied().unwrap_or(0);
    let range = stats.range.get(p).copied().flatten();
    let filled = |fill: String| match missing {
        0 => String::new(),
        m => format!("; {m} missing → {fill}"),
    };
    let how = match plan.impute {
        Impute::Mean => "mean",
        _ => "median",
    };
    Some(match &plan.columns[p] {
        Column::Numeric { impute, .. } => {
            let r = range.map_or(String::new(), |(a, b)| format!("{} … {}", num(a), num(b)));
            let f = impute.map_or(String::new(), |v| format!("{} ({how})", num(v)));
            ("number", r + &filled(f))
        }
        Column::Date { impute, .. } => {
            let r = range.map_or(String::new(), |(a, b)| format!("{:.2} … {:.2}", a, b));
            let f = impute.map_or(String::new(), |v| format!("{v:.2} ({how})"));
            ("date", format!("as a fractional year, {r}{}", filled(f)))
        }
        Column::Categorical {
            categories, fill, ..
        } => {
            let f = fill
                .as_ref()
                .map_or(String::new(), |v| format!("\"{v}\" (most frequent)"));
            let n = categories.len();
            let levels = format!("{n} level{}: {}", plural(n), list(categories, 8));
            ("category", levels + &filled(f))
        }
        Column::Dropped { name, reason } => {
            let (d, n) = (
                stats.distinct.get(p).copied().unwrap_or(0),
                stats.present.get(p).copied().unwrap_or(0),
            );
            let why = match reason {
                DropReason::User => "--drop".to_string(),
                DropReason::SampleWeight => {
                    return Some(("weight", "per-row sample weights (--sample-weight), not a feature".into()))
                }
                DropReason::Identifier => format!(
                    "an identifier: {d} distinct values in {n} rows (--keep {} uses it as a category)",
                    quoted(name)
                ),
                DropReason::FreeText => format!(
                    "free text: {d} distinct values in {n} rows (--keep {} uses it as a category)",
                    quoted(name)
                ),
            };
            ("dropped", why)
        }
        Column::Target { .. } => return None,
    })
}

/// What the fill rule is, in words.
fn fill_rule(impute: Impute) -> &'static str {
    match impute {
        Impute::Error => "refused (--impute error)",
        Impute::Mean => "numbers and dates get the column's mean, categories their most frequent level (fitted on this file)",
        Impute::Median => "numbers and dates get the column's median, categories their most frequent level (fitted on this file, as scikit-learn's SimpleImputer; --impute error refuses them)",
    }
}

/// The plan as JSON: the same facts as [`plan_text`].
pub fn plan_json(ds: &Dataset, source: &str, default_target: bool) -> Value {
    let Some(plan) = &ds.columns else {
        return json!({ "source": source, "rows": ds.len(), "features": ds.n_features() });
    };
    let stats = plan.stats.clone().unwrap_or_default();
    let target = match ds.targets() {
        Targets::Classes { names, .. } => json!({"task": "classification", "classes": names}),
        Targets::Values { data, names } => {
            let k = names.len().max(1);
            let r: Vec<Value> = (0..k)
                .map(|j| {
                    let v: Vec<f32> = data.iter().skip(j).step_by(k).copied().collect();
                    let lo = v.iter().copied().fold(f32::INFINITY, f32::min);
                    let hi = v.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                    json!([lo, hi])
                })
                .collect();
            json!({"task": "regression", "range": r})
        }
    };
    let mut target = target;
    target["name"] = json!(plan.target_names());
    target["default"] = json!(default_target);
    target["rows_without_target"] = json!(stats.missing_targets);
    let columns: Vec<Value> = (0..plan.columns.len())
        .map(|p| column_json(&plan.columns[p], &stats, p))
        .collect();
    json!({
        "source": source,
        "rows": stats.rows.max(ds.len()),
        "features": plan.out_features(),
        "impute": format!("{:?}", plan.impute).to_lowercase(),
        "target": target,
        "columns": columns,
    })
}

fn column_json(c: &Column, stats: &PlanStats, p: usize) -> Value {
    let mut v = json!({
        "name": c.name(),
        "missing": stats.missing.get(p).copied().unwrap_or(0),
    });
    let range = stats.range.get(p).copied().flatten();
    match c {
        Column::Numeric { impute, .. } | Column::Date { impute, .. } => {
            v["role"] = json!(if matches!(c, Column::Date { .. }) {
                "date"
            } else {
                "number"
            });
            v["range"] = json!(range.map(|(a, b)| [a, b]));
            v["fill"] = json!(impute);
        }
        Column::Categorical {
            categories, fill, ..
        } => {
            v["role"] = json!("category");
            v["levels"] = json!(categories);
            v["fill"] = json!(fill);
        }
        Column::Dropped { reason, .. } => {
            v["role"] = json!("dropped");
            v["reason"] = json!(reason);
            v["distinct"] = json!(stats.distinct.get(p).copied().unwrap_or(0));
        }
        Column::Target { index, .. } => {
            v["role"] = json!("target");
            v["index"] = json!(index);
        }
    }
    v
}

/// The first `n` items, and how many there are in all.
/// The first `n` of `items`, comma-separated; an item with a comma (or a quote, or space at
/// its ends) is quoted so the list reads unambiguously (`"Adult, 1 Egg Stage"`).
fn list(items: &[String], n: usize) -> String {
    let shown: Vec<String> = items
        .iter()
        .take(n)
        .map(|s| match s.contains([',', '"']) || s.trim() != s {
            true => format!("{s:?}"),
            false => s.clone(),
        })
        .collect();
    if items.len() <= n {
        shown.join(", ")
    } else {
        format!("{}, … ({} in all)", shown.join(", "), items.len())
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

fn quoted(name: &str) -> String {
    if name.contains([' ', '(', ')', '*', '?']) {
        format!("\"{name}\"")
    } else {
        name.to_string()
    }
}

/// A number to 4 significant digits, without trailing zeros.
fn num(v: f32) -> String {
    let s = format!("{}", (v as f64 * 1e4).round() / 1e4);
    if s.len() > 10 {
        format!("{v:.4e}")
    } else {
        s
    }
}

/// Refuses `inspect` on data that has no columns to inspect.
pub fn check_source(src: &Source) -> Result<()> {
    if matches!(src, Source::Mnist(_)) {
        bail!("inspect reads a table (CSV or .npy); MNIST images have no column plan");
    }
    Ok(())
}

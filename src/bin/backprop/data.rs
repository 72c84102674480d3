//! Where data comes from: a CSV file, a `.npy` array, `-` (stdin), `mnist:DIR`, or the built-in
//! digits.

use crate::args::DataArgs;
use anyhow::{bail, Context, Result};
use backprop::data::columns::canonical_integer;
use backprop::data::{
    read_csv, read_csv_from, read_mnist_dir, read_npy_features, read_npy_table, CsvOptions,
    Dataset, Impute, MissingTarget, TargetColumn, Task, Unknown,
};
use backprop::io::TaskInfo;
use std::path::Path;

/// The UCI digits data, compiled into the binary (see data/README.md).
pub const DIGITS_CSV: &str = include_str!("../../../data/digits.csv");

/// A parsed DATA argument.
pub enum Source {
    Embedded,
    Csv(String),
    Npy(String),
    Stdin,
    Mnist(String),
}

impl Source {
    pub fn parse(s: Option<&str>) -> Source {
        match s {
            None => Source::Embedded,
            Some("-") => Source::Stdin,
            Some(s) if s.to_ascii_lowercase().ends_with(".npy") => Source::Npy(s.to_string()),
            Some(s) => match s.strip_prefix("mnist:") {
                Some(dir) => Source::Mnist(dir.to_string()),
                None => Source::Csv(s.to_string()),
            },
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Source::Embedded => "built-in UCI digits (1797 × 64, 10 classes)".into(),
            Source::Csv(p) | Source::Npy(p) => p.clone(),
            Source::Stdin => "stdin".into(),
            Source::Mnist(d) => format!("MNIST in {d}"),
        }
    }
}

/// Column names or 0-based indices, comma-separated (`--target`, `--drop`).
fn column_list(list: &str, flag: &str) -> Result<Vec<TargetColumn>> {
    let cols: Vec<TargetColumn> = list
        .split(',')
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(|c| match c.parse::<usize>() {
            Ok(i) => TargetColumn::Index(i),
            Err(_) => TargetColumn::Name(c.to_string()),
        })
        .collect();
    if cols.is_empty() {
        bail!("{flag} {list:?}: expected column names or 0-based indices, comma-separated");
    }
    Ok(cols)
}

/// `--delimiter`: one ASCII character, or `tab` / `\t`.
fn delimiter(s: &str) -> Result<u8> {
    match s {
        "tab" | "\\t" | "\t" => Ok(b'\t'),
        _ if s.len() == 1 && s.is_ascii() && !matches!(s, "\"" | "\n" | "\r") => {
            Ok(s.as_bytes()[0])
        }
        _ => bail!("--delimiter {s:?}: expected one character such as , ; | or tab"),
    }
}

pub fn csv_options(a: &DataArgs) -> Result<CsvOptions> {
    let header = match a.header.as_str() {
        "auto" => None,
        "yes" | "true" => Some(true),
        "no" | "false" => Some(false),
        h => bail!("--header {h:?}: expected yes, no or auto"),
    };
    let mut o = CsvOptions {
        header,
        ..CsvOptions::default()
    };
    if let Some(t) = &a.target {
        let mut cols = column_list(t, "--target")?.into_iter();
        o.target = cols.next().expect("column_list is never empty");
        o.targets = cols.collect();
    }
    o.task = match a.task.as_str() {
        "auto" => Task::Auto,
        "classification" | "classify" => Task::Classification,
        "regression" => Task::Regression,
        t => bail!("--task {t:?}: expected classification, regression or auto"),
    };
    if let Some(d) = &a.drop {
        o.drop = column_list(d, "--drop")?;
    }
    if let Some(d) = &a.delimiter {
        o.delimiter = delimiter(d)?;
        o.sniff_delimiter = false;
    }
    o.impute = match a.impute.as_deref() {
        Some("error") => Impute::Error,
        Some("mean") => Impute::Mean,
        None | Some("median") => Impute::Median,
        Some(i) => bail!("--impute {i:?}: expected median, mean or error"),
    };
    if let Some(k) = &a.keep {
        o.keep = column_list(k, "--keep")?;
    }
    if let Some(w) = &a.sample_weight {
        let mut cols = column_list(w, "--sample-weight")?;
        if cols.len() > 1 {
            bail!("--sample-weight {w}: expected one column");
        }
        o.weight = cols.pop();
    }
    o.missing_target = match a.missing_target.as_deref() {
        None | Some("skip") => MissingTarget::Skip,
        Some("error") => MissingTarget::Error,
        Some(m) => bail!("--missing-target {m:?}: expected skip or error"),
    };
    o.unknown = match a.unknown.as_deref() {
        None | Some("zeros") => Unknown::Zeros,
        Some("error") => Unknown::Error,
        Some(u) => bail!("--unknown {u:?}: expected zeros or error"),
    };
    Ok(o)
}

/// `--labels`, which only .npy features take.
fn labels<'a>(src: &Source, a: &'a DataArgs) -> Result<Option<&'a Path>> {
    match (&a.labels, src) {
        (None, _) => Ok(None),
        (Some(l), Source::Npy(_)) => {
            if a.target.is_some() {
                bail!("--labels {l} with --target: the labels file holds the targets; give one of them");
            }
            Ok(Some(Path::new(l)))
        }
        (Some(l), _) => bail!(
            "--labels {l}: labels files go with .npy features (X.npy --labels y.npy); a CSV file has its targets as columns (--target)"
        ),
    }
}

/// Loads labelled data; for `mnist:DIR`, `test` picks the t10k files instead of the training files.
pub fn load(src: &Source, a: &DataArgs, test: bool) -> Result<Dataset> {
    let opts = csv_options(a)?;
    let labels = labels(src, a)?;
    Ok(match src {
        Source::Embedded => read_csv_from(DIGITS_CSV.as_bytes(), "digits.csv (built in)", &opts)?,
        Source::Csv(p) => read_csv(p, &opts)?,
        Source::Npy(p) => read_npy_table(p, labels, &opts)?,
        Source::Stdin => read_csv_from(std::io::stdin().lock(), "<stdin>", &opts)?,
        Source::Mnist(dir) => {
            read_mnist_dir(dir, !test).with_context(|| format!("reading MNIST from {dir}"))?
        }
    })
}

/// Features in a model's column layout, and the target column's text if it was present.
pub struct ForModel {
    pub x: backprop::Tensor,
    pub targets: Option<Vec<String>>,
    pub source: String,
    /// The file line of each row (empty where rows have none: npy, MNIST).
    pub lines: Vec<u64>,
    /// The `--id` column's value per row (empty without one).
    pub ids: Vec<String>,
}

impl ForModel {
    /// `file:LINE` of row `i`, or `file: row i+1` where rows have no lines.
    pub fn at(&self, i: usize) -> String {
        match self.lines.get(i) {
            Some(l) => format!("{}:{l}", self.source),
            None => format!("{}: row {}", self.source, i + 1),
        }
    }

    /// Keeps only the rows `keep` (their features, `k` targets each, and lines).
    pub fn retain(&mut self, keep: &[usize], k: usize) -> Result<()> {
        let f = self.x.shape().last();
        let mut x = Vec::with_capacity(keep.len() * f);
        for &i in keep {
            x.extend_from_slice(self.x.row(i));
        }
        self.x = backprop::Tensor::from_vec(x, [keep.len(), f])?;
        if let Some(t) = &mut self.targets {
            *t = keep
                .iter()
                .flat_map(|&i| t[i * k..(i + 1) * k].to_vec())
                .collect();
        }
        if !self.lines.is_empty() {
            self.lines = keep.iter().map(|&i| self.lines[i]).collect();
        }
        Ok(())
    }
}

/// Reads DATA for an existing model: the same columns as in training, target optional. A model
/// with a column plan reads by it (dropped columns, categories, fill values, and the target
/// columns without `--target`).
pub fn load_for_model(data: &str, a: &DataArgs, model: &backprop::io::Model) -> Result<ForModel> {
    load_with_id(data, a, model, None)
}

/// [`load_for_model`], with the values of the key column `id` (`predict --id`) kept per row.
pub fn load_with_id(
    data: &str,
    a: &DataArgs,
    model: &backprop::io::Model,
    id: Option<&str>,
) -> Result<ForModel> {
    let src = Source::parse(Some(data));
    let labels = labels(&src, a)?;
    let names = &model.meta.feature_names;
    for (flag, given) in [
        ("--impute", a.impute.is_some()),
        ("--keep", a.keep.is_some()),
        ("--sample-weight", a.sample_weight.is_some()),
    ] {
        if given {
            bail!("{flag} applies to training: a saved model reads new data with the columns, categories and fill values it was trained with");
        }
    }
    let mut opts = csv_options(a)?;
    if let Some(id) = id {
        opts.id = column_list(id, "--id")?.into_iter().next();
        if matches!(src, Source::Npy(_) | Source::Mnist(_) | Source::Embedded) {
            bail!("--id {id}: a key column comes from a CSV file");
        }
    }
    match &model.meta.columns {
        Some(plan) => opts.columns = Some(plan.clone()),
        // without --target, the columns the model was trained on (by header name)
        None => {
            if let (None, [first, rest @ ..]) = (&a.target, model.meta.target_columns.as_slice()) {
                opts.target = TargetColumn::Name(first.clone());
                opts.targets = rest.iter().map(|n| TargetColumn::Name(n.clone())).collect();
            }
        }
    }
    let table = match &src {
        Source::Mnist(_) | Source::Embedded => return check_width(from_dataset(&src, a)?, model),
        Source::Csv(p) => backprop::data::read_csv_features(p, &opts, Some(names))?,
        Source::Npy(p) => read_npy_features(p, labels, model.meta.columns.as_ref(), &opts)?,
        Source::Stdin => backprop::data::read_csv_features_from(
            std::io::stdin().lock(),
            "<stdin>",
            &opts,
            Some(names),
        )?,
    };
    let n = table.len();
    if !table.unseen.is_empty() {
        let total: usize = table.unseen.iter().map(|(_, n)| n).sum();
        let per: Vec<String> = table
            .unseen
            .iter()
            .map(|(c, n)| format!("{c}: {n}"))
            .collect();
        crate::errln!(
            "note: {}: {total} value(s) were categories the model never saw ({}), read as all zeros (--unknown error refuses them)",
            src.describe(),
            per.join(", ")
        );
    }
    let ignored: Vec<&String> = table
        .ignored
        .iter()
        .filter(|c| id.is_none_or(|i| i != c.as_str()))
        .collect();
    if !ignored.is_empty() {
        let names: Vec<&str> = ignored.iter().map(|c| c.as_str()).collect();
        crate::errln!(
            "note: {}: column(s) the model does not use, ignored: {}",
            src.describe(),
            names.join(", ")
        );
    }
    let (lines, ids) = (table.lines, table.ids);
    let x = backprop::Tensor::from_vec(table.features, [n, table.n_features])?;
    let mut targets = table.targets;
    // labels are names: "01" is the class "1"
    if let (TaskInfo::Classification { classes }, Some(t)) = (&model.meta.task, &mut targets) {
        canonical_labels(t, classes);
    }
    check_width(
        ForModel {
            x,
            targets,
            source: src.describe(),
            lines,
            ids,
        },
        model,
    )
}

/// An MNIST directory or the built-in digits, with the targets as text.
fn from_dataset(src: &Source, a: &DataArgs) -> Result<ForModel> {
    let ds = load(src, a, true)?;
    let x = ds.features_tensor();
    let targets = match ds.targets() {
        backprop::data::Targets::Classes { labels, names } => {
            labels.iter().map(|&l| names[l as usize].clone()).collect()
        }
        backprop::data::Targets::Values { data, .. } => {
            data.iter().map(|v| v.to_string()).collect()
        }
    };
    Ok(ForModel {
        x,
        targets: Some(targets),
        source: src.describe(),
        lines: Vec::new(),
        ids: Vec::new(),
    })
}

/// Each label that is not a class but names one as an integer ("01" for "1") becomes it.
fn canonical_labels(targets: &mut [String], classes: &[String]) {
    for s in targets.iter_mut().filter(|s| !classes.contains(s)) {
        if let Some(c) = canonical_integer(s.trim()).filter(|c| classes.contains(c)) {
            *s = c;
        }
    }
}

fn check_width(f: ForModel, model: &backprop::io::Model) -> Result<ForModel> {
    let want = model.meta.architecture.in_features;
    if f.x.shape().last() != want {
        bail!(
            "{}: rows have {} features, but the model takes {want}",
            f.source,
            f.x.shape().last()
        );
    }
    Ok(f)
}

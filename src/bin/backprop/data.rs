//! Where data comes from: a CSV file, `-` (stdin), `mnist:DIR`, or the built-in digits.

use crate::args::DataArgs;
use anyhow::{bail, Context, Result};
use backprop::data::{
    read_csv, read_csv_from, read_mnist_dir, CsvOptions, Dataset, TargetColumn, Task,
};

/// The UCI digits data, compiled into the binary (see data/README.md).
pub const DIGITS_CSV: &str = include_str!("../../../data/digits.csv");

/// A parsed DATA argument.
pub enum Source {
    Embedded,
    Csv(String),
    Stdin,
    Mnist(String),
}

impl Source {
    pub fn parse(s: Option<&str>) -> Source {
        match s {
            None => Source::Embedded,
            Some("-") => Source::Stdin,
            Some(s) => match s.strip_prefix("mnist:") {
                Some(dir) => Source::Mnist(dir.to_string()),
                None => Source::Csv(s.to_string()),
            },
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Source::Embedded => "built-in UCI digits (1797 × 64, 10 classes)".into(),
            Source::Csv(p) => p.clone(),
            Source::Stdin => "stdin".into(),
            Source::Mnist(d) => format!("MNIST in {d}"),
        }
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
        let mut cols = t
            .split(',')
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(|c| match c.parse::<usize>() {
                Ok(i) => TargetColumn::Index(i),
                Err(_) => TargetColumn::Name(c.to_string()),
            });
        let Some(first) = cols.next() else {
            bail!("--target {t:?}: expected column names or 0-based indices, comma-separated");
        };
        o.target = first;
        o.targets = cols.collect();
    }
    o.task = match a.task.as_str() {
        "auto" => Task::Auto,
        "classification" | "classify" => Task::Classification,
        "regression" => Task::Regression,
        t => bail!("--task {t:?}: expected classification, regression or auto"),
    };
    Ok(o)
}

/// Loads labelled data; for `mnist:DIR`, `test` picks the t10k files instead of the training files.
pub fn load(src: &Source, a: &DataArgs, test: bool) -> Result<Dataset> {
    let opts = csv_options(a)?;
    Ok(match src {
        Source::Embedded => read_csv_from(DIGITS_CSV.as_bytes(), "digits.csv (built in)", &opts)?,
        Source::Csv(p) => read_csv(p, &opts)?,
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
}

/// Reads DATA for an existing model: the same columns as in training, target optional.
pub fn load_for_model(data: &str, a: &DataArgs, model: &backprop::io::Model) -> Result<ForModel> {
    let src = Source::parse(Some(data));
    let names = &model.meta.feature_names;
    let opts = csv_options(a)?;
    let table = match &src {
        Source::Mnist(_) | Source::Embedded => {
            let ds = load(&src, a, true)?;
            let x = ds.features_tensor();
            let targets = match ds.targets() {
                backprop::data::Targets::Classes { labels, names } => {
                    labels.iter().map(|&l| names[l as usize].clone()).collect()
                }
                backprop::data::Targets::Values { data, .. } => {
                    data.iter().map(|v| v.to_string()).collect()
                }
            };
            return check_width(
                ForModel {
                    x,
                    targets: Some(targets),
                    source: src.describe(),
                },
                model,
            );
        }
        Source::Csv(p) => backprop::data::read_csv_features(p, &opts, Some(names))?,
        Source::Stdin => backprop::data::read_csv_features_from(
            std::io::stdin().lock(),
            "<stdin>",
            &opts,
            Some(names),
        )?,
    };
    let n = table.len();
    let x = backprop::Tensor::from_vec(table.features, [n, table.n_features])?;
    check_width(
        ForModel {
            x,
            targets: table.targets,
            source: src.describe(),
        },
        model,
    )
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

//! A human-readable description of a [`Model`]: what `backprop info` prints.

use crate::data::Scaler;
use crate::io::{Model, TaskInfo};
use crate::nn::Bias;

fn bias_name(b: Bias) -> &'static str {
    match b {
        Bias::PerUnit => "per_unit",
        Bias::Shared => "shared",
        Bias::None => "none",
    }
}
use std::fmt::Write;

/// Lists longer than this are shortened to their first and last names.
const MAX_NAMES: usize = 10;

/// `a, b, c`, or the first eight, `…` and the last when there are more than [`MAX_NAMES`].
fn names(list: &[String]) -> String {
    if list.len() <= MAX_NAMES {
        return list.join(", ");
    }
    let head = &list[..MAX_NAMES - 2];
    format!("{}, …, {}", head.join(", "), list[list.len() - 1])
}

/// `xavier_uniform`, `uniform(0.5)`: the serde name, with a variant's value in parentheses.
fn init_name(init: &crate::nn::Init) -> String {
    match serde_json::to_value(init) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(serde_json::Value::Object(m)) => m
            .iter()
            .map(|(k, v)| format!("{k}({v})"))
            .collect::<Vec<_>>()
            .join(", "),
        _ => format!("{init:?}"),
    }
}

fn scaler_name(s: &Scaler) -> String {
    let kind = match s {
        Scaler::None => return "none".into(),
        Scaler::Standard { .. } => "standard (x − mean) / std",
        Scaler::MinMax { .. } => "min-max (x − min) / (max − min)",
    };
    match s.n_features() {
        Some(n) => format!("{kind}, fitted on {n} features"),
        None => kind.into(),
    }
}

/// Left-aligned columns, two spaces apart, the last column right-aligned.
fn table(rows: &[Vec<String>]) -> String {
    let n = rows.iter().map(Vec::len).max().unwrap_or(0);
    let width = |j: usize| {
        rows.iter()
            .filter_map(|r| r.get(j))
            .map(|c| c.chars().count())
            .max()
            .unwrap_or(0)
    };
    let widths: Vec<usize> = (0..n).map(width).collect();
    let mut out = String::new();
    for r in rows {
        let cells: Vec<String> = r
            .iter()
            .enumerate()
            .map(|(j, c)| {
                let w = widths[j];
                if j + 1 == n {
                    format!("{c:>w$}")
                } else {
                    format!("{c:<w$}")
                }
            })
            .collect();
        out.push_str("  ");
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

impl Model {
    /// A multi-line description: format version, task (class or target names), loss, features
    /// (names shortened if there are many), scaler, initialiser and seed, then one row per layer
    /// — its name, the outputs it reads (skip connections included), in → out, activation,
    /// weight (own, frozen, or the layer it is tied to), bias (per unit, shared, none; frozen),
    /// dropout and parameter count — and the total number of parameters. A batch-norm layer shows
    /// `bn, θ` as its activation; its γ and β count as parameters, its running statistics do not
    /// (as in PyTorch, they are buffers) and are totalled on a line of their own.
    ///
    /// ```
    /// use backprop::data::Scaler;
    /// use backprop::io::{Model, TaskInfo};
    /// use backprop::nn::{Activation, Init, Mlp, MlpSpec};
    /// use backprop::{Loss, Parameters, Rng};
    /// let spec = MlpSpec::from_sizes(&[2, 3, 1], Activation::Tanh, Activation::Identity);
    /// let mut params = Parameters::new();
    /// let net = Mlp::new(spec.clone(), &mut params, Init::PyTorch, &mut Rng::seed(1))?;
    /// let task = TaskInfo::Regression { targets: vec!["y".into()] };
    /// let meta = Model::meta(spec, Loss::Mse, task, vec!["a".into(), "b".into()], Scaler::None, Init::PyTorch, 1);
    /// let text = Model { meta, net, params }.summary();
    /// assert!(text.contains("layers.0  input     2 → 3     tanh        own     per_unit") && text.contains("13 parameters"), "{text}");
    /// # Ok::<(), backprop::Error>(())
    /// ```
    pub fn summary(&self) -> String {
        let m = &self.meta;
        let mut out = fields(m);

        let spec = &m.architecture;
        let header = [
            "layer",
            "reads",
            "in → out",
            "activation",
            "weight",
            "bias",
            "dropout",
            "parameters",
        ];
        let mut rows = vec![header.map(String::from).to_vec()];
        let (mut total, mut stats) = (0, 0);
        for (i, (lin, l)) in self.net.layers.iter().zip(&spec.layers).enumerate() {
            let source = |k: usize| match k {
                0 => "input".to_string(),
                k => format!("layers.{}", k - 1),
            };
            let reads: Vec<String> = if l.inputs.is_empty() {
                vec![source(i)]
            } else {
                l.inputs.iter().map(|&k| source(k)).collect()
            };
            // own parameters only: a tied weight is counted where it lives
            let count: usize = spec
                .param_shapes()
                .iter()
                .filter(|(n, _)| n.starts_with(&format!("{}.", lin.name)))
                .filter(|(n, _)| !n.ends_with(".running_mean") && !n.ends_with(".running_var"))
                .map(|(_, s)| s.iter().product::<usize>())
                .sum();
            total += count;
            if l.batch_norm.is_some() {
                stats += 2 * lin.out_features;
            }
            let weight = match l.tie {
                Some(t) => format!("W({}){}", t.layer, if t.transpose { "ᵀ" } else { "" }),
                None if !l.trainable.weight => "frozen".into(),
                None => "own".into(),
            };
            let bias = match (l.bias, l.trainable.bias) {
                (Bias::None, _) => "none".to_string(),
                (b, true) => bias_name(b).into(),
                (b, false) => format!("{},frozen", bias_name(b)),
            };
            rows.push(vec![
                lin.name.clone(),
                reads.join(" + "),
                format!("{} → {}", lin.in_features, lin.out_features),
                match l.batch_norm {
                    Some(_) => format!("bn, {}", l.activation),
                    None => l.activation.to_string(),
                },
                weight,
                bias,
                if l.dropout > 0.0 {
                    l.dropout.to_string()
                } else {
                    "-".into()
                },
                count.to_string(),
            ]);
        }
        let mut last = vec![String::new(); header.len()];
        last[0] = "total".into();
        last[header.len() - 1] = total.to_string();
        rows.push(last);
        let _ = writeln!(out, "\n{} layers, {total} parameters", spec.layers.len());
        out.push_str(&table(&rows));
        if stats > 0 {
            let _ = writeln!(
                out,
                "bn = batch norm (PyTorch's BatchNorm1d) before the activation; {stats} running \
                 statistics (mean, variance) besides the parameters"
            );
        }
        out
    }
}

/// The model's header lines: format, task, loss, inputs, scaler, initialiser, seed.
fn fields(m: &super::ModelMeta) -> String {
    let mut out = String::new();
    let task = match &m.task {
        TaskInfo::Classification { classes } => {
            format!(
                "classification, {} classes: {}",
                classes.len(),
                names(classes)
            )
        }
        TaskInfo::Regression { targets } => {
            let s = if targets.len() == 1 { "" } else { "s" };
            format!(
                "regression, {} target{s}: {}",
                targets.len(),
                names(targets)
            )
        }
    };
    let features = format!(
        "{} feature{}: {}",
        m.architecture.in_features,
        if m.architecture.in_features == 1 {
            ""
        } else {
            "s"
        },
        names(&m.feature_names)
    );
    let fields = [
        ("format", format!("{} version {}", m.format, m.version)),
        ("task", task),
        ("loss", m.loss.to_string()),
        ("inputs", features),
        ("scaler", scaler_name(&m.scaler)),
        ("init", init_name(&m.init)),
        ("seed", format!("{} ({})", m.seed, m.rng)),
    ];
    for (k, v) in fields {
        let _ = writeln!(out, "{:<8}{v}", format!("{k}:"));
    }
    out
}

#[cfg(test)]
mod tests {
    use crate::data::Scaler;
    use crate::io::{Model, TaskInfo};
    use crate::nn::{Activation, Init, Mlp, MlpSpec};
    use crate::{Loss, Parameters, Rng};

    fn model(features: usize, task: TaskInfo, scaler: Scaler) -> Model {
        // features → 4 (relu, dropout 0.25) → 3 (softmax head reading layer 1 and the input)
        let spec = MlpSpec::new(features)
            .layer(4, Activation::Relu)
            .dropout(0.25)
            .layer_from(&[1, 0], 3, Activation::Identity);
        let mut params = Parameters::new();
        let net = Mlp::new(
            spec.clone(),
            &mut params,
            Init::XavierUniform,
            &mut Rng::seed(7),
        )
        .unwrap();
        let names = (0..features).map(|i| format!("f{i}")).collect();
        let meta = Model::meta(
            spec,
            Loss::CrossEntropy,
            task,
            names,
            scaler,
            Init::Uniform(0.5),
            42,
        );
        Model { meta, net, params }
    }

    #[test]
    fn summary_of_a_small_model() {
        let classes = vec!["setosa".into(), "versicolor".into(), "virginica".into()];
        let scaler = Scaler::Standard {
            mean: vec![0.0; 2],
            std: vec![1.0; 2],
        };
        let text = model(2, TaskInfo::Classification { classes }, scaler).summary();
        for want in [
            "format: backprop-model version 2",
            "task:   classification, 3 classes: setosa, versicolor, virginica",
            "loss:   cross_entropy",
            "inputs: 2 features: f0, f1",
            "scaler: standard (x − mean) / std, fitted on 2 features",
            "init:   uniform(0.5)",
            "seed:   42 (chacha8)",
            "2 layers, 33 parameters", // (2·4 + 4) + ((4 + 2)·3 + 3)
        ] {
            assert!(text.contains(want), "missing {want:?} in\n{text}");
        }
        let lines: Vec<&str> = text.lines().collect();
        let row = |start: &str| {
            *lines
                .iter()
                .find(|l| l.trim_start().starts_with(start))
                .unwrap()
        };
        let words = |l: &str| l.split_whitespace().map(String::from).collect::<Vec<_>>();
        assert_eq!(
            words(row("layers.0")),
            ["layers.0", "input", "2", "→", "4", "relu", "own", "per_unit", "0.25", "12"]
        );
        assert_eq!(
            words(row("layers.1")),
            [
                "layers.1", "layers.0", "+", "input", "6", "→", "3", "identity", "own", "per_unit",
                "-", "21"
            ]
        );
        assert_eq!(words(row("total")), ["total", "33"]);
        // the parameter column is right-aligned
        assert_eq!(
            row("layers.0").chars().count(),
            row("total").chars().count()
        );
    }

    #[test]
    fn long_name_lists_are_shortened() {
        let targets = vec!["price".to_string()];
        let text = model(20, TaskInfo::Regression { targets }, Scaler::None).summary();
        assert!(text.contains("regression, 1 target: price"), "{text}");
        assert!(
            text.contains("20 features: f0, f1, f2, f3, f4, f5, f6, f7, …, f19"),
            "{text}"
        );
        assert!(text.contains("scaler: none"), "{text}");
    }
}

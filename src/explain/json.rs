//! The JSON form of a network with explicit weights and one sample (see the module docs of
//! [`crate::explain`]).

use super::{from_rows, to_rows};
use crate::error::{Error, Result};
use crate::loss::Loss;
use crate::nn::{Activation, Bias, Init, Mlp, MlpSpec};
use crate::params::Parameters;
use crate::rng::Rng;
use serde::{Deserialize, Serialize};

/// A network with explicit weights, one sample, and optionally the loss and learning rate to
/// explain it with.
#[derive(Clone, Debug, PartialEq)]
pub struct Example {
    /// The network description.
    pub spec: MlpSpec,
    /// Its parameters (`layers.{i}.weight` `(out, in)`, `layers.{i}.bias`).
    pub params: Parameters,
    /// x(0).
    pub input: Vec<f32>,
    /// The target values (or the class index for class losses).
    pub target: Vec<f32>,
    /// `"loss"`, if the file names one.
    pub loss: Option<Loss>,
    /// `"lr"`, if the file gives one.
    pub lr: Option<f32>,
}

/// Parses either form of an explain spec (see the module docs of [`crate::explain`]): layers in
/// the seed's layout with `"W"`, or a network description whose layers give explicit values in
/// `"init"`; plus `"input"`, `"target"`, and optional `"loss"` and `"lr"`.
pub fn example_from_json(text: &str) -> Result<Example> {
    let syntax = |e: String| Error::invalid("network spec", e, EXPECTED);
    let mut v: serde_json::Value = serde_json::from_str(text).map_err(|e| syntax(e.to_string()))?;
    crate::nn::strip_comments(&mut v);
    let obj = v
        .as_object_mut()
        .ok_or_else(|| syntax("not a JSON object".into()))?;
    let loss = match obj.remove("loss") {
        None => None,
        Some(l) => Some(
            l.as_str()
                .ok_or_else(|| syntax(format!("\"loss\": {l}: expected a loss name")))?
                .parse::<Loss>()
                .map_err(|e| syntax(format!("\"loss\": {e}")))?,
        ),
    };
    let lr = match obj.remove("lr") {
        None => None,
        Some(l) => Some(
            l.as_f64()
                .ok_or_else(|| syntax(format!("\"lr\": {l}: expected a number")))?
                as f32,
        ),
    };
    let legacy = obj
        .get("layers")
        .and_then(|l| l.as_array())
        .is_some_and(|ls| ls.iter().any(|l| l.get("W").is_some()));
    let (spec, params, input, target) = if legacy {
        from_seed_layout(&v.to_string())?
    } else {
        from_description(v)?
    };
    Ok(Example {
        spec,
        params,
        input,
        target,
        loss,
        lr,
    })
}

const EXPECTED: &str = "JSON {\"input\": [..], \"target\": [..], \"layers\": [{\"activation\": .., \"W\": [[..]]}]} or a network description with \"init\" values";

/// The description form: `{"input", "target", "in_features"?, "layers": [description layers]}`.
fn from_description(mut v: serde_json::Value) -> Result<(MlpSpec, Parameters, Vec<f32>, Vec<f32>)> {
    let syntax = |e: String| Error::invalid("network spec", e, EXPECTED);
    let obj = v.as_object_mut().expect("checked: an object");
    let take =
        |obj: &mut serde_json::Map<String, serde_json::Value>, key: &str| -> Result<Vec<f32>> {
            let val = obj
                .remove(key)
                .ok_or_else(|| syntax(format!("no \"{key}\"")))?;
            serde_json::from_value(val).map_err(|e| syntax(format!("\"{key}\": {e}")))
        };
    let input = take(obj, "input")?;
    let target = take(obj, "target")?;
    obj.entry("in_features")
        .or_insert_with(|| serde_json::Value::from(input.len()));
    let spec: MlpSpec = serde_json::from_value(v).map_err(|e| syntax(e.to_string()))?;
    spec.validate()?;
    for (i, l) in spec.layers.iter().enumerate() {
        let init = l.init.as_ref();
        let missing = if l.tie.is_none() && init.and_then(|x| x.weight.as_ref()).is_none() {
            Some("init.weight")
        } else if l.bias != Bias::None && init.and_then(|x| x.bias.as_ref()).is_none() {
            Some("init.bias")
        } else {
            None
        };
        if let Some(what) = missing {
            return Err(Error::network(
                format!("layer {}", i + 1),
                format!("no {what}; explain needs every weight given explicitly"),
            ));
        }
    }
    let mut params = Parameters::new();
    Mlp::new(spec.clone(), &mut params, Init::Zeros, &mut Rng::seed(0))?;
    Ok((spec, params, input, target))
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SpecFile {
    input: Vec<f32>,
    target: Vec<f32>,
    layers: Vec<LayerFile>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct LayerFile {
    activation: String,
    #[serde(rename = "W")]
    w: Vec<Vec<f32>>,
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    bias: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    inputs: Vec<usize>,
}

fn yes() -> bool {
    true
}

fn is_true(b: &bool) -> bool {
    *b
}

/// Parses a network with explicit weights and one sample: returns the architecture, its
/// parameters (`layers.{i}.weight` `(out, in)` and `layers.{i}.bias`, ready for
/// [`Mlp::from_params`]), the input x(0) and the target y.
///
/// Each layer's `W` is in the seed's layout: `(1 + inputs)` rows by `units` columns, bias row
/// first. A `W` whose shape does not fit is an error naming the layer and both shapes.
///
/// ```
/// let bad = r#"{"input": [2.0], "target": [1.0],
///   "layers": [{"activation": "tanh", "W": [[0.1, 0.2], [0.3, 0.4]]},
///              {"activation": "tanh", "W": [[0.2], [1.0]]}]}"#;
/// let err = backprop::explain::from_json(bad).unwrap_err().to_string();
/// assert!(err.contains("W(2) is 2×1") && err.contains("needs 3×1"), "{err}");
/// ```
pub fn from_json(text: &str) -> Result<(MlpSpec, Parameters, Vec<f32>, Vec<f32>)> {
    let e = example_from_json(text)?;
    Ok((e.spec, e.params, e.input, e.target))
}

fn from_seed_layout(text: &str) -> Result<(MlpSpec, Parameters, Vec<f32>, Vec<f32>)> {
    let file: SpecFile = serde_json::from_str(text).map_err(|e| {
        Error::invalid(
            "network spec",
            e,
            "JSON {\"input\": [..], \"target\": [..], \"layers\": [{\"activation\": .., \"W\": [[..]]}]}",
        )
    })?;
    let mut spec = MlpSpec::new(file.input.len());
    let mut params = Parameters::new();
    for (i, l) in file.layers.iter().enumerate() {
        let activation: Activation = l.activation.parse().map_err(|e: String| {
            Error::invalid(
                "activation",
                format!("layer {}: {e}", i + 1),
                "an activation name",
            )
        })?;
        if let Some(&k) = l.inputs.iter().find(|&&k| k > i) {
            return Err(Error::invalid(
                "layer inputs",
                format!("layer {} reads x({k})", i + 1),
                "earlier outputs only: 0 = the input, k = layer k < this layer",
            ));
        }
        let units = l.w.first().map_or(0, Vec::len);
        if let Some(row) = l.w.iter().position(|r| r.len() != units) {
            return Err(Error::invalid(
                "W",
                format!(
                    "W({}) row {row} has {} values, row 0 has {units}",
                    i + 1,
                    l.w[row].len()
                ),
                "one column per unit in every row",
            ));
        }
        spec = if l.inputs.is_empty() {
            spec.layer(units, activation)
        } else {
            spec.layer_from(&l.inputs, units, activation)
        };
        spec.layers[i].bias = if l.bias { Bias::PerUnit } else { Bias::None };
        let inputs = spec.layer_in_features(i);
        let rows = inputs + usize::from(l.bias);
        if units == 0 || l.w.len() != rows {
            return Err(Error::invalid(
                "W",
                format!(
                    "W({}) is {}×{units}, but layer {} with {inputs} input(s){} needs {rows}×{}",
                    i + 1,
                    l.w.len(),
                    i + 1,
                    if l.bias { " and a bias row" } else { "" },
                    units.max(1),
                ),
                "(bias + inputs) rows × units columns, bias row first",
            ));
        }
        let (weight, bias) = from_rows(&l.w, l.bias)?;
        params.add(format!("layers.{i}.weight"), weight);
        if let Some(b) = bias {
            params.add(format!("layers.{i}.bias"), b);
        }
    }
    spec.validate()?;
    Ok((spec, params, file.input, file.target))
}

/// Writes a network's weights and one sample in the format [`from_json`] reads (pretty-printed).
pub fn to_json(net: &Mlp, params: &Parameters, x: &[f32], y: &[f32]) -> String {
    let layers = net
        .layers
        .iter()
        .zip(&net.spec.layers)
        .map(|(lin, l)| LayerFile {
            activation: l.activation.to_string().replace('(', ":").replace(')', ""),
            w: to_rows(lin, &params[lin.weight], lin.bias.map(|b| &params[b])),
            bias: lin.bias.is_some(),
            inputs: l.inputs.clone(),
        })
        .collect();
    let file = SpecFile {
        input: x.to_vec(),
        target: y.to_vec(),
        layers,
    };
    serde_json::to_string_pretty(&file).expect("internal error: serialising a network spec")
}

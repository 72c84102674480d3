//! [`MlpSpec::validate`]: the checks every network description passes, whether built in code,
//! read from `--arch NET.json`, or from a model file.

use super::spec::{Bias, LayerInit, MlpSpec, Tie, MAX_PARAMS};
use crate::error::{Error, Result};
use crate::nn::Activation;

impl MlpSpec {
    /// Checks sizes, sources (only earlier outputs), dropout, ties and explicit values; every
    /// error names the layer (1-based, as W(l)) and what was expected.
    pub fn validate(&self) -> Result<()> {
        if self.in_features == 0 || self.layers.is_empty() {
            return Err(Error::network(
                "network",
                format!(
                    "{} inputs and {} layers; expected at least one input and one layer",
                    self.in_features,
                    self.layers.len()
                ),
            ));
        }
        let mut total = 0usize;
        for (i, l) in self.layers.iter().enumerate() {
            let at = format!("layer {}", i + 1);
            if l.out_features == 0 {
                return Err(Error::network(at, "0 units; expected at least one"));
            }
            if let Activation::LeakyRelu(a) = l.activation {
                if !a.is_finite() {
                    return Err(Error::network(
                        at,
                        format!("leaky_relu slope {a}; expected a finite number"),
                    ));
                }
            }
            if let Some(&k) = l.inputs.iter().find(|&&k| k > i) {
                return Err(Error::network(
                    at,
                    format!("reads x({k}); expected earlier outputs only (0 = the input, k ≤ {i})"),
                ));
            }
            if !(0.0..1.0).contains(&l.dropout) {
                return Err(Error::network(
                    at,
                    format!("dropout {}; expected a probability in [0, 1)", l.dropout),
                ));
            }
            let (out, inp) = (l.out_features, self.layer_in_features(i));
            let numel = out
                .checked_mul(inp)
                .and_then(|n| n.checked_add(out))
                .and_then(|n| total.checked_add(n))
                .filter(|&n| n <= MAX_PARAMS);
            total = numel.ok_or_else(|| {
                Error::network(
                    &at,
                    format!("{inp}×{out} weights bring the network past {MAX_PARAMS} parameters"),
                )
            })?;
            if let Some(t) = l.tie {
                self.check_tie(i, t)?;
                if !l.trainable.weight {
                    return Err(Error::network(
                        at,
                        format!("a tied weight is trainable or not as layer {} says; set `trainable` there", t.layer),
                    ));
                }
            }
            if let Some(init) = &l.init {
                self.check_init(i, init)?;
            }
            if let Some(bn) = &l.batch_norm {
                bn.validate(&at)?;
                if l.activation == Activation::Step {
                    return Err(Error::network(
                        at,
                        "batch_norm on step (threshold) units: a hand-set threshold net has no \
                         batch statistics to train; drop batch_norm or use another activation",
                    ));
                }
            }
        }
        Ok(())
    }

    fn check_tie(&self, i: usize, t: Tie) -> Result<()> {
        let at = format!("layer {}", i + 1);
        if t.layer == 0 || t.layer > i {
            let expected = if i == 0 {
                "the first layer has no earlier layer to tie to".to_string()
            } else {
                format!("expected an earlier layer (1 ≤ k ≤ {i})")
            };
            return Err(Error::network(
                at,
                format!("ties to layer {}; {expected}", t.layer),
            ));
        }
        let owner = &self.layers[t.layer - 1];
        if owner.tie.is_some() {
            return Err(Error::network(
                at,
                format!(
                    "ties to layer {}, which is itself tied; tie to the layer that owns the weight",
                    t.layer
                ),
            ));
        }
        let own = [owner.out_features, self.layer_in_features(t.layer - 1)];
        let used = if t.transpose { [own[1], own[0]] } else { own };
        let want = [self.layers[i].out_features, self.layer_in_features(i)];
        if used != want {
            return Err(Error::network(
                at,
                format!(
                    "needs a weight of shape {want:?} (out, in), but W({}){} is {used:?}",
                    t.layer,
                    if t.transpose { "ᵀ" } else { "" }
                ),
            ));
        }
        if self.layers[i]
            .init
            .as_ref()
            .is_some_and(|x| x.weight.is_some())
        {
            return Err(Error::network(
                at,
                format!(
                    "a tied layer has no weight of its own; give initial values on layer {}",
                    t.layer
                ),
            ));
        }
        Ok(())
    }

    fn check_init(&self, i: usize, init: &LayerInit) -> Result<()> {
        let at = format!("layer {}", i + 1);
        let (out, inp) = (self.layers[i].out_features, self.layer_in_features(i));
        if let Some(w) = &init.weight {
            let cols = w.first().map_or(0, Vec::len);
            if w.len() != out || w.iter().any(|r| r.len() != inp) {
                return Err(Error::network(
                    at,
                    format!(
                        "init.weight is {}×{cols}; expected {out}×{inp} (one row of {inp} input weights per unit)",
                        w.len()
                    ),
                ));
            }
            if w.iter().flatten().any(|v| !v.is_finite()) {
                return Err(Error::network(
                    at,
                    "init.weight holds a value that is not finite",
                ));
            }
        }
        if let Some(b) = &init.bias {
            match self.bias_shape(i) {
                None => {
                    return Err(Error::network(
                        at,
                        "init.bias given for a layer with `bias: none`",
                    ))
                }
                Some(n) if n != b.len() => {
                    return Err(Error::network(
                        at,
                        format!(
                            "init.bias has {} values; expected {n} ({} bias)",
                            b.len(),
                            if n == 1 && self.layers[i].bias == Bias::Shared {
                                "one shared"
                            } else {
                                "one per unit"
                            }
                        ),
                    ))
                }
                _ => {}
            }
            if b.iter().any(|v| !v.is_finite()) {
                return Err(Error::network(
                    at,
                    "init.bias holds a value that is not finite",
                ));
            }
        }
        Ok(())
    }
}

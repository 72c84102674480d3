//! Naming one element of a parameter tensor: `layers.0.weight[1,0]`.

use crate::error::{Error, Result};
use crate::params::{ParamId, Parameters};

/// One element of one parameter tensor: an axis of a [`LossSurface`](super::LossSurface).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Weight {
    /// The parameter tensor.
    pub id: ParamId,
    /// The element's offset in the tensor's row-major data.
    pub index: usize,
    /// `NAME[i,j]`, as written back for display.
    pub label: String,
}

impl Weight {
    /// `NAME[i,j,…]` — a parameter's name and the element's 0-based indices, one per
    /// dimension — or `NAME` alone for a one-element parameter.
    ///
    /// ```
    /// use backprop::explain::surface::Weight;
    /// use backprop::explain::lfd_example;
    /// let (_, params, _, _) = lfd_example();
    /// let w = Weight::parse(&params, "layers.0.weight[1,0]")?;
    /// assert_eq!((w.index, w.label.as_str()), (1, "layers.0.weight[1,0]")); // shape [2, 1]
    /// assert_eq!(w.get(&params), 0.4); // seed 001's W(1): bias row 0.1 0.2, then 0.3 0.4
    /// assert!(Weight::parse(&params, "layers.0.weight[2,0]").is_err());
    /// # Ok::<(), backprop::Error>(())
    /// ```
    pub fn parse(params: &Parameters, s: &str) -> Result<Weight> {
        let s = s.trim();
        let (name, index) = match s.split_once('[') {
            Some((name, rest)) => {
                let Some(inner) = rest.strip_suffix(']') else {
                    return Err(invalid(format!(
                        "{s:?}: expected NAME[i,j] with a closing bracket"
                    )));
                };
                let idx = inner
                    .split(',')
                    .map(|i| i.trim().parse::<usize>())
                    .collect::<std::result::Result<Vec<_>, _>>()
                    .map_err(|_| {
                        invalid(format!(
                            "{s:?}: the index must be 0-based integers, e.g. [0,1]"
                        ))
                    })?;
                (name.trim(), Some(idx))
            }
            None => (s, None),
        };
        let Some(id) = params.find(name) else {
            let listing: Vec<String> = params
                .ids()
                .map(|id| format!("{} {:?}", params.name(id), params[id].dims()))
                .collect();
            return Err(invalid(format!(
                "no parameter {name:?}; the parameters are {}",
                listing.join(", ")
            )));
        };
        let dims = params[id].dims().to_vec();
        let index = match index {
            Some(i) => i,
            None if params[id].numel() == 1 => vec![0; dims.len()],
            None => {
                return Err(invalid(format!(
                    "{name} has shape {dims:?}: give an element, e.g. {name}[{}]",
                    vec!["0"; dims.len()].join(",")
                )))
            }
        };
        if index.len() != dims.len() || index.iter().zip(&dims).any(|(i, d)| i >= d) {
            return Err(invalid(format!(
                "{name}{index:?} is not an element of {name}, whose shape is {dims:?} (indices from 0)"
            )));
        }
        let flat = index.iter().zip(&dims).fold(0, |acc, (i, d)| acc * d + i);
        let label = index.iter().map(|i| i.to_string()).collect::<Vec<_>>();
        Ok(Weight {
            id,
            index: flat,
            label: format!("{name}[{}]", label.join(",")),
        })
    }

    /// Two different weights, comma-separated: `NAME[i,j],NAME[k]` (the commas inside brackets
    /// belong to the indices).
    ///
    /// ```
    /// use backprop::explain::surface::Weight;
    /// let (_, params, _, _) = backprop::explain::lfd_example();
    /// let [a, b] = Weight::parse_pair(&params, "layers.0.weight[0,0], layers.1.bias[0]")?;
    /// assert_eq!((a.label.as_str(), b.label.as_str()), ("layers.0.weight[0,0]", "layers.1.bias[0]"));
    /// assert!(Weight::parse_pair(&params, "layers.1.bias[0],layers.1.bias").is_err()); // twice
    /// # Ok::<(), backprop::Error>(())
    /// ```
    pub fn parse_pair(params: &Parameters, list: &str) -> Result<[Weight; 2]> {
        let mut parts = vec![String::new()];
        let mut depth = 0i32;
        for c in list.chars() {
            match c {
                '[' => depth += 1,
                ']' => depth -= 1,
                _ => {}
            }
            if c == ',' && depth == 0 {
                parts.push(String::new());
            } else {
                parts.last_mut().expect("never empty").push(c);
            }
        }
        let [a, b] = parts.as_slice() else {
            return Err(invalid(format!(
                "{list:?}: expected two weights, NAME[i,j],NAME[k] (e.g. layers.0.weight[0,1],layers.0.bias[0]), got {}",
                parts.len()
            )));
        };
        let w = [Weight::parse(params, a)?, Weight::parse(params, b)?];
        if w[0].id == w[1].id && w[0].index == w[1].index {
            return Err(invalid(format!(
                "{list:?}: the same weight twice; choose two different ones"
            )));
        }
        Ok(w)
    }

    /// The weight's value in `params`.
    pub fn get(&self, params: &Parameters) -> f32 {
        params[self.id].data()[self.index]
    }

    /// Sets the weight's value in `params`.
    pub fn set(&self, params: &mut Parameters, v: f32) {
        params[self.id].data_mut()[self.index] = v;
    }
}

/// An error whose value says what is wrong: `invalid weight: … (NAME[i,j]: …)`.
fn invalid(value: String) -> Error {
    Error::invalid(
        "weight",
        value,
        "NAME[i,j]: a parameter's name and an element's 0-based indices",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::explain::lfd_example;

    #[test]
    fn errors_name_the_problem() {
        let (_, params, _, _) = lfd_example();
        let msg = |s: &str| Weight::parse_pair(&params, s).unwrap_err().to_string();
        let e = msg("layers.3.weight[0,0],layers.0.bias[0]");
        assert!(
            e.contains("no parameter \"layers.3.weight\"") && e.contains("[2, 1]"),
            "{e}"
        );
        let e = msg("layers.0.weight[0],layers.0.bias[0]");
        assert!(
            e.contains("layers.0.weight[0] is not an element") && e.contains("[2, 1]"),
            "{e}"
        );
        assert!(msg("layers.0.weight[a,0],layers.0.bias[0]").contains("0-based integers"));
        let e = Weight::parse(&params, "layers.0.weight[0,0").unwrap_err();
        assert!(e.to_string().contains("closing bracket"), "{e}");
        assert!(msg("layers.0.weight,layers.0.bias[0]").contains("give an element"));
        assert!(msg("layers.0.weight[0,0]").contains("two weights"));
        assert!(msg("layers.2.bias,layers.2.bias[0]").contains("the same weight twice"));
    }
}

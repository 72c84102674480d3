//! Per-parameter optimizer state, shared by every optimizer.
//!
//! Each optimizer keeps one `Option<S>` slot per parameter index, filled lazily the first time
//! that parameter receives a gradient (as PyTorch does), so a steady-state step allocates nothing.
//! Slots are saved as named tensors `{kind}.{index}`: `step.{index}` is a one-element count and
//! every other tensor has the parameter's shape. Loading checks names, counts and shapes.

use std::collections::BTreeMap;

use crate::error::{Error, Result};
use crate::params::{ParamId, Parameters};
use crate::tensor::{Shape, Tensor};

// What the messages of state errors say was expected.
const NAMES: &str = "names are {kind}.{parameter index}, as saved by the same optimizer";
const SHAPES: &str = "every state tensor except step has its parameter's shape";

/// The largest parameter index accepted from saved state: a bound on the slots allocated for a
/// damaged or hostile file (a million parameter tensors is far beyond any model here).
const MAX_INDEX: usize = 1 << 20;

/// The state one optimizer keeps for one parameter.
pub(crate) trait Slot: Sized {
    /// The shape shared by the slot's tensors (the parameter's shape).
    fn shape(&self) -> &Shape;
    /// Appends the slot's tensors, named `{kind}.{i}`.
    fn save(&self, i: usize, out: &mut Vec<(String, Tensor)>);
    /// Rebuilds a slot from the tensors saved for one parameter.
    fn load(entry: &Entry) -> Result<Self>;
}

/// Calls `f(param, grad, shape, slot)` for parameter `id`, growing `slots` to hold its slot
/// first.
///
/// # Panics
/// If the gradient's or an existing slot's shape differs from the parameter's (for state from
/// another model, use `Optimizer::load_state_checked`, which reports this as an error).
pub(crate) fn with_slot<S: Slot>(
    id: ParamId,
    p: &mut Tensor,
    g: &Tensor,
    slots: &mut Vec<Option<S>>,
    f: impl FnOnce(&mut [f32], &[f32], Shape, &mut Option<S>),
) {
    let i = id.0;
    if slots.len() <= i {
        slots.resize_with(i + 1, || None);
    }
    let slot = &mut slots[i];
    assert_eq!(
        p.shape(),
        g.shape(),
        "gradient of parameter {i} has the wrong shape"
    );
    if let Some(s) = slot {
        let (want, have) = (p.shape(), s.shape());
        assert_eq!(
            want, have,
            "optimizer state for parameter {i} has shape {have:?}, the parameter {want:?}"
        );
    }
    let shape = *p.shape();
    f(p.data_mut(), g.data(), shape, slot);
}

/// All slots as named tensors, in parameter order.
pub(crate) fn save_all<S: Slot>(slots: &[Option<S>]) -> Vec<(String, Tensor)> {
    let mut out = Vec::new();
    for (i, s) in slots.iter().enumerate() {
        if let Some(s) = s {
            s.save(i, &mut out);
        }
    }
    out
}

/// Slots from named tensors; `kinds` lists the names this optimizer writes.
pub(crate) fn load_all<S: Slot>(
    state: &[(String, Tensor)],
    kinds: &[&str],
) -> Result<Vec<Option<S>>> {
    let mut by_index: BTreeMap<usize, Vec<(&str, &Tensor)>> = BTreeMap::new();
    for (name, t) in state {
        let parsed = split(name).and_then(|(k, i)| Some((*kinds.iter().find(|&&x| x == k)?, i)));
        let Some((kind, index)) = parsed else {
            let msg = format!(
                "unknown tensor {name}; this optimizer saves {}",
                kinds.join(", ")
            );
            return Err(bad(msg, NAMES));
        };
        if index > MAX_INDEX {
            return Err(bad(
                format!("{name} names parameter {index}"),
                "a parameter index below 2^20",
            ));
        }
        let items = by_index.entry(index).or_default();
        if items.iter().any(|(k, _)| *k == kind) {
            return Err(bad(format!("{name} appears twice"), NAMES));
        }
        items.push((kind, t));
    }
    let mut slots = Vec::new();
    for (index, items) in by_index {
        let entry = Entry::new(index, items)?;
        slots.resize_with(index + 1, || None);
        slots[index] = Some(S::load(&entry)?);
    }
    Ok(slots)
}

/// Checks each per-parameter tensor in `state` against the parameter it names.
pub(crate) fn check_against(params: &Parameters, state: &[(String, Tensor)]) -> Result<()> {
    for (name, t) in state {
        let Some((kind, i)) = split(name) else {
            return Err(bad(format!("unknown tensor {name}"), NAMES));
        };
        if i >= params.len() {
            let msg = format!(
                "{name} is for parameter {i}, but there are {} parameters",
                params.len()
            );
            return Err(bad(msg, NAMES));
        }
        let p = &params[ParamId(i)];
        if kind != "step" && t.shape() != p.shape() {
            let (found, want, pname) = (t.shape(), p.shape(), params.name(ParamId(i)));
            let msg = format!(
                "{name} has shape {found:?} but parameter {i} ({pname}) has shape {want:?}"
            );
            return Err(bad(msg, SHAPES));
        }
    }
    Ok(())
}

/// `kind.index` → (kind, index).
fn split(name: &str) -> Option<(&str, usize)> {
    let (kind, index) = name.rsplit_once('.')?;
    Some((kind, index.parse().ok()?))
}

fn bad(value: String, expected: &'static str) -> Error {
    Error::invalid("optimizer state", value, expected)
}

/// The tensors saved for one parameter.
pub(crate) struct Entry<'a> {
    index: usize,
    items: Vec<(&'a str, &'a Tensor)>,
}

impl<'a> Entry<'a> {
    fn new(index: usize, items: Vec<(&'a str, &'a Tensor)>) -> Result<Entry<'a>> {
        // Every tensor but `step` must have the shape of the first one.
        if let Some((rk, rt)) = items.iter().copied().find(|(k, _)| *k != "step") {
            for &(k, t) in &items {
                if k != "step" && t.shape() != rt.shape() {
                    let (a, b) = (t.shape(), rt.shape());
                    let msg =
                        format!("{k}.{index} has shape {a:?} but {rk}.{index} has shape {b:?}");
                    return Err(bad(msg, SHAPES));
                }
            }
        }
        Ok(Entry { index, items })
    }

    /// A tensor the slot needs.
    pub(crate) fn tensor(&self, kind: &str) -> Result<Tensor> {
        let i = self.index;
        let missing = || {
            bad(
                format!("{kind}.{i} is missing"),
                "a full set of state per parameter",
            )
        };
        self.optional(kind).ok_or_else(missing)
    }

    /// A tensor the slot may have.
    pub(crate) fn optional(&self, kind: &str) -> Option<Tensor> {
        self.items
            .iter()
            .find(|(k, _)| *k == kind)
            .map(|(_, t)| (*t).clone())
    }

    /// The step count `step.{i}`: one element holding a whole number ≥ 0.
    pub(crate) fn step(&self) -> Result<u64> {
        let t = self.tensor("step")?;
        let v = if t.numel() == 1 {
            t.data()[0]
        } else {
            f32::NAN
        };
        if !(v >= 0.0 && v.fract() == 0.0 && v.is_finite()) {
            let msg = format!("step.{} is {t:?}", self.index);
            return Err(bad(msg, "a one-element tensor holding a whole number >= 0"));
        }
        Ok(v as u64)
    }
}

/// A one-element tensor holding a step count (exact up to 2²⁴ steps, like PyTorch's f32 `step`).
pub(crate) fn step_tensor(step: u64) -> Tensor {
    Tensor::full([1], step as f32)
}

/// Checks `value >= 0` (rejecting NaN), as PyTorch's `if not 0.0 <= value`.
pub(crate) fn non_negative(name: &'static str, value: f32) -> Result<()> {
    if value >= 0.0 {
        Ok(())
    } else {
        Err(Error::invalid(name, value, "must be >= 0"))
    }
}

/// Checks that `value` is finite (rejecting NaN and ±∞).
pub(crate) fn finite(name: &'static str, value: f32) -> Result<()> {
    if value.is_finite() {
        Ok(())
    } else {
        Err(Error::invalid(name, value, "must be finite"))
    }
}

//! [`Lbfgs`]'s checkpoint state as named tensors (the names are in the `lbfgs` module docs):
//! saving, loading and checking it against the parameters.

use super::{bad_shapes, Lbfgs, Memory, Pair};
use crate::error::Result;
use crate::optim::state::{self, Entry, Slot};
use crate::params::Parameters;
use crate::tensor::{Shape, Tensor};

impl Lbfgs {
    /// The state as named tensors, per parameter i as for the optimizers (see the module docs),
    /// for checkpoints; empty before the first iteration.
    pub fn state(&self) -> Vec<(String, Tensor)> {
        let m = &self.memory;
        if m.prev_grad.is_empty() {
            return vec![];
        }
        let mut slots = Vec::new();
        let mut start = 0;
        for shape in &m.shapes {
            let n = shape.numel();
            let part = |v: &[f32]| {
                Tensor::from_slice(&v[start..start + n], *shape)
                    .expect("internal error: L-BFGS state has the parameters' sizes")
            };
            slots.push(Some(Saved {
                step: m.n_iter,
                prev_grad: part(&m.prev_grad),
                prev_step: part(&m.prev_step),
                history: m.history.iter().map(|p| (part(&p.s), part(&p.y))).collect(),
            }));
            start += n;
        }
        state::save_all(&slots)
    }

    /// [`Lbfgs::load_state`], after checking that every state tensor names a parameter of
    /// `params` and has its shape.
    ///
    /// # Errors
    /// As [`Lbfgs::load_state`], and for state that does not fit `params`.
    pub fn load_state_checked(
        &mut self,
        params: &Parameters,
        state: &[(String, Tensor)],
    ) -> Result<()> {
        state::check_against(params, state)?;
        self.load_state(state)
    }

    /// Restores state saved by [`Lbfgs::state`].
    ///
    /// # Errors
    /// Unknown or missing tensors, pairs that L-BFGS would never have kept, or parameters whose
    /// counts of steps and pairs differ.
    pub fn load_state(&mut self, saved: &[(String, Tensor)]) -> Result<()> {
        let mut kinds = vec!["step".to_string(), "prev_grad".into(), "prev_step".into()];
        for k in 0..self.cfg.history_size {
            kinds.push(format!("history_s_{k}"));
            kinds.push(format!("history_y_{k}"));
        }
        let kinds: Vec<&str> = kinds.iter().map(String::as_str).collect();
        let slots: Vec<Option<Saved>> = state::load_all(saved, &kinds)?;
        let mut m = Memory::default();
        let mut pairs: Vec<(Vec<f32>, Vec<f32>)> = Vec::new();
        for (i, slot) in slots.into_iter().enumerate() {
            let Some(s) = slot else {
                return Err(bad_shapes(&format!(
                    "no state for parameter {i}; L-BFGS saves every parameter"
                )));
            };
            if i == 0 {
                m.n_iter = s.step;
                pairs.resize(s.history.len(), (vec![], vec![]));
            } else if s.step != m.n_iter || s.history.len() != pairs.len() {
                return Err(bad_shapes(&format!(
                    "parameter {i} has {} steps and {} pairs, parameter 0 {} and {}",
                    s.step,
                    s.history.len(),
                    m.n_iter,
                    pairs.len()
                )));
            }
            m.shapes.push(*s.prev_grad.shape());
            m.prev_grad.extend_from_slice(s.prev_grad.data());
            m.prev_step.extend_from_slice(s.prev_step.data());
            for ((ps, py), (ts, ty)) in pairs.iter_mut().zip(&s.history) {
                ps.extend_from_slice(ts.data());
                py.extend_from_slice(ty.data());
            }
        }
        for (s, y) in pairs {
            // Saved pairs passed the curvature test when they were made, with the same numbers.
            let p = Pair::new(s, y).ok_or_else(|| {
                bad_shapes("a remembered pair with y·s <= 1e-10, which L-BFGS never keeps")
            })?;
            m.history.push_back(p);
        }
        self.memory = m;
        Ok(())
    }
}

/// One parameter's part of the saved state.
struct Saved {
    step: u64,
    prev_grad: Tensor,
    prev_step: Tensor,
    history: Vec<(Tensor, Tensor)>,
}

impl Slot for Saved {
    fn shape(&self) -> &Shape {
        self.prev_grad.shape()
    }
    fn save(&self, i: usize, out: &mut Vec<(String, Tensor)>) {
        out.push((format!("step.{i}"), state::step_tensor(self.step)));
        out.push((format!("prev_grad.{i}"), self.prev_grad.clone()));
        out.push((format!("prev_step.{i}"), self.prev_step.clone()));
        for (k, (s, y)) in self.history.iter().enumerate() {
            out.push((format!("history_s_{k}.{i}"), s.clone()));
            out.push((format!("history_y_{k}.{i}"), y.clone()));
        }
    }
    fn load(e: &Entry) -> Result<Saved> {
        let mut history = Vec::new();
        while let Some(s) = e.optional(&format!("history_s_{}", history.len())) {
            let y = e.tensor(&format!("history_y_{}", history.len()))?;
            history.push((s, y));
        }
        let k = history.len();
        if e.optional(&format!("history_y_{k}")).is_some() {
            return Err(bad_shapes(&format!("history_y_{k} without history_s_{k}")));
        }
        Ok(Saved {
            step: e.step()?,
            prev_grad: e.tensor("prev_grad")?,
            prev_step: e.tensor("prev_step")?,
            history,
        })
    }
}

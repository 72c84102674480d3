//! [`Fitted`]: a trained model as Python holds it — the library's `Model` (what a model file
//! stores) and the state to continue training from.

use crate::value_error;
use backprop::io::{Model, TaskInfo};
use backprop::nn::Activation;
use backprop::train::TrainState;
use backprop::{Loss, Tensor};
use numpy::{PyArray1, PyArray2, PyArrayMethods, PyReadonlyArray2, PyUntypedArrayMethods};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use std::path::{Path, PathBuf};

/// A trained network: the model file's contents, plus (after training in this process) the
/// optimizer's state for `partial_fit`.
#[pyclass(module = "backprop._core")]
pub struct Fitted {
    pub(crate) model: Model,
    pub(crate) state: Option<TrainState>,
}

/// The rows of a C-contiguous float32 matrix, checked against the model's width.
fn rows(x: &PyReadonlyArray2<'_, f32>, width: usize) -> PyResult<Tensor> {
    let [n, d] = [x.shape()[0], x.shape()[1]];
    if d != width {
        return Err(PyValueError::new_err(format!(
            "X has {d} features, but the model takes {width}"
        )));
    }
    let data = x
        .as_slice()
        .map_err(|e| PyValueError::new_err(e.to_string()))?;
    Tensor::from_vec(data.to_vec(), [n, d]).map_err(value_error)
}

fn to_py2<'py>(py: Python<'py>, t: &Tensor, n: usize) -> PyResult<Bound<'py, PyArray2<f32>>> {
    let k = t.numel() / n.max(1);
    PyArray1::from_slice(py, t.data()).reshape([n, k])
}

#[pymethods]
impl Fitted {
    /// Reads model file bytes (`backprop train --out` writes the same).
    #[staticmethod]
    fn from_bytes(bytes: &[u8]) -> PyResult<Fitted> {
        let model = Model::from_bytes(bytes, Path::new("<bytes>")).map_err(value_error)?;
        Ok(Fitted { model, state: None })
    }

    /// Reads a model file.
    #[staticmethod]
    fn load(path: PathBuf) -> PyResult<Fitted> {
        let model = Model::load(path).map_err(value_error)?;
        Ok(Fitted { model, state: None })
    }

    /// The model file's bytes.
    fn to_bytes<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.model.to_bytes())
    }

    /// Writes the model file (atomically).
    fn save(&self, path: PathBuf) -> PyResult<()> {
        self.model.save(path).map_err(value_error)
    }

    /// Class probabilities `(n, classes)` of a classifier, or values `(n, targets)`, for raw
    /// features (the model applies its own scaling); the GIL is released meanwhile.
    fn predict<'py>(
        &self,
        py: Python<'py>,
        x: PyReadonlyArray2<'py, f32>,
    ) -> PyResult<Bound<'py, PyArray2<f32>>> {
        let n = x.shape()[0];
        let t = rows(&x, self.model.meta.architecture.in_features)?;
        let out = py
            .allow_threads(|| self.model.predict(&t))
            .map_err(value_error)?;
        to_py2(py, &out.outputs, n)
    }

    /// The weight matrices `(n_in, n_out)` and bias vectors of the linear layers, in
    /// scikit-learn's layout (`coefs_`, `intercepts_`); a layer without bias gets zeros.
    #[allow(clippy::type_complexity)]
    fn weights<'py>(
        &self,
        py: Python<'py>,
    ) -> PyResult<Vec<(Bound<'py, PyArray2<f32>>, Bound<'py, PyArray1<f32>>)>> {
        let p = &self.model.params;
        let mut out = vec![];
        for l in &self.model.net.layers {
            let (i, o) = (l.in_features, l.out_features);
            let w = p[l.weight].data();
            let wt: Vec<f32> = if l.transpose {
                w.to_vec()
            } else {
                (0..i * o).map(|r| w[(r % o) * i + r / o]).collect()
            };
            let b = match l.bias {
                Some(b) if p[b].numel() == o => p[b].data().to_vec(),
                Some(b) => vec![p[b].data()[0]; o],
                None => vec![0.0; o],
            };
            out.push((
                PyArray1::from_vec(py, wt).reshape([i, o])?,
                PyArray1::from_vec(py, b),
            ));
        }
        Ok(out)
    }

    /// The class names of a classifier (`None` for a regressor).
    #[getter]
    fn classes(&self) -> Option<Vec<String>> {
        match &self.model.meta.task {
            TaskInfo::Classification { classes } => Some(classes.clone()),
            TaskInfo::Regression { .. } => None,
        }
    }

    /// The input columns' names.
    #[getter]
    fn feature_names(&self) -> Vec<String> {
        self.model.meta.feature_names.clone()
    }

    /// The loss the model was trained with (`Display` name).
    #[getter]
    fn loss(&self) -> String {
        self.model.meta.loss.to_string()
    }

    /// The output layer's activation under scikit-learn's names: `softmax` for cross-entropy,
    /// `logistic` for a sigmoid unit or BCE on logits, else `identity`.
    #[getter]
    fn out_activation(&self) -> &'static str {
        let act = self.model.meta.architecture.output_activation();
        match (self.model.meta.loss, act) {
            (Loss::CrossEntropy, _) | (_, Activation::Softmax) => "softmax",
            (Loss::BceWithLogits, _) | (_, Activation::Sigmoid) => "logistic",
            _ => "identity",
        }
    }

    /// Whether the state to continue training (optimizer moments) is here.
    #[getter]
    fn has_state(&self) -> bool {
        self.state.is_some()
    }
}

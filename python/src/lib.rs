//! `backprop._core`: the Rust side of the Python package. It turns NumPy arrays into the
//! library's `Dataset`, runs the library's `Pipeline` (split, scale, build, train through a
//! `Session`) with the GIL released, and hands back the trained model as a [`Fitted`] object
//! (model file bytes, predictions, weights). The estimators themselves — parameters,
//! validation, scikit-learn plumbing — are the pure-Python package around it.

mod config;
mod fitted;
mod run;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

/// A library error as Python's `ValueError`, with the library's message.
pub(crate) fn value_error(e: backprop::Error) -> PyErr {
    PyValueError::new_err(e.to_string())
}

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<fitted::Fitted>()?;
    m.add_function(wrap_pyfunction!(run::train, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}

//! The library's error type. Every variant names where the problem is (file and line, or layer
//! and shapes) and what was expected. Messages are lowercase without a trailing period so that
//! they read as one sentence inside a context chain.

use crate::tensor::shape::Shape;
use std::path::PathBuf;

/// Everything that can go wrong in backprop, as data.
///
/// ```
/// use backprop::{Error, Tensor};
/// let err = Tensor::from_vec(vec![1.0, 2.0, 3.0], [2, 2]).unwrap_err();
/// assert!(matches!(err, Error::DataLength { expected: 4, got: 3, .. }));
/// assert_eq!(err.to_string(), "data of length 3 does not fit shape [2, 2] (4 values)");
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Two shapes that had to agree did not.
    #[error("shape mismatch in {op}: {lhs:?} vs {rhs:?}")]
    ShapeMismatch {
        /// The operation or layer that found the mismatch.
        op: &'static str,
        /// The left (or expected) shape.
        lhs: Shape,
        /// The right (or found) shape.
        rhs: Shape,
    },
    /// A layer received an input of the wrong width.
    #[error("layer {layer}: expected input of shape {expected:?}, got {got:?}")]
    LayerInput {
        /// The layer's name, e.g. `layers.1`.
        layer: String,
        /// The shape the layer accepts.
        expected: Shape,
        /// The shape it was given.
        got: Shape,
    },
    /// A network description (architecture) that cannot be built.
    #[error("network description: {layer}: {msg}")]
    Network {
        /// Where: `layer 2` (1-based, as in the seeds' W(l)), or `network`.
        layer: String,
        /// What was wrong and what was expected.
        msg: String,
    },
    /// A buffer's length does not fit the shape it was given.
    #[error("data of length {got} does not fit shape {shape:?} ({expected} values)")]
    DataLength {
        /// The requested shape.
        shape: Shape,
        /// Its element count.
        expected: usize,
        /// The data's length.
        got: usize,
    },
    /// A hyper-parameter is outside its valid range.
    #[error("invalid {name}: {value} ({expected})")]
    InvalidParameter {
        /// The parameter's name, e.g. `lr`.
        name: &'static str,
        /// The offending value.
        value: String,
        /// What would have been valid.
        expected: &'static str,
    },
    /// The loss became NaN or infinite; the model keeps the last good weights.
    #[error(
        "loss became {value} at epoch {epoch}, batch {batch}; the last good weights were kept"
    )]
    NonFiniteLoss {
        /// The non-finite value.
        value: f32,
        /// The epoch (1-based).
        epoch: usize,
        /// The batch within the epoch (1-based).
        batch: usize,
    },
    /// A data file could not be parsed.
    #[error("{}:{line}: {field}: {msg}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// The 1-based line (or record) number; 0 when it is about the whole file.
        line: usize,
        /// The column or field name.
        field: String,
        /// What was wrong and what was expected.
        msg: String,
    },
    /// A model or checkpoint file is not valid.
    #[error("{}: {msg}", path.display())]
    ModelFile {
        /// The file.
        path: PathBuf,
        /// What was wrong and what was expected.
        msg: String,
    },
    /// An I/O error, with the file it happened on.
    #[error("{}: {cause}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error (not a `source`, so that chains do not print it twice).
        cause: std::io::Error,
    },
}

/// `Result` with backprop's [`Error`].
///
/// ```
/// use backprop::{Result, Tensor};
/// fn row_sums(data: &[f32], cols: usize) -> Result<Vec<f32>> {
///     let t = Tensor::from_slice(data, [data.len() / cols, cols])?; // `?` passes an Error on
///     Ok(t.sum_dim(1, false).to_vec())
/// }
/// assert_eq!(row_sums(&[1.0, 2.0, 3.0, 4.0], 2)?, vec![3.0, 7.0]);
/// assert!(row_sums(&[1.0, 2.0, 3.0], 2).is_err()); // 3 values are not whole rows of 2
/// # Ok::<(), backprop::Error>(())
/// ```
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub(crate) fn network(layer: impl ToString, msg: impl ToString) -> Error {
        Error::Network {
            layer: layer.to_string(),
            msg: msg.to_string(),
        }
    }

    pub(crate) fn invalid(
        name: &'static str,
        value: impl ToString,
        expected: &'static str,
    ) -> Error {
        Error::InvalidParameter {
            name,
            value: value.to_string(),
            expected,
        }
    }
}

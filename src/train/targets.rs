//! How targets enter the graph for a given loss, dataset and output width: class indices,
//! one-hot rows, or values; and how outputs read back as predictions for the metrics.

use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::loss::Loss;
use crate::train::Readout;

/// How targets enter the graph for a given loss and dataset.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Encoding {
    Indices,
    OneHot(usize),
    Values(usize),
}

pub(crate) fn plan(loss: Loss, data: &Dataset, out: usize) -> Result<(Encoding, Readout)> {
    match (data.num_classes(), loss.takes_classes()) {
        (Some(k), true) if out == k => Ok((Encoding::Indices, Readout::Argmax)),
        (Some(k), true) => Err(Error::invalid(
            "output width",
            out,
            if k > 0 {
                "one output per class"
            } else {
                "classes"
            },
        )),
        (None, true) => Err(Error::invalid(
            "loss",
            loss,
            "a regression loss for regression targets (not cross_entropy or hinge)",
        )),
        (Some(k), false) if out == 1 && k <= 2 => Ok((
            Encoding::Values(1),
            Readout::Threshold(if loss == Loss::BceWithLogits { 0 } else { 1 }),
        )),
        (Some(k), false) if out == k => Ok((Encoding::OneHot(k), Readout::Argmax)),
        (Some(_), false) => Err(Error::invalid(
            "output width",
            out,
            "1 (binary) or one output per class",
        )),
        (None, false) if out == data.target_width() => Ok((Encoding::Values(out), Readout::Values)),
        (None, false) => Err(Error::invalid(
            "output width",
            out,
            "one output per regression target",
        )),
    }
}

pub(crate) fn fill_targets(
    data: &Dataset,
    idx: &[usize],
    enc: Encoding,
    buf: &mut [f32],
    truth: &mut Vec<f32>,
) {
    truth.resize(idx.len() * data.target_width(), 0.0);
    data.gather_targets(idx, truth);
    match enc {
        Encoding::Indices | Encoding::Values(_) => buf.copy_from_slice(truth),
        Encoding::OneHot(k) => {
            buf.fill(0.0);
            for (r, &c) in truth.iter().enumerate() {
                buf[r * k + c as usize] = 1.0;
            }
        }
    }
}

pub(crate) fn target_shape(enc: Encoding, m: usize) -> Vec<usize> {
    match enc {
        Encoding::Indices => vec![m],
        Encoding::OneHot(k) | Encoding::Values(k) => vec![m, k],
    }
}

/// The targets of samples `idx` as the loss expects them for a network with `out_features`
/// outputs: class indices, one-hot rows, or values.
pub fn encode_targets(
    loss: Loss,
    data: &Dataset,
    out_features: usize,
    idx: &[usize],
) -> Result<crate::tensor::Tensor> {
    let (enc, _) = plan(loss, data, out_features)?;
    let shape = target_shape(enc, idx.len());
    let mut buf = vec![0.0; shape.iter().product()];
    fill_targets(data, idx, enc, &mut buf, &mut vec![]);
    crate::tensor::Tensor::from_vec(buf, shape.as_slice())
}

/// Checks that a network with `out` outputs can be trained on `data` with `loss`; the error
/// says what width was expected.
pub(crate) fn check_output_width(loss: Loss, data: &Dataset, out: usize) -> Result<()> {
    plan(loss, data, out).map(|_| ())
}

//! Models and checkpoints on disk.
//!
//! Both are single [safetensors](https://github.com/huggingface/safetensors) files: the tensors
//! under their state-dict names (so Python's `safetensors.torch.load_file` reads the weights of a
//! model file directly into a PyTorch model of the same architecture), and a JSON document in
//! the header's `__metadata__` under one key (`backprop` for models, `backprop-checkpoint` for
//! checkpoints) holding everything else: format and version, architecture, activations, loss,
//! class or target names, preprocessing, seed and generator. One file, so a model can never be
//! separated from its preprocessing.
//!
//! Writing is atomic: the bytes go to a temporary file in the same directory, which is flushed
//! to disk (`fsync`) and then renamed over the destination, so a crash leaves either the old file
//! or the new one, never half of one. Reading validates the header (offsets inside the file,
//! dtypes, shapes against the architecture) before using any size from it.

mod checkpoint;
mod model;
mod summary;

pub use checkpoint::Checkpoint;
pub use model::{Model, ModelMeta, Prediction, TaskInfo, FORMAT_VERSION};

use crate::error::{Error, Result};
use crate::params::Parameters;
use crate::tensor::{Tensor, MAX_RANK};
use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

/// Writes `bytes` to `path` atomically: temporary file, fsync, rename, fsync of the directory.
pub fn atomic_write(path: &Path, bytes: &[u8]) -> Result<()> {
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        cause: source,
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| io(std::io::Error::other("not a file path")))?;
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, path)?;
        if let Ok(d) = std::fs::File::open(&dir) {
            let _ = d.sync_all(); // durability of the rename; not supported everywhere
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(io)
}

/// Serialises named tensors and one metadata entry to safetensors bytes (deterministic).
pub(crate) fn to_safetensors(tensors: &[(String, &Tensor)], key: &str, json: String) -> Vec<u8> {
    let bytes: Vec<(String, Vec<u8>, Vec<usize>)> = tensors
        .iter()
        .map(|(n, t)| {
            (
                n.clone(),
                t.data().iter().flat_map(|v| v.to_le_bytes()).collect(),
                t.dims().to_vec(),
            )
        })
        .collect();
    let views: Vec<(String, TensorView)> = bytes
        .iter()
        .map(|(n, b, s)| {
            (
                n.clone(),
                TensorView::new(Dtype::F32, s.clone(), b).expect("internal error: tensor view"),
            )
        })
        .collect();
    let meta = HashMap::from([(key.to_string(), json)]);
    safetensors::serialize(views, Some(meta)).expect("internal error: serialising tensors")
}

/// Parsed safetensors: the metadata entry `key` and the tensors.
pub(crate) struct Loaded<'a> {
    pub json: String,
    pub st: SafeTensors<'a>,
}

pub(crate) fn from_safetensors<'a>(bytes: &'a [u8], key: &str, path: &Path) -> Result<Loaded<'a>> {
    let bad = |msg: String| Error::ModelFile {
        path: path.to_path_buf(),
        msg,
    };
    let (_, meta) = SafeTensors::read_metadata(bytes)
        .map_err(|e| bad(format!("not a valid safetensors file: {e}")))?;
    let json = meta
        .metadata()
        .as_ref()
        .and_then(|m| m.get(key))
        .cloned()
        .ok_or_else(|| {
            bad(format!(
                "no \"{key}\" metadata: not a backprop file of this kind"
            ))
        })?;
    let st =
        SafeTensors::deserialize(bytes).map_err(|e| bad(format!("corrupt tensor data: {e}")))?;
    // Every tensor must fit a `Shape` (which holds at most MAX_RANK dimensions) whether or not
    // it is read later, so that the error names the tensor and its rank instead of a panic.
    let mut names = st.names();
    names.sort_unstable();
    for name in names {
        let view = st
            .tensor(name)
            .map_err(|e| bad(format!("tensor {name}: {e}")))?;
        check_dims(view.shape(), name, path)?;
    }
    Ok(Loaded { json, st })
}

/// Reads tensor `name` as f32 of exactly `shape`.
pub(crate) fn read_tensor(
    st: &SafeTensors,
    name: &str,
    shape: &[usize],
    path: &Path,
) -> Result<Tensor> {
    let bad = |msg: String| Error::ModelFile {
        path: path.to_path_buf(),
        msg,
    };
    // `shape` may come from the file's metadata (optimizer state): check it fits a `Shape`.
    check_dims(shape, name, path)?;
    let view = st
        .tensor(name)
        .map_err(|_| bad(format!("tensor {name} is missing")))?;
    if view.dtype() != Dtype::F32 {
        return Err(bad(format!(
            "tensor {name} has dtype {:?}, expected F32",
            view.dtype()
        )));
    }
    if view.shape() != shape {
        return Err(bad(format!(
            "tensor {name} has shape {:?}, expected {:?}",
            view.shape(),
            shape
        )));
    }
    let data: Vec<f32> = view
        .data()
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    Tensor::from_vec(data, shape).map_err(|e| bad(format!("tensor {name}: {e}")))
}

/// Checks that `dims`, read from a file for tensor `name`, can be a [`Shape`](crate::Shape): at most
/// [`MAX_RANK`] dimensions whose product does not overflow.
fn check_dims(dims: &[usize], name: &str, path: &Path) -> Result<()> {
    let bad = |msg: String| Error::ModelFile {
        path: path.to_path_buf(),
        msg,
    };
    if dims.len() > MAX_RANK {
        return Err(bad(format!(
            "tensor {name} has {} dimensions {dims:?}; at most {MAX_RANK} are supported",
            dims.len()
        )));
    }
    if dims
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .is_none()
    {
        return Err(bad(format!(
            "tensor {name} has shape {dims:?}, which is too large"
        )));
    }
    Ok(())
}

/// Reads every tensor of `like` (same names and shapes) under `prefix`.
pub(crate) fn read_params(
    st: &SafeTensors,
    prefix: &str,
    like: &Parameters,
    path: &Path,
) -> Result<Parameters> {
    let mut out = Parameters::new();
    for (name, t) in like.named() {
        out.add(
            name,
            read_tensor(st, &format!("{prefix}{name}"), t.dims(), path)?,
        );
    }
    Ok(out)
}

pub(crate) fn read_file(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        cause: source,
    })
}

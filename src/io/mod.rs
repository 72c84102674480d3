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
//! or the new one, never half of one. A symbolic link is followed (its target is replaced), and a
//! device or FIFO is written into, never replaced (see [`atomic_write`]). Reading validates the header (offsets inside the file,
//! dtypes, shapes against the architecture) before using any size from it.
//!
//! ```
//! use backprop::io::Model;
//! use backprop::nn::MlpSpec;
//! use backprop::Tensor;
//! use std::path::Path;
//! // OR as one hand-set threshold unit: fires when x0 + x1 − 0.5 ≥ 0
//! let spec = MlpSpec::from_json(r#"{"in_features": 2, "layers": [{"units": 1,
//!     "activation": "step", "init": {"weight": [[1, 1]], "bias": [-0.5]}}]}"#)?;
//! let model = Model::from_spec(spec)?;
//!
//! let bytes = model.to_bytes(); // the file's bytes, in memory
//! assert_eq!(bytes, model.to_bytes()); // deterministic
//! let back = Model::from_bytes(&bytes, Path::new("or.model"))?;
//! assert_eq!((&back.meta, &back.params), (&model.meta, &model.params));
//! assert_eq!(back.to_bytes(), bytes);
//! // a damaged file is an error, never a panic
//! assert!(Model::from_bytes(&bytes[..bytes.len() - 1], Path::new("cut.model")).is_err());
//!
//! let path = std::env::temp_dir().join(format!("backprop-io-doc-{}.model", std::process::id()));
//! model.save(&path)?;
//! let loaded = Model::load(&path);
//! std::fs::remove_file(&path).ok();
//! let x = Tensor::from_vec(vec![0., 0., 0., 1., 1., 0., 1., 1.], [4, 2])?;
//! assert_eq!(loaded?.forward(&x)?.data(), &[0., 1., 1., 1.]);
//! # Ok::<(), backprop::Error>(())
//! ```

mod checkpoint;
mod model;
#[cfg(feature = "onnx")]
pub mod onnx;
#[cfg(feature = "onnx")]
mod onnx_graph;
mod summary;
mod weights;

pub use checkpoint::{Checkpoint, DataInfo, TargetScale};
pub use model::{Model, ModelMeta, Prediction, TaskInfo, FORMAT_VERSION, PREDICT_CHUNK};
pub use weights::StateDict;

use crate::error::{Error, Result};
use crate::params::Parameters;
use crate::tensor::{Tensor, MAX_RANK};
use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Writes `bytes` to `path` atomically: temporary file, fsync, rename, fsync of the directory.
///
/// What `path` already is decides how:
///
/// - nothing, or a regular file: the bytes go to `.NAME.tmp-PID-N` in the same directory, which
///   is flushed to disk and renamed over `path`, so a crash leaves the old file or the new one;
/// - a symbolic link (or a chain of them): it is followed, and its final target is replaced
///   atomically as above (the temporary file is made beside the target); the link stays;
/// - a character or block device, or a FIFO (`/dev/null`, `/dev/stdout`, a named pipe): the
///   bytes are written into it as it is, with no rename, so the device is never replaced;
/// - a socket or a directory: an error.
///
/// Before writing, temporary files `.NAME.tmp-PID…` of this program left in the directory by a
/// process that is no longer running (a save that was killed) are removed; on Linux only, where
/// `/proc/PID` tells whether a process is running.
pub fn atomic_write(path: &Path, bytes: &[u8]) -> Result<()> {
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        cause: source,
    };
    let target = resolve_symlinks(path).map_err(io)?;
    // Errors name the path the caller gave, and the link's target when there is one.
    let io = |source: std::io::Error| match target == path {
        true => io(source),
        false => io(std::io::Error::new(
            source.kind(),
            format!("(a link to {}) {source}", target.display()),
        )),
    };
    match std::fs::metadata(&target) {
        Ok(m) if is_stream(&m.file_type()) => {
            // Write through, never replace: no truncation (a device has no length) and no rename.
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .open(&target)
                .map_err(io)?;
            return f.write_all(bytes).and_then(|()| f.flush()).map_err(io);
        }
        Ok(m) if m.is_dir() => {
            return Err(io(std::io::Error::other(
                "is a directory, expected a file path",
            )))
        }
        Ok(m) if !m.is_file() => {
            return Err(io(std::io::Error::other(
                "is not a regular file (a socket?); refusing to replace it",
            )))
        }
        _ => {}
    }
    let dir = match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = target
        .file_name()
        .ok_or_else(|| io(std::io::Error::other("not a file path")))?
        .to_string_lossy()
        .into_owned();
    remove_stale_temporaries(&dir, &name);
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let tmp = dir.join(format!(".{name}.tmp-{}-{n}", std::process::id()));
    let result = (|| {
        let mut f = create_new(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, &target)?;
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

/// Creates `tmp`, which must not exist. A file of that name can only be left by an earlier
/// process with this one's PID (names are unique within a process): it is removed, once.
fn create_new(tmp: &Path) -> std::io::Result<std::fs::File> {
    let open = || {
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(tmp)
    };
    match open() {
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            std::fs::remove_file(tmp)?;
            open()
        }
        r => r,
    }
}

/// `path` with every symbolic link along the final component followed (at most 40, as Linux).
/// The result may not exist (a dangling link names the file to create).
fn resolve_symlinks(path: &Path) -> std::io::Result<PathBuf> {
    let mut p = path.to_path_buf();
    for _ in 0..40 {
        match std::fs::symlink_metadata(&p) {
            Ok(m) if m.file_type().is_symlink() => {
                let link = std::fs::read_link(&p)?;
                p = match p.parent() {
                    Some(dir) if link.is_relative() => dir.join(link),
                    _ => link,
                };
            }
            _ => return Ok(p),
        }
    }
    Err(std::io::Error::other("too many levels of symbolic links"))
}

/// A character or block device or a FIFO: written into, never replaced.
fn is_stream(t: &std::fs::FileType) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        t.is_char_device() || t.is_block_device() || t.is_fifo()
    }
    #[cfg(not(unix))]
    {
        let _ = t;
        false
    }
}

/// Removes `.NAME.tmp-PID` and `.NAME.tmp-PID-N` files in `dir` whose process is gone (best
/// effort: errors are ignored). Only on Linux, where `/proc/PID` exists for a running process;
/// a temporary file of a process in another PID namespace sharing the directory would look
/// stale. Files of this process are kept unless they have the old, counter-less name.
fn remove_stale_temporaries(dir: &Path, name: &str) {
    #[cfg(target_os = "linux")]
    {
        if !Path::new("/proc/self").exists() {
            return; // no procfs mounted: every process would look gone
        }
        let prefix = format!(".{name}.tmp-");
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        let me = std::process::id();
        for entry in entries.flatten() {
            let file = entry.file_name();
            let Some(rest) = file.to_str().and_then(|f| f.strip_prefix(&prefix)) else {
                continue;
            };
            let (pid, counter) = match rest.split_once('-') {
                Some((pid, n)) => (pid, Some(n)),
                None => (rest, None),
            };
            let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
            if !digits(pid) || !counter.is_none_or(digits) {
                continue;
            }
            let Ok(pid) = pid.parse::<u32>() else {
                continue;
            };
            let running = match pid == me {
                true => counter.is_some(), // possibly another thread's save in progress
                false => Path::new("/proc").join(pid.to_string()).exists(),
            };
            let regular = entry.file_type().is_ok_and(|t| t.is_file());
            if !running && regular {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (dir, name);
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

//! NumPy `.npy` files (format versions 1.0, 2.0 and 3.0), read into `f32`.
//!
//! A file is the magic `\x93NUMPY`, a version `major.minor`, the header length (`u16` in 1.0,
//! `u32` after), and a header that is a Python dict literal such as
//! `{'descr': '<f4', 'fortran_order': False, 'shape': (150, 4), }`, then the raw values. The
//! header is read as strictly as NumPy reads it (exactly those three keys, a closing brace,
//! a tuple of non-negative sizes, versions 1.0, 2.0 and 3.0 only, at most 10,000 characters;
//! see `npy_header.rs`), and every file NumPy writes is read.
//!
//! Supported dtypes: `f4 f8 i1 i2 i4 i8 u1 u2 u4 u8 b1`, little-endian (`<`), big-endian (`>`)
//! or byte-order-free (`|`); every value is converted to `f32` (large integers and `f8` values
//! are rounded). Only C (row-major) order is read: `fortran_order: True` is an error for arrays
//! of two or more dimensions. The shape is checked against the data length, so a truncated file
//! is an error naming the expected and found byte counts. Errors are [`Error::Parse`] with line 0
//! (the whole file), or the 1-based row for a bad value.

use super::labels::{class_labels, is_classification, label_text, target_names, Task};
use super::npy_header::{self, Header, SUPPORTED};
use super::{Dataset, Features, Targets};
use crate::error::{Error, Result};
use std::path::Path;

const MAGIC: &[u8] = b"\x93NUMPY";

/// Reads a `.npy` array: its values as `f32` in C order, and its shape (empty for a scalar).
pub fn read_npy(path: impl AsRef<Path>) -> Result<(Vec<f32>, Vec<usize>)> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|source| Error::Io {
        path: path.into(),
        cause: source,
    })?;
    read_npy_from_bytes(&bytes, path)
}

/// Like [`read_npy`] on the contents of a file; `name` is the file name used in errors.
///
/// ```
/// use backprop::data::npy::read_npy_from_bytes;
/// let mut file = b"\x93NUMPY\x01\x00".to_vec();
/// let header = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }\n";
/// file.extend((header.len() as u16).to_le_bytes());
/// file.extend(header.as_bytes());
/// file.extend([1.5f32, -2.0].iter().flat_map(|v| v.to_le_bytes()));
/// assert_eq!(read_npy_from_bytes(&file, "a.npy").unwrap(), (vec![1.5, -2.0], vec![2]));
/// assert!(read_npy_from_bytes(&file[..20], "a.npy").is_err());
/// ```
pub fn read_npy_from_bytes(bytes: &[u8], name: impl AsRef<Path>) -> Result<(Vec<f32>, Vec<usize>)> {
    let path = name.as_ref();
    let err = |field: &str, msg: String| Error::Parse {
        path: path.into(),
        line: 0,
        field: field.into(),
        msg,
    };
    let (header, start) = read_header(bytes, &err)?;
    let (descr, shape) = (header.descr.as_str(), header.shape);
    if header.fortran_order && shape.len() > 1 {
        let msg =
            "expected C order, found Fortran order; save a C-ordered copy (np.ascontiguousarray)";
        return Err(err("fortran_order", msg.into()));
    }
    let (big, kind, size) = dtype(descr).ok_or_else(|| {
        err(
            "descr",
            format!("unsupported dtype \"{descr}\"; expected one of {SUPPORTED}"),
        )
    })?;
    // Every product of the sizes must fit in usize, even where a zero makes the array empty
    // (`(0, 2**40, 2**40)`): a reader multiplies the sizes after the first to get a row's width.
    // So the product of the non-zero sizes (and the element size) is checked, whatever the zeros.
    let nonzero: Vec<usize> = shape.iter().copied().filter(|&d| d != 0).collect();
    let all_bytes = checked_product(&nonzero).and_then(|n| n.checked_mul(size));
    let all_bytes = all_bytes.ok_or_else(|| {
        let msg = format!("shape {shape:?} is too large: the product of its sizes overflows");
        err("shape", msg)
    })?;
    let expected = if shape.contains(&0) { 0 } else { all_bytes };
    let data = &bytes[start..];
    if data.len() != expected {
        let what = if data.len() < expected {
            "the file is truncated"
        } else {
            "the file has trailing bytes"
        };
        let msg = format!(
            "expected {expected} data bytes for shape {shape:?} of {descr}, found {}: {what}",
            data.len()
        );
        return Err(err("data", msg));
    }
    Ok((decode(data, kind, size, big), shape))
}

/// The header of a `.npy` file and where its data starts: the magic, a format version NumPy
/// reads (1.0, 2.0 or 3.0), the header length, and the header (see [`super::npy_header`]).
fn read_header(bytes: &[u8], err: &dyn Fn(&str, String) -> Error) -> Result<(Header, usize)> {
    if !bytes.starts_with(MAGIC) {
        let found = bytes
            .iter()
            .take(6)
            .map(|b| b.escape_ascii().to_string())
            .collect::<String>();
        return Err(err(
            "magic",
            format!("expected \"\\x93NUMPY\" (a .npy file), found \"{found}\""),
        ));
    }
    let Some(&[major, minor]) = bytes.get(6..8) else {
        let msg = format!(
            "expected a format version after the magic, found a file of {} bytes",
            bytes.len()
        );
        return Err(err("version", msg));
    };
    let (len_size, start) = match (major, minor) {
        (1, 0) => (2, 10),
        (2, 0) | (3, 0) => (4, 12),
        _ => {
            return Err(err(
                "version",
                format!("expected format version 1.0, 2.0 or 3.0, found {major}.{minor}"),
            ))
        }
    };
    let header_len = match bytes.get(8..start) {
        Some(b) if len_size == 2 => u16::from_le_bytes([b[0], b[1]]) as usize,
        Some(b) => u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize,
        None => {
            return Err(err(
                "header",
                format!(
                    "expected a header length, found a file of {} bytes",
                    bytes.len()
                ),
            ))
        }
    };
    let Some(header) = bytes.get(start..start.saturating_add(header_len)) else {
        let found = bytes.len() - start;
        let msg = format!(
            "expected a header of {header_len} bytes, found {found}: the file is truncated"
        );
        return Err(err("header", msg));
    };
    // NumPy decodes versions 1.0 and 2.0 as Latin-1, 3.0 as UTF-8
    let text = match major {
        3 => std::str::from_utf8(header)
            .map_err(|_| err("header", "expected UTF-8 text (format version 3.0)".into()))?
            .to_string(),
        _ => header.iter().map(|&b| b as char).collect(),
    };
    let header = npy_header::parse(&text, major).map_err(|(field, msg)| err(field, msg))?;
    Ok((header, start + header_len))
}

/// Features and targets from two `.npy` files with one row per sample.
///
/// The features are `(n, …)` (every dimension after the first is flattened, and a 1-D array is
/// one feature) and must be finite; the labels are `(n,)` or `(n, k)`. [`Task::Auto`] follows the
/// CSV rule (see [`crate::data::csv`]): one column of integers with at most 20 distinct values is
/// classification, and class indices follow the same rule as CSV labels.
pub fn read_npy_dataset(
    features: impl AsRef<Path>,
    labels: impl AsRef<Path>,
    task: Task,
) -> Result<Dataset> {
    let (fp, lp) = (features.as_ref(), labels.as_ref());
    dataset(read_npy(fp)?, fp, read_npy(lp)?, lp, task)
}

/// Like [`read_npy_dataset`] on the contents of the two files; the names are used in errors.
pub fn read_npy_dataset_from_bytes(
    features: &[u8],
    features_name: impl AsRef<Path>,
    labels: &[u8],
    labels_name: impl AsRef<Path>,
    task: Task,
) -> Result<Dataset> {
    let (fp, lp) = (features_name.as_ref(), labels_name.as_ref());
    let x = read_npy_from_bytes(features, fp)?;
    dataset(x, fp, read_npy_from_bytes(labels, lp)?, lp, task)
}

/// The dataset of features `(x, xs)` read from `fp` and labels `(y, ys)` read from `lp`.
fn dataset(
    (x, xs): (Vec<f32>, Vec<usize>),
    fp: &Path,
    (y, ys): (Vec<f32>, Vec<usize>),
    lp: &Path,
    task: Task,
) -> Result<Dataset> {
    let err = |path: &Path, line, field, msg| Error::Parse {
        path: path.into(),
        line,
        field,
        msg,
    };
    let not_finite = |v: f32| format!("expected a finite number, found {v}");
    let Some(&n) = xs.first() else {
        return Err(err(
            fp,
            0,
            "shape".into(),
            "expected an array of one row per sample, found a scalar".into(),
        ));
    };
    // With no rows the other sizes are not backed by any data (`(0, 10000000)` is a valid, empty
    // array of 16 bytes), and a dataset would still allocate per feature: refuse it, as the CSV
    // reader refuses a file without data rows. With rows, the sizes are bounded by the file.
    if n == 0 {
        return Err(err(
            fp,
            0,
            "shape".into(),
            format!("expected at least one row, found shape {xs:?} (no data)"),
        ));
    }
    let d = match checked_product(&xs[1..]) {
        Some(d) if d > 0 => d,
        _ => {
            return Err(err(
                fp,
                0,
                "shape".into(),
                format!("expected at least one feature per row, found shape {xs:?}"),
            ))
        }
    };
    if let Some(i) = x.iter().position(|v| !v.is_finite()) {
        return Err(err(
            fp,
            i / d + 1,
            format!("column {}", i % d + 1),
            not_finite(x[i]),
        ));
    }
    if ys.first() != Some(&n) {
        let msg = format!(
            "expected {n} rows, one per row of {}, found shape {ys:?}",
            fp.display()
        );
        return Err(err(lp, 0, "shape".into(), msg));
    }
    let k = match checked_product(&ys[1..]) {
        Some(k) if k > 0 => k,
        _ => {
            let msg = format!("expected at least one target per row, found shape {ys:?}");
            return Err(err(lp, 0, "shape".into(), msg));
        }
    };
    // Labels as text, so that the CSV rules apply: integral values are written as integers.
    let text: Vec<String> = y.iter().map(|&v| label_text(v)).collect();
    let classify = match task {
        Task::Classification if k != 1 => {
            let msg = format!(
                "expected one target per row for classification, found shape {ys:?} ({k} per row)"
            );
            return Err(err(lp, 0, "shape".into(), msg));
        }
        Task::Classification => true,
        Task::Regression => false,
        Task::Auto => k == 1 && is_classification(&text),
    };
    let targets = if classify {
        let (labels, names) = class_labels(&text);
        Targets::Classes { labels, names }
    } else {
        if let Some(i) = y.iter().position(|v| !v.is_finite()) {
            return Err(err(
                lp,
                i / k + 1,
                format!("column {}", i % k + 1),
                not_finite(y[i]),
            ));
        }
        Targets::Values {
            data: y,
            names: target_names(k),
        }
    };
    Dataset::new(Features::F32(x), d, targets)
}

/// The product of `dims`, or `None` if it overflows `usize`.
fn checked_product(dims: &[usize]) -> Option<usize> {
    dims.iter().try_fold(1usize, |a, &d| a.checked_mul(d))
}

/// `(big_endian, kind, size)` for a supported dtype string such as `<f4`.
fn dtype(descr: &str) -> Option<(bool, u8, usize)> {
    let b = descr.as_bytes();
    let big = match *b.first()? {
        b'<' | b'|' => false,
        b'>' => true,
        b'=' => cfg!(target_endian = "big"),
        _ => return None,
    };
    let size: usize = descr.get(2..)?.parse().ok()?;
    let kind = *b.get(1)?;
    let ok = matches!(
        (kind, size),
        (b'f', 4 | 8) | (b'i' | b'u', 1 | 2 | 4 | 8) | (b'b', 1)
    );
    ok.then_some((big, kind, size))
}

/// Converts raw values of one dtype to `f32`.
fn decode(data: &[u8], kind: u8, size: usize, big: bool) -> Vec<f32> {
    data.chunks_exact(size)
        .map(|c| {
            let mut b = [0u8; 8];
            b[..size].copy_from_slice(c);
            if big {
                b[..size].reverse();
            }
            let [b0, b1, b2, b3, ..] = b;
            match (kind, size) {
                (b'f', 4) => f32::from_le_bytes([b0, b1, b2, b3]),
                (b'f', 8) => f64::from_le_bytes(b) as f32,
                (b'i', 1) => b0 as i8 as f32,
                (b'i', 2) => i16::from_le_bytes([b0, b1]) as f32,
                (b'i', 4) => i32::from_le_bytes([b0, b1, b2, b3]) as f32,
                (b'i', 8) => i64::from_le_bytes(b) as f32,
                (b'u', 2) => u16::from_le_bytes([b0, b1]) as f32,
                (b'u', 4) => u32::from_le_bytes([b0, b1, b2, b3]) as f32,
                (b'u', 8) => u64::from_le_bytes(b) as f32,
                _ => b0 as f32, // u1 and b1
            }
        })
        .collect()
}

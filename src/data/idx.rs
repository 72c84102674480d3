//! IDX files, the format of MNIST, raw or gzip-compressed.
//!
//! An IDX file is a big-endian header followed by the values in row-major order. The header is
//! a magic number `0x0000TTDD` (`TT = 08` for unsigned bytes, `DD` the number of dimensions),
//! then one `u32` size per dimension. Images are `0x00000803` (count, rows, columns) and labels
//! `0x00000801` (count).
//!
//! Compression is detected from gzip's magic bytes `1f 8b`, not from the file name. The header's
//! sizes are checked against the bytes actually present: nothing is allocated from a header size
//! beyond the size of the file, and a truncated file or one with trailing bytes is an error that
//! says how many bytes were expected. Errors are [`Error::Parse`] with line 0 (about the whole
//! file) except for a bad label, which gives its 1-based position.

use super::{Dataset, Features, Targets};
use crate::error::{Error, Result};
use flate2::read::MultiGzDecoder;
use std::io::{BufRead, BufReader, ErrorKind, Read};
use std::path::{Path, PathBuf};

/// The magic number of an IDX file of unsigned-byte images (3 dimensions).
pub const IDX_IMAGES_MAGIC: u32 = 0x0000_0803;
/// The magic number of an IDX file of unsigned-byte labels (1 dimension).
pub const IDX_LABELS_MAGIC: u32 = 0x0000_0801;

/// Reads an IDX images file: `(pixels, rows, cols)`, pixels row-major `count × rows × cols`.
///
/// The number of images is `pixels.len() / (rows * cols)`.
pub fn read_idx_images(path: impl AsRef<Path>) -> Result<(Vec<u8>, usize, usize)> {
    let (dims, data) = read_idx(path.as_ref(), IDX_IMAGES_MAGIC)?;
    Ok((data, dims[1], dims[2]))
}

/// Reads an IDX labels file: one byte per label (its values are not checked here).
pub fn read_idx_labels(path: impl AsRef<Path>) -> Result<Vec<u8>> {
    Ok(read_idx(path.as_ref(), IDX_LABELS_MAGIC)?.1)
}

/// Reads MNIST from a directory: `train-images-idx3-ubyte` and `train-labels-idx1-ubyte`
/// (`t10k-…` when `train` is false), each raw or with a `.gz` suffix.
///
/// Pixels stay bytes, read as `byte / 255` ([`Features::U8`]); the classes are `"0".."9"`. The
/// image and label counts must agree and every label must be below 10.
pub fn read_mnist_dir(dir: impl AsRef<Path>, train: bool) -> Result<Dataset> {
    let dir = dir.as_ref();
    let prefix = if train { "train" } else { "t10k" };
    let images = find(dir, &format!("{prefix}-images-idx3-ubyte"))?;
    let labels = find(dir, &format!("{prefix}-labels-idx1-ubyte"))?;
    let (pixels, rows, cols) = read_idx_images(&images)?;
    let labs = read_idx_labels(&labels)?;
    let err = |line, field: &str, msg| Error::Parse {
        path: labels.clone(),
        line,
        field: field.into(),
        msg,
    };
    let count = pixels.len() / (rows * cols);
    if labs.len() != count {
        let msg = format!(
            "expected {count} labels, one per image in {}, found {}",
            images.display(),
            labs.len()
        );
        return Err(err(0, "count", msg));
    }
    if let Some(i) = labs.iter().position(|&l| l >= 10) {
        return Err(err(
            i + 1,
            "label",
            format!("expected a digit 0..9, found {}", labs[i]),
        ));
    }
    let targets = Targets::Classes {
        labels: labs.into_iter().map(u32::from).collect(),
        names: (0..10).map(|d| d.to_string()).collect(),
    };
    Dataset::new(
        Features::U8 {
            data: pixels,
            scale: 1.0 / 255.0,
        },
        rows * cols,
        targets,
    )
}

/// `dir/name`, `dir/name.gz`, or the `train-images.idx3-ubyte` spelling, whichever exists.
fn find(dir: &Path, name: &str) -> Result<PathBuf> {
    let dotted = name.replacen("-idx", ".idx", 1);
    let candidates = [
        name.to_string(),
        format!("{name}.gz"),
        dotted.clone(),
        format!("{dotted}.gz"),
    ];
    candidates
        .iter()
        .map(|c| dir.join(c))
        .find(|p| p.is_file())
        .ok_or_else(|| Error::Io {
            path: dir.join(name),
            cause: std::io::Error::new(
                ErrorKind::NotFound,
                format!("not found (nor with .gz) in {}", dir.display()),
            ),
        })
}

fn describe(magic: u32) -> &'static str {
    match magic {
        IDX_IMAGES_MAGIC => "IDX images",
        IDX_LABELS_MAGIC => "IDX labels",
        m if m >> 8 == 0x08 => "IDX bytes",
        _ => "not an IDX file of bytes",
    }
}

/// Reads the header (checking the magic) and exactly the data the header announces.
fn read_idx(path: &Path, magic: u32) -> Result<(Vec<usize>, Vec<u8>)> {
    let io = |source| Error::Io {
        path: path.into(),
        cause: source,
    };
    let err = |field: &str, msg: String| Error::Parse {
        path: path.into(),
        line: 0,
        field: field.into(),
        msg,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let file_len = file.metadata().map_err(io)?.len();
    let mut buffered = BufReader::new(file);
    let gzip = buffered.fill_buf().map_err(io)?.starts_with(&[0x1f, 0x8b]);
    let mut r: Box<dyn Read> = if gzip {
        Box::new(MultiGzDecoder::new(buffered))
    } else {
        Box::new(buffered)
    };
    let after = if gzip { " after decompression" } else { "" };

    let ndim = (magic & 0xff) as usize;
    let head_len = 4 + 4 * ndim;
    let mut head = Vec::with_capacity(head_len);
    let res = (&mut r).take(head_len as u64).read_to_end(&mut head);
    res.or_else(|e| {
        if e.kind() == ErrorKind::UnexpectedEof {
            Ok(0)
        } else {
            Err(io(e))
        }
    })?;
    let word = |i: usize| {
        u32::from_be_bytes([
            head[4 * i],
            head[4 * i + 1],
            head[4 * i + 2],
            head[4 * i + 3],
        ])
    };
    if head.len() < 4 {
        let msg = format!(
            "expected an IDX header of {head_len} bytes, found a file of {} bytes{after}",
            head.len()
        );
        return Err(err("header", msg));
    }
    if word(0) != magic {
        let (found, want) = (word(0), describe(magic));
        return Err(err(
            "magic",
            format!(
                "expected 0x{magic:08x} ({want}), found 0x{found:08x} ({})",
                describe(found)
            ),
        ));
    }
    if head.len() < head_len {
        let msg = format!(
            "expected an IDX header of {head_len} bytes, found {}{after}: the file is truncated",
            head.len()
        );
        return Err(err("header", msg));
    }
    let dims: Vec<usize> = (1..=ndim).map(|i| word(i) as usize).collect();
    if dims[1..].contains(&0) {
        return Err(err(
            "dimensions",
            format!(
                "expected positive image sizes, found {}x{}",
                dims[1], dims[2]
            ),
        ));
    }
    let what = match ndim {
        3 => format!("{} images of {}x{}", dims[0], dims[1], dims[2]),
        _ => format!("{} labels", dims[0]),
    };
    let body = dims
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .filter(|&b| b < usize::MAX - head_len);
    let body = body.ok_or_else(|| err("dimensions", format!("{what} is too large")))?;
    // The header is untrusted: reserve no more than the file holds, and read at most one byte
    // past the announced size so that trailing data is noticed without reading it all.
    let mut data = Vec::with_capacity(body.min(file_len as usize));
    let res = r.take(body as u64 + 1).read_to_end(&mut data);
    res.or_else(|e| {
        if e.kind() == ErrorKind::UnexpectedEof {
            Ok(0)
        } else {
            Err(io(e))
        }
    })?;
    if data.len() != body {
        let expected = head_len + body;
        let found = match data.len() > body {
            true => format!("more{after}: the file has trailing bytes"),
            false => format!("{}{after}: the file is truncated", head_len + data.len()),
        };
        let msg = format!(
            "expected {expected} bytes (a {head_len}-byte header and {what}), found {found}"
        );
        return Err(err("data", msg));
    }
    Ok((dims, data))
}

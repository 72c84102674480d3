//! IDX files, the format of MNIST, raw or gzip-compressed.
//!
//! An IDX file is a big-endian header followed by the values in row-major order. The header is
//! a magic number `0x0000TTDD` (`TT = 08` for unsigned bytes, `DD` the number of dimensions),
//! then one `u32` size per dimension. Images are `0x00000803` (count, rows, columns) and labels
//! `0x00000801` (count).
//!
//! Compression is detected from gzip's magic bytes `1f 8b`, not from the file name. The header's
//! sizes are checked against the file's size before any data is read: a raw file must hold them,
//! and a gzip file cannot expand more than deflate's 1032:1. Data is then read (and decompressed)
//! through a limit of the announced size plus one byte, so nothing is allocated or inflated beyond
//! what the header declares, and a truncated file or one with trailing bytes is an error that
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

/// Like [`read_idx_images`] on the contents of a file (raw or gzip); `name` is used in errors.
///
/// ```
/// use backprop::data::idx::read_idx_images_from_bytes;
/// let mut file = Vec::new();
/// for word in [0x0803u32, 1, 2, 2] {
///     file.extend(word.to_be_bytes()); // magic, one image of 2x2
/// }
/// file.extend([0, 255, 255, 0]);
/// let (pixels, rows, cols) = read_idx_images_from_bytes(&file, "x.idx").unwrap();
/// assert_eq!((pixels.len(), rows, cols), (4, 2, 2));
/// assert!(read_idx_images_from_bytes(&file[..10], "x.idx").is_err());
/// ```
pub fn read_idx_images_from_bytes(
    bytes: &[u8],
    name: impl AsRef<Path>,
) -> Result<(Vec<u8>, usize, usize)> {
    let path = name.as_ref();
    let mut f = Idx::from_bytes(bytes, path, IDX_IMAGES_MAGIC)?;
    let data = f.read_body()?;
    Ok((data, f.dims[1], f.dims[2]))
}

/// Like [`read_idx_labels`] on the contents of a file (raw or gzip); `name` is used in errors.
pub fn read_idx_labels_from_bytes(bytes: &[u8], name: impl AsRef<Path>) -> Result<Vec<u8>> {
    Idx::from_bytes(bytes, name.as_ref(), IDX_LABELS_MAGIC)?.read_body()
}

/// Reads MNIST from a directory: `train-images-idx3-ubyte` and `train-labels-idx1-ubyte`
/// (`t10k-…` when `train` is false), each raw or with a `.gz` suffix.
///
/// Pixels stay bytes, read as `byte / 255` ([`Features::U8`]); the classes are `"0".."9"`. The
/// image and label counts must agree and every label must be below 10. Both headers, and then
/// the labels, are checked before any image is read (or decompressed).
pub fn read_mnist_dir(dir: impl AsRef<Path>, train: bool) -> Result<Dataset> {
    let dir = dir.as_ref();
    let prefix = if train { "train" } else { "t10k" };
    let images = find(dir, &format!("{prefix}-images-idx3-ubyte"))?;
    let labels = find(dir, &format!("{prefix}-labels-idx1-ubyte"))?;
    let mut image_file = Idx::open(&images, IDX_IMAGES_MAGIC)?;
    let mut label_file = Idx::open(&labels, IDX_LABELS_MAGIC)?;
    let err = |line, field: &str, msg| Error::Parse {
        path: labels.clone(),
        line,
        field: field.into(),
        msg,
    };
    let (count, rows, cols) = (image_file.dims[0], image_file.dims[1], image_file.dims[2]);
    if label_file.dims[0] != count {
        let msg = format!(
            "expected {count} labels, one per image in {}, found {}",
            images.display(),
            label_file.dims[0]
        );
        return Err(err(0, "count", msg));
    }
    let labs = label_file.read_body()?;
    if let Some(i) = labs.iter().position(|&l| l >= 10) {
        return Err(err(
            i + 1,
            "label",
            format!("expected a digit 0..9, found {}", labs[i]),
        ));
    }
    let pixels = image_file.read_body()?;
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
    let mut f = Idx::open(path, magic)?;
    let data = f.read_body()?;
    Ok((f.dims, data))
}

/// The most a deflate stream can expand: 258 bytes from a 2-bit length/distance pair, 1032:1.
/// A gzip file of `n` bytes therefore cannot hold more than `1032 · n` bytes of data.
const MAX_DEFLATE_RATIO: u64 = 1032;

/// An IDX file whose header has been read and checked, positioned at its first value.
struct Idx<'a> {
    path: &'a Path,
    /// The sizes from the header.
    dims: Vec<usize>,
    /// The header's length in bytes.
    head_len: usize,
    /// The data length the header announces (the product of `dims`).
    body: usize,
    /// The rest of the (decompressed) stream.
    reader: Box<dyn Read + 'a>,
    /// `" after decompression"` for gzip files, else empty; appended to byte counts in errors.
    after: &'static str,
}

impl<'a> Idx<'a> {
    /// Opens `path` and reads its header.
    fn open(path: &'a Path, magic: u32) -> Result<Idx<'a>> {
        let io = |source| Error::Io {
            path: path.into(),
            cause: source,
        };
        let file = std::fs::File::open(path).map_err(io)?;
        let file_len = file.metadata().map_err(io)?.len();
        Idx::new(Box::new(BufReader::new(file)), file_len, path, magic)
    }

    /// Reads the header of a file held in memory.
    fn from_bytes(bytes: &'a [u8], path: &'a Path, magic: u32) -> Result<Idx<'a>> {
        Idx::new(Box::new(bytes), bytes.len() as u64, path, magic)
    }

    /// Reads the header from `src`, a file of `file_len` bytes, raw or gzip-compressed.
    ///
    /// The header's sizes are checked against what a file of that length can hold (its length,
    /// or 1032 times it for gzip) before anything is allocated or decompressed beyond the header.
    fn new(
        mut src: Box<dyn BufRead + 'a>,
        file_len: u64,
        path: &'a Path,
        magic: u32,
    ) -> Result<Idx<'a>> {
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
        let gzip = src.fill_buf().map_err(io)?.starts_with(&[0x1f, 0x8b]);
        let mut r: Box<dyn Read + 'a> = if gzip {
            Box::new(MultiGzDecoder::new(src))
        } else {
            Box::new(src)
        };
        let after = if gzip { " after decompression" } else { "" };

        let ndim = (magic & 0xff) as usize;
        let head_len = 4 + 4 * ndim;
        let mut head = Vec::with_capacity(head_len);
        read_up_to(&mut r, head_len as u64, &mut head).map_err(io)?;
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
        let what = Idx::describe_dims(&dims);
        let body = dims
            .iter()
            .try_fold(1usize, |a, &d| a.checked_mul(d))
            .filter(|&b| b < usize::MAX - head_len);
        let body = body.ok_or_else(|| err("dimensions", format!("{what} is too large")))?;
        // The header is untrusted: a size the file cannot hold is an error now, before anything
        // is allocated or decompressed.
        let total = (head_len as u64).saturating_add(body as u64);
        if !gzip && total > file_len {
            let msg = format!(
                "expected {total} bytes (a {head_len}-byte header and {what}), found {file_len}: \
                 the file is truncated"
            );
            return Err(err("data", msg));
        }
        let most = file_len.saturating_mul(MAX_DEFLATE_RATIO);
        if gzip && total > most {
            let msg = format!(
                "expected {total} bytes (a {head_len}-byte header and {what}) after \
                 decompression, but a gzip file of {file_len} bytes holds at most {most}: the \
                 header is corrupt or the file is truncated"
            );
            return Err(err("data", msg));
        }
        Ok(Idx {
            path,
            dims,
            head_len,
            body,
            reader: r,
            after,
        })
    }

    /// `"3 images of 28x28"` or `"3 labels"`.
    fn describe_dims(dims: &[usize]) -> String {
        match dims.len() {
            3 => format!("{} images of {}x{}", dims[0], dims[1], dims[2]),
            _ => format!("{} labels", dims[0]),
        }
    }

    /// Reads exactly the data the header announces, and checks that nothing follows it.
    fn read_body(&mut self) -> Result<Vec<u8>> {
        let (path, body, head_len, after) = (self.path, self.body, self.head_len, self.after);
        let io = |source| Error::Io {
            path: path.into(),
            cause: source,
        };
        // Reserve what the header announces only up to a bound (the checks in `new` already
        // limit it by the file's size), and read at most one byte past it so that trailing data
        // is noticed without decompressing it all.
        let mut data = Vec::with_capacity(body.min(1 << 26));
        read_up_to(&mut self.reader, body as u64 + 1, &mut data).map_err(io)?;
        if data.len() != body {
            let what = Idx::describe_dims(&self.dims);
            let expected = head_len + body;
            let found = match data.len() > body {
                true => format!("more{after}: the file has trailing bytes"),
                false => format!("{}{after}: the file is truncated", head_len + data.len()),
            };
            let msg = format!(
                "expected {expected} bytes (a {head_len}-byte header and {what}), found {found}"
            );
            return Err(Error::Parse {
                path: path.into(),
                line: 0,
                field: "data".into(),
                msg,
            });
        }
        Ok(data)
    }
}

/// Appends at most `limit` bytes of `r` to `out`; a stream that ends early (even mid-gzip-member)
/// is not an error here, the caller compares lengths.
fn read_up_to(r: &mut dyn Read, limit: u64, out: &mut Vec<u8>) -> std::io::Result<()> {
    match r.take(limit).read_to_end(out) {
        Err(e) if e.kind() != ErrorKind::UnexpectedEof => Err(e),
        _ => Ok(()),
    }
}

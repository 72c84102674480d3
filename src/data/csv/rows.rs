//! Reading CSV text: the delimiter detected from the first lines, the records of a file
//! (trimmed, a UTF-8 byte-order mark dropped), and the errors that name the file, line and
//! column.

use super::CsvOptions;
use crate::data::cell::is_missing;
use crate::error::{Error, Result};
use ::csv::{Reader, ReaderBuilder, StringRecord, Trim};
use std::io::{Chain, Cursor, Read};
use std::path::{Path, PathBuf};

pub(super) fn open(path: &Path) -> Result<std::io::BufReader<std::fs::File>> {
    let file = std::fs::File::open(path).map_err(|source| Error::Io {
        path: path.into(),
        cause: source,
    })?;
    Ok(std::io::BufReader::new(file))
}

pub(super) fn is_num(s: &str) -> bool {
    s.parse::<f32>().is_ok()
}

/// Text: not a number, not a missing value.
pub(super) fn is_text(s: &str) -> bool {
    !is_missing(s) && !is_num(s)
}

/// `column 3 (petal_width)`, or `column 3` without a header.
pub(super) fn col_label(header: Option<&[String]>, j: usize) -> String {
    match header.and_then(|h| h.get(j)) {
        Some(name) => format!("column {} ({name})", j + 1),
        None => format!("column {}", j + 1),
    }
}

pub(super) fn parse_error(path: &Path, line: u64, field: &str, msg: String) -> Error {
    Error::Parse {
        path: path.into(),
        line: line as usize,
        field: field.into(),
        msg,
    }
}

pub(super) fn line_of(rec: &StringRecord) -> u64 {
    rec.position().map_or(0, |p| p.line())
}

/// Bytes and lines looked at to detect the delimiter.
const SNIFF_BYTES: usize = 64 * 1024;
const SNIFF_LINES: usize = 10;

/// The delimiter of a file that starts with `head` (`complete`: that is the whole file): the
/// first of tab, `;`, `,` that appears the same number of times, at least once, outside double
/// quotes on each of the first (up to 10) non-blank lines; else the one of them that appears
/// most often; else `fallback`.
///
/// ```
/// use backprop::data::sniff_delimiter;
/// assert_eq!(sniff_delimiter(b"a\tb\tc\n1\t2\t3\n", true, b','), b'\t');
/// assert_eq!(sniff_delimiter(b"a;b\n1,5;2,25\n", true, b','), b';');
/// assert_eq!(sniff_delimiter(b"a,\"x;y\"\n1,2\n", true, b','), b',');
/// assert_eq!(sniff_delimiter(b"just one column\n", true, b','), b',');
/// ```
pub fn sniff_delimiter(head: &[u8], complete: bool, fallback: u8) -> u8 {
    let mut lines: Vec<&[u8]> = head.split(|&b| b == b'\n').collect();
    if !complete && lines.len() > 1 {
        lines.pop(); // a partial last line
    }
    let lines: Vec<&[u8]> = lines
        .into_iter()
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .filter(|l| !l.iter().all(u8::is_ascii_whitespace))
        .take(SNIFF_LINES)
        .collect();
    let count = |line: &[u8], d: u8| {
        let mut quoted = false;
        line.iter()
            .filter(|&&b| {
                if b == b'"' {
                    quoted = !quoted;
                }
                !quoted && b == d
            })
            .count()
    };
    let candidates = [b'\t', b';', b','];
    for d in candidates {
        let counts: Vec<usize> = lines.iter().map(|l| count(l, d)).collect();
        if counts.first().is_some_and(|&c| c > 0) && counts.iter().all(|&c| c == counts[0]) {
            return d;
        }
    }
    let total = |d: u8| lines.iter().map(|l| count(l, d)).sum::<usize>();
    match candidates
        .into_iter()
        .max_by_key(|&d| (total(d), d == b','))
    {
        Some(d) if total(d) > 0 => d,
        _ => fallback,
    }
}

/// A CSV reader over a file whose delimiter was detected from its first bytes.
pub(super) struct Rows<R: Read> {
    rdr: Reader<Chain<Cursor<Vec<u8>>, R>>,
    path: PathBuf,
}

impl<R: Read> Rows<R> {
    pub(super) fn open(mut reader: R, path: &Path, opts: &CsvOptions) -> Result<Rows<R>> {
        let mut head = Vec::new();
        let mut complete = false;
        let mut buf = [0u8; 8192];
        while head.len() < SNIFF_BYTES
            && head.iter().filter(|&&b| b == b'\n').count() <= SNIFF_LINES
        {
            match reader.read(&mut buf) {
                Ok(0) => {
                    complete = true;
                    break;
                }
                Ok(n) => head.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(cause) => {
                    return Err(Error::Io {
                        path: path.into(),
                        cause,
                    })
                }
            }
        }
        // a UTF-8 byte-order mark (spreadsheet exports) is not part of the first column's name
        if head.starts_with(b"\xEF\xBB\xBF") {
            head.drain(..3);
        }
        let delimiter = match opts.sniff_delimiter {
            true => sniff_delimiter(&head, complete, opts.delimiter),
            false => opts.delimiter,
        };
        let rdr = ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .trim(Trim::All)
            .delimiter(delimiter)
            .from_reader(Cursor::new(head).chain(reader));
        Ok(Rows {
            rdr,
            path: path.into(),
        })
    }

    pub(super) fn next(&mut self, rec: &mut StringRecord) -> Result<bool> {
        self.rdr
            .read_record(rec)
            .map_err(|e| csv_error(&self.path, e))
    }

    /// The first record and its line; an empty file is an error.
    pub(super) fn first(&mut self) -> Result<(StringRecord, u64)> {
        let mut rec = StringRecord::new();
        if !self.next(&mut rec)? {
            let msg = "no data rows (the file is empty)".to_string();
            return Err(parse_error(&self.path, 1, "rows", msg));
        }
        let line = line_of(&rec);
        Ok((rec, line))
    }
}

fn csv_error(path: &Path, e: ::csv::Error) -> Error {
    let line = e.position().map_or(0, |p| p.line()) as usize;
    match e.into_kind() {
        ::csv::ErrorKind::Io(source) => Error::Io {
            path: path.into(),
            cause: source,
        },
        ::csv::ErrorKind::Utf8 { err, .. } => {
            let field = format!("column {}", err.field() + 1);
            Error::Parse {
                path: path.into(),
                line,
                field,
                msg: "expected UTF-8 text".into(),
            }
        }
        other => Error::Parse {
            path: path.into(),
            line,
            field: "row".into(),
            msg: format!("{other:?}"),
        },
    }
}

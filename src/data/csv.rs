//! CSV files → [`Dataset`]: numeric feature columns, and one class column or one or more
//! regression columns.
//!
//! - **Header** (`header: None`): the first row is a header when one of its *feature* fields is
//!   not a number. When only its target field is not a number, it is a header if every later
//!   row has a numeric target (`1.2,3.4,y` then numbers), and data otherwise (string labels
//!   such as `5.1,3.5,1.4,0.2,Iris-setosa`). A target given by name implies a header unless the
//!   first row is all numbers.
//! - **Task** ([`Task::Auto`]): classification when there is one target column and its values
//!   are not all numbers, or are all integers (written `-?[0-9]+`) with at most
//!   [`AUTO_MAX_CLASSES`] distinct values; regression otherwise (several target columns,
//!   fractional values such as `1.0`, or more distinct integers).
//! - **Class indices**: labels that are all non-negative integers below 65536 keep their value
//!   as the index (`k = max + 1`, names `"0".."k-1"`; labels starting at 1 leave class 0 empty).
//!   Any other labels are sorted as strings (byte order) and numbered in that order.
//! - **Errors** name the file, the 1-based line, the column (1-based, with its header name) and
//!   what was expected. NaN and ±inf are rejected. CRLF line ends and blank lines are fine.

use super::preprocess::{class_indices, is_classification};
use super::{Dataset, Features, Targets};
use crate::error::{Error, Result};
use ::csv::{ReaderBuilder, StringRecord, Trim};
use std::io::Read;
use std::path::{Path, PathBuf};

/// With [`Task::Auto`], integer targets with more distinct values than this mean regression.
pub const AUTO_MAX_CLASSES: usize = 20;

/// Which column holds a target.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum TargetColumn {
    /// The column at this **0-based** index (error messages count columns from 1).
    Index(usize),
    /// The column with this header name (the file must then have a header).
    Name(String),
    /// The last column.
    #[default]
    Last,
}

/// What the targets are to be learned as.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Task {
    /// Decide from the target values (see the [module docs](self)).
    #[default]
    Auto,
    /// Class labels.
    Classification,
    /// Real values, one or more per sample.
    Regression,
}

/// How to read a CSV file. The default: auto-detected header, last column is the target,
/// task decided from the data, comma-separated.
#[derive(Clone, Debug, PartialEq)]
pub struct CsvOptions {
    /// Whether the first row is a header; `None` detects it (see the [module docs](self)).
    pub header: Option<bool>,
    /// The (first) target column.
    pub target: TargetColumn,
    /// Further target columns, for multi-output regression; the targets are `target` then these.
    pub targets: Vec<TargetColumn>,
    /// Classification, regression, or decide from the data.
    pub task: Task,
    /// The field separator.
    pub delimiter: u8,
}

impl Default for CsvOptions {
    fn default() -> Self {
        CsvOptions {
            header: None,
            target: TargetColumn::Last,
            targets: Vec::new(),
            task: Task::Auto,
            delimiter: b',',
        }
    }
}

/// Features read for prediction by [`read_csv_features`], with the target text if it was there.
#[derive(Clone, Debug, PartialEq)]
pub struct FeatureTable {
    /// Row-major `len × n_features` values.
    pub features: Vec<f32>,
    /// Features per row.
    pub n_features: usize,
    /// The feature names from the header, or `x0, x1, …`.
    pub feature_names: Vec<String>,
    /// The raw target fields, row-major `len × target_names.len()`, when the file had them.
    pub targets: Option<Vec<String>>,
    /// The target column names (empty when the file had no target columns).
    pub target_names: Vec<String>,
}

impl FeatureTable {
    /// The number of rows.
    pub fn len(&self) -> usize {
        self.features.len() / self.n_features.max(1)
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.features.is_empty()
    }
}

/// Reads a CSV file into a [`Dataset`]; see the [module docs](self) for the rules.
///
/// ```
/// use backprop::data::{read_csv, CsvOptions, Targets};
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("flowers.csv");
/// std::fs::write(&path, "petal,sepal,species\n1.4,0.2,setosa\n4.7,1.4,versicolor\n").unwrap();
/// let ds = read_csv(&path, &CsvOptions::default()).unwrap();
/// assert_eq!(ds.len(), 2);
/// assert_eq!(ds.feature_names, ["petal", "sepal"]);
/// assert!(matches!(ds.targets(), Targets::Classes { labels, .. } if labels == &[0, 1]));
///
/// let err = read_csv_from_bytes("a,b,y\n1,x,0\n");
/// assert_eq!(err, "data.csv:2: column 2 (b): expected a number, found \"x\"");
/// # fn read_csv_from_bytes(s: &str) -> String {
/// #     let opts = CsvOptions::default();
/// #     backprop::data::read_csv_from(s.as_bytes(), "data.csv", &opts).unwrap_err().to_string()
/// # }
/// ```
pub fn read_csv(path: impl AsRef<Path>, opts: &CsvOptions) -> Result<Dataset> {
    read_csv_from(open(path.as_ref())?, path, opts)
}

fn open(path: &Path) -> Result<std::io::BufReader<std::fs::File>> {
    let file = std::fs::File::open(path).map_err(|source| Error::Io {
        path: path.into(),
        cause: source,
    })?;
    Ok(std::io::BufReader::new(file))
}

/// Like [`read_csv`] from any reader (e.g. stdin); `name` is the file name used in errors.
pub fn read_csv_from(
    reader: impl Read,
    name: impl AsRef<Path>,
    opts: &CsvOptions,
) -> Result<Dataset> {
    let t = scan(reader, name.as_ref(), opts, None)?;
    let task = match opts.task {
        Task::Classification if t.tcols.len() > 1 => {
            return Err(Error::invalid(
                "targets",
                t.tcols.len(),
                "one target column for classification",
            ))
        }
        Task::Auto if t.tcols.len() == 1 && is_classification(&t.targets) => Task::Classification,
        Task::Auto => Task::Regression,
        task => task,
    };
    let targets = if task == Task::Classification {
        if let Some(i) = t.targets.iter().position(String::is_empty) {
            return Err(t.err(
                i,
                t.tcols[0],
                "expected a class label, found an empty field".into(),
            ));
        }
        let (labels, names) = class_indices(&t.targets);
        Targets::Classes { labels, names }
    } else {
        let k = t.tcols.len();
        let mut data = Vec::with_capacity(t.targets.len());
        for (i, s) in t.targets.iter().enumerate() {
            data.push(number(s).map_err(|msg| t.err(i / k, t.tcols[i % k], msg))?);
        }
        Targets::Values {
            data,
            names: t.target_names(),
        }
    };
    let feature_names = t.feature_names();
    let mut ds = Dataset::new(Features::F32(t.features), t.width - t.tcols.len(), targets)?;
    ds.feature_names = feature_names;
    Ok(ds)
}

/// Reads features for prediction with the training layout of `opts`; the target columns may be
/// present (their text is returned) or absent.
///
/// With `expected` (the model's feature names) the row width decides whether the targets are
/// there, and a header must name the same features in the same order; the error names the first
/// column that differs. Generated names (`x0, x1, …`) are not checked against a header. Without
/// `expected`, targets named by a header name are present if the header has them, and targets
/// by position are assumed present.
pub fn read_csv_features(
    path: impl AsRef<Path>,
    opts: &CsvOptions,
    expected: Option<&[String]>,
) -> Result<FeatureTable> {
    read_csv_features_from(open(path.as_ref())?, path, opts, expected)
}

/// Like [`read_csv_features`] from any reader; `name` is the file name used in errors.
pub fn read_csv_features_from(
    reader: impl Read,
    name: impl AsRef<Path>,
    opts: &CsvOptions,
    expected: Option<&[String]>,
) -> Result<FeatureTable> {
    let t = scan(reader, name.as_ref(), opts, Some(expected))?;
    let feature_names = t.feature_names();
    let generated =
        expected.is_some_and(|e| e.iter().enumerate().all(|(i, n)| *n == format!("x{i}")));
    if let (Some(_), Some(e), false) = (&t.header, expected, generated) {
        let cols = (0..t.width).filter(|j| !t.tcols.contains(j));
        let mut pairs = cols.zip(&feature_names).zip(e).enumerate();
        if let Some((i, ((j, got), want))) = pairs.find(|(_, ((_, g), w))| g != w) {
            let msg = format!(
                "expected \"{want}\" (the model's feature {}), found \"{got}\"",
                i + 1
            );
            return Err(t.err_at(t.header_line, &col_label(t.header.as_deref(), j), msg));
        }
    }
    let has_targets = !t.tcols.is_empty();
    Ok(FeatureTable {
        n_features: t.width - t.tcols.len(),
        target_names: if has_targets {
            t.target_names()
        } else {
            Vec::new()
        },
        features: t.features,
        targets: has_targets.then_some(t.targets),
        feature_names,
    })
}

/// A parsed finite `f32`, or the message saying what was found instead.
fn number(s: &str) -> std::result::Result<f32, String> {
    match s.parse::<f32>() {
        Ok(v) if v.is_finite() => Ok(v),
        Ok(_) => Err(format!("expected a finite number, found \"{s}\"")),
        Err(_) => Err(format!("expected a number, found \"{s}\"")),
    }
}

/// `column 3 (petal_width)`, or `column 3` without a header.
fn col_label(header: Option<&[String]>, j: usize) -> String {
    match header.and_then(|h| h.get(j)) {
        Some(name) => format!("column {} ({name})", j + 1),
        None => format!("column {}", j + 1),
    }
}

/// One file split into feature values and raw target text.
struct Table {
    path: PathBuf,
    header: Option<Vec<String>>,
    header_line: u64,
    width: usize,
    tcols: Vec<usize>,
    features: Vec<f32>,
    targets: Vec<String>,
    lines: Vec<u64>,
}

impl Table {
    fn err_at(&self, line: u64, field: &str, msg: String) -> Error {
        Error::Parse {
            path: self.path.clone(),
            line: line as usize,
            field: field.into(),
            msg,
        }
    }
    /// An error about data row `row` (0-based), column `col`.
    fn err(&self, row: usize, col: usize, msg: String) -> Error {
        self.err_at(
            self.lines[row],
            &col_label(self.header.as_deref(), col),
            msg,
        )
    }
    /// Header names of columns `cols`, or `default(i)` for the i-th of them without a header.
    fn names(
        &self,
        cols: impl Iterator<Item = usize>,
        default: impl Fn(usize) -> String,
    ) -> Vec<String> {
        cols.enumerate()
            .map(|(i, j)| {
                self.header
                    .as_ref()
                    .map_or_else(|| default(i), |h| h[j].clone())
            })
            .collect()
    }
    fn feature_names(&self) -> Vec<String> {
        self.names((0..self.width).filter(|j| !self.tcols.contains(j)), |i| {
            format!("x{i}")
        })
    }
    fn target_names(&self) -> Vec<String> {
        let one = self.tcols.len() == 1;
        self.names(self.tcols.iter().copied(), |i| {
            if one {
                "y".into()
            } else {
                format!("y{i}")
            }
        })
    }
}

/// Reads every row. `predict` is `Some(expected names)` when the target columns are optional.
fn scan(
    reader: impl Read,
    path: &Path,
    opts: &CsvOptions,
    predict: Option<Option<&[String]>>,
) -> Result<Table> {
    let mut builder = ReaderBuilder::new();
    builder
        .has_headers(false)
        .flexible(true)
        .trim(Trim::All)
        .delimiter(opts.delimiter);
    let mut rdr = builder.from_reader(reader);
    let mut read = |rec: &mut StringRecord| rdr.read_record(rec).map_err(|e| csv_error(path, e));
    let pe = |line: u64, field: &str, msg: String| Error::Parse {
        path: path.into(),
        line: line as usize,
        field: field.into(),
        msg,
    };
    let mut first = StringRecord::new();
    if !read(&mut first)? {
        return Err(pe(1, "rows", "no data rows (the file is empty)".into()));
    }
    let (width, line1) = (first.len(), first.position().map_or(0, |p| p.line()));
    let mut wanted: Vec<TargetColumn> = std::iter::once(&opts.target)
        .chain(&opts.targets)
        .cloned()
        .collect();
    let named: Vec<String> = wanted
        .iter()
        .filter_map(|t| {
            if let TargetColumn::Name(n) = t {
                Some(n.clone())
            } else {
                None
            }
        })
        .collect();
    let is_num = |s: &str| s.parse::<f32>().is_ok();
    let row1: Vec<String> = first.iter().map(String::from).collect();
    // A target given by name implies a header, unless the first row is all numbers.
    let header_given = opts
        .header
        .or((!named.is_empty() && !row1.iter().all(|s| is_num(s))).then_some(true));
    let names = (header_given == Some(true)).then_some(&row1[..]);
    // a name with * or ? is a pattern: every header column it matches, in file order
    if wanted
        .iter()
        .any(|t| matches!(t, TargetColumn::Name(n) if is_pattern(n)))
    {
        let mut expanded = vec![];
        for t in wanted {
            match (&t, names) {
                (TargetColumn::Name(n), Some(h)) if is_pattern(n) => {
                    let hits: Vec<TargetColumn> = h
                        .iter()
                        .filter(|c| glob_match(n, c))
                        .map(|c| TargetColumn::Name(c.clone()))
                        .collect();
                    if hits.is_empty() {
                        let msg =
                            format!("no column matches \"{n}\"; columns are {}", row1.join(", "));
                        return Err(pe(line1, "target", msg));
                    }
                    expanded.extend(hits);
                }
                (TargetColumn::Name(n), None) if is_pattern(n) => {
                    let msg =
                        format!("target pattern \"{n}\" needs a header row naming the columns");
                    return Err(pe(line1, "target", msg));
                }
                _ => expanded.push(t),
            }
        }
        wanted = expanded;
    }
    let present = match predict.map(|e| e.map(<[String]>::len)) {
        None => true,
        Some(Some(n)) if width == n + wanted.len() => true,
        Some(Some(n)) if width == n => false,
        Some(Some(n)) => {
            let with = n + wanted.len();
            let msg = format!("expected {n} fields (the model's features), or {with} with the target columns, found {width}");
            return Err(pe(line1, "row", msg));
        }
        Some(None) => wanted.iter().all(|t| match t {
            TargetColumn::Name(n) => names.is_some_and(|h| h.contains(n)),
            _ => true,
        }),
    };
    let mut tcols = Vec::new();
    for t in wanted.iter().filter(|_| present) {
        let j = match t {
            TargetColumn::Last => width - 1,
            TargetColumn::Index(i) if *i < width => *i,
            TargetColumn::Index(i) => {
                let msg = format!(
                    "column index {i} (0-based) is out of range: the file has {width} columns"
                );
                return Err(pe(line1, "target", msg));
            }
            TargetColumn::Name(n) => match names.map(|h| h.iter().position(|c| c == n)) {
                Some(Some(j)) => j,
                Some(None) => {
                    return Err(pe(
                        line1,
                        "target",
                        format!("no column named \"{n}\"; columns are {}", row1.join(", ")),
                    ));
                }
                None => {
                    return Err(pe(
                        line1,
                        "target",
                        format!("no column named \"{n}\": the file has no header"),
                    ))
                }
            },
        };
        if tcols.contains(&j) {
            return Err(pe(
                line1,
                "target",
                format!("column {} is given twice as a target", j + 1),
            ));
        }
        tcols.push(j);
    }
    if tcols.len() == width {
        return Err(pe(
            line1,
            "row",
            "expected at least one feature column besides the targets".into(),
        ));
    }
    let header = header_given.or_else(|| {
        match (0..width).any(|j| !tcols.contains(&j) && !is_num(&row1[j])) {
            true => Some(true),
            false => tcols.iter().all(|&j| is_num(&row1[j])).then_some(false),
        }
    });
    let (features, targets, lines) = (Vec::new(), Vec::new(), Vec::new());
    let mut t = Table {
        path: path.into(),
        header: None,
        header_line: line1,
        width,
        tcols,
        features,
        targets,
        lines,
    };
    if header == Some(true) {
        t.header = Some(row1.clone());
    } else {
        push_row(&mut t, &first)?;
    }
    while read(&mut first)? {
        push_row(&mut t, &first)?;
    }
    // An undecided first row (only its targets non-numeric) is a header iff no later target is.
    let k = t.tcols.len();
    if header.is_none() && t.lines.len() > 1 && t.targets[k..].iter().all(|s| is_num(s)) {
        t.header = Some(row1);
        t.features.drain(..width - k);
        t.targets.drain(..k);
        t.lines.remove(0);
    }
    if t.lines.is_empty() {
        return Err(pe(
            line1 + 1,
            "rows",
            "no data rows after the header".into(),
        ));
    }
    Ok(t)
}

fn push_row(t: &mut Table, rec: &StringRecord) -> Result<()> {
    let line = rec.position().map_or(0, |p| p.line());
    if rec.len() != t.width {
        return Err(t.err_at(
            line,
            "row",
            format!("expected {} fields, found {}", t.width, rec.len()),
        ));
    }
    for (j, s) in rec.iter().enumerate() {
        if !t.tcols.contains(&j) {
            let v =
                number(s).map_err(|msg| t.err_at(line, &col_label(t.header.as_deref(), j), msg))?;
            t.features.push(v);
        }
    }
    t.targets
        .extend(t.tcols.iter().map(|&j| rec[j].to_string()));
    t.lines.push(line);
    Ok(())
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

fn is_pattern(s: &str) -> bool {
    s.contains('*') || s.contains('?')
}

/// Shell-style matching of a whole column name: `*` any run of characters, `?` one character.
fn glob_match(pattern: &str, name: &str) -> bool {
    let (p, n): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    // classic two-pointer match with backtracking to the last star
    let (mut i, mut j, mut star, mut mark) = (0, 0, None, 0);
    while j < n.len() {
        if i < p.len() && (p[i] == '?' || p[i] == n[j]) {
            i += 1;
            j += 1;
        } else if i < p.len() && p[i] == '*' {
            star = Some(i);
            mark = j;
            i += 1;
        } else if let Some(s) = star {
            i = s + 1;
            mark += 1;
            j = mark;
        } else {
            return false;
        }
    }
    p[i..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod glob_tests {
    use super::glob_match;

    #[test]
    fn globs_match_whole_names() {
        assert!(glob_match("y*", "y0") && glob_match("y*", "y") && glob_match("*_t", "a_t"));
        assert!(glob_match("y?", "y1") && !glob_match("y?", "y10") && !glob_match("y*", "xy"));
        assert!(glob_match("a*b*c", "aXbYc") && !glob_match("a*b*c", "aXbY"));
    }
}

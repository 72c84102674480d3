//! The header of a `.npy` file, read as strictly as NumPy's reference reader
//! (`numpy/lib/format.py`, `_read_array_header`): a Python dict literal with exactly the keys
//! `descr` (a dtype string), `fortran_order` (`True` or `False`) and `shape` (a tuple of
//! non-negative integers: `()`, `(3,)`, `(150, 4)`), in any order, an optional trailing comma,
//! then spaces up to a closing newline. At most [`MAX_HEADER_LEN`] characters, as NumPy.
//!
//! Two rules go beyond NumPy's reader, and NumPy's writer follows both: the padding after the
//! dict ends in `'\n'` (the format's specification says so; NumPy only parses the dict), and a
//! key given twice is refused (Python keeps the last). Integers are written in decimal, as
//! NumPy writes them; the `L` suffix of Python 2 (`(3L, 4L)`) is read in format versions 1.0
//! and 2.0, which NumPy also reads. The padding's length is not checked: NumPy aligns the data
//! to 64 bytes today and to 16 before, other writers not at all, and NumPy's reader reads them
//! all.

/// The longest header NumPy reads without `allow_pickle` (its `_MAX_HEADER_SIZE`), in
/// characters.
pub(crate) const MAX_HEADER_LEN: usize = 10_000;

/// The dtypes this crate reads, for error messages.
pub(crate) const SUPPORTED: &str = "f4 f8 i1 i2 i4 i8 u1 u2 u4 u8 b1 with '<', '>' or '|'";

/// What a header says about its array.
#[derive(Debug, PartialEq)]
pub(crate) struct Header {
    /// The dtype string, e.g. `<f4`.
    pub(crate) descr: String,
    /// Whether the data is in Fortran (column-major) order.
    pub(crate) fortran_order: bool,
    /// The sizes (empty for a scalar).
    pub(crate) shape: Vec<usize>,
}

/// An error: the header field it is about, and what was expected and found.
type Refusal = (&'static str, String);

/// Parses the header `text` of a file of format version `major` (1, 2 or 3).
pub(crate) fn parse(text: &str, major: u8) -> Result<Header, Refusal> {
    let len = text.chars().count();
    if len > MAX_HEADER_LEN {
        let msg = format!(
            "expected a header of at most {MAX_HEADER_LEN} characters (NumPy's limit), found {len}"
        );
        return Err(("header", msg));
    }
    let mut p = Parser {
        text,
        pos: 0,
        major,
    };
    p.ws();
    if !p.eat('{') {
        let msg = format!("expected a dict starting with '{{', found {}", p.found());
        return Err(("header", msg));
    }
    let (mut descr, mut fortran_order, mut shape) = (None, None, None);
    loop {
        p.ws();
        if p.eat('}') {
            break;
        }
        let key = p.key()?;
        p.ws();
        if !p.eat(':') {
            return Err((
                "header",
                format!("expected ':' after '{key}', found {}", p.found()),
            ));
        }
        p.ws();
        let twice = match key.as_str() {
            "descr" => descr.replace(p.descr()?).is_some(),
            "fortran_order" => fortran_order.replace(p.boolean()?).is_some(),
            "shape" => shape.replace(p.shape()?).is_some(),
            _ => unreachable!("key() returns only the three keys"),
        };
        if twice {
            return Err((
                "header",
                format!("expected each key once, found '{key}' twice"),
            ));
        }
        p.ws();
        if !p.eat(',') && p.peek() != Some('}') {
            let msg = format!(
                "expected ',' or '}}' closing the header dict after the value of '{key}', found {}",
                p.found()
            );
            return Err(("header", msg));
        }
    }
    let rest = &text[p.pos..];
    if !rest.ends_with('\n') || !rest.chars().all(|c| c.is_ascii_whitespace()) {
        let msg =
            format!("expected spaces and a newline ('\\n') after the header dict, found {rest:?}");
        return Err(("header", msg));
    }
    match (descr, fortran_order, shape) {
        (Some(descr), Some(fortran_order), Some(shape)) => Ok(Header {
            descr,
            fortran_order,
            shape,
        }),
        (d, f, s) => {
            let missing: Vec<&str> = [("'descr'", d.is_none()), ("'fortran_order'", f.is_none())]
                .into_iter()
                .chain([("'shape'", s.is_none())])
                .filter_map(|(k, m)| m.then_some(k))
                .collect();
            let msg = format!(
                "expected the keys 'descr', 'fortran_order' and 'shape', found no {}",
                missing.join(" and no ")
            );
            Err(("header", msg))
        }
    }
}

/// A cursor over the header text.
struct Parser<'a> {
    text: &'a str,
    pos: usize,
    major: u8,
}

impl<'a> Parser<'a> {
    fn rest(&self) -> &'a str {
        &self.text[self.pos..]
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn ws(&mut self) {
        let rest = self.rest();
        self.pos += rest.len()
            - rest
                .trim_start_matches(|c: char| c.is_ascii_whitespace())
                .len();
    }

    fn eat(&mut self, c: char) -> bool {
        let hit = self.peek() == Some(c);
        if hit {
            self.pos += c.len_utf8();
        }
        hit
    }

    /// What is at the cursor, for an error message.
    fn found(&self) -> String {
        let rest = self.rest().trim_end();
        if rest.is_empty() {
            return "the end of the header".into();
        }
        let head: String = rest.chars().take(24).collect();
        match head.len() < rest.len() {
            true => format!("{head:?}…"),
            false => format!("{head:?}"),
        }
    }

    /// A `'…'` or `"…"` string without escapes, or `None` (the cursor unmoved).
    fn string(&mut self) -> Option<String> {
        let q = self.peek().filter(|&c| c == '\'' || c == '"')?;
        let body = &self.rest()[1..];
        let end = body.find([q, '\\', '\n'])?;
        if !body[end..].starts_with(q) {
            return None;
        }
        self.pos += end + 2;
        Some(body[..end].to_string())
    }

    /// A key: one of `descr`, `fortran_order`, `shape`.
    fn key(&mut self) -> Result<String, Refusal> {
        let at = self.found();
        let key = self.string().ok_or_else(|| {
            let msg = format!("expected a key or '}}' closing the header dict, found {at}");
            ("header", msg)
        })?;
        match key.as_str() {
            "descr" | "fortran_order" | "shape" => Ok(key),
            _ => {
                let msg = format!(
                    "expected only the keys 'descr', 'fortran_order' and 'shape', found '{key}'"
                );
                Err(("header", msg))
            }
        }
    }

    fn descr(&mut self) -> Result<String, Refusal> {
        if self.peek() == Some('[') {
            let msg = format!("unsupported dtype: a structured dtype (a list of fields); expected one of {SUPPORTED}");
            return Err(("descr", msg));
        }
        let at = self.found();
        self.string().ok_or_else(|| {
            let msg = format!("expected a dtype string such as '<f4', found {at}");
            ("descr", msg)
        })
    }

    fn boolean(&mut self) -> Result<bool, Refusal> {
        let rest = self.rest();
        let word = &rest[..rest
            .find(|c: char| !c.is_ascii_alphanumeric() && c != '_')
            .unwrap_or(rest.len())];
        let value = match word {
            "True" => true,
            "False" => false,
            _ => {
                let msg = format!("expected True or False, found {}", self.found());
                return Err(("fortran_order", msg));
            }
        };
        self.pos += word.len();
        Ok(value)
    }

    /// A tuple of non-negative integers: `()`, `(3,)`, `(2, 3)`, `(2, 3,)`.
    fn shape(&mut self) -> Result<Vec<usize>, Refusal> {
        let err = |msg: String| ("shape", msg);
        if !self.eat('(') {
            let msg = format!(
                "expected a tuple of sizes such as (150, 4), found {}",
                self.found()
            );
            return Err(err(msg));
        }
        let (mut dims, mut comma) = (Vec::new(), false);
        loop {
            self.ws();
            if self.eat(')') {
                break;
            }
            if !dims.is_empty() && !comma {
                let msg = format!("expected ',' or ')' after a size, found {}", self.found());
                return Err(err(msg));
            }
            dims.push(self.size()?);
            self.ws();
            comma = self.eat(',');
        }
        if let ([d], false) = (&dims[..], comma) {
            let msg = format!("expected a tuple, found ({d}), which is the integer {d}: a 1-D shape is written ({d},)");
            return Err(err(msg));
        }
        Ok(dims)
    }

    /// A non-negative decimal integer (with Python 2's `L` in versions 1.0 and 2.0).
    fn size(&mut self) -> Result<usize, Refusal> {
        let rest = self.rest();
        let digits = &rest[..rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len())];
        if digits.is_empty() {
            let what = match rest.starts_with('-') {
                true => "a size (a non-negative integer; sizes are never negative)",
                false => "a size (a non-negative integer) or ')'",
            };
            return Err(("shape", format!("expected {what}, found {}", self.found())));
        }
        if digits.len() > 1 && digits.starts_with('0') {
            let msg = format!("expected a decimal size, found {digits:?} (a leading zero)");
            return Err(("shape", msg));
        }
        let size = digits.parse::<usize>().map_err(|_| {
            let msg = format!("size {digits} is too large for this machine");
            ("shape", msg)
        })?;
        self.pos += digits.len();
        if self.major <= 2 && self.rest().starts_with('L') {
            self.pos += 1;
        }
        Ok(size)
    }
}

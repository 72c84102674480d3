//! `backprop predict MODEL DATA`: CSV on stdout — the class and class probabilities, or values.

use crate::args::PredictArgs;
use crate::data::load_with_id;
use anyhow::{bail, Context, Result};
use backprop::io::{Model, TaskInfo};
use std::io::Write;

pub fn run(a: &PredictArgs) -> Result<()> {
    if stdout_closed() {
        bail!(
            "standard output is closed: nowhere to write the predictions (redirect it to a file)"
        );
    }
    let (model, data) = match (&a.arch, &a.data) {
        (Some(arch), None) => (crate::summary::from_arch(arch)?, &a.model_or_data),
        (Some(_), Some(_)) => bail!("with --arch, give only DATA (the network is the description)"),
        (None, Some(data)) => {
            let path = std::path::Path::new(&a.model_or_data);
            let m =
                Model::load(path).with_context(|| format!("loading model {}", path.display()))?;
            (m, data)
        }
        (None, None) => bail!("give MODEL and DATA, or --arch NET.json and DATA"),
    };
    let input = load_with_id(data, &a.data_args, &model, a.id.as_deref())?;
    let p = model.predict(&input.x)?;
    let id = a.id.as_deref().map(|name| (name, input.ids.as_slice()));
    write(&model, &p, id).context("writing the predictions to standard output")
}

fn write(model: &Model, p: &backprop::io::Prediction, id: Option<(&str, &[String])>) -> Result<()> {
    let mut out = IdColumn {
        out: std::io::BufWriter::new(std::io::stdout().lock()),
        id,
        row: None,
    };
    let k = p.outputs.shape().last();
    match (&model.meta.task, &p.classes) {
        (TaskInfo::Classification { classes }, Some(cls)) => {
            let names: Vec<String> = classes
                .iter()
                .map(|c| format!("p_{}", csv_field(c)))
                .collect();
            writeln!(out, "class,{}", names.join(","))?;
            for (i, &c) in cls.iter().enumerate() {
                let probs: Vec<String> =
                    p.outputs.row(i).iter().map(|v| format!("{v:.6}")).collect();
                writeln!(out, "{},{}", csv_field(&classes[c]), probs.join(","))?;
            }
        }
        (TaskInfo::Regression { targets }, _) => {
            writeln!(
                out,
                "{}",
                targets
                    .iter()
                    .map(|t| csv_field(t))
                    .collect::<Vec<_>>()
                    .join(",")
            )?;
            for i in 0..p.outputs.numel() / k.max(1) {
                let vals: Vec<String> = p.outputs.row(i).iter().map(|v| v.to_string()).collect();
                writeln!(out, "{}", vals.join(","))?;
            }
        }
        (TaskInfo::Classification { .. }, None) => {
            bail!("internal error: a classifier without classes")
        }
    }
    out.flush()?;
    Ok(())
}

/// Quotes a CSV field when it needs it.
pub fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Whether standard output was closed (`>&-`): Rust's runtime then reopens fd 1 on /dev/null
/// (read-write), so the predictions would vanish with exit 0. A shell's `> /dev/null` opens it
/// write-only, which is left alone. Checked through /proc on Linux; elsewhere, assume open.
pub fn stdout_closed() -> bool {
    let target = std::fs::read_link("/proc/self/fd/1");
    if target.ok().as_deref() != Some(std::path::Path::new("/dev/null")) {
        return false;
    }
    let info = std::fs::read_to_string("/proc/self/fdinfo/1").unwrap_or_default();
    let flags = info
        .lines()
        .find_map(|l| l.strip_prefix("flags:"))
        .and_then(|f| u32::from_str_radix(f.trim(), 8).ok());
    flags.is_some_and(|f| f & 0o3 == 0o2) // O_ACCMODE == O_RDWR
}

/// The predictions' writer: each line starts with the `--id` column (its name on the header
/// line, then the row's value), when there is one.
struct IdColumn<'a, W: Write> {
    out: W,
    id: Option<(&'a str, &'a [String])>,
    /// The data row of the next line (`None`: the header line comes next).
    row: Option<usize>,
}

impl<W: Write> Write for IdColumn<'_, W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.out.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
    fn write_fmt(&mut self, args: std::fmt::Arguments<'_>) -> std::io::Result<()> {
        if let Some((name, ids)) = self.id {
            let key = match self.row {
                None => name,
                Some(i) => ids.get(i).map_or("", String::as_str),
            };
            write!(self.out, "{},", csv_field(key))?;
            self.row = Some(self.row.map_or(0, |i| i + 1));
        }
        self.out.write_fmt(args)
    }
}

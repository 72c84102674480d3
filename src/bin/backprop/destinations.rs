//! Where a command will write, checked before it does any work: the directory of each output
//! path exists and takes a new file, so a long training is not thrown away at the end by a typo
//! in `--out`. A failure is one error naming the flag and the directory (exit 2).

use anyhow::{bail, Result};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Checks that `path` (given as `flag`) can be written: it is not a directory, and its
/// directory exists, is a directory and takes a new file (tried with a probe file that is
/// removed at once). A path that is a stream (a pipe, `/dev/stdout`) is written through, so
/// only its own permissions matter.
pub fn check(flag: &str, path: &Path) -> Result<()> {
    let shown = path.display();
    let text = path.as_os_str().to_string_lossy();
    if path.file_name().is_none() || text.ends_with(std::path::MAIN_SEPARATOR) {
        bail!("{flag} {text:?}: expected a file path");
    }
    // follow links: the file is written where the link points
    let target = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    if let Ok(m) = std::fs::metadata(&target) {
        if m.is_dir() {
            bail!("{flag} {shown}: is a directory; give a file path in it");
        }
        if !m.is_file() {
            return Ok(()); // a pipe or a device: written through, never replaced
        }
    }
    let dir = match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let dir_shown = dir.display();
    match std::fs::metadata(dir) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => bail!("{flag} {shown}: {dir_shown} is not a directory"),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => bail!(
            "{flag} {shown}: the directory {dir_shown} does not exist (create it first, or choose another {flag})"
        ),
        Err(e) => bail!("{flag} {shown}: cannot reach the directory {dir_shown}: {e}"),
    }
    if let Err(e) = probe(dir) {
        bail!("{flag} {shown}: cannot write in the directory {dir_shown}: {e}");
    }
    Ok(())
}

/// [`check`] for each `(flag, path)` with a path.
pub fn check_all<'a>(outputs: impl IntoIterator<Item = (&'a str, Option<&'a Path>)>) -> Result<()> {
    for (flag, path) in outputs {
        if let Some(p) = path {
            check(flag, p)?;
        }
    }
    Ok(())
}

/// Creates a new, uniquely named empty file in `dir` and removes it again.
fn probe(dir: &Path) -> std::io::Result<()> {
    static COUNT: AtomicUsize = AtomicUsize::new(0);
    let n = COUNT.fetch_add(1, Ordering::Relaxed);
    let file = dir.join(format!(".backprop-write-check-{}-{n}", std::process::id()));
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&file)?;
    std::fs::remove_file(&file)
}

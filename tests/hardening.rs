//! Hostile inputs and awkward save destinations (issue 11): every case gives a clear error naming
//! the file, or does the honest thing, and allocates no more than the file's size justifies.
//!
//! Allocation is measured with a global allocator that adds up, per thread, the bytes every
//! allocation and reallocation asks for: an upper bound of what a call held at its peak.

use backprop::data::{read_npy, read_npy_dataset, Task};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::path::{Path, PathBuf};

struct Counting;

thread_local! {
    static REQUESTED: Cell<usize> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let _ = REQUESTED.try_with(|c| c.set(c.get().saturating_add(l.size())));
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        let _ = REQUESTED.try_with(|c| c.set(c.get().saturating_add(n)));
        unsafe { System.realloc(p, l, n) }
    }
}

#[global_allocator]
static A: Counting = Counting;

/// Runs `f` and returns its result with the bytes it asked the allocator for on this thread.
fn allocated<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let before = REQUESTED.with(|c| c.get());
    let out = f();
    (out, REQUESTED.with(|c| c.get()) - before)
}

const MB: usize = 1 << 20;

fn write(dir: &Path, name: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

/// Asserts that `msg` contains every one of `parts`.
fn check(msg: &str, parts: &[&str]) {
    for p in parts {
        assert!(msg.contains(p), "{msg:?} does not contain {p:?}");
    }
}

// ---- npy ----

/// A version-1.0 `.npy` file with the given dtype, shape (a Python tuple) and data.
fn npy(descr: &str, shape: &str, data: &[u8]) -> Vec<u8> {
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut v = b"\x93NUMPY\x01\x00".to_vec();
    v.extend((header.len() as u16).to_le_bytes());
    v.extend(header.as_bytes());
    v.extend(data);
    v
}

#[test]
fn npy_zero_rows_and_a_huge_width_is_an_error_without_allocating() {
    let dir = tempfile::tempdir().unwrap();
    let y = write(dir.path(), "y.npy", npy("<i8", "(0,)", &[]));
    for shape in [
        "(0, 4294967296)",
        "(0, 10000000)",
        "(0, 4294967296, 4294967296)",
    ] {
        let x = write(dir.path(), "x.npy", npy("<f4", shape, &[]));
        // The array itself is honest: empty, whatever the other sizes are.
        let ((data, dims), bytes) = allocated(|| read_npy(&x).unwrap());
        assert!(data.is_empty(), "{shape}");
        assert_eq!(dims[0], 0, "{shape}");
        assert!(
            bytes < MB,
            "{shape}: reading the array allocated {bytes} bytes"
        );
        // As a dataset it has no rows: refused, like a CSV file without data rows.
        let (res, bytes) = allocated(|| read_npy_dataset(&x, &y, Task::Auto));
        let err = res.unwrap_err().to_string();
        check(&err, &["x.npy:0: shape:", "expected at least one row"]);
        assert!(bytes < MB, "{shape}: {bytes} bytes allocated before {err}");
    }
}

#[test]
fn npy_sizes_whose_product_overflows_are_an_error() {
    let dir = tempfile::tempdir().unwrap();
    // Overflows before a zero is reached, in any order of multiplication.
    let p = write(
        dir.path(),
        "big.npy",
        npy("<f4", "(4294967296, 4294967296, 0)", &[]),
    );
    assert_eq!(read_npy(&p).unwrap().0.len(), 0);
    let p = write(
        dir.path(),
        "over.npy",
        npy("<f8", "(4294967296, 4294967296, 2)", &[]),
    );
    check(
        &read_npy(&p).unwrap_err().to_string(),
        &["over.npy:0: shape:", "too large"],
    );
    // One row whose width overflows with the element size.
    let p = write(
        dir.path(),
        "wide.npy",
        npy("<f8", "(1, 4611686018427387904)", &[]),
    );
    check(
        &read_npy(&p).unwrap_err().to_string(),
        &["wide.npy:0: shape:", "too large"],
    );
}

#[test]
fn npy_labels_without_columns_name_the_labels_file() {
    let dir = tempfile::tempdir().unwrap();
    let x = write(dir.path(), "x.npy", npy("<f4", "(2, 1)", &[0; 8]));
    let y = write(dir.path(), "y.npy", npy("<f4", "(2, 0)", &[]));
    check(
        &read_npy_dataset(&x, &y, Task::Auto)
            .unwrap_err()
            .to_string(),
        &["y.npy:0: shape:", "expected at least one target per row"],
    );
    let y = write(dir.path(), "y2.npy", npy("<i8", "(2, 2)", &[0; 32]));
    check(
        &read_npy_dataset(&x, &y, Task::Classification)
            .unwrap_err()
            .to_string(),
        &["y2.npy:0: shape:", "one target per row for classification"],
    );
}

//! Hostile inputs and awkward save destinations (issue 11): every case gives a clear error naming
//! the file, or does the honest thing, and allocates no more than the file's size justifies.
//!
//! Allocation is measured with a global allocator that adds up, per thread, the bytes every
//! allocation and reallocation asks for: an upper bound of what a call held at its peak.

use backprop::data::idx::{read_idx_images_from_bytes, read_idx_labels_from_bytes};
use backprop::data::{
    read_idx_labels, read_mnist_dir, read_npy, read_npy_dataset, read_npy_features, read_npy_table,
    CsvOptions, Task,
};
use backprop::io::{atomic_write, Checkpoint, Model};
use flate2::write::GzEncoder;
use flate2::Compression;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

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
    for shape in ["(0, 4294967296)", "(0, 10000000)", "(0, 65536, 65536)"] {
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
    // Empty, but a row's width would overflow: refused whatever the position of the zero, so
    // that no reader multiplying the sizes after the first can overflow.
    for shape in ["(4294967296, 4294967296, 0)", "(0, 4294967296, 4294967296)"] {
        let p = write(dir.path(), "big.npy", npy("<f4", shape, &[]));
        check(
            &read_npy(&p).unwrap_err().to_string(),
            &["big.npy:0: shape:", "too large", "overflows"],
        );
    }
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

/// The table readers the command line uses (`src/data/columns.rs`) must refuse a zero-row array
/// before allocating per column, as `read_npy_dataset` does: with `(0, 10000000)` they build ten
/// million column names (about 700 MB) first.
#[test]
fn npy_table_with_zero_rows_and_a_huge_width_allocates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let x = write(dir.path(), "x.npy", npy("<f4", "(0, 10000000)", &[]));
    let y = write(dir.path(), "y.npy", npy("<i8", "(0,)", &[]));
    let opts = CsvOptions::default();
    let (res, bytes) = allocated(|| read_npy_table(&x, Some(&y), &opts));
    check(&res.unwrap_err().to_string(), &["x.npy:0: shape:"]);
    assert!(bytes < MB, "read_npy_table allocated {bytes} bytes");
    let (res, bytes) = allocated(|| read_npy_table(&x, None, &opts));
    check(&res.unwrap_err().to_string(), &["x.npy:0: shape:"]);
    assert!(bytes < MB, "read_npy_table allocated {bytes} bytes");
    let (res, bytes) = allocated(|| read_npy_features(&x, None, None, &opts).map(|t| t.len()));
    assert!(
        bytes < MB,
        "read_npy_features allocated {bytes} bytes ({res:?})"
    );
}

// ---- IDX ----

fn idx_images(n: u32, rows: u32, cols: u32) -> Vec<u8> {
    [0x0803u32, n, rows, cols]
        .iter()
        .flat_map(|w| w.to_be_bytes())
        .collect()
}

fn idx_labels(n: u32) -> Vec<u8> {
    [0x0801u32, n]
        .iter()
        .flat_map(|w| w.to_be_bytes())
        .collect()
}

/// Gzip of `head` followed by `zeros` zero bytes (compressed as it goes, ~1000:1).
fn gzip_with_zeros(head: &[u8], zeros: usize) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::default());
    e.write_all(head).unwrap();
    let chunk = vec![0u8; MB];
    let mut left = zeros;
    while left > 0 {
        let n = left.min(chunk.len());
        e.write_all(&chunk[..n]).unwrap();
        left -= n;
    }
    e.finish().unwrap()
}

#[test]
fn mnist_count_mismatch_is_found_before_the_images_are_decompressed() {
    // 40,000 blank 28x28 images: 31 MB that gzip packs into ~31 KB; labels for only 3 of them.
    let n = 40_000u32;
    let images = gzip_with_zeros(&idx_images(n, 28, 28), n as usize * 784);
    assert!(images.len() < MB / 8, "{}", images.len());
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "train-images-idx3-ubyte.gz", &images);
    let mut labels = idx_labels(3);
    labels.extend([1, 2, 3]);
    write(dir.path(), "train-labels-idx1-ubyte", labels);
    let (res, bytes) = allocated(|| read_mnist_dir(dir.path(), true));
    let err = res.unwrap_err().to_string();
    check(
        &err,
        &[
            "train-labels-idx1-ubyte:0: count:",
            "expected 40000 labels, one per image",
            "found 3",
        ],
    );
    assert!(bytes < 2 * MB, "{bytes} bytes allocated before {err}");
}

#[test]
fn mnist_bad_label_is_found_before_the_images_are_decompressed() {
    let n = 40_000u32;
    let dir = tempfile::tempdir().unwrap();
    let images = gzip_with_zeros(&idx_images(n, 28, 28), n as usize * 784);
    write(dir.path(), "train-images-idx3-ubyte.gz", &images);
    let mut labels = idx_labels(n);
    labels.extend(std::iter::repeat_n(3, n as usize - 1));
    labels.push(10);
    write(dir.path(), "train-labels-idx1-ubyte", labels);
    let (res, bytes) = allocated(|| read_mnist_dir(dir.path(), true));
    let err = res.unwrap_err().to_string();
    check(&err, &["train-labels-idx1-ubyte:40000: label:", "found 10"]);
    assert!(bytes < 2 * MB, "{bytes} bytes allocated before {err}");
}

#[test]
fn idx_gzip_header_declaring_more_than_the_file_can_hold_is_refused_at_once() {
    // One million 28x28 images announced by a gzip file of a few dozen bytes: deflate cannot
    // expand more than 1032:1, so the header is wrong before a byte of data is read.
    let gz = gzip_with_zeros(&idx_images(1_000_000, 28, 28), 100);
    let (res, bytes) = allocated(|| read_idx_images_from_bytes(&gz, "tiny.gz"));
    let err = res.unwrap_err().to_string();
    check(
        &err,
        &[
            "tiny.gz:0: data:",
            "1000000 images of 28x28",
            &format!("a gzip file of {} bytes holds at most", gz.len()),
        ],
    );
    assert!(bytes < MB, "{bytes} bytes allocated before {err}");
}

#[test]
fn idx_gzip_stream_longer_than_the_header_is_not_inflated() {
    // Two labels announced, 64 MB of zeros behind them: only what the header declares (plus one
    // byte, to notice the excess) is decompressed.
    let mut head = idx_labels(2);
    head.extend([1, 2]);
    let gz = gzip_with_zeros(&head, 64 * MB);
    let (res, bytes) = allocated(|| read_idx_labels_from_bytes(&gz, "long.gz"));
    let err = res.unwrap_err().to_string();
    check(&err, &["long.gz:0: data:", "2 labels", "trailing bytes"]);
    assert!(bytes < 2 * MB, "{bytes} bytes allocated before {err}");
    // The same through a file.
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "long.gz", &gz);
    let (res, bytes) = allocated(|| read_idx_labels(&p));
    check(
        &res.unwrap_err().to_string(),
        &["long.gz:0: data:", "trailing bytes"],
    );
    assert!(bytes < 2 * MB, "{bytes} bytes allocated");
}

#[test]
fn idx_gzip_stream_shorter_than_the_header_is_truncated() {
    let mut head = idx_labels(5000);
    head.extend([4; 10]);
    let gz = gzip_with_zeros(&head, 0);
    check(
        &read_idx_labels_from_bytes(&gz, "short.gz")
            .unwrap_err()
            .to_string(),
        &[
            "short.gz:0: data:",
            "expected 5008 bytes",
            "found 18 after decompression",
            "truncated",
        ],
    );
}

#[test]
fn idx_from_bytes_reads_raw_and_gzip_alike() {
    let mut raw = idx_images(2, 1, 3);
    raw.extend([1, 2, 3, 4, 5, 6]);
    let gz = gzip_with_zeros(&raw, 0);
    for bytes in [&raw, &gz] {
        assert_eq!(
            read_idx_images_from_bytes(bytes, "x").unwrap(),
            (vec![1, 2, 3, 4, 5, 6], 1, 3)
        );
    }
    check(
        &read_idx_labels_from_bytes(&raw, "x.idx")
            .unwrap_err()
            .to_string(),
        &["x.idx:0: magic:", "found 0x00000803 (IDX images)"],
    );
}

// ---- model files and checkpoints ----

/// Runs the real binary to train a tiny model (and a checkpoint) in `dir`.
fn tiny_model(dir: &Path) -> (PathBuf, PathBuf) {
    let model = dir.join("m.safetensors");
    let out = Command::new(env!("CARGO_BIN_EXE_backprop"))
        .args(["train", "--epochs", "1", "--hidden", "4", "-q"])
        .args(["--checkpoint-every", "1", "--out"])
        .arg(&model)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let ckpt = dir.join("m.safetensors.ckpt");
    assert!(ckpt.exists());
    (model, ckpt)
}

/// The tensors of a safetensors file as `(name, (shape, bytes))`, and its metadata.
type Tensors = Vec<(String, (Vec<usize>, Vec<u8>))>;

fn unpack(bytes: &[u8]) -> (Tensors, HashMap<String, String>) {
    let (_, meta) = safetensors::SafeTensors::read_metadata(bytes).unwrap();
    let st = safetensors::SafeTensors::deserialize(bytes).unwrap();
    let tensors = st
        .tensors()
        .into_iter()
        .map(|(n, v)| (n, (v.shape().to_vec(), v.data().to_vec())))
        .collect();
    (tensors, meta.metadata().clone().unwrap_or_default())
}

fn pack(tensors: &Tensors, meta: HashMap<String, String>) -> Vec<u8> {
    let views = tensors.iter().map(|(n, (s, b))| {
        let v = safetensors::tensor::TensorView::new(safetensors::Dtype::F32, s.clone(), b);
        (n.clone(), v.unwrap())
    });
    safetensors::serialize(views, Some(meta)).unwrap()
}

/// `[1; 5 - rank] ++ dims`: the same values as a rank-5 shape.
fn rank5(dims: &[usize]) -> Vec<usize> {
    let mut s = vec![1; 5 - dims.len()];
    s.extend(dims);
    s
}

#[test]
fn model_tensor_of_rank_5_is_a_model_file_error() {
    let dir = tempfile::tempdir().unwrap();
    let (model, _) = tiny_model(dir.path());
    let (mut tensors, meta) = unpack(&std::fs::read(&model).unwrap());
    let (_, (shape, _)) = tensors
        .iter_mut()
        .find(|(n, _)| n == "layers.0.weight")
        .unwrap();
    *shape = rank5(shape);
    let bad = write(dir.path(), "rank5.safetensors", pack(&tensors, meta));
    let err = Model::load(&bad).unwrap_err();
    assert!(matches!(err, backprop::Error::ModelFile { .. }), "{err:?}");
    check(
        &err.to_string(),
        &[
            "rank5.safetensors: tensor layers.0.weight has 5 dimensions",
            "at most 4",
        ],
    );
}

#[test]
fn checkpoint_optimizer_state_of_rank_5_is_a_model_file_error() {
    let dir = tempfile::tempdir().unwrap();
    let (_, ckpt) = tiny_model(dir.path());
    let (tensors, meta) = unpack(&std::fs::read(&ckpt).unwrap());
    let key = "backprop-checkpoint";
    let json: serde_json::Value = serde_json::from_str(&meta[key]).unwrap();
    let state = json["optimizer_state"].as_array().unwrap();
    // An optimizer state tensor (not the scalar step count), e.g. exp_avg.0.
    let (i, name, dims) = state
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let dims: Vec<usize> = serde_json::from_value(e[1].clone()).unwrap();
            (i, e[0].as_str().unwrap().to_string(), dims)
        })
        .find(|(_, _, d)| d.len() == 2)
        .unwrap();
    // 1. Both the metadata and the tensor say rank 5 (this panicked in `Shape`).
    // 2. Only the metadata says rank 5.
    for also_tensor in [true, false] {
        let mut json = json.clone();
        json["optimizer_state"][i][1] = serde_json::json!(rank5(&dims));
        let mut meta = meta.clone();
        meta.insert(key.into(), json.to_string());
        let mut tensors = tensors.clone();
        if also_tensor {
            let t = tensors
                .iter_mut()
                .find(|(n, _)| *n == format!("optimizer/{name}"))
                .unwrap();
            t.1 .0 = rank5(&dims);
        }
        let bad = write(dir.path(), "rank5.ckpt", pack(&tensors, meta));
        let err = Checkpoint::load(&bad).unwrap_err();
        assert!(matches!(err, backprop::Error::ModelFile { .. }), "{err:?}");
        check(
            &err.to_string(),
            &[
                &format!("rank5.ckpt: tensor optimizer/{name} has 5 dimensions"),
                "at most 4",
            ],
        );
    }
}

/// Found by fuzzing (`fuzz/`, target `checkpoint`, in its first 10 seconds): a checkpoint whose
/// metadata lists one optimizer state tensor twice loaded, and saving it again panicked inside
/// `safetensors::serialize` (index out of bounds). The fixture is the smallest seed checkpoint
/// with its second state entry renamed to the first's (`step.0` twice).
#[test]
fn checkpoint_with_duplicate_optimizer_state_names_is_refused() {
    let bytes = include_bytes!("fixtures/checkpoint-duplicate-state-name.ckpt");
    let res = Checkpoint::from_bytes(bytes, Path::new("dup.ckpt"));
    let err = res.expect_err("a checkpoint listing optimizer state step.0 twice loaded");
    check(&err.to_string(), &["dup.ckpt", "step.0"]);
}

// ---- saving ----

/// The names in `dir`, sorted.
fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[cfg(unix)]
#[test]
fn saving_to_a_fifo_writes_through_it() {
    use std::os::unix::fs::FileTypeExt;
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("pipe");
    let ok = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(ok.success());
    // The reader reports through a channel with a timeout: if the save replaced the FIFO, the
    // reader stays blocked opening it, and the test fails instead of hanging.
    let (tx, rx) = std::sync::mpsc::channel();
    {
        let fifo = fifo.clone();
        std::thread::spawn(move || {
            let mut s = Vec::new();
            let r = std::fs::File::open(fifo).and_then(|mut f| f.read_to_end(&mut s));
            let _ = tx.send(r.map(|_| s));
        });
    }
    atomic_write(&fifo, b"model bytes").unwrap();
    let got = rx
        .recv_timeout(std::time::Duration::from_secs(20))
        .expect("nothing was written into the FIFO");
    assert_eq!(got.unwrap(), b"model bytes");
    let t = std::fs::symlink_metadata(&fifo).unwrap().file_type();
    assert!(t.is_fifo(), "the FIFO was replaced by {t:?}");
    assert_eq!(listing(dir.path()), ["pipe"]);
}

#[cfg(unix)]
#[test]
fn saving_to_a_device_node_writes_through_it() {
    use std::os::unix::fs::FileTypeExt;
    let dir = tempfile::tempdir().unwrap();
    let null = dir.path().join("null");
    // The device /dev/null is, made here so that a broken save cannot replace the real one.
    let made = Command::new("mknod")
        .arg(&null)
        .args(["c", "1", "3"])
        .output();
    match made {
        Ok(o) if o.status.success() => {}
        Ok(o) => {
            let why = String::from_utf8_lossy(&o.stderr);
            eprintln!("note: skipping the device-node case: mknod failed (needs root): {why}");
            return;
        }
        Err(e) => {
            eprintln!("note: skipping the device-node case: cannot run mknod: {e}");
            return;
        }
    }
    atomic_write(&null, b"discarded").unwrap();
    atomic_write(&null, b"again").unwrap();
    let t = std::fs::symlink_metadata(&null).unwrap().file_type();
    assert!(t.is_char_device(), "the device was replaced by {t:?}");
    assert_eq!(listing(dir.path()), ["null"]);
}

#[cfg(unix)]
#[test]
fn saving_through_a_symlink_replaces_its_target_and_keeps_the_link() {
    use std::os::unix::fs::symlink;
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("models");
    std::fs::create_dir(&sub).unwrap();
    write(&sub, "real.bin", b"old");
    // link -> models/real.bin (relative), and chain -> link.
    let link = dir.path().join("link.bin");
    symlink("models/real.bin", &link).unwrap();
    let chain = dir.path().join("chain.bin");
    symlink("link.bin", &chain).unwrap();
    atomic_write(&link, b"new").unwrap();
    assert_eq!(std::fs::read(sub.join("real.bin")).unwrap(), b"new");
    atomic_write(&chain, b"newer").unwrap();
    assert_eq!(std::fs::read(sub.join("real.bin")).unwrap(), b"newer");
    for l in [&link, &chain] {
        let m = std::fs::symlink_metadata(l).unwrap();
        assert!(m.file_type().is_symlink(), "{l:?} is no longer a link");
    }
    assert_eq!(
        std::fs::read_link(&link).unwrap(),
        Path::new("models/real.bin")
    );
    // No temporary file left, in either directory.
    assert_eq!(listing(dir.path()), ["chain.bin", "link.bin", "models"]);
    assert_eq!(listing(&sub), ["real.bin"]);
    // A dangling link names the file to create.
    let dangling = dir.path().join("dangling.bin");
    symlink("models/new.bin", &dangling).unwrap();
    atomic_write(&dangling, b"created").unwrap();
    assert_eq!(std::fs::read(sub.join("new.bin")).unwrap(), b"created");
    assert!(std::fs::symlink_metadata(&dangling)
        .unwrap()
        .file_type()
        .is_symlink());
    // A loop is an error naming the path, not a hang.
    let a = dir.path().join("a");
    symlink("b", &a).unwrap();
    symlink("a", dir.path().join("b")).unwrap();
    check(
        &atomic_write(&a, b"x").unwrap_err().to_string(),
        &["a: too many levels of symbolic links"],
    );
}

#[cfg(target_os = "linux")]
#[test]
fn stale_temporaries_of_dead_processes_are_removed() {
    let dir = tempfile::tempdir().unwrap();
    // A PID above the kernel's maximum can never be running; PID 1 always is.
    let pid_max: u64 = std::fs::read_to_string("/proc/sys/kernel/pid_max")
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let dead = pid_max + 1;
    let stale = [format!(".m.bin.tmp-{dead}"), format!(".m.bin.tmp-{dead}-7")];
    let kept = [
        ".m.bin.tmp-1".to_string(),       // a running process's save in progress
        ".m.bin.tmp-1-3".to_string(),     // likewise
        format!(".other.bin.tmp-{dead}"), // another file's: not this save's business
        format!(".m.bin.tmp-{dead}x"),    // not a name this program makes
        "m.bin.tmp-5".to_string(),
    ];
    for n in stale.iter().chain(&kept) {
        write(dir.path(), n, b"partial");
    }
    atomic_write(&dir.path().join("m.bin"), b"whole").unwrap();
    let mut want: Vec<String> = kept.to_vec();
    want.push("m.bin".into());
    want.sort();
    assert_eq!(listing(dir.path()), want);
    assert_eq!(std::fs::read(dir.path().join("m.bin")).unwrap(), b"whole");
}

#[test]
fn concurrent_saves_from_one_process_do_not_collide() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.bin");
    let payloads: Vec<Vec<u8>> = (0..4u8).map(|t| vec![t; 256 * 1024]).collect();
    std::thread::scope(|s| {
        for p in &payloads {
            let path = &path;
            s.spawn(move || {
                for _ in 0..20 {
                    atomic_write(path, p).unwrap();
                }
            });
        }
    });
    let last = std::fs::read(&path).unwrap();
    assert!(
        payloads.contains(&last),
        "the file is a mix of several saves"
    );
    assert_eq!(listing(dir.path()), ["m.bin"]);
}

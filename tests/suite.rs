//! The integration tests, linked as one test binary: each `tests/*.rs` file is a module here
//! (`cargo test --release --test suite onnx::` runs one file's tests). One binary instead of
//! one per file saves a link of the library and its dependencies for every file, the largest
//! part of building the tests.
//!
//! Four files stay test binaries of their own (`[[test]]` in Cargo.toml), because they change
//! process-wide state that would leak into the tests running beside them: `determinism` (the
//! thread count and the parallel threshold of matrix products) and `hardening`, `no_alloc`,
//! `optim` (each installs its own counting global allocator).
//!
//! Cargo.toml has `autotests = false`, so a new `tests/*.rs` file runs only once it is listed
//! here or there; `every_test_file_is_compiled` fails until it is.

#[path = "batch_norm.rs"]
mod batch_norm;
#[path = "bf16_kernel.rs"]
mod bf16_kernel;
#[path = "cli.rs"]
mod cli;
#[path = "columns.rs"]
mod columns;
#[path = "columns_cli.rs"]
mod columns_cli;
#[path = "data.rs"]
mod data;
#[path = "explain.rs"]
mod explain;
#[path = "fused.rs"]
mod fused;
#[path = "golden.rs"]
mod golden;
#[path = "gradcheck.rs"]
mod gradcheck;
#[path = "init_from.rs"]
mod init_from;
#[path = "io.rs"]
mod io;
#[path = "lib_surface.rs"]
mod lib_surface;
#[path = "loss.rs"]
mod loss;
#[path = "mpi.rs"]
mod mpi;
#[path = "onnx.rs"]
mod onnx;
#[path = "optimizers.rs"]
mod optimizers;
#[path = "perf.rs"]
mod perf;
#[path = "plot.rs"]
mod plot;
#[path = "properties.rs"]
mod properties;
#[path = "reports.rs"]
mod reports;
#[path = "robustness.rs"]
mod robustness;
#[path = "sample_weights.rs"]
mod sample_weights;
#[path = "session.rs"]
mod session;
#[path = "surface.rs"]
mod surface;
#[path = "threshold.rs"]
mod threshold;
#[path = "train.rs"]
mod train;
#[path = "warm.rs"]
mod warm;

/// Every `tests/*.rs` file is a module of this file or a `[[test]]` of its own in Cargo.toml.
#[test]
fn every_test_file_is_compiled() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let here = std::fs::read_to_string(root.join("tests/suite.rs")).unwrap();
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    let mut missing = vec![];
    for entry in std::fs::read_dir(root.join("tests")).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if !name.ends_with(".rs") || name == "suite.rs" {
            continue;
        }
        let module = format!("#[path = \"{name}\"]");
        let target = format!("path = \"tests/{name}\"");
        if !here.contains(&module) && !manifest.contains(&target) {
            missing.push(name);
        }
    }
    assert!(
        missing.is_empty(),
        "not compiled (Cargo.toml has autotests = false): {missing:?}; add each to tests/suite.rs \
         or as a [[test]] to Cargo.toml"
    );
}

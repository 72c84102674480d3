#!/usr/bin/env bash
# CI for the `mpi` feature (data-parallel training under mpirun): installs Open MPI and what the
# `mpi` crate's build needs (mpicc/pkg-config to find MPI, libclang for its bindgen step), then
# lints and runs tests/mpi.rs. Idempotent; for a clean Debian/Ubuntu machine, as root or with sudo.
# mpirun refuses root unless told: the tests pass --allow-run-as-root, and the two variables
# below cover any other mpirun started here.
set -euo pipefail
cd "$(dirname "$0")/.."

pkgs=(libopenmpi-dev openmpi-bin libclang-dev clang pkg-config)
if ! dpkg -s "${pkgs[@]}" >/dev/null 2>&1; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends "${pkgs[@]}"
fi

export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
mpirun --version | head -1
cargo clippy --all-targets --features mpi -- -D warnings
cargo build --release --features mpi
cargo test --release --features mpi --test suite mpi::

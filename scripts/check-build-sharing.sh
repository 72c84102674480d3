#!/usr/bin/env bash
# Checks that the README's two commands share one build: every artifact `cargo build --release`
# makes (the dependencies, the library, the binary) must come back unchanged ("fresh") when
# `cargo test --release` builds the tests. It fails when a dev-dependency turns on a feature of a
# shared crate that the library does not ask for (the fix: a feature pin in Cargo.toml), or when
# the release profile stops being shared. Builds what is missing; cheap when both are built.
set -euo pipefail
cd "$(dirname "$0")/.."
build=$(mktemp) tests=$(mktemp)
trap 'rm -f "$build" "$tests"' EXIT
cargo build --release --message-format json >"$build"
cargo test --release --no-run --message-format json >"$tests"
python3 - "$build" "$tests" <<'PY'
import json, sys

def artifacts(path):
    """One entry per compiler-artifact message: (package, fresh, filenames)."""
    out = []
    for line in open(path):
        if line.startswith("{"):
            m = json.loads(line)
            if m.get("reason") == "compiler-artifact":
                out.append((m["package_id"], m["fresh"], set(m["filenames"])))
    return out

build, tests = artifacts(sys.argv[1]), artifacts(sys.argv[2])
fresh = set().union(*(files for _, ok, files in tests if ok))
# an artifact is shared when one of its files (e.g. the hashed .rmeta of a library, whose .rlib
# cargo also copies out of deps/) is among the test build's fresh files
rebuilt = sorted(pkg for pkg, _, files in build if not files & fresh)
print(f"cargo build --release: {len(build)} artifacts; cargo test --release reused "
      f"{len(build) - len(rebuilt)}, rebuilt {len(rebuilt)}")
for p in rebuilt:
    print("  not shared:", p)
sys.exit(1 if rebuilt else 0)
PY

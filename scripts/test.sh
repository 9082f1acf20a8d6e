#!/usr/bin/env bash
# The whole test suite: set up what is missing, then lint and run every
# suite against real servers (nats-server with JetStream and the natsbridge
# file server, started per suite on free loopback ports by the harness).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/setup.sh"
cd "$ROOT"

export NB_TESTENV="$CARGO_TARGET_DIR/release/nb-testenv"
export NATSBRIDGE_CLI="$CARGO_TARGET_DIR/release/natsbridge"
export PATH="$VENV/bin:$PATH"

step() { printf '\n\033[1m==> %s\033[0m\n' "$*" >&2; }

step "format and lint"
cargo fmt --all --check
cargo clippy --release --workspace --all-targets -q -- -D warnings
# The sans-I/O codec alone (no tokio, no sockets): what a WebAssembly build compiles.
cargo clippy --release -p natsbridge --no-default-features --lib -q -- -D warnings
# The same codec for the browser (wasm32-unknown-unknown, feature `wasm`).
cargo clippy --release -p natsbridge --no-default-features --features wasm --target wasm32-unknown-unknown --lib -q -- -D warnings
cargo build --release -p natsbridge --no-default-features --features wasm --target wasm32-unknown-unknown --lib -q
# The browser build's wasm-bindgen exports, for the target they are built for.
cargo clippy --release -p natsbridge-wasm --target wasm32-unknown-unknown -q -- -D warnings
ruff check bindings-micropython bindings-python benchmarks/python tests/harness tests/interop docs/vectors examples scripts
ruff format --check bindings-micropython bindings-python benchmarks/python tests/harness tests/interop docs/vectors examples scripts
# One version in every manifest, header and the changelog.
python3 scripts/check-versions.py

step "Rust: core, file server, harness, CLI (unit, integration, doc tests)"
cargo test --release --workspace -q
# Fuzzing on a budget (fuzz/README.md): 15 s for each of the four targets.
cargo run --release -q -p natsbridge-fuzz -- --seconds 15 all

# Everything above linted the whole workspace and ran its Rust tests: the
# per-binding scripts below skip their own lint steps (each thing is checked once).
export NB_WORKSPACE_CHECKED=1

step "C ABI: C programs under ASan/UBSan, pkg-config example"
bash tests/c/run.sh

step "Python package (pytest; nats-py, pyarrow, pandas, polars interop; the wheel as users get it)"
# NB_WHEEL (exported by setup.sh) is the wheel setup built and installed:
# tests/package installs it into a fresh virtualenv without a Rust toolchain,
# round-trips every payload type and checks it is cp39-abi3 and, by
# auditwheel, manylinux_2_17 (glibc 2.17, scripts/link-cc).
(cd bindings-python && NB_WHEEL_PLATFORM=manylinux_2_17_x86_64 python -m pytest -q -p no:cacheprovider)

step "Node package (node --test; nats.js and apache-arrow interop; the two packed npm tarballs installed)"
# --ignore-scripts skips `pretest` (lint and build): setup.sh built the addon
# (regenerating index.d.ts, which a test diffs against the committed file).
(cd bindings-node && npm test --silent --ignore-scripts)

step "MicroPython client (real micropython unix port)"
(cd bindings-micropython && python -m pytest -q tests)

step "Julia package (NATSBridge.jl on libnatsbridge, its JLL artifact, shared wire vectors)"
bash bindings-julia/run-tests.sh

step "examples (examples/run.sh: each language's example against nb-testenv servers)"
bash examples/run.sh

step "interop matrix (tests/interop: every language sends to and asks every other one)"
python tests/interop/run.py

step "Browser (the wasm codec and the ESM layer in headless Chromium, against the Rust core)"
(cd bindings-wasm && npm test --silent)

step "all suites passed"

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
ruff check bindings-micropython bindings-python benchmarks/python tests/harness
ruff format --check bindings-micropython bindings-python benchmarks/python tests/harness

step "Rust: core, file server, harness, CLI (unit, integration, doc tests)"
cargo test --release --workspace -q

step "C ABI: header check, C programs under ASan/UBSan, pkg-config example"
bash tests/c/run.sh

step "Python package (pytest; nats-py, pyarrow, pandas, polars interop)"
(cd bindings-python && python -m pytest -q -p no:cacheprovider)

step "Node package (node --test; nats.js and apache-arrow interop, packed tarball install)"
(cd bindings-node && npm test --silent)

step "MicroPython client (real micropython unix port)"
(cd bindings-micropython && python -m pytest -q tests)

step "Julia package (NATSBridge.jl on libnatsbridge, its JLL artifact, shared wire vectors)"
bash bindings-julia/run-tests.sh

step "all suites passed"

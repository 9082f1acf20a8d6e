#!/usr/bin/env bash
# Builds the two natively compiled packages the way they ship, once, for
# scripts/setup.sh (which installs and tests these very files) and
# scripts/release.sh (which copies them to dist/); a no-op when current.
#
#   target/wheels/natsbridge-<v>-cp39-abi3-manylinux_2_17_x86_64...whl
#       maturin --zig: abi3 (CPython 3.9+), linked against glibc 2.17
#   bindings-node/natsbridge.linux-x64-gnu.node (and index.d.ts)
#       napi build -x: cargo-zigbuild, target x86_64-unknown-linux-gnu.2.17
#
# Both compile for the explicit target x86_64-unknown-linux-gnu, so they share
# target/x86_64-unknown-linux-gnu/ (one compile of the dependencies for the
# two); the host builds in target/release/ cannot share it (see
# docs/notes/pkg.md for the measured cost). Needs .venv from setup.sh:
# maturin, ziglang and cargo-zigbuild (scripts/requirements-release.txt).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$root/target}
# zig comes from the ziglang package: cargo-zigbuild and maturin find it as
# `python3 -m ziglang` with the virtualenv first on PATH.
export PATH="$root/.venv/bin:$HOME/.cargo/bin:$PATH"

"$root/.venv/bin/maturin" build --release --zig --compatibility manylinux2014 \
    -m "$root/bindings-python/Cargo.toml" --out "$CARGO_TARGET_DIR/wheels" -q >&2
(cd "$root/bindings-node" && npm run --silent build:zig >/dev/null)

#!/usr/bin/env bash
# The Python package's tests alone, from a clean clone:
#
#     bash bindings-python/run-tests.sh [pytest arguments]
#
# Sets up what is missing and installs the package into <repo>/.venv through
# scripts/setup.sh (the same path the README's commands take: maturin builds
# the extension in release mode against the workspace's target/), checks
# formatting and lints (cargo fmt, clippy, ruff), then runs pytest against
# real servers started by nb-testenv.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$repo/scripts/setup.sh"
export NB_TESTENV="$CARGO_TARGET_DIR/release/nb-testenv"

echo "== format and lint"
cargo fmt -p natsbridge-python --check
cargo clippy --release -p natsbridge-python -- -D warnings
"$VENV/bin/ruff" check "$repo/bindings-python" "$repo/benchmarks/python"
"$VENV/bin/ruff" format --check "$repo/bindings-python" "$repo/benchmarks/python"

echo "== pytest"
cd "$repo/bindings-python"
exec "$VENV/bin/python" -m pytest -p no:cacheprovider "$@"

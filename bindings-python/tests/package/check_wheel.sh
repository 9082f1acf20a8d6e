#!/usr/bin/env bash
# Checks a built natsbridge wheel as a user gets it (tests/package/test_wheel.py):
#
#     bash bindings-python/tests/package/check_wheel.sh WHEEL [pytest arguments]
#
# - the wheel is cp39-abi3 (file name, WHEEL tags, _natsbridge.abi3.so) with
#   the package metadata (license file, classifiers 3.9-3.13);
# - `auditwheel show WHEEL` reports a platform tag, printed; it must equal
#   $NB_WHEEL_PLATFORM when that is set (e.g. manylinux_2_17_x86_64);
# - the wheel installs (pip --no-index --no-deps) into a fresh virtualenv of
#   this Python, and of each interpreter in $NB_WHEEL_PYTHONS (separated by
#   ':'), with no cargo or rustc on PATH, and a smoke script sends and
#   receives a payload of every type, one by link, against nb-testenv's
#   servers (tests/package/smoke.py);
# - `maturin sdist` holds what a build needs; NB_SDIST_BUILD=1 also builds a
#   wheel from it with pip in a fresh virtualenv (a full compile).
#
# Needs the repository's .venv (scripts/setup.sh: pytest, maturin, auditwheel)
# and target/release/nb-testenv.
set -euo pipefail

if [ $# -lt 1 ] || [ ! -f "$1" ]; then
    echo "usage: $0 WHEEL [pytest arguments]" >&2
    exit 2
fi
wheel="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
shift
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
venv="$repo/.venv"
export NB_WHEEL="$wheel"
export NB_TESTENV="${NB_TESTENV:-${CARGO_TARGET_DIR:-$repo/target}/release/nb-testenv}"
export PATH="$venv/bin:$PATH"

cd "$repo/bindings-python"
exec "$venv/bin/python" -m pytest -p no:cacheprovider -v -rP tests/package "$@"

#!/usr/bin/env bash
# Regenerates include/natsbridge.h from ffi-c/ with the pinned cbindgen.
#
#   ffi-c/generate-header.sh          rewrite include/natsbridge.h
#   ffi-c/generate-header.sh --check  generate into a temporary file and fail
#                                     when the committed header differs
#
# Needs the pinned cbindgen in $CARGO_HOME/bin (~/.cargo/bin), so every
# machine writes the same bytes; scripts/setup.sh installs it (this script
# never installs anything: it runs inside the tests).
set -euo pipefail

CBINDGEN_VERSION=0.29.4
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
header=$root/include/natsbridge.h
cbindgen=${CARGO_HOME:-$HOME/.cargo}/bin/cbindgen

if [[ "$("$cbindgen" --version 2>/dev/null)" != "cbindgen $CBINDGEN_VERSION" ]]; then
    echo "cbindgen $CBINDGEN_VERSION is not in $(dirname "$cbindgen"): run scripts/setup.sh" \
        "(or: cargo install cbindgen --version $CBINDGEN_VERSION --locked)" >&2
    exit 1
fi

fresh=$(mktemp "${TMPDIR:-/tmp}/natsbridge.h.XXXXXX")
trap 'rm -f "$fresh"' EXIT
(cd "$here" && "$cbindgen" --quiet --config cbindgen.toml --crate natsbridge-ffi --output "$fresh")

case "${1:-}" in
    --check)
        if ! diff -u "$header" "$fresh"; then
            echo "include/natsbridge.h is stale: run ffi-c/generate-header.sh and commit the result" >&2
            exit 1
        fi
        echo "include/natsbridge.h is up to date"
        ;;
    "")
        cp "$fresh" "$header"
        echo "wrote $header"
        ;;
    *)
        echo "usage: $0 [--check]" >&2
        exit 2
        ;;
esac

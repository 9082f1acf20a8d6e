#!/usr/bin/env bash
# The Node package's tests alone, from a clean clone:
#
#     bash bindings-node/run-tests.sh [node --test arguments]
#
# Installs what is missing (nats-server and Node/npm from apt; the npm
# dependencies with `npm ci`), then `npm test`: cargo fmt --check and clippy,
# a release build of the addon (regenerating index.d.ts) and of the test
# servers' harness (nb-testenv), and node's test runner against real servers.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$here/../target}"

missing=()
command -v nats-server >/dev/null 2>&1 || missing+=(nats-server)
command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)
if ((${#missing[@]})); then
    echo "== installing with apt: ${missing[*]}" >&2
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then
    export PATH="$HOME/.cargo/bin:$PATH"
fi

cd "$here"
npm ci --no-audit --no-fund
if (($#)); then
    npm run pretest
    exec node --test --test-concurrency=1 "$@"
fi
exec npm test

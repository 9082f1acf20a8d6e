#!/usr/bin/env bash
# The main job: set up what is missing, start a local nats-server on a free
# port (unless NATS_URL points at one), and run the natsbridge demo: a mixed
# message (text, dictionary, table, image and a 5 MB file that travels by
# claim-check through the JetStream Object Store) sent and received, with
# what arrived printed.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/setup.sh"

if [ -n "${NATS_URL:-}" ]; then
    "$CARGO_TARGET_DIR/release/natsbridge" demo --server "$NATS_URL"
    exit
fi

# nb-testenv starts nats-server (JetStream on) and a file server on free
# loopback ports and stops them when its stdin closes.
coproc TESTENV { exec "$CARGO_TARGET_DIR/release/nb-testenv"; }
trap 'exec {TESTENV[1]}>&-; wait "$TESTENV_PID" 2>/dev/null || true' EXIT
read -r line <&"${TESTENV[0]}"
nats_url="$(printf '%s' "$line" | sed -E 's/.*"nats_url":"([^"]+)".*/\1/')"
say "nats-server running at $nats_url"
"$CARGO_TARGET_DIR/release/natsbridge" demo --server "$nats_url"

#!/usr/bin/env bash
# The main job: set up what is missing and build every front end once
# (scripts/setup.sh), start a local nats-server with JetStream on a free port
# (unless NATS_URL points at one), and run the live multi-language demo
# (tests/interop/demo.py): a Python sender, a Node responder, a Julia table
# receiver, a C receiver of a large file (claim-check through the JetStream
# Object Store: no file server), a MicroPython device sending telemetry, and
# the browser page in headless Chromium when Chromium is installed. One line
# per event, then a summary with timings.
#
#   bash scripts/main.sh                          # a local nats-server
#   NATS_URL=nats://host:4222 bash scripts/main.sh   # that server (JetStream on; the
#                                                 # browser joins when NATS_WS_URL is set too)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/setup.sh"
cd "$ROOT"
started=$(date +%s)

if [ -n "${NATS_URL:-}" ]; then
    say "using the NATS server at $NATS_URL"
    "$VENV/bin/python" tests/interop/demo.py --nats-url "$NATS_URL" --ws-url "${NATS_WS_URL:-}"
    exit
fi

# nb-testenv starts nats-server (JetStream on, a WebSocket listener for the
# page) on free loopback ports and stops it when its stdin closes.
coproc TESTENV { exec "$CARGO_TARGET_DIR/release/nb-testenv" --no-fileserver --websocket; }
trap 'exec {TESTENV[1]}>&-; wait "$TESTENV_PID" 2>/dev/null || true' EXIT
read -r line <&"${TESTENV[0]}"
field() { printf '%s' "$line" | sed -E "s/.*\"$1\":\"([^\"]+)\".*/\\1/"; }
say "nats-server running at $(field nats_url) (WebSocket $(field ws_url))"
status=0
"$VENV/bin/python" tests/interop/demo.py --nats-url "$(field nats_url)" --ws-url "$(field ws_url)" \
    --page-port "$("$VENV/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')" \
    || status=$?
say "main job done in $(( $(date +%s) - started )) s after setup"
exit "$status"

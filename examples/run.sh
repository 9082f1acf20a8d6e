#!/usr/bin/env bash
# Runs every example against real servers and checks what each reports:
#
#   bash examples/run.sh            (after scripts/setup.sh: it builds what runs here)
#
# nb-testenv starts nats-server (JetStream) and the natsbridge file server on
# free loopback ports; each example gets NATS_URL and FILESERVER_URL, sends a
# mixed message (text, dictionary, table, binary, and a link payload through
# the file server), receives it, checks it itself, and must end with
# "example ok: text dictionary table binary link(file server)".
# Rust, Python, Node and C (against target/release/libnatsbridge.so) run, then
# MicroPython on the unix port.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
target=${CARGO_TARGET_DIR:-$root/target}
venv=${VENV:-$root/.venv}
micropython=${MICROPYTHON:-$(command -v micropython || echo "$venv/bin/micropython")}
EXAMPLE_TIMEOUT=120
EXPECTED="example ok: text dictionary table binary link(file server)"

work=$(mktemp -d "${TMPDIR:-/tmp}/natsbridge-examples.XXXXXX")
testenv_pid=
cleanup() {
    if [[ -n "$testenv_pid" ]]; then
        eval "exec ${TESTENV_IN}>&-" 2>/dev/null || true   # nb-testenv stops when its stdin closes
        for _ in $(seq 1 100); do kill -0 "$testenv_pid" 2>/dev/null || break; sleep 0.1; done
        kill "$testenv_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

for binary in "$target/release/nb-testenv" "$target/release/send-receive" "$target/release/libnatsbridge.so"; do
    if [[ ! -e "$binary" ]]; then
        echo "$binary is missing: run scripts/setup.sh (it builds the workspace)" >&2
        exit 1
    fi
done

coproc TESTENV { exec "$target/release/nb-testenv" 2>"$work/nb-testenv.log"; }
testenv_pid=$TESTENV_PID
TESTENV_IN=${TESTENV[1]}
if ! read -r -t 60 line <&"${TESTENV[0]}"; then
    echo "nb-testenv did not report its servers within 60 s:" >&2
    cat "$work/nb-testenv.log" >&2
    exit 1
fi
json_field() { sed -n "s/.*\"$1\":\"\\([^\"]*\\)\".*/\\1/p" <<<"$line"; }
NATS_URL=$(json_field nats_url)
FILESERVER_URL=$(json_field fileserver_url)
export NATS_URL FILESERVER_URL
echo "nats: $NATS_URL  file server: $FILESERVER_URL"

# The C example, compiled against the freshly built library (tests/c/run.sh
# also builds it through pkg-config from an installed prefix, under ASan).
# The library's soname is libnatsbridge.so.0: the loader finds it under that name.
mkdir -p "$work/lib"
ln -s "$target/release/libnatsbridge.so" "$work/lib/libnatsbridge.so.0"
cc -std=c11 -Wall -Wextra -Werror -I include examples/c/send_receive.c \
    -L "$target/release" -lnatsbridge -Wl,-rpath,"$work/lib" -o "$work/send_receive_c"

failures=()
run_example() {
    local name=$1 log=$work/$1.log status=0
    shift
    timeout "$EXAMPLE_TIMEOUT" "$@" >"$log" 2>&1 || status=$?
    if [[ $status -eq 0 ]] && [[ "$(tail -n 1 "$log")" == "$EXPECTED" ]]; then
        echo "ok   $name: $(tail -n 1 "$log")"
    else
        echo "FAIL $name (exit $status; the last line must be \"$EXPECTED\"):"
        sed 's/^/    /' "$log"
        failures+=("$name")
    fi
}

run_example rust "$target/release/send-receive"
run_example python "$venv/bin/python" examples/python/send_receive.py
run_example node node examples/node/send_receive.mjs
run_example c "$work/send_receive_c"
MICROPYPATH="$root/bindings-micropython" run_example micropython "$micropython" examples/micropython/send_receive.py

if ((${#failures[@]})); then
    echo "examples FAILED: ${failures[*]}" >&2
    exit 1
fi
echo "examples passed: rust python node c micropython"

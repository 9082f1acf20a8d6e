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
    local name=$1 log=$work/$1.log status=0 expected=${EXPECT:-$EXPECTED}
    shift
    timeout "$EXAMPLE_TIMEOUT" "$@" >"$log" 2>&1 || status=$?
    if [[ $status -eq 0 ]] && [[ "$(tail -n 1 "$log")" == "$expected" ]]; then
        echo "ok   $name: $(tail -n 1 "$log")"
    else
        echo "FAIL $name (exit $status; the last line must be \"$expected\"):"
        sed 's/^/    /' "$log"
        failures+=("$name")
    fi
}

run_example rust "$target/release/send-receive"
run_example python "$venv/bin/python" examples/python/send_receive.py
run_example node node examples/node/send_receive.mjs
run_example c "$work/send_receive_c"
MICROPYPATH="$root/bindings-micropython" run_example micropython "$micropython" examples/micropython/send_receive.py

# The original design's examples (its README, "Examples"): 1-4 (chat with
# mixed content, dictionary exchange, table exchange, request-response) in
# Python, JavaScript and Julia; 5, the MicroPython IoT device with a
# JavaScript and a Julia receiver. Julia runs its four in one process (its
# start-up takes seconds).
for example in chat dictionary table request_response; do
    want=$(sed -n 's/.*print(\(f\?\)"\(example ok: [^"]*\)").*/\2/p' "examples/python/$example.py" | tail -n 1)
    EXPECT=$want run_example "python-$example" "$venv/bin/python" "examples/python/$example.py"
    EXPECT=$want run_example "node-$example" node "examples/node/$example.mjs"
done

libunwind=${JULIA_LIBUNWIND_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/natsbridge/julia-libunwind}/usr/lib/x86_64-linux-gnu
julia_env=(env "JULIA_LOAD_PATH=$root/bindings-julia:@stdlib" "NATSBRIDGE_LIBRARY_PATH=$target/release")
[[ -f "$libunwind/libunwind.so.8" ]] && julia_env+=("LD_LIBRARY_PATH=$libunwind${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}")
# Julia 1.5 precompiles outside-in, one package per process (bindings-julia/run-tests.sh).
"${julia_env[@]}" julia --startup-file=no -e 'using NATSBridge_jll' >/dev/null
"${julia_env[@]}" julia --startup-file=no -e 'using NATSBridge' >/dev/null
EXPECT="example ok: request-response" run_example julia-examples "${julia_env[@]}" julia --startup-file=no \
    -e 'foreach(include, ARGS)' examples/julia/{chat,dictionary,table,request_response}.jl
julia_ok=$(grep -c '^example ok: ' "$work/julia-examples.log" || true)
if [[ $julia_ok -ne 4 ]]; then
    echo "FAIL julia-examples: $julia_ok of 4 examples ended with \"example ok\""
    failures+=(julia-examples)
fi

# Example 5: both receivers listen, then the device sends its telemetry and
# waits for the Node receiver's reboot command.
export IOT_ID=$$
node examples/node/iot_receiver.mjs >"$work/iot-node.log" 2>&1 &
iot_node=$!
"${julia_env[@]}" julia --startup-file=no examples/julia/iot_receiver.jl >"$work/iot-julia.log" 2>&1 &
iot_julia=$!
for _ in $(seq 1 600); do
    grep -q '^listening' "$work/iot-node.log" && grep -q '^listening' "$work/iot-julia.log" && break
    sleep 0.2
done
MICROPYPATH="$root/bindings-micropython" EXPECT="example ok: iot device" run_example micropython-iot-device \
    "$micropython" examples/micropython/iot_device.py
for receiver in node julia; do
    pid_var=iot_$receiver
    status=0
    wait "${!pid_var}" || status=$?
    if [[ $status -eq 0 ]] && [[ "$(tail -n 1 "$work/iot-$receiver.log")" == "example ok: iot receiver ($receiver)" ]]; then
        echo "ok   $receiver-iot-receiver: $(tail -n 1 "$work/iot-$receiver.log")"
    else
        echo "FAIL $receiver-iot-receiver (exit $status):"
        sed 's/^/    /' "$work/iot-$receiver.log"
        failures+=("$receiver-iot-receiver")
    fi
done

if ((${#failures[@]})); then
    echo "examples FAILED: ${failures[*]}" >&2
    exit 1
fi
echo "examples passed: rust python node c micropython, and the original design's examples" \
    "(chat, dictionary, table, request-response in python node julia; iot device micropython -> node, julia)"

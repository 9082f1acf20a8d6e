#!/usr/bin/env bash
# Runs every benchmark once (short settings) and prints one table of
# natsbridge-vs-peer ratios with the target beside each (issue 21).
#
#   bash benchmarks/run-all.sh            # after scripts/setup.sh
#   SKIP="julia browser" bash benchmarks/run-all.sh
#
# Each benchmark measures natsbridge and its peer in the same run; this
# script only runs them one after another (never in parallel: the machine has
# two cores) and collects their ratio lines. The full output of each one is
# kept in $OUT (default: a fresh directory under /tmp). Nothing here writes a
# RESULTS.md. About 10 minutes on an idle 2-core machine.
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}/release
OUT=${OUT:-$(mktemp -d "${TMPDIR:-/tmp}/nb-bench-all.XXXXXX")}
mkdir -p "$OUT"
SKIP=${SKIP:-}
export PATH="$ROOT/.venv/bin:$PATH" NB_TESTENV="$TARGET/nb-testenv"
rows=()

say() { printf '\033[1m[run-all]\033[0m %s\n' "$*" >&2; }
skipped() { [[ " $SKIP " == *" $1 "* ]]; }
row() { rows+=("| $1 | $2 | $3 | $4 |"); }

# cargo builds only what changed (release, as everything here).
say "building the Rust benchmarks and nb-testenv"
cargo build --release -q -p natsbridge-bench -p natsbridge-testkit --bins || exit 1

if ! skipped rust; then
    say "rust: bench-publish (100000 messages x 3 rounds)"
    "$TARGET/bench-publish" 100000 3 >"$OUT/rust-publish.txt" 2>&1
    ratio=$(sed -n 's/^ratio smartsend \/ raw = \([0-9.]*\).*/\1/p' "$OUT/rust-publish.txt")
    row "Rust smartsend 1 KiB text (bench-publish)" "raw async-nats, same bytes + headers" "${ratio:-failed}" ">= 0.80"
    say "rust: bench-codec"
    "$TARGET/bench-codec" 100000 3 >"$OUT/rust-codec.txt" 2>&1
    ns=$(sed -n 's/^| codec::encode_direct[^|]*| \([0-9]*\) |/\1/p' "$OUT/rust-codec.txt")
    row "Rust build of one 1 KiB envelope (bench-codec)" "(absolute)" "${ns:-failed} ns" "<= 300 ns"
    say "rust: bench-link (100 MB)"
    "$TARGET/bench-link" 100 >"$OUT/rust-link.txt" 2>&1
    while IFS='|' read -r _ store mode _ vs_curl vs_raw _; do
        store=$(echo $store) mode=$(echo $mode)
        case "$store" in
        "HTTP file server") row "link 100 MB, $store, $mode" "curl PUT + GET" "$(echo $vs_curl)" ">= 0.80" ;;
        "JetStream Object Store") row "link 100 MB, $store, $mode" "raw async-nats put + get" "$(echo $vs_raw)" ">= 0.80" ;;
        esac
    done < <(grep -E '^\| (HTTP file server|JetStream Object Store) ' "$OUT/rust-link.txt")
fi

if ! skipped python; then
    say "python: bench_python.py (1 KiB text, one run each)"
    python "$ROOT/benchmarks/python/bench_python.py" --repeat 1 --case "1 KiB" >"$OUT/python.txt" 2>&1
    line=$(grep '^| 1 KiB text' "$OUT/python.txt")
    IFS='|' read -r -a cells <<<"$line"
    # Columns: case, threads, asyncio, nats-py + functions, pure, raw, then ratios
    # threads/pure, asyncio/pure, nats-py + functions/pure, threads/raw.
    row "Python Bridge threads, 1 KiB text" "pure Python on nats-py" "$(echo ${cells[7]:-failed})" ">= 2x"
    row "Python asyncio, 1 KiB text" "pure Python on nats-py" "$(echo ${cells[8]:-failed})" ">= 2x"
    row "Python nats-py sub + smartreceive, smartsend thread" "pure Python on nats-py" "$(echo ${cells[9]:-failed})" ">= 3x"
fi

if ! skipped node; then
    say "node: bench_node.mjs (1 run, 2 s)"
    (cd "$ROOT/bindings-node" && BENCH_RUNS=1 BENCH_SECONDS=2 node ../benchmarks/node/bench_node.mjs) >"$OUT/node.txt" 2>&1
    line=$(grep '^| 1 KiB text' "$OUT/node.txt")
    IFS='|' read -r -a cells <<<"$line"
    row "Node Bridge, 1 KiB text" "pure JS on nats.js" "$(echo ${cells[6]:-failed})" ">= 2x"
    row "Node functions, 1 KiB text" "pure JS on nats.js" "$(echo ${cells[7]:-failed})" ">= 1.5x"
fi

if ! skipped julia; then
    if command -v julia >/dev/null 2>&1; then
        say "julia: run.sh (against C on the same library)"
        bash "$ROOT/benchmarks/julia/run.sh" >"$OUT/julia.txt" 2>&1
        # Lines "<case>  C <us> us  Julia <us> us  ratio <Julia time / C time>".
        while IFS='|' read -r name ratio; do
            row "Julia $name (time per message)" "C on the same libnatsbridge" "Julia/C time $ratio" "see benchmarks/julia/RESULTS.md"
        done < <(sed -n 's/^\(.*[^ ]\) *C .* ratio \([0-9.]*\)$/\1|\2/p' "$OUT/julia.txt")
    else
        row "Julia" "-" "not run: no julia" "-"
    fi
fi

if ! skipped browser; then
    say "browser: bench.mjs (3 rounds, no RESULTS.md written)"
    BENCH_WRITE=0 BENCH_ROUNDS=3 node "$ROOT/benchmarks/browser/bench.mjs" >"$OUT/browser.txt" 2>&1
    while IFS='|' read -r _ name _ _ _ ratio target _; do
        row "browser smartreceive, $(echo $name)" "pure JS decoder" "$(echo $ratio)" ">= $(echo $target)"
    done < <(grep -E '^\| [^-c]' "$OUT/browser.txt" | grep -E 'x \| [0-9.]+x \|')
fi

echo
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg); full outputs in $OUT"
echo
echo "| case | peer (same run) | natsbridge / peer | target |"
echo "|---|---|---:|---|"
printf '%s\n' "${rows[@]}"

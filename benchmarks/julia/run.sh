#!/usr/bin/env bash
# The Julia benchmark beside C, on the same library, in the same run:
#
#   [ROUNDS=2] bash benchmarks/julia/run.sh [N_TEXT] [N_TABLE]     (default 5000 200)
#
# Starts nb-testenv's nats-server, runs bench.c (compiled against
# target/release/libnatsbridge.so) and bench.jl (NATSBridge.jl on the same
# file, through NATSBRIDGE_LIBRARY_PATH), ROUNDS times each, alternating, and
# prints each side's best per-message time and the Julia/C ratio (on a noisy
# machine more rounds give steadier bests), then floor.jl's least Julia
# work per text message (thread CPU; it overlaps the library's threads, so
# it is not simply added to C's time). Results: RESULTS.md.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}/release
n_text=${1:-5000}
n_table=${2:-200}
libunwind=${JULIA_LIBUNWIND_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/natsbridge/julia-libunwind}/usr/lib/x86_64-linux-gnu
[[ -f "$libunwind/libunwind.so.8" ]] && export LD_LIBRARY_PATH=$libunwind

work=$(mktemp -d "${TMPDIR:-/tmp}/nb-julia-bench.XXXXXX")
mkdir -p "$work/lib"
ln -s "$target/libnatsbridge.so" "$work/lib/libnatsbridge.so.0"
cc -O2 -std=c11 -D_POSIX_C_SOURCE=200809L -I "$root/include" "$here/bench.c" -o "$work/bench" \
    -L "$target" -lnatsbridge -Wl,-rpath,"$work/lib"

coproc TESTENV { exec "$target/nb-testenv" --no-fileserver 2>/dev/null; }
trap 'eval "exec ${TESTENV[1]}>&-"; wait; rm -rf "$work"' EXIT
read -r -t 60 line <&"${TESTENV[0]}"
url=$(sed -n 's/.*"nats_url":"\([^"]*\)".*/\1/p' <<<"$line")

export JULIA_LOAD_PATH="$root/bindings-julia:@stdlib"
export NATSBRIDGE_LIBRARY_PATH=$target/libnatsbridge.so
julia --startup-file=no -e 'using NATSBridge' >/dev/null
for round in $(seq "${ROUNDS:-2}"); do
    "$work/bench" "$url" "$n_text" "$n_table" | grep -v warmup | sed "s/^/c $round /"
    julia --startup-file=no "$here/bench.jl" "$url" "$n_text" "$n_table" | grep -v warmup | sed "s/^/julia $round /"
done | tee "$work/out"
echo
awk '{ t[$1" "$3] = (t[$1" "$3] == "" || $6 < t[$1" "$3]) ? $6 : t[$1" "$3] }
     END { for (c in t) if (c ~ /^c /) { n = substr(c, 3); printf "%-18s C %8.1f us  Julia %8.1f us  ratio %.2f\n", n, t[c], t["julia " n], t["julia " n] / t[c] } }' "$work/out"
# Julia's own least work per text message (floor.jl: the two Dicts the API
# returns, no library call, every header string copied). It runs on Julia's
# thread while the library's threads publish and decode on the other core,
# so the measured Julia-C difference can be smaller than it (RESULTS.md,
# eighth session); shown beside that difference, not as a bound.
floor=$(julia --startup-file=no "$here/floor.jl" | awk '{ print $2 }')
awk -v f="$floor" '$3 == "text_1KiB" { k = $1; if (t[k] == "" || $6 < t[k]) t[k] = $6 }
     END { printf "%-18s Julia-only work %.1f us per message (floor.jl, thread CPU); Julia - C here: %.1f us\n", "text_1KiB", f, t["julia"] - t["c"] }' "$work/out"

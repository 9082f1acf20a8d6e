#!/usr/bin/env bash
# The Julia suite, from a clean clone:
#
#   bash bindings-julia/run-tests.sh
#
# 1. installs Julia when missing (scripts/setup.sh's step), builds
#    libnatsbridge, nb-testenv and the CLI (release);
# 2. makes the artifact (NATSBridge_jll/build_artifact.sh: the C tarball, its
#    git-tree-sha1 checked against Pkg's, Artifacts.toml, the depot copy);
# 3. precompiles outside-in, each in its own process (this Julia 1.5 build
#    crashes when one precompile must first precompile a dependency):
#    NATSBridge_jll, then NATSBridge;
# 4. runs NATSBridge/test/runtests.jl, with the library loaded from the
#    artifact (no override), against nb-testenv's servers, with the shared
#    wire vectors when docs/vectors (or the vectors-docs branch) has them.
#
# Packages load through JULIA_LOAD_PATH (this folder, then @stdlib); no
# Pkg operation touches a registry.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
cd "$root"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$root/target}

step() { printf '\n== %s\n' "$*"; }

step "Julia (installed when missing; see scripts/install-julia.sh)"
bash "$root/scripts/install-julia.sh"
# Debian's Julia 1.5.3 needs the libunwind it was built against (see there).
libunwind=${JULIA_LIBUNWIND_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/natsbridge/julia-libunwind}/usr/lib/x86_64-linux-gnu
if [[ -f "$libunwind/libunwind.so.8" ]]; then
    export LD_LIBRARY_PATH=$libunwind${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
fi
julia --version

step "build libnatsbridge and nb-testenv (release), as tests/c/run.sh does"
# One package at a time, as tests/c/run.sh builds them (so their builds are shared).
cargo build --release -p natsbridge-ffi
cargo build --release -p natsbridge-testkit --bin nb-testenv
# The CLI (the Rust peer of the interop tests): scripts/setup.sh's workspace
# build makes it; built here only when missing, since a build of this package
# alone unifies features differently and recompiles much of the workspace.
[[ -x "$CARGO_TARGET_DIR/release/natsbridge" ]] || cargo build --release -p natsbridge-cli

step "make the artifact"
bash "$here/NATSBridge_jll/build_artifact.sh"

export JULIA_LOAD_PATH="$here:@stdlib"
unset NATSBRIDGE_LIBRARY_PATH
export NB_EXPECT_ARTIFACT=1
export NB_TESTENV=$CARGO_TARGET_DIR/release/nb-testenv
export NB_CLI=$CARGO_TARGET_DIR/release/natsbridge

vectors_tmp=
cleanup() { [[ -n "$vectors_tmp" ]] && rm -rf "$vectors_tmp"; return 0; }
trap cleanup EXIT
if [[ -d "$root/docs/vectors" ]]; then
    export NB_VECTORS=$root/docs/vectors
elif git -C "$root" rev-parse --verify -q vectors-docs >/dev/null; then
    vectors_tmp=$(mktemp -d "${TMPDIR:-/tmp}/nb-vectors.XXXXXX")
    for f in $(git -C "$root" ls-tree --name-only vectors-docs docs/vectors/); do
        [[ "$f" == *.json ]] && git -C "$root" show "vectors-docs:$f" >"$vectors_tmp/$(basename "$f")"
    done
    export NB_VECTORS=$vectors_tmp
    echo "wire vectors from branch vectors-docs"
else
    echo "no shared wire vectors (docs/vectors absent): that test set is skipped"
fi

step "precompile NATSBridge_jll, then NATSBridge (each in its own process)"
julia --startup-file=no -e 'using NATSBridge_jll'
julia --startup-file=no -e 'using NATSBridge'

step "run the Julia tests"
timeout 900 julia --startup-file=no "$here/NATSBridge/test/runtests.jl"

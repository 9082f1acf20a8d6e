#!/usr/bin/env bash
# Every artifact natsbridge ships, into dist/, in one go:
#
#   natsbridge-<v>-cp39-abi3-manylinux_2_17_x86_64.manylinux2014_x86_64.whl
#                                  one wheel for CPython 3.9+ on any glibc >= 2.17
#   natsbridge-<v>.tar.gz          the Python sdist (built once here into a wheel)
#   natsbridge-<v>.tgz             the npm package (JS layer, types, browser build)
#   natsbridge-linux-x64-gnu-<v>.tgz
#                                  its platform package (the addon), picked by
#                                  optionalDependencies
#   natsbridge-<v>-x86_64-linux-gnu.tar.gz
#                                  the C library (also the Julia artifact)
#
# Usage: scripts/release.sh [OUT_DIR]     (default: dist/)
#
# The natively compiled parts are the very files scripts/setup.sh builds and
# the test suites test (the wheel in target/wheels/, the Node addon, the C
# library, all linked against glibc 2.17 by scripts/link-cc); setup runs
# first and finds them current, so this script mostly packs. It prints each
# file with its size and sha256.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=${1:-$root/dist}
started=$SECONDS

# Installs what is missing and builds every artifact (a no-op when current).
source "$root/scripts/setup.sh"
# (After setup.sh, which defines its own.)
say() { printf '\033[1m[release]\033[0m %s\n' "$*" >&2; }
cd "$root"
mkdir -p "$out"
out=$(cd "$out" && pwd)

say "one version everywhere"
python3 scripts/check-versions.py >&2
version=$(sed -n 's/^#define NATSBRIDGE_VERSION_\(MAJOR\|MINOR\|PATCH\) \([0-9]*\)$/\2/p' \
    include/natsbridge.h | paste -sd.)

rm -f "$out"/natsbridge-*

say "the wheel setup.sh built and installed"
cp "$NB_WHEEL" "$out/"

say "the sdist, and one wheel built from it (the compile a user without a wheel does)"
"$VENV/bin/maturin" sdist -m bindings-python/Cargo.toml --out "$out" >/dev/null 2>&1 \
    || "$VENV/bin/maturin" sdist -m bindings-python/Cargo.toml --out "$out" >&2
scratch=$(mktemp -d "${TMPDIR:-/tmp}/natsbridge-release.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
sdist_started=$SECONDS
# Its own target folder, target/sdist/: the sdist has no scripts/link-cc,
# and a build with another linker in the shared target/release would make
# cargo compile every dependency there again. The first release compiles
# everything (~18 min on 2 cores); later ones only the sdist's own crates.
CARGO_TARGET_DIR="$CARGO_TARGET_DIR/sdist" "$VENV/bin/pip" wheel -q --disable-pip-version-check --no-deps \
    "$out/natsbridge-$version.tar.gz" -w "$scratch" >&2
say "the sdist built $(basename "$scratch"/*.whl) in $((SECONDS - sdist_started)) s"

say "the npm packages (natsbridge and its platform package)"
node bindings-node/pack.mjs "$out" >/dev/null

say "the C tarball"
bash scripts/c-tarball.sh "$out" >/dev/null

say "dist/ after $((SECONDS - started)) s:"
(cd "$out" && for file in natsbridge-*; do
    printf '%10s  %s  %s\n' "$(stat -c %s "$file")" "$(sha256sum "$file" | cut -d' ' -f1)" "$file"
done)

#!/usr/bin/env bash
# Every artifact natsbridge ships, into dist/, in one go:
#
#   natsbridge-<v>-cp39-abi3-manylinux_2_17_x86_64.manylinux2014_x86_64.whl
#                                         one wheel for CPython 3.9+ on any glibc >= 2.17
#                                         (maturin --zig, zig from the ziglang package)
#   natsbridge-<v>.tar.gz                 the Python sdist (built once here into a wheel)
#   natsbridge-<v>.tgz                    the npm package (JS layer, types, browser build)
#   natsbridge-linux-x64-gnu-<v>.tgz      its platform package (the .node, zig-linked
#                                         against glibc 2.17), picked by optionalDependencies
#   natsbridge-<v>-x86_64-linux-gnu.tar.gz  the C library (also the Julia artifact)
#
# Usage: scripts/release.sh [OUT_DIR]     (default: dist/)
#
# scripts/setup.sh builds the wheel and the .node with the same commands
# (scripts/build-packages.sh), and the test suites test those files; here
# cargo finds them current and only packs. Prints each file with its size and
# sha256, and how long the run took.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=${1:-$root/dist}
mkdir -p "$out"
out=$(cd "$out" && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$root/target}
venv=$root/.venv
started=$SECONDS

say() { printf '\033[1m[release]\033[0m %s\n' "$*" >&2; }

if [[ ! -x "$venv/bin/maturin" ]]; then
    say "no $venv/bin/maturin: run scripts/setup.sh first"
    exit 1
fi

say "one version everywhere"
python3 "$root/scripts/check-versions.py" >&2
version=$(sed -n 's/^#define NATSBRIDGE_VERSION_\(MAJOR\|MINOR\|PATCH\) \([0-9]*\)$/\2/p' \
    "$root/include/natsbridge.h" | paste -sd.)

rm -f "$out"/natsbridge-*

say "the abi3 wheel and the Node addon (zig-linked; a no-op when current)"
bash "$root/scripts/build-packages.sh" >&2
cp "$CARGO_TARGET_DIR/wheels/natsbridge-$version-cp39-abi3-"manylinux*.whl "$out/"

say "the sdist, and one wheel built from it"
"$venv/bin/maturin" sdist -q -m "$root/bindings-python/Cargo.toml" --out "$out" >&2
scratch=$(mktemp -d "${TMPDIR:-/tmp}/natsbridge-release.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
# The same target/ as every other build: registry crates are reused, the
# sdist's own sources (core, the binding) compile again, as a user's would.
sdist_started=$SECONDS
"$venv/bin/pip" wheel -q --disable-pip-version-check --no-deps --no-build-isolation \
    "$out/natsbridge-$version.tar.gz" -w "$scratch" >&2
say "the sdist built a wheel in $((SECONDS - sdist_started)) s: $(basename "$scratch"/*.whl)"

say "the npm packages"
node "$root/bindings-node/pack.mjs" "$out" >&2

say "the C tarball"
bash "$root/scripts/c-tarball.sh" "$out" >/dev/null

say "dist/ ($((SECONDS - started)) s):"
(cd "$out" && for file in natsbridge-*; do
    printf '%10s  %s  %s\n' "$(stat -c %s "$file")" "$(sha256sum "$file" | cut -d' ' -f1)" "$file"
done)

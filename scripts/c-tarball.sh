#!/usr/bin/env bash
# Packs the natsbridge C library as a relocatable tarball:
#
#   dist/natsbridge-<version>-x86_64-linux-gnu.tar.gz
#     lib/libnatsbridge.so.X.Y.Z     the shared library (soname libnatsbridge.so.X)
#     lib/libnatsbridge.so.X -> libnatsbridge.so.X.Y.Z
#     lib/libnatsbridge.so   -> libnatsbridge.so.X
#     lib/libnatsbridge.a
#     lib/pkgconfig/natsbridge.pc    prefix=${pcfiledir}/../.. (relocatable)
#     include/natsbridge.h
#
# Usage: scripts/c-tarball.sh [OUT_DIR]      (default: dist/)
# Builds the release library first (a no-op when it is up to date) and prints
# the tarball's path as its last line. The archive is reproducible: sorted
# names, fixed mtime, owner 0, so one build gives one sha256. It is also the
# Julia artifact (bindings-julia/NATSBridge_jll/build_artifact.sh), and
# tests/c/run.sh builds the example against it; scripts/release.sh puts it
# in dist/. The library is linked against glibc 2.17 (scripts/link-cc).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=${1:-$root/dist}
header=$root/include/natsbridge.h
target=${CARGO_TARGET_DIR:-$root/target}/release

(cd "$root" && cargo build --release -p natsbridge-ffi >&2)

# The version is the header's, which a test keeps equal to Cargo.toml's.
macro() { sed -n "s/^#define NATSBRIDGE_VERSION_$1 \([0-9]*\)$/\1/p" "$header"; }
major=$(macro MAJOR)
version=$major.$(macro MINOR).$(macro PATCH)
name=natsbridge-$version-x86_64-linux-gnu

stage=$(mktemp -d "${TMPDIR:-/tmp}/natsbridge-tarball.XXXXXX")
trap 'rm -rf "$stage"' EXIT
install -d "$stage/lib/pkgconfig" "$stage/include"
install -m 0755 "$target/libnatsbridge.so" "$stage/lib/libnatsbridge.so.$version"
# Without debug info (the release profile keeps it): a tenth of the size.
strip --strip-debug "$stage/lib/libnatsbridge.so.$version"
ln -s "libnatsbridge.so.$version" "$stage/lib/libnatsbridge.so.$major"
ln -s "libnatsbridge.so.$major" "$stage/lib/libnatsbridge.so"
install -m 0644 "$target/libnatsbridge.a" "$stage/lib/libnatsbridge.a"
strip --strip-debug "$stage/lib/libnatsbridge.a"
install -m 0644 "$header" "$stage/include/natsbridge.h"
# pkg-config replaces ${pcfiledir} by the folder holding the .pc file, so
# the tarball works wherever it is unpacked.
sed -e 's|@PREFIX@|${pcfiledir}/../..|g' -e "s|@VERSION@|$version|g" \
    "$root/ffi-c/natsbridge.pc.in" >"$stage/lib/pkgconfig/natsbridge.pc"
chmod 0644 "$stage/lib/pkgconfig/natsbridge.pc"

mkdir -p "$out"
tarball=$(cd "$out" && pwd)/$name.tar.gz
tar --sort=name --mtime='@0' --owner=0 --group=0 --numeric-owner \
    -C "$stage" -cf - include lib | gzip -n -9 >"$tarball"
echo "$tarball"

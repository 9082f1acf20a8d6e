#!/usr/bin/env bash
# Installs the natsbridge C library under PREFIX:
#
#   PREFIX/lib/libnatsbridge.so.X.Y.Z        the shared library (soname libnatsbridge.so.X)
#   PREFIX/lib/libnatsbridge.so.X  -> libnatsbridge.so.X.Y.Z   (found at run time)
#   PREFIX/lib/libnatsbridge.so    -> libnatsbridge.so.X       (found by -lnatsbridge)
#   PREFIX/lib/libnatsbridge.a               the static library
#   PREFIX/include/natsbridge.h
#   PREFIX/lib/pkgconfig/natsbridge.pc
#
# Usage: ffi-c/install.sh PREFIX        (e.g. /usr/local, or $HOME/.local)
# It builds the release library first (a no-op when it is up to date).
# Then:  export PKG_CONFIG_PATH=PREFIX/lib/pkgconfig
#        cc app.c $(pkg-config --cflags --libs natsbridge)
# and, when PREFIX/lib is not a directory the loader searches (see
# ldconfig), run with LD_LIBRARY_PATH=PREFIX/lib or link with
# -Wl,-rpath,PREFIX/lib.
set -euo pipefail

if [[ $# -ne 1 || -z "$1" ]]; then
    echo "usage: $0 PREFIX" >&2
    exit 2
fi
mkdir -p "$1"
prefix=$(cd "$1" && pwd)
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
header=$root/include/natsbridge.h
target=${CARGO_TARGET_DIR:-$root/target}/release

(cd "$root" && cargo build --release -p natsbridge-ffi)

# The version is the header's, which a test keeps equal to Cargo.toml's.
macro() { sed -n "s/^#define NATSBRIDGE_VERSION_$1 \([0-9]*\)$/\1/p" "$header"; }
major=$(macro MAJOR)
version=$major.$(macro MINOR).$(macro PATCH)

install -d "$prefix/lib/pkgconfig" "$prefix/include"
install -m 0755 "$target/libnatsbridge.so" "$prefix/lib/libnatsbridge.so.$version"
ln -sfn "libnatsbridge.so.$version" "$prefix/lib/libnatsbridge.so.$major"
ln -sfn "libnatsbridge.so.$major" "$prefix/lib/libnatsbridge.so"
install -m 0644 "$target/libnatsbridge.a" "$prefix/lib/libnatsbridge.a"
install -m 0644 "$header" "$prefix/include/natsbridge.h"
sed -e "s|@PREFIX@|$prefix|g" -e "s|@VERSION@|$version|g" "$root/ffi-c/natsbridge.pc.in" \
    > "$prefix/lib/pkgconfig/natsbridge.pc"
echo "installed natsbridge $version under $prefix"

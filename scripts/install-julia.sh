#!/usr/bin/env bash
# Installs Julia when `julia` is missing (called by scripts/setup.sh and
# bindings-julia/run-tests.sh). Debian bookworm has no julia package; Debian
# bullseye has 1.5.3, so the bullseye suite is added beside the system's,
# pinned low (priority 100) so that nothing else is taken from it, and
# `julia/bullseye` is installed. Idempotent.
#
# That Julia crashes (SIGSEGV in libunwind's unw_step) whenever compiled code
# throws an exception when it runs with bookworm's libunwind 1.6; with
# bullseye's libunwind 1.3.2, the one it was built against, it works. So when
# a probe crashes, bullseye's libunwind8 is unpacked (not installed: the
# system's stays) into $JULIA_LIBUNWIND_DIR, which bindings-julia/run-tests.sh
# puts on LD_LIBRARY_PATH for julia only.
set -euo pipefail

JULIA_LIBUNWIND_DIR=${JULIA_LIBUNWIND_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/natsbridge/julia-libunwind}
SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"

# Whether julia survives an exception thrown from compiled code.
# (In a subshell that waits for julia, so that the expected crash is reported
# to its silenced stderr, not by this shell.)
probe() {
    (
        LD_LIBRARY_PATH=${1:-} julia --startup-file=no -e \
            'f() = throw(ArgumentError("probe")); try; f(); catch; end'
        exit $?
    ) >/dev/null 2>&1
}

fix_libunwind() {
    probe && return 0
    local lib=$JULIA_LIBUNWIND_DIR/usr/lib/x86_64-linux-gnu
    if [ -f "$lib/libunwind.so.8" ] && probe "$lib"; then
        return 0
    fi
    echo "[install-julia] julia crashes on exceptions with this libunwind: unpacking bullseye's libunwind8 into $JULIA_LIBUNWIND_DIR" >&2
    local work
    work=$(mktemp -d "${TMPDIR:-/tmp}/julia-libunwind.XXXXXX")
    chmod 0777 "$work"
    (cd "$work" && apt-get download -qq libunwind8/bullseye 2>/dev/null ||
        apt-get download -qq libunwind8=1.3.2-2)
    mkdir -p "$JULIA_LIBUNWIND_DIR"
    dpkg-deb -x "$work"/libunwind8_*.deb "$JULIA_LIBUNWIND_DIR"
    rm -rf "$work"
    if ! probe "$lib"; then
        echo "[install-julia] julia still crashes on exceptions with $lib" >&2
        exit 1
    fi
}

if command -v julia >/dev/null 2>&1; then
    fix_libunwind
    exit 0
fi
echo "[install-julia] adding the Debian bullseye suite (pinned low) and installing julia" >&2
if [ ! -f /etc/apt/sources.list.d/bullseye.sources ]; then
    $SUDO tee /etc/apt/sources.list.d/bullseye.sources >/dev/null <<'SOURCES'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bullseye
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
fi
if [ ! -f /etc/apt/preferences.d/bullseye-low ]; then
    $SUDO tee /etc/apt/preferences.d/bullseye-low >/dev/null <<'PIN'
Package: *
Pin: release n=bullseye
Pin-Priority: 100
PIN
fi
# apt may be busy with another install: retry a few times.
for attempt in 1 2 3 4 5; do
    if $SUDO apt-get update -qq &&
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq julia/bullseye >/dev/null; then
        break
    fi
    [ "$attempt" = 5 ] && { echo "[install-julia] apt-get failed" >&2; exit 1; }
    sleep 10
done
julia --version
fix_libunwind

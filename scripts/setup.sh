#!/usr/bin/env bash
# Installs what natsbridge's build, demo and tests need and is missing, then
# builds every artifact once (release profile, one shared target/).
# Idempotent: a second run installs nothing and rebuilds only what changed.
# Sourced by scripts/main.sh and scripts/test.sh; safe to run on its own.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
VENV="$ROOT/.venv"

say() { printf '\033[1m[setup]\033[0m %s\n' "$*" >&2; }

need_apt=()
command -v nats-server >/dev/null 2>&1 || need_apt+=(nats-server)
command -v pkg-config >/dev/null 2>&1 || need_apt+=(pkg-config)
command -v cc >/dev/null 2>&1 || need_apt+=(gcc)
command -v curl >/dev/null 2>&1 || need_apt+=(curl)
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || need_apt+=(python3-venv)
command -v npm >/dev/null 2>&1 || need_apt+=(nodejs npm)
if ((${#need_apt[@]})); then
    say "installing with apt: ${need_apt[*]}"
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

if ! command -v cargo >/dev/null 2>&1; then
    if [ -x "$HOME/.cargo/bin/cargo" ]; then
        export PATH="$HOME/.cargo/bin:$PATH"
    else
        say "cargo is missing: install Rust (https://rustup.rs) and run this again"
        exit 1
    fi
fi

if [ ! -x "$VENV/bin/python" ]; then
    say "creating the Python virtualenv $VENV"
    python3 -m venv "$VENV"
fi
# Each requirements file is installed once, and again only when it changes.
for requirements in bindings-micropython/tests/requirements.txt bindings-python/tests/requirements.txt; do
    stamp="$VENV/.installed-$(echo "$requirements" | tr '/' '_')"
    if ! cmp -s "$ROOT/$requirements" "$stamp" 2>/dev/null; then
        say "installing the Python tools of $requirements into $VENV"
        "$VENV/bin/pip" install -q --disable-pip-version-check -r "$ROOT/$requirements"
        cp "$ROOT/$requirements" "$stamp"
    fi
done

# The Node package's npm dependencies (napi-rs CLI, apache-arrow, nats.js
# for the interop tests), again only when the lock file changes.
if ! cmp -s "$ROOT/bindings-node/package-lock.json" "$ROOT/bindings-node/node_modules/.package-lock.json.installed" 2>/dev/null; then
    say "installing the Node package's npm dependencies"
    (cd "$ROOT/bindings-node" && npm ci --no-audit --no-fund --loglevel=error)
    cp "$ROOT/bindings-node/package-lock.json" "$ROOT/bindings-node/node_modules/.package-lock.json.installed"
fi

# Julia (Debian bullseye's 1.5.3, and the libunwind it needs) for bindings-julia.
bash "$ROOT/scripts/install-julia.sh"

say "building the workspace (release)"
cargo build --release --workspace --bins --lib -q

# The Node addon: napi-rs links the release build above into a .node file.
(cd "$ROOT/bindings-node" && npm run --silent build >/dev/null)

# The Python package, built by maturin (PEP 517) against the same target/,
# so it reuses the crates compiled above.
say "installing the natsbridge Python package into $VENV"
"$VENV/bin/pip" install -q --disable-pip-version-check --force-reinstall --no-deps "$ROOT/bindings-python"

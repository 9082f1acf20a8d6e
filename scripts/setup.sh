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
# The test harness makes its TLS certificates with the openssl command.
command -v openssl >/dev/null 2>&1 || need_apt+=(openssl)
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || need_apt+=(python3-venv)
command -v npm >/dev/null 2>&1 || need_apt+=(nodejs npm)
# The browser suite drives Debian's Chromium (never a downloaded browser).
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
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

# The codec's WebAssembly build (checked by scripts/test.sh) needs the target.
if command -v rustup >/dev/null 2>&1 && ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    say "adding the Rust target wasm32-unknown-unknown"
    rustup target add wasm32-unknown-unknown
fi

if [ ! -x "$VENV/bin/python" ]; then
    say "creating the Python virtualenv $VENV"
    python3 -m venv "$VENV"
fi
# Each requirements file is installed once, and again only when it changes.
# scripts/requirements-build.txt first: zig, which links the shipped shared
# libraries (scripts/link-cc), must be there before the first cargo build.
for requirements in scripts/requirements-build.txt bindings-micropython/tests/requirements.txt bindings-python/tests/requirements.txt; do
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

# The browser build: wasm-bindgen-cli must be exactly the version of the
# wasm-bindgen crate in Cargo.lock. (--locked first; without it when a crate
# its lock file pins is not in the registry any more.)
wasm_bindgen_version="$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/[^0-9.]/, ""); print; exit }' "$ROOT/Cargo.lock")"
if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$wasm_bindgen_version" ]; then
    say "installing wasm-bindgen-cli $wasm_bindgen_version"
    # --force: we only get here when the binary is missing or of another
    # version, and cargo would skip a crate its records say is installed.
    if ! cargo install -q --force wasm-bindgen-cli --version "$wasm_bindgen_version" --locked; then
        say "wasm-bindgen-cli: the --locked install failed (above; usually a crate version its lock file pins is missing from this registry); installing it with the newest compatible versions"
        cargo install -q --force wasm-bindgen-cli --version "$wasm_bindgen_version"
    fi
fi
export PATH="$HOME/.cargo/bin:$PATH"
if ! cmp -s "$ROOT/bindings-wasm/package-lock.json" "$ROOT/bindings-wasm/node_modules/.package-lock.json.installed" 2>/dev/null; then
    say "installing the browser build's npm tools (esbuild, @nats-io clients, playwright-core)"
    (cd "$ROOT/bindings-wasm" && npm ci --no-audit --no-fund --loglevel=error)
    cp "$ROOT/bindings-wasm/package-lock.json" "$ROOT/bindings-wasm/node_modules/.package-lock.json.installed"
fi
# The pinned cbindgen that the C header check (ffi-c/generate-header.sh,
# run by the ffi-c tests) generates with; installed here, never by a test.
cbindgen_version="$(sed -n 's/^CBINDGEN_VERSION=//p' "$ROOT/ffi-c/generate-header.sh")"
cbindgen="${CARGO_HOME:-$HOME/.cargo}/bin/cbindgen"
if [[ "$("$cbindgen" --version 2>/dev/null)" != "cbindgen $cbindgen_version" ]]; then
    say "installing cbindgen $cbindgen_version (cargo install)"
    cargo install -q cbindgen --version "$cbindgen_version" --locked --force
fi

# Julia (Debian bullseye's 1.5.3, and the libunwind it needs) for bindings-julia.
bash "$ROOT/scripts/install-julia.sh"

say "building the workspace (release)"
cargo build --release --workspace --bins --lib -q

# The Node addon: napi-rs links the release build above into a .node file.
(cd "$ROOT/bindings-node" && npm run --silent build >/dev/null)

# The browser package: the codec for wasm32, wasm-bindgen, the ES module bundle.
say "building the browser package (bindings-wasm/build.sh)"
bash "$ROOT/bindings-wasm/build.sh"

# The Python package as it ships: one wheel for CPython 3.9+ (abi3) on any
# glibc >= 2.17 (maturin checks the manylinux2014 policy; scripts/link-cc
# links the extension with zig), built against the same target/ so it reuses
# the crates compiled above. The tests install and test this very file;
# scripts/release.sh copies it to dist/.
say "building the Python wheel and installing it into $VENV"
wheels="$CARGO_TARGET_DIR/wheels"
rm -f "$wheels"/natsbridge-*.whl
if ! log=$("$VENV/bin/maturin" build --release --compatibility manylinux2014 \
    -m "$ROOT/bindings-python/Cargo.toml" --out "$wheels" 2>&1); then
    printf '%s\n' "$log" >&2
    exit 1
fi
NB_WHEEL=$(ls "$wheels"/natsbridge-*.whl)
export NB_WHEEL
"$VENV/bin/pip" install -q --disable-pip-version-check --force-reinstall --no-deps "$NB_WHEEL"

#!/usr/bin/env bash
# Builds natsbridge for browsers, once:
# 1. the core codec (bindings-wasm, no tokio, no sockets) for wasm32-unknown-unknown,
#    with WebAssembly SIMD (set for the target in .cargo/config.toml);
# 2. wasm-bindgen --target web into bindings-node/browser/pkg/ (what the
#    `browser` export condition of the natsbridge npm package loads);
# 3. wasm-opt -O3 when a wasm-opt is on PATH (optional: binaryen);
# 4. one ES module bundle, bindings-node/browser/dist/natsbridge.js, with
#    @nats-io/*, apache-arrow and the wasm glue inside and the .wasm beside
#    it, for a plain <script type="module"> page without a bundler.
# Needs: rustup target wasm32-unknown-unknown, wasm-bindgen-cli of the same
# version as the wasm-bindgen crate, and `npm ci` in bindings-wasm/ (esbuild,
# the @nats-io packages); scripts/setup.sh installs all three.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
BROWSER="$ROOT/bindings-node/browser"

cargo build --release --target wasm32-unknown-unknown -p natsbridge-wasm -q
raw="$CARGO_TARGET_DIR/wasm32-unknown-unknown/release/natsbridge_wasm.wasm"

rm -rf "$BROWSER/pkg"
wasm-bindgen --target web --out-dir "$BROWSER/pkg" --out-name natsbridge_wasm "$raw"
if command -v wasm-opt >/dev/null 2>&1; then
    wasm-opt -O3 --enable-simd --enable-bulk-memory --enable-nontrapping-float-to-int \
        --enable-sign-ext --enable-mutable-globals --enable-reference-types \
        "$BROWSER/pkg/natsbridge_wasm_bg.wasm" -o "$BROWSER/pkg/natsbridge_wasm_bg.wasm"
fi

node "$HERE/bundle.mjs"
wasm="$BROWSER/pkg/natsbridge_wasm_bg.wasm"
printf '[wasm] %s: %s bytes, %s gzip\n' "${wasm#"$ROOT"/}" "$(stat -c %s "$wasm")" "$(gzip -9c "$wasm" | wc -c)" >&2

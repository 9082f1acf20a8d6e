// Bundles bindings-node/browser/index.js with its dependencies into one ES
// module (dist/natsbridge.js) for pages that load it without a bundler; the
// wasm module goes beside it, where the glue's `new URL(..., import.meta.url)`
// looks for it.
import { build } from 'esbuild'
import { copyFileSync, mkdirSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
const browser = join(here, '..', 'bindings-node', 'browser')
mkdirSync(join(browser, 'dist'), { recursive: true })
await build({
  entryPoints: [join(browser, 'index.js')],
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  minify: true,
  sourcemap: true,
  outfile: join(browser, 'dist', 'natsbridge.js'),
  // The @nats-io packages are tools of this build, in bindings-wasm/node_modules.
  nodePaths: [join(here, 'node_modules'), join(here, '..', 'bindings-node', 'node_modules')],
  // @nats-io/obj imports node:crypto only when it runs in Node; browsers use WebCrypto.
  external: ['node:*'],
  logLevel: 'warning',
})
copyFileSync(join(browser, 'pkg', 'natsbridge_wasm_bg.wasm'), join(browser, 'dist', 'natsbridge_wasm_bg.wasm'))

// Packaging: `import { smartsend } from 'natsbridge'` in a bundler targeting
// browsers resolves to the wasm build (the package's `browser` export
// condition), and the package's `files` ship what that build loads.
import assert from 'node:assert/strict'
import { mkdtempSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { build } from 'esbuild'
import { workspaceDir } from './harness.mjs'

const packageDir = join(workspaceDir, 'bindings-node')

test('a browser bundle of `natsbridge` takes the wasm build, not the native addon', async () => {
  const app = mkdtempSync(join(tmpdir(), 'natsbridge-bundler-'))
  try {
    mkdirSync(join(app, 'node_modules'))
    symlinkSync(packageDir, join(app, 'node_modules', 'natsbridge'))
    writeFileSync(join(app, 'main.js'), "import { smartsend, smartreceive, Bridge } from 'natsbridge'\nexport { smartsend, smartreceive, Bridge }\n")
    const result = await build({
      entryPoints: [join(app, 'main.js')],
      bundle: true,
      write: false,
      format: 'esm',
      platform: 'browser',
      metafile: true,
      external: ['node:*'],
      nodePaths: [join(workspaceDir, 'bindings-wasm', 'node_modules')],
      logLevel: 'silent',
    })
    const inputs = Object.keys(result.metafile.inputs)
    assert.ok(inputs.some((path) => path.endsWith('browser/index.js')), inputs.join('\n'))
    assert.ok(inputs.some((path) => path.endsWith('browser/pkg/natsbridge_wasm.js')))
    assert.ok(!inputs.some((path) => path.endsWith('binding.js')), 'the native addon loader must not be bundled')
    assert.match(result.outputFiles[0].text, /natsbridge_wasm_bg\.wasm/)
  } finally {
    rmSync(app, { recursive: true, force: true })
  }
})

test('the package exports the browser entry points and ships their files', () => {
  const manifest = JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8'))
  assert.equal(manifest.exports['.'].browser, './browser/index.js')
  assert.equal(manifest.exports['./browser/bundle'], './browser/dist/natsbridge.js')
  for (const entry of ['browser/index.js', 'browser/pkg/', 'browser/dist/']) assert.ok(manifest.files.includes(entry), entry)
  // The browser condition comes before import/require, so bundlers pick it.
  const order = Object.keys(manifest.exports['.'])
  assert.ok(order.indexOf('browser') < order.indexOf('import') && order.indexOf('browser') < order.indexOf('require'))
})

// The npm package as users get it: `npm pack` makes a tarball with the
// prebuilt addon inside, which installs into a fresh project without a Rust
// toolchain and works from both `require` and `import`.
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { accessSync, constants, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { delimiter, join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { promisify } from 'node:util'

import { packageDir, startServers } from './harness.mjs'

const run = promisify(execFile)

let servers
let scratch
let tarball

/** PATH without any directory that holds cargo or rustc. */
function pathWithoutRust() {
  const hasTool = (dir) =>
    ['cargo', 'rustc'].some((tool) => {
      try {
        accessSync(join(dir, tool), constants.X_OK)
        return true
      } catch {
        return false
      }
    })
  return (process.env.PATH ?? '')
    .split(delimiter)
    .filter((dir) => dir && !hasTool(dir))
    .join(delimiter)
}

before(async () => {
  servers = await startServers()
  scratch = mkdtempSync(join(tmpdir(), 'natsbridge-package-'))
  const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', scratch], {
    cwd: packageDir,
    timeout: 120_000,
    maxBuffer: 16 << 20,
  })
  const [packed] = JSON.parse(stdout)
  tarball = { path: join(scratch, packed.filename), files: packed.files.map((f) => f.path) }
})

after(async () => {
  await servers?.stop()
  if (scratch) rmSync(scratch, { recursive: true, force: true })
})

describe('npm pack', () => {
  it('ships the prebuilt addon, the JS layer and the types, and no sources', () => {
    const { files } = tarball
    for (const file of ['package.json', 'index.js', 'index.mjs', 'binding.js', 'index.d.ts', 'README.md']) {
      assert.ok(files.includes(file), `${file} in the tarball`)
    }
    assert.ok(files.includes('natsbridge.linux-x64-gnu.node'), 'the linux-x64 addon is in the tarball')
    assert.ok(!files.some((f) => f.startsWith('src/') || f.startsWith('__test__/') || f === 'Cargo.toml'))
    const manifest = JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8'))
    for (const hook of ['preinstall', 'install', 'postinstall']) {
      assert.equal(manifest.scripts?.[hook], undefined, `no ${hook} script: installing never builds`)
    }
  })
})

describe('installing the tarball into a fresh project', () => {
  it('works without a Rust toolchain, from require and from import', async () => {
    const project = join(scratch, 'consumer')
    const env = { ...process.env, PATH: pathWithoutRust(), npm_config_audit: 'false', npm_config_fund: 'false' }
    await run('mkdir', ['-p', project])
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true, version: '1.0.0' }))
    await assert.rejects(run('cargo', ['--version'], { env }), 'cargo is not on the PATH the install sees')
    await run('npm', ['install', '--no-package-lock', tarball.path], { cwd: project, env, timeout: 240_000 })

    writeFileSync(
      join(project, 'round-trip.cjs'),
      `
      const { Bridge, smartsend, smartreceive } = require('natsbridge')
      const { tableFromArrays } = require('apache-arrow')
      ;(async () => {
        const bridge = await Bridge.connect(process.argv[2])
        const sub = await bridge.subscribe('package.test')
        await smartsend('package.test', [
          { dataname: 'message', data: 'from the tarball', type: 'text' },
          { dataname: 'table', data: tableFromArrays({ x: Float64Array.from([1, 2, 3]) }), type: 'table' },
        ], { natsUrl: process.argv[2] })
        const envelope = await sub.next(10000)
        await bridge.close()
        console.log(JSON.stringify([envelope.payloads[0].data, envelope.payloads[1].data.getChild('x').toArray()[2]]))
      })().catch((err) => { console.error(err); process.exit(1) })
      `,
    )
    writeFileSync(
      join(project, 'round-trip.mjs'),
      `
      import { smartreceive, version } from 'natsbridge'
      const envelope = await smartreceive(JSON.stringify({ payloads: [] }))
      console.log(version(), envelope.payloads.length)
      `,
    )
    const cjs = await run(process.execPath, ['round-trip.cjs', servers.natsUrl], { cwd: project, env, timeout: 30_000 })
    assert.deepEqual(JSON.parse(cjs.stdout), ['from the tarball', 3])
    const esm = await run(process.execPath, ['round-trip.mjs'], { cwd: project, env, timeout: 30_000 })
    const manifest = JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8'))
    assert.equal(esm.stdout.trim(), `${manifest.version} 0`)
  })
})

// The npm packages as users get them, laid out as napi-rs does: `pack.mjs`
// makes `natsbridge` (the JS layer, types and browser build; its
// optionalDependencies name the platform package) and
// `natsbridge-linux-x64-gnu` (the prebuilt addon, linked against glibc 2.17).
// Both install into a fresh project without a Rust toolchain and work from
// both `require` and `import`.
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { accessSync, constants, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { delimiter, join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { promisify } from 'node:util'

import { packageDir, startServers } from './harness.mjs'

const run = promisify(execFile)

let servers
let scratch
let tarball
let platformTarball

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
  const { stdout } = await run(process.execPath, [join(packageDir, 'pack.mjs'), scratch], {
    cwd: packageDir,
    timeout: 120_000,
    maxBuffer: 16 << 20,
  })
  const packed = JSON.parse(stdout)
  const listing = async (path) => (await run('tar', ['tzf', path])).stdout.split('\n').filter(Boolean)
  tarball = { path: packed.main, files: (await listing(packed.main)).map((f) => f.replace(/^package\//, '')) }
  assert.equal(packed.platforms.length, 1, 'one platform package: linux-x64-gnu')
  platformTarball = {
    path: packed.platforms[0],
    files: (await listing(packed.platforms[0])).map((f) => f.replace(/^package\//, '')),
  }
})

after(async () => {
  await servers?.stop()
  if (scratch) rmSync(scratch, { recursive: true, force: true })
})

describe('pack.mjs', () => {
  it('ships the JS layer and the types in natsbridge, the addon in its platform package, and no sources', async () => {
    const { files } = tarball
    for (const file of ['package.json', 'index.js', 'index.mjs', 'binding.js', 'index.d.ts', 'README.md']) {
      assert.ok(files.includes(file), `${file} in the tarball`)
    }
    assert.ok(files.includes('browser/index.js'), 'the browser build is in the same package')
    assert.ok(!files.some((f) => f.endsWith('.node')), 'no addon in the main package')
    assert.ok(!files.some((f) => f.startsWith('src/') || f.startsWith('__test__/') || f === 'Cargo.toml'))
    assert.deepEqual(platformTarball.files.sort(), ['README.md', 'natsbridge.linux-x64-gnu.node', 'package.json'])

    const manifest = JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8'))
    const packedManifest = JSON.parse((await run('tar', ['xzOf', tarball.path, 'package/package.json'])).stdout)
    assert.deepEqual(packedManifest.optionalDependencies, { 'natsbridge-linux-x64-gnu': manifest.version })
    const platformManifest = JSON.parse((await run('tar', ['xzOf', platformTarball.path, 'package/package.json'])).stdout)
    assert.deepEqual([platformManifest.os, platformManifest.cpu, platformManifest.libc], [['linux'], ['x64'], ['glibc']])

    // The addon runs on any glibc >= 2.17 (the manylinux2014 baseline): no
    // symbol of a newer glibc version is imported.
    const addon = join(scratch, 'addon.node')
    await run('sh', ['-c', `tar xzOf "$0" package/natsbridge.linux-x64-gnu.node > "$1"`, platformTarball.path, addon])
    const { stdout: symbols } = await run('objdump', ['-T', addon], { maxBuffer: 64 << 20 })
    const versions = [...new Set(symbols.match(/GLIBC_[0-9.]+/g))]
    const newest = versions
      .map((v) => v.slice(6).split('.').map(Number))
      .sort((a, b) => a[0] - b[0] || (a[1] ?? 0) - (b[1] ?? 0))
      .pop()
    assert.ok(newest[0] === 2 && newest[1] <= 17, `the addon needs glibc ${newest.join('.')}; the baseline is 2.17`)
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
    // Both tarballs in one install, as a registry would serve them: npm
    // satisfies natsbridge's optional dependency with the platform tarball.
    await run('npm', ['install', '--no-package-lock', '--prefer-offline', tarball.path, platformTarball.path], {
      cwd: project,
      env,
      timeout: 240_000,
    })
    assert.ok(
      !existsSync(join(project, 'node_modules', 'natsbridge', 'natsbridge.linux-x64-gnu.node')),
      'the addon comes from the platform package',
    )

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

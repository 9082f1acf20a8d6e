// Packs the npm packages as napi-rs lays them out, from the addon the build
// already made (no compile here):
//
//   natsbridge-<version>.tgz                    the JS layer, types and browser build;
//                                               optionalDependencies name the platform packages
//   natsbridge-linux-x64-gnu-<version>.tgz      natsbridge.linux-x64-gnu.node (npm/linux-x64-gnu/)
//
// Usage: node pack.mjs OUT_DIR    prints one JSON line: {"main": path, "platforms": [path, ...]}
//
// The committed package.json has no optionalDependencies (so `npm ci` here
// never looks for a platform package that is not published yet); they are
// written into the packed manifest, as `napi pre-publish` does.
import { execFileSync } from 'node:child_process'
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
const out = resolve(process.argv[2] ?? join(here, '..', 'dist'))
mkdirSync(out, { recursive: true })

const manifest = JSON.parse(readFileSync(join(here, 'package.json'), 'utf8'))
const platforms = {
  'x86_64-unknown-linux-gnu': 'linux-x64-gnu',
}

/** `npm pack` in `dir` into `out`; returns the tarball's path. */
function pack(dir) {
  const stdout = execFileSync('npm', ['pack', '--json', '--pack-destination', out], {
    cwd: dir,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  return join(out, JSON.parse(stdout)[0].filename)
}

const scratch = mkdtempSync(join(tmpdir(), 'natsbridge-pack-'))
try {
  const packed = []
  const optional = {}
  for (const target of manifest.napi.targets) {
    const platform = platforms[target]
    if (!platform) throw new Error(`no platform package is laid out for napi target ${target}`)
    const source = join(here, 'npm', platform)
    const addon = `${manifest.napi.binaryName}.${platform}.node`
    if (!existsSync(join(here, addon))) {
      throw new Error(`${addon} is missing: build it first (scripts/setup.sh, or npm run build)`)
    }
    const stage = join(scratch, platform)
    cpSync(source, stage, { recursive: true })
    copyFileSync(join(here, addon), join(stage, addon))
    // The workspace keeps line tables in release builds (for profiling); a
    // package ships none (the symbols napi needs are dynamic, they stay).
    execFileSync('strip', ['--strip-debug', join(stage, addon)])
    const platformManifest = JSON.parse(readFileSync(join(stage, 'package.json'), 'utf8'))
    if (platformManifest.version !== manifest.version) {
      throw new Error(`npm/${platform}/package.json is ${platformManifest.version}, natsbridge is ${manifest.version}`)
    }
    optional[platformManifest.name] = manifest.version
    packed.push(pack(stage))
  }

  // The main package: what `npm pack` would ship, less the addon (each
  // platform package carries its own), plus the optionalDependencies.
  const listing = JSON.parse(
    execFileSync('npm', ['pack', '--dry-run', '--json'], { cwd: here, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }),
  )[0]
    .files.map((file) => file.path)
    .filter((file) => !file.endsWith('.node'))
  const stage = join(scratch, 'natsbridge')
  for (const file of listing) {
    mkdirSync(dirname(join(stage, file)), { recursive: true })
    copyFileSync(join(here, file), join(stage, file))
  }
  writeFileSync(
    join(stage, 'package.json'),
    `${JSON.stringify({ ...manifest, optionalDependencies: optional }, null, 2)}\n`,
  )
  const main = pack(stage)
  console.log(JSON.stringify({ main, platforms: packed }))
} finally {
  rmSync(scratch, { recursive: true, force: true })
}

// Test servers for the Node suites: the project's one harness, `nb-testenv`
// (a real nats-server with JetStream, and the natsbridge file server, on free
// loopback ports). It prints one JSON line with their URLs and stops when its
// stdin closes, so a crashed test run never leaves servers behind.
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join, resolve } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
export const packageDir = resolve(here, '..')
export const workspaceDir = resolve(packageDir, '..')
export const require = createRequire(join(packageDir, 'index.js'))

/** The package under test, loaded as users load it. */
export const natsbridge = await import('../index.mjs')

const targetDir = process.env.CARGO_TARGET_DIR ?? join(workspaceDir, 'target')
const testenvBinary = process.env.NB_TESTENV ?? join(targetDir, 'release', 'nb-testenv')

/**
 * Starts nb-testenv with `args` (`--max-payload N`, `--no-jetstream`,
 * `--token T`, `--no-fileserver`, `--fileserver-token T`, `--tls`, `--mtls`,
 * `--fileserver-tls`, `--user U --password P`, `--nkey`, `--creds`) and
 * resolves to `{ natsUrl, natsPort, fileserverUrl, fileserverDir, info,
 * stop() }` once both servers accept connections (`info`: the whole JSON
 * line, with the certificate, nkey and creds paths).
 */
export async function startServers(args = [], { timeoutMs = 30_000 } = {}) {
  if (!existsSync(testenvBinary)) {
    throw new Error(
      `${testenvBinary} is missing: build it with ` +
        '`cargo build --release -p natsbridge-testkit --bin nb-testenv` (npm test does this in pretest)',
    )
  }
  const child = spawn(testenvBinary, args, { stdio: ['pipe', 'pipe', 'inherit'] })
  const exited = new Promise((resolveExit) => child.once('exit', resolveExit))
  const lines = createInterface({ input: child.stdout })
  let timer
  try {
    const line = await Promise.race([
      new Promise((ok) => lines.once('line', ok)),
      exited.then((code) => {
        throw new Error(`nb-testenv exited with ${code} before it was ready`)
      }),
      new Promise((_, fail) => {
        timer = setTimeout(() => fail(new Error(`nb-testenv not ready within ${timeoutMs} ms`)), timeoutMs)
      }),
    ])
    const info = JSON.parse(line)
    return {
      natsUrl: info.nats_url,
      natsPort: info.nats_port,
      fileserverUrl: info.fileserver_url,
      fileserverDir: info.fileserver_dir,
      info,
      /** Closes nb-testenv's stdin and waits (bounded) for it to stop its servers. */
      async stop() {
        child.stdin.end()
        try {
          await withTimeout(exited, 10_000, 'nb-testenv stopping')
        } catch {
          child.kill('SIGKILL')
        }
      },
    }
  } catch (err) {
    child.kill('SIGKILL')
    throw err
  } finally {
    clearTimeout(timer)
    lines.close()
  }
}

export function sleep(ms) {
  return new Promise((ok) => setTimeout(ok, ms))
}

/** Rejects with a clear message when `promise` does not settle within `ms`. */
export function withTimeout(promise, ms, what) {
  let timer
  return Promise.race([
    promise,
    new Promise((_, fail) => {
      timer = setTimeout(() => fail(new Error(`${what}: nothing within ${ms} ms`)), ms)
    }),
  ]).finally(() => clearTimeout(timer))
}

/** A unique subject per test, so suites never see each other's messages. */
let counter = 0
export function subject(name) {
  counter += 1
  return `test.${name}.${process.pid}.${counter}`
}

/** Asserts that `promise` rejects with an Error whose `code` is `code`; returns the error. */
export async function rejectsWithCode(promise, code) {
  let error
  try {
    await withTimeout(promise, 30_000, `expected ${code}`)
  } catch (err) {
    error = err
  }
  if (!error) throw new Error(`expected a rejection with code ${code}, but it resolved`)
  if (!(error instanceof Error)) throw new Error(`expected an Error, got ${typeof error}: ${error}`)
  if (error.code !== code) {
    throw new Error(`expected code ${code}, got ${error.code}: ${error.message}`, { cause: error })
  }
  return error
}

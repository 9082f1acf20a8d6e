// The browser suite's harness: the project's test servers (nb-testenv:
// nats-server with JetStream and a WebSocket listener, the natsbridge file
// server with CORS), a page origin served by a tiny static server, and
// Debian's Chromium driven by playwright-core (no browser download).
import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync, symlinkSync, readdirSync } from 'node:fs'
import { createServer } from 'node:http'
import { readFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, extname, join, resolve } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { chromium } from 'playwright-core'

const here = dirname(fileURLToPath(import.meta.url))
export const workspaceDir = resolve(here, '..', '..')
const targetDir = process.env.CARGO_TARGET_DIR ?? join(workspaceDir, 'target')
export const testenvBinary = process.env.NB_TESTENV ?? join(targetDir, 'release', 'nb-testenv')
export const cliBinary = process.env.NATSBRIDGE_CLI ?? join(targetDir, 'release', 'natsbridge')
export const distDir = join(workspaceDir, 'bindings-node', 'browser', 'dist')
export const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'

/** Stops `what` with a clear message when it does not settle within `ms`. */
export function withTimeout(promise, ms, what) {
  let timer
  return Promise.race([
    promise,
    new Promise((_, fail) => {
      timer = setTimeout(() => fail(new Error(`${what}: nothing within ${ms} ms`)), ms)
    }),
  ]).finally(() => clearTimeout(timer))
}

/**
 * Starts nb-testenv (always with `--websocket`) plus `args`; resolves to
 * `{ natsUrl, wsUrl, fileserverUrl, fileserverDir, stop() }`.
 */
export async function startServers(args = []) {
  for (const [file, how] of [
    [testenvBinary, 'cargo build --release -p natsbridge-testkit --bin nb-testenv'],
    [join(distDir, 'natsbridge.js'), 'bash bindings-wasm/build.sh'],
  ]) {
    if (!existsSync(file)) throw new Error(`${file} is missing: build it with \`${how}\``)
  }
  const child = spawn(testenvBinary, ['--websocket', ...args], { stdio: ['pipe', 'pipe', 'inherit'] })
  const exited = new Promise((ok) => child.once('exit', ok))
  const lines = createInterface({ input: child.stdout })
  try {
    const line = await withTimeout(
      Promise.race([
        new Promise((ok) => lines.once('line', ok)),
        exited.then((code) => {
          throw new Error(`nb-testenv exited with ${code} before it was ready`)
        }),
      ]),
      30_000,
      'nb-testenv start',
    )
    const info = JSON.parse(line)
    return {
      natsUrl: info.nats_url,
      wsUrl: info.ws_url,
      fileserverUrl: info.fileserver_url,
      fileserverDir: info.fileserver_dir,
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
    lines.close()
  }
}

/** A fresh directory with the test page and the built bundle (symlinked). */
export function makeSite() {
  const dir = mkdtempSync(join(tmpdir(), 'natsbridge-site-'))
  const link = (from, name) => symlinkSync(from, join(dir, name))
  for (const name of readdirSync(join(here, 'site'))) link(join(here, 'site', name), name)
  for (const name of readdirSync(distDir)) link(join(distDir, name), name)
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) }
}

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.wasm': 'application/wasm',
  '.map': 'application/json',
  '.css': 'text/css',
}

/** Serves `dir` on a free loopback port: the page's origin, distinct from the file server's. */
export async function serveStatic(dir) {
  const server = createServer(async (request, response) => {
    const path = decodeURIComponent(new URL(request.url, 'http://x').pathname)
    const file = join(dir, path.endsWith('/') ? `${path}index.html` : path)
    if (!file.startsWith(dir)) {
      response.writeHead(400).end()
      return
    }
    try {
      const body = await readFile(file)
      response.writeHead(200, { 'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream' }).end(body)
    } catch {
      response.writeHead(404).end('not found')
    }
  })
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok))
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    port: server.address().port,
    close: () => new Promise((ok) => server.close(ok)),
  }
}

/** Debian's Chromium, headless, with a fresh profile. */
export async function launchBrowser() {
  const profile = mkdtempSync(join(tmpdir(), 'natsbridge-chromium-'))
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath,
    headless: true,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
  })
  const logs = []
  return {
    context,
    logs,
    async open(url) {
      const page = await context.newPage()
      page.on('console', (message) => logs.push(`[${message.type()}] ${message.text()}`))
      page.on('pageerror', (err) => logs.push(`[pageerror] ${err.message}`))
      await page.goto(url)
      return page
    },
    async close() {
      await context.close()
      rmSync(profile, { recursive: true, force: true })
    },
  }
}

/** Opens the test page and waits until the bundle and its wasm module are loaded. */
export async function openTestPage(browser, origin) {
  const page = await browser.open(`${origin}/index.html`)
  await page.waitForFunction(() => window.nbReady === true, null, { timeout: 30_000 })
  return page
}

/** Runs `fn(nb, arg)` in the page; a rejection comes back as `{ error: { code, message, dataname } }`. */
export async function inPage(page, fn, arg) {
  return page.evaluate(
    async ([source, arg]) => {
      // eslint-disable-next-line no-new-func
      const fn = new Function(`return (${source})`)()
      try {
        return { value: await fn(window.nb, arg) }
      } catch (err) {
        return { error: { code: err?.code, message: String(err?.message ?? err), dataname: err?.dataname } }
      }
    },
    [fn.toString(), arg],
  )
}

/** Runs the natsbridge CLI; resolves to its stdout (rejects on a non-zero exit). */
export function runCli(args, { timeoutMs = 30_000 } = {}) {
  return withTimeout(
    new Promise((ok, fail) => {
      const child = spawn(cliBinary, args, { stdio: ['ignore', 'pipe', 'pipe'] })
      let out = ''
      let err = ''
      child.stdout.on('data', (d) => (out += d))
      child.stderr.on('data', (d) => (err += d))
      child.once('exit', (code) => (code === 0 ? ok(out) : fail(new Error(`natsbridge ${args.join(' ')} exited ${code}: ${err}`))))
    }),
    timeoutMs,
    `natsbridge ${args[0]}`,
  )
}

/**
 * Starts a long-running CLI command (listen, respond); `ready` resolves once
 * its subscription is up (it says so on stderr), `lines` collects stdout lines.
 */
export function startCli(args) {
  const child = spawn(cliBinary, args, { stdio: ['ignore', 'pipe', 'pipe'] })
  const lines = []
  const waiters = []
  createInterface({ input: child.stdout }).on('line', (line) => {
    lines.push(line)
    for (const waiter of waiters.splice(0)) waiter()
  })
  let stderr = ''
  const ready = new Promise((ok) => {
    child.stderr.on('data', (d) => {
      stderr += d
      if (/listening|serving|subscribed|waiting|answering/i.test(stderr)) ok()
    })
  })
  return {
    child,
    lines,
    ready: withTimeout(ready, 15_000, `natsbridge ${args[0]} ready`).catch((err) => {
      throw new Error(`${err.message}; stderr: ${stderr}`)
    }),
    stderr: () => stderr,
    /** Resolves once `count` lines have arrived. */
    async waitLines(count, ms = 20_000) {
      await withTimeout(
        (async () => {
          while (lines.length < count) await new Promise((ok) => waiters.push(ok))
        })(),
        ms,
        `natsbridge ${args[0]} output (stderr: ${stderr})`,
      )
      return lines
    },
    stop() {
      child.kill('SIGTERM')
    },
  }
}

let counter = 0
/** A unique subject per test. */
export function subject(name) {
  counter += 1
  return `browser.${name}.${process.pid}.${counter}`
}

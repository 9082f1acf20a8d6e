// The interop matrix's JavaScript drivers, speaking the runner's JSON-lines
// protocol on stdin/stdout (tests/interop/README.md):
//
//   node tests/interop/driver.mjs node      the Node package (napi addon), one Bridge
//   node tests/interop/driver.mjs browser   the browser package in headless Chromium
//                                           (playwright-core), one page and one Bridge over
//                                           NATS WebSocket; every op runs in the page
import { createServer } from 'node:http'
import { readFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { dirname, extname, join, resolve } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
const root = resolve(here, '..', '..')
const mode = process.argv[2]

// Spec payloads -> values and received values -> the canonical form, written
// once for Node and the page: `helpers(arrow, sha256)` (its source is also
// evaluated inside the page, with the bundle's apache-arrow).
function helpers(arrow, sha256) {
  const TYPES = { int64: () => new arrow.Int64(), utf8: () => new arrow.Utf8(), float64: () => new arrow.Float64(), bool: () => new arrow.Bool() }
  const b64decode = (s) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0))
  const canonicalType = (t) => {
    const name = String(t)
    return { Int64: 'int64', Utf8: 'utf8', LargeUtf8: 'utf8', Float64: 'float64', Bool: 'bool' }[name] ?? name
  }
  const cell = (v) => (typeof v === 'bigint' ? Number(v) : v)
  return {
    value(spec) {
      if (spec.type === 'text') return spec.text
      if (spec.type === 'dictionary') return spec.json
      if (spec.type === 'table') {
        const columns = {}
        for (const c of spec.table.columns) {
          const values = c.type === 'int64' ? c.values.map((v) => BigInt(v)) : c.values
          columns[c.name] = arrow.vectorFromArray(values, TYPES[c.type]())
        }
        return new arrow.Table(columns)
      }
      return b64decode(spec.b64)
    },
    async canonical(p) {
      const out = { dataname: p.dataname, type: p.type }
      if (p.type === 'text') out.text = p.data
      else if (p.type === 'dictionary') out.json = p.data
      else if (p.type === 'table') {
        const t = p.data
        out.table = {
          schema: t.schema.fields.map((f) => [f.name, canonicalType(f.type)]),
          columns: Object.fromEntries(t.schema.fields.map((f) => [f.name, Array.from(t.getChild(f.name), cell)])),
        }
      } else {
        const bytes = p.data instanceof Uint8Array ? p.data : new Uint8Array(p.data)
        out.sha256 = await sha256(bytes)
        out.len = bytes.length
      }
      return out
    },
    sendOptions(transport, fileserverUrl) {
      if (transport === 'link-http') return { fileserverUrl, sizeThreshold: 1 }
      if (transport === 'link-objstore') return { sizeThreshold: 1 }
      return {}
    },
  }
}

/** The protocol's ops over a Bridge (Node or page): one implementation for both. */
function makeOps(bridge, h, fileserverUrl) {
  const subs = new Map()
  const outgoing = (specs) => specs.map((s) => ({ dataname: s.dataname, data: h.value(s), type: s.type }))
  const canonicalAll = (env) => Promise.all(env.payloads.map((p) => h.canonical(p)))
  async function take(op) {
    const sub = subs.get(op.subject)
    subs.delete(op.subject)
    try {
      const env = await sub.next(op.timeout_ms)
      if (!env) throw new Error(`nothing on ${op.subject} within ${op.timeout_ms} ms`)
      return env
    } finally {
      await sub.unsubscribe()
    }
  }
  return async function handle(op) {
    switch (op.op) {
      case 'subscribe':
        subs.set(op.subject, await bridge.subscribe(op.subject))
        await bridge.flush?.()
        return {}
      case 'send':
        await bridge.send(op.subject, outgoing(op.payloads), h.sendOptions(op.transport, fileserverUrl))
        return {}
      case 'receive':
        return { payloads: await canonicalAll(await take(op)) }
      case 'request': {
        const options = { ...h.sendOptions(op.transport, fileserverUrl), timeout: op.timeout_ms }
        return { payloads: await canonicalAll(await bridge.request(op.subject, outgoing(op.payloads), options)) }
      }
      case 'answer': {
        const request = await take(op)
        const echo = request.payloads.map((p) => ({ dataname: p.dataname, data: p.data, type: p.type }))
        await bridge.reply(request, echo, h.sendOptions(op.transport, fileserverUrl))
        return { payloads: await canonicalAll(request) }
      }
      default:
        throw new Error(`unknown op ${op.op}`)
    }
  }
}

async function nodeDriver() {
  const require = createRequire(join(root, 'bindings-node', 'index.js'))
  const { Bridge } = require('./index.js')
  const arrow = require('apache-arrow')
  const { createHash } = await import('node:crypto')
  const h = helpers(arrow, async (bytes) => createHash('sha256').update(bytes).digest('hex'))
  const bridge = await Bridge.connect(process.env.NATS_URL)
  const handle = makeOps(bridge, h, process.env.FILESERVER_URL)
  return { handle, close: () => bridge.close() }
}

const MIME = { '.html': 'text/html', '.js': 'text/javascript', '.wasm': 'application/wasm', '.map': 'application/json' }

async function browserDriver() {
  const harness = await import(join(root, 'bindings-wasm', 'tests', 'harness.mjs'))
  const site = harness.makeSite()
  // The page's origin: the port the runner gave nb-testenv's file server as its CORS origin.
  const server = createServer(async (req, res) => {
    const file = join(site.dir, new URL(req.url, 'http://x').pathname)
    let body
    try {
      body = await readFile(file)
    } catch {
      res.writeHead(404).end()
      return
    }
    res.writeHead(200, { 'Content-Type': MIME[extname(file)] ?? 'application/octet-stream' }).end(body)
  })
  await new Promise((ok) => server.listen(Number(process.env.PAGE_PORT), '127.0.0.1', ok))
  const browser = await harness.launchBrowser()
  const page = await harness.openTestPage(browser, `http://127.0.0.1:${process.env.PAGE_PORT}`)
  const setup = await harness.inPage(
    page,
    async (nb, { helpersSource, makeOpsSource, wsUrl, fileserverUrl }) => {
      const sha256 = async (bytes) =>
        Array.from(new Uint8Array(await crypto.subtle.digest('SHA-256', bytes)), (b) => b.toString(16).padStart(2, '0')).join('')
      const h = new Function(`return (${helpersSource})`)()(nb.arrow, sha256)
      const bridge = await nb.Bridge.connect(wsUrl)
      window.interop = new Function(`return (${makeOpsSource})`)()(bridge, h, fileserverUrl)
      window.interopBridge = bridge
      return true
    },
    { helpersSource: helpers.toString(), makeOpsSource: makeOps.toString(), wsUrl: process.env.WS_URL, fileserverUrl: process.env.FILESERVER_URL },
  )
  if (setup.error) throw new Error(`page setup: ${setup.error.code}: ${setup.error.message}`)
  const handle = async (op) => {
    const r = await harness.inPage(page, (_nb, op) => window.interop(op), op)
    if (r.error) throw Object.assign(new Error(r.error.message), { code: r.error.code })
    return r.value
  }
  return {
    handle,
    async close() {
      await harness.inPage(page, () => window.interopBridge.close())
      if (browser.logs.length) console.error(browser.logs.join('\n'))
      await browser.close()
      server.close()
      site.remove()
    },
  }
}

const driver = mode === 'browser' ? await browserDriver() : await nodeDriver()
process.stdout.write(`${JSON.stringify({ ready: mode })}\n`)
for await (const line of createInterface({ input: process.stdin })) {
  const op = JSON.parse(line)
  if (op.op === 'quit') break
  let result
  try {
    result = { ok: true, ...(await driver.handle(op)) }
  } catch (err) {
    result = { ok: false, error: `${err.code ?? ''} ${err.message ?? err}`.trim() }
  }
  process.stdout.write(`${JSON.stringify(result)}\n`)
}
await driver.close()
process.exit(0)

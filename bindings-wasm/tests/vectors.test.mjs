// The shared wire vectors (docs/vectors/, see its README) in real Chromium:
// each envelope goes through the browser package's smartreceive, link bytes
// through a fileserverDownloadHandler (nothing is fetched), and the result is
// compared with the vector's `expect`: header (camelCase here), per payload
// dataname, type, transport, size, sha256, metadata, the link URL asked for,
// and the value; or the error code.
import assert from 'node:assert/strict'
import { existsSync, readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { inPage, launchBrowser, makeSite, openTestPage, serveStatic, workspaceDir } from './harness.mjs'

const vectorsDir = process.env.NB_VECTORS_DIR ?? join(workspaceDir, 'docs', 'vectors')
const vectors = existsSync(vectorsDir)
  ? readdirSync(vectorsDir)
      .filter((name) => name.endsWith('.json'))
      .sort()
      .map((name) => JSON.parse(readFileSync(join(vectorsDir, name), 'utf8')))
  : []

const camel = (key) => key.replace(/_([a-z])/g, (_, c) => c.toUpperCase())

let site
let origin
let browser
let page

before(async () => {
  if (vectors.length === 0) return
  site = makeSite()
  origin = await serveStatic(site.dir)
  browser = await launchBrowser()
  page = await openTestPage(browser, origin.url)
})

after(async () => {
  await browser?.close()
  await origin?.close()
  site?.remove()
})

/** Decodes a vector in the page; values in the vectors' JSON forms. */
function decodeInPage(vector) {
  return inPage(
    page,
    async (nb, vector) => {
      const fromB64 = (text) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0))
      const toB64 = (bytes) => btoa(Array.from(bytes, (b) => String.fromCharCode(b)).join(''))
      const body = vector.envelope !== undefined ? new TextEncoder().encode(vector.envelope) : fromB64(vector.envelope_base64)
      const asked = []
      const env = await nb.smartreceive(body, {
        fileserverDownloadHandler: (url) => {
          asked.push(url)
          return fromB64(vector.links?.[url] ?? '')
        },
      })
      const plain = (v) => (typeof v === 'bigint' ? Number(v) : v)
      const tableForm = (table) => {
        const names = table.schema.fields.map((f) => f.name)
        const columns = {}
        for (const name of names) {
          const column = table.getChild(name)
          columns[name] = Array.from({ length: table.numRows }, (_, i) => plain(column.get(i)))
        }
        return {
          schema: table.schema.fields.map((f) => ({ name: f.name, type: String(f.type).toLowerCase() })),
          columns,
          num_rows: table.numRows,
        }
      }
      const payloads = env.payloads.map((p) => {
        let value
        if (p.type === 'text') value = { text: p.data }
        else if (p.type === 'dictionary') value = { json: p.data }
        else if (p.type === 'table') value = { table: tableForm(p.data) }
        else value = { base64: toB64(p.data) }
        return { dataname: p.dataname, type: p.type, transport: p.transport, size: p.size, sha256: p.sha256 ?? null, metadata: p.metadata, value }
      })
      const { payloads: _, ...header } = env
      return { header, payloads, asked }
    },
    vector,
  )
}

if (vectors.length === 0) {
  test('shared wire vectors', { skip: `${vectorsDir} does not exist on this branch yet (it is written on branch vectors-docs); set NB_VECTORS_DIR to run them` }, () => {})
}

for (const vector of vectors) {
  test(`vector ${vector.name}`, async (t) => {
    const result = await decodeInPage(vector)
    const check = () => {
      if (vector.expect.error) {
        assert.ok(result.error, `expected ${vector.expect.error}, decoded ${JSON.stringify(result.value)}`)
        assert.equal(result.error.code, vector.expect.error, result.error.message)
        return
      }
      assert.ok(!result.error, `expected values, got ${result.error?.code}: ${result.error?.message}`)
      const { header, payloads, asked } = result.value
      for (const [key, value] of Object.entries(vector.expect.header)) {
        assert.deepEqual(header[camel(key)], value, `header ${key}`)
      }
      assert.equal(payloads.length, vector.expect.payloads.length)
      const links = []
      vector.expect.payloads.forEach((expected, index) => {
        const got = payloads[index]
        for (const key of ['dataname', 'type', 'transport', 'size', 'sha256', 'metadata']) {
          assert.deepEqual(got[key], expected[key], `payload ${index} ${key}`)
        }
        if (expected.url) links.push(expected.url)
        if (expected.value.table) {
          const { ipc_base64: _, ...table } = expected.value.table
          assert.deepEqual(got.value.table, table, `payload ${index} table`)
        } else {
          assert.deepEqual(got.value, expected.value, `payload ${index} value`)
        }
      })
      assert.deepEqual(asked, links, 'the link URLs the handler was asked for')
    }
    try {
      check()
    } catch (err) {
      // A rule newer than this core: the runner says so by name (docs/vectors/README.md).
      if (vector.since) {
        t.todo(`needs the rule of ${vector.since}, not in this core yet: ${err.message.split('\n')[0]}`)
        return
      }
      throw err
    }
  })
}

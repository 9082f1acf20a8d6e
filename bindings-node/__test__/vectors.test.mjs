// The shared wire vectors (docs/vectors/*.json, see docs/vectors/README.md)
// through `smartreceive` on a Buffer: no server. A link payload's bytes come
// from the vector's `links` table through `fileserverDownloadHandler`.
// Checked: the header fields (camelCase here) and per payload its dataname,
// type, transport, size, sha256, metadata and value. A vector marked "since"
// runs like any other; its failure message names the issue that brings its rule.
import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'

import * as arrow from 'apache-arrow'

import { natsbridge, workspaceDir } from './harness.mjs'

const { smartreceive } = natsbridge

const vectorsDir = join(workspaceDir, 'docs', 'vectors')
const vectors = readdirSync(vectorsDir)
  .filter((name) => name.endsWith('.json'))
  .sort()
  .map((name) => JSON.parse(readFileSync(join(vectorsDir, name), 'utf8')))

// apache-arrow's names for the vectors' Arrow type names.
const arrowTypes = { Int64: 'int64', Utf8: 'utf8', Float64: 'float64', Bool: 'bool' }

const camel = (key) => key.replace(/_([a-z0-9])/g, (_, c) => c.toUpperCase())

function envelopeBytes(vector) {
  return 'envelope' in vector
    ? Buffer.from(vector.envelope, 'utf8')
    : Buffer.from(vector.envelope_base64, 'base64')
}

function columnValue(value) {
  return typeof value === 'bigint' ? Number(value) : value
}

/** The received value in the vectors' notation. */
function valueView(payload, expected) {
  const { data } = payload
  if (Buffer.isBuffer(data)) return { base64: data.toString('base64') }
  if (data instanceof arrow.Table) {
    const columns = {}
    // Value by value: toArray() of a nullable column hides its nulls.
    for (const field of data.schema.fields) {
      const vector = data.getChild(field.name)
      columns[field.name] = Array.from({ length: vector.length }, (_, i) => columnValue(vector.get(i)))
    }
    return {
      table: {
        schema: data.schema.fields.map((field) => ({
          name: field.name,
          type: arrowTypes[String(field.type)] ?? String(field.type),
        })),
        columns,
        num_rows: data.numRows,
        // The IPC bytes are not kept once apache-arrow has read the table.
        ipc_base64: expected.table?.ipc_base64,
      },
    }
  }
  if (payload.type === 'text') return { text: data }
  return { json: data }
}

/** A download handler serving the vector's `links`; `requested` collects the URLs asked for. */
function serveLinks(vector, requested) {
  const links = vector.links ?? {}
  return (url) => {
    requested.push(url)
    if (!(url in links)) throw new Error(`the vector serves no bytes for ${url}`)
    return Buffer.from(links[url], 'base64')
  }
}

describe('shared wire vectors', () => {
  it('are all there', () => assert.ok(vectors.length >= 30, `only ${vectors.length} vectors`))

  for (const vector of vectors) {
    const since = vector.since ? ` [since ${vector.since}: a rule this core does not implement yet]` : ''
    it(`${vector.name}${vector.since ? ` (since ${vector.since})` : ''}`, async () => {
      const { expect } = vector
      const requested = []
      let got
      try {
        got = await smartreceive(envelopeBytes(vector), {
          fileserverDownloadHandler: serveLinks(vector, requested),
        })
      } catch (err) {
        assert.ok('error' in expect, `${vector.name}${since}: expected an envelope, got ${err.code}: ${err.message}`)
        assert.equal(err.code, expect.error, `${vector.name}${since}: ${err.message}`)
        return
      }
      assert.ok(!('error' in expect), `${vector.name}${since}: expected ${expect.error}, got an envelope`)
      const header = {}
      for (const key of Object.keys(expect.header)) header[key] = got[camel(key)]
      assert.deepEqual(header, expect.header)
      assert.equal(got.payloads.length, expect.payloads.length)
      got.payloads.forEach((payload, index) => {
        const want = expect.payloads[index]
        const view = {
          dataname: payload.dataname,
          type: payload.type,
          transport: payload.transport,
          size: payload.size,
          sha256: payload.sha256 ?? null,
          metadata: payload.metadata,
          value: valueView(payload, want.value),
        }
        // A received payload does not keep its URL: the one the handler was asked for stands in.
        if (payload.transport === 'link') view.url = requested.includes(want.url) ? want.url : requested
        assert.deepEqual(view, want, `${vector.name}: payload #${index}`)
      })
    })
  }
})

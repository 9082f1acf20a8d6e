// Bad inputs reject with an Error carrying the stable `code` of their kind
// (the core's ErrorKind::code), never a synchronous throw, never a crash.
import assert from 'node:assert/strict'
import { readdirSync } from 'node:fs'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'

import * as arrow from 'apache-arrow'

import { encodeEnvelope } from '../../benchmarks/node/pure_js_bridge.mjs'
import { natsbridge, packageDir, rejectsWithCode, require, startServers, subject } from './harness.mjs'

const { Bridge, smartreceive, smartsend } = natsbridge

let servers
let bridge

before(async () => {
  servers = await startServers()
  bridge = await Bridge.connect(servers.natsUrl)
})

after(async () => {
  await bridge?.close()
  await servers?.stop()
})

/** A valid wire envelope (snake_case object) with one payload, to spoil. */
function envelopeWith(payload = { dataname: 'message', data: 'Hello', type: 'text' }) {
  return encodeEnvelope('bad.inputs', [payload], {}, arrow)
}

const receive = (envelope) => smartreceive(typeof envelope === 'string' ? envelope : JSON.stringify(envelope))

async function closedPort() {
  const server = createServer()
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok))
  const { port } = server.address()
  await new Promise((ok) => server.close(ok))
  return port
}

describe('receiving', () => {
  it('MALFORMED_ENVELOPE for a body that is not a wire-v1 envelope', async () => {
    for (const body of ['not json', '{}', '{"payloads": 3}', '[1,2]', '{"payloads":[{"dataname":"x"}]}']) {
      await rejectsWithCode(receive(body), 'MALFORMED_ENVELOPE')
    }
  })

  it('INVALID_BASE64 for direct data that is not standard base64', async () => {
    const envelope = envelopeWith()
    envelope.payloads[0].data = '@@not base64@@'
    await rejectsWithCode(receive(envelope), 'INVALID_BASE64')
  })

  it('INTEGRITY when size or sha256 does not match', async () => {
    const wrongSize = envelopeWith()
    wrongSize.payloads[0].size += 1
    await rejectsWithCode(receive(wrongSize), 'INTEGRITY')
    const wrongHash = envelopeWith()
    wrongHash.payloads[0].sha256 = '0'.repeat(64)
    const err = await rejectsWithCode(receive(wrongHash), 'INTEGRITY')
    assert.equal(err.dataname, 'message')
  })

  it('UNSUPPORTED_VERSION for version 2', async () => {
    const envelope = envelopeWith()
    envelope.version = 2
    await rejectsWithCode(receive(envelope), 'UNSUPPORTED_VERSION')
  })

  it('INVALID_UTF8 for a text payload that is not UTF-8', async () => {
    const envelope = envelopeWith({ dataname: 'message', data: Buffer.from([0xff, 0xfe, 0x41]), type: 'binary' })
    envelope.payloads[0].type = 'text'
    await rejectsWithCode(receive(envelope), 'INVALID_UTF8')
  })

  it('INVALID_JSON for a dictionary payload that is not JSON', async () => {
    const envelope = envelopeWith({ dataname: 'config', data: Buffer.from('{"a":'), type: 'binary' })
    envelope.payloads[0].type = 'dictionary'
    await rejectsWithCode(receive(envelope), 'INVALID_JSON')
  })

  it('INVALID_TABLE for a table payload that is not an Arrow IPC stream, with the cause in the message', async () => {
    const envelope = envelopeWith({ dataname: 'students', data: Buffer.from('not arrow at all'), type: 'binary' })
    envelope.payloads[0].type = 'table'
    const err = await rejectsWithCode(receive(envelope), 'INVALID_TABLE')
    assert.match(err.message, /\n {2}Caused by: /)
  })

  it('URL_NOT_ALLOWED for a link with a file:// URL', async () => {
    const envelope = envelopeWith()
    Object.assign(envelope.payloads[0], { transport: 'link', encoding: 'url', data: 'file:///etc/passwd' })
    envelope.payloads[0].sha256 ??= '0'.repeat(64)
    await rejectsWithCode(receive(envelope), 'URL_NOT_ALLOWED')
  })

  it('INVALID_ARGUMENT for a msg that is neither bytes, text nor a nats.js message', async () => {
    await rejectsWithCode(smartreceive(42), 'INVALID_ARGUMENT')
    await rejectsWithCode(smartreceive({ nodata: true }), 'INVALID_ARGUMENT')
    await rejectsWithCode(smartreceive(undefined), 'INVALID_ARGUMENT')
  })
})

describe('sending', () => {
  const send = (payloads, options) => bridge.send(subject('bad'), payloads, options)

  it('INVALID_ARGUMENT for an empty dataname', async () => {
    await rejectsWithCode(send([{ dataname: '', data: 'x', type: 'text' }]), 'INVALID_ARGUMENT')
  })

  it('UNKNOWN_TYPE for a type wire v1 does not define', async () => {
    const err = await rejectsWithCode(send([{ dataname: 'sheet', data: 'a,b', type: 'csv' }]), 'UNKNOWN_TYPE')
    assert.match(err.message, /csv/)
    assert.equal(err.dataname, 'sheet')
  })

  it('INVALID_ARGUMENT for bad subjects', async () => {
    for (const bad of ['', 'has space', 'a..b', 'trailing.', 'wild.*', 'wild.>']) {
      await rejectsWithCode(bridge.send(bad, [{ dataname: 'm', data: 'x', type: 'text' }]), 'INVALID_ARGUMENT')
    }
    await rejectsWithCode(bridge.send(42, []), 'INVALID_ARGUMENT')
    await rejectsWithCode(bridge.subscribe('bad subject'), 'INVALID_ARGUMENT')
    await rejectsWithCode(smartsend('', [], { natsUrl: servers.natsUrl }), 'INVALID_ARGUMENT')
  })

  it('INVALID_TABLE for table bytes that are not an Arrow IPC stream', async () => {
    await rejectsWithCode(send([{ dataname: 't', data: Buffer.from('nope'), type: 'table' }]), 'INVALID_TABLE')
    const fileFormat = arrow.tableToIPC(arrow.tableFromJSON([{ a: 1 }]), 'file')
    const err = await rejectsWithCode(send([{ dataname: 't', data: fileFormat, type: 'table' }]), 'INVALID_TABLE')
    assert.match(err.message, /file format/)
  })

  it('INVALID_ARGUMENT when the data does not fit the type', async () => {
    await rejectsWithCode(send([{ dataname: 'm', data: Buffer.from('x'), type: 'text' }]), 'INVALID_ARGUMENT')
    await rejectsWithCode(send([{ dataname: 'b', data: 42, type: 'binary' }]), 'INVALID_ARGUMENT')
    await rejectsWithCode(send([{ dataname: 'b', data: undefined, type: 'image' }]), 'INVALID_ARGUMENT')
    await rejectsWithCode(send([{ dataname: 't', data: 'rows?', type: 'table' }]), 'INVALID_ARGUMENT')
  })

  it('SERIALIZATION for values with no JSON or table form', async () => {
    const cyclic = { name: 'loop' }
    cyclic.self = cyclic
    await rejectsWithCode(send([{ dataname: 'c', data: cyclic, type: 'dictionary' }]), 'SERIALIZATION')
    await rejectsWithCode(send([{ dataname: 'c', data: 10n, type: 'dictionary' }]), 'SERIALIZATION')
    await rejectsWithCode(send([{ dataname: 'c', data: () => 1, type: 'dictionary' }]), 'SERIALIZATION')
    await rejectsWithCode(send([{ dataname: 't', data: [{ a: 1 }, { a: 'x' }], type: 'table' }]), 'SERIALIZATION')
  })

  it('SERIALIZATION, as a rejection, when apache-arrow cannot write a Table', async () => {
    const broken = arrow.tableFromArrays({ x: Int32Array.from([1]) })
    Object.defineProperty(broken, 'schema', { get: () => { throw new Error('broken schema') } })
    const result = send([{ dataname: 't', data: broken, type: 'table' }])
    assert.ok(result instanceof Promise)
    const err = await rejectsWithCode(result, 'SERIALIZATION')
    assert.equal(err.cause.message, 'broken schema')
  })

  it('IO for a file payload whose file does not exist', async () => {
    const err = await rejectsWithCode(
      send([{ dataname: 'f', data: { path: '/nonexistent/natsbridge/file.bin' }, type: 'binary' }]),
      'IO',
    )
    assert.match(err.message, /file\.bin/)
  })

  it('INVALID_ARGUMENT for malformed payload lists and options', async () => {
    await rejectsWithCode(send('not an array'), 'INVALID_ARGUMENT')
    await rejectsWithCode(send([42]), 'INVALID_ARGUMENT')
    await rejectsWithCode(send([{ data: 'x', type: 'text' }]), 'INVALID_ARGUMENT')
    await rejectsWithCode(send([], 'options'), 'INVALID_ARGUMENT')
    await rejectsWithCode(send([], { sizeThreshold: 'big' }), 'INVALID_ARGUMENT')
    await rejectsWithCode(send([], { sizeThreshold: -1 }), 'INVALID_ARGUMENT')
    await rejectsWithCode(send([], { metadata: 'not an object' }), 'INVALID_ARGUMENT')
    await rejectsWithCode(smartreceive('{"payloads":[]}', { baseDelay: -5 }), 'INVALID_ARGUMENT')
  })

  it('rejects instead of throwing synchronously', () => {
    const result = bridge.send(undefined, undefined)
    assert.ok(result instanceof Promise)
    return rejectsWithCode(result, 'INVALID_ARGUMENT')
  })

  it('PAYLOAD_TOO_LARGE when a payload must go by link and no store exists', async () => {
    const bare = await startServers(['--no-jetstream', '--no-fileserver'])
    try {
      const err = await rejectsWithCode(
        smartsend('big', [{ dataname: 'video', data: Buffer.alloc(2_000_000), type: 'video' }], {
          natsUrl: bare.natsUrl,
        }),
        'PAYLOAD_TOO_LARGE',
      )
      assert.match(err.message, /video/)
    } finally {
      await bare.stop()
    }
  })
})

describe('connecting', () => {
  it('CONNECTION when nothing listens on the port', async () => {
    const port = await closedPort()
    const url = `nats://127.0.0.1:${port}`
    await rejectsWithCode(Bridge.connect(url, { connectTimeout: 2000 }), 'CONNECTION')
    await rejectsWithCode(smartsend('x', [{ dataname: 'm', data: 'x', type: 'text' }], { natsUrl: url }), 'CONNECTION')
  })

  it('INVALID_ARGUMENT for unusable connect options', async () => {
    await rejectsWithCode(Bridge.connect(42), 'INVALID_ARGUMENT')
    await rejectsWithCode(Bridge.connect(servers.natsUrl, { password: 'no user' }), 'INVALID_ARGUMENT')
    await rejectsWithCode(Bridge.connect(servers.natsUrl, { connectTimeout: 'soon' }), 'INVALID_ARGUMENT')
  })
})

describe('the error table', () => {
  // The addon itself, for its test-only export `_throwErrorOfKind`.
  const addon = () => {
    const file = readdirSync(packageDir).find((name) => /^natsbridge\..+\.node$/.test(name))
    assert.ok(file, 'the addon is built')
    return require(join(packageDir, file))
  }

  it('lists every core kind once, with its code, name and C number', () => {
    const kinds = natsbridge.errorKinds()
    assert.ok(kinds.length >= 24)
    assert.equal(new Set(kinds.map((k) => k.code)).size, kinds.length)
    assert.equal(new Set(kinds.map((k) => k.cCode)).size, kinds.length)
    const integrity = kinds.find((k) => k.code === 'INTEGRITY')
    assert.deepEqual(integrity, { code: 'INTEGRITY', name: 'Integrity', cCode: 7, transient: false })
    assert.ok(kinds.some((k) => k.code === 'INTERNAL' && k.cCode === 1000))
    for (const kind of kinds) assert.match(kind.code, /^[A-Z0-9_]+$/)
  })

  it('every kind reaches JS as an Error whose code is the kind', () => {
    const native = addon()
    for (const { code } of natsbridge.errorKinds()) {
      assert.throws(
        () => native._throwErrorOfKind(code),
        (err) => err instanceof Error && err.code === code && err.dataname === 'probe',
        code,
      )
    }
    assert.throws(() => native._throwErrorOfKind('NO_SUCH_KIND'), { code: 'INVALID_ARGUMENT' })
  })
})

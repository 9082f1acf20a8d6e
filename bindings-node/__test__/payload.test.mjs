// Every payload type, both ways: sent by natsbridge and read back by
// natsbridge and by an independent pure-JS reader of the wire format, and
// written by that pure-JS writer and read by natsbridge.
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'

import * as arrow from 'apache-arrow'
import * as nats from 'nats'

import { decodeEnvelope, encodeEnvelope } from '../../benchmarks/node/pure_js_bridge.mjs'
import { natsbridge, require, startServers, subject } from './harness.mjs'

const { Bridge, smartreceive, smartsend } = natsbridge

let servers
let bridge
let scratch

before(async () => {
  servers = await startServers()
  bridge = await Bridge.connect(servers.natsUrl)
  scratch = mkdtempSync(join(tmpdir(), 'natsbridge-payload-'))
})

after(async () => {
  await bridge?.close()
  await servers?.stop()
  if (scratch) rmSync(scratch, { recursive: true, force: true })
})

/** Sends `payloads` with a Bridge and returns what a subscriber decoded, plus what was sent. */
async function roundTrip(payloads, options) {
  const topic = subject('payload')
  const sub = await bridge.subscribe(topic)
  try {
    const sent = await bridge.send(topic, payloads, options)
    const received = await sub.next(10_000)
    return { sent, received }
  } finally {
    await sub.unsubscribe()
  }
}

const bytes = (n, seed = 1) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff))

describe('text', () => {
  it('round-trips Unicode text and describes it as the wire says', async () => {
    const text = 'Hello World — héllo, 世界, 🚀'
    const { sent, received } = await roundTrip([{ dataname: 'message', data: text, type: 'text' }])
    const [payload] = received.payloads
    assert.equal(payload.data, text)
    assert.equal(payload.type, 'text')
    assert.equal(payload.transport, 'direct')
    assert.equal(payload.encoding, 'base64')
    assert.equal(payload.size, Buffer.byteLength(text))
    assert.equal(sent.payloads[0].data, Buffer.from(text).toString('base64'))
    assert.equal(received.msgId, sent.msgId)
  })
})

describe('dictionary', () => {
  for (const [name, value] of [
    ['an object', { wifi_ssid: 'MyNetwork', update_interval: 60, nested: { list: [1, 'two', null, true] } }],
    ['an array', [1, 2, { three: 3 }]],
    ['a number', 42.5],
    ['a string', 'just text'],
    ['a boolean', false],
    ['null', null],
  ]) {
    it(`round-trips ${name}`, async () => {
      const { received } = await roundTrip([{ dataname: 'config', data: value, type: 'dictionary' }])
      assert.deepEqual(received.payloads[0].data, value)
    })
  }

  it('serializes as JSON.stringify does (toJSON, dropped undefined)', async () => {
    const when = new Date(Date.UTC(2026, 10, 25, 10, 0, 0, 123))
    const { received } = await roundTrip([
      { dataname: 'config', data: { when, skipped: undefined, kept: 1 }, type: 'dictionary' },
    ])
    assert.deepEqual(received.payloads[0].data, { when: '2026-11-25T10:00:00.123Z', kept: 1 })
  })
})

describe('table', () => {
  const students = [
    { id: 1, name: 'Alice', score: 95.5 },
    { id: 2, name: 'Bob', score: 88 },
    { id: 3, name: 'Charlie', score: 92.25 },
  ]

  function assertStudents(table) {
    assert.ok(table instanceof arrow.Table, 'a received table is an apache-arrow Table of the caller’s build')
    assert.equal(table.numRows, 3)
    assert.deepEqual(
      table.toArray().map((row) => ({ id: Number(row.id), name: row.name, score: row.score })),
      students,
    )
  }

  it('round-trips an apache-arrow Table (ES module build)', async () => {
    const table = arrow.tableFromArrays({
      id: Int32Array.from([1, 2, 3]),
      name: ['Alice', 'Bob', 'Charlie'],
      score: Float64Array.from([95.5, 88, 92.25]),
    })
    const { received } = await roundTrip([{ dataname: 'students', data: table, type: 'table' }])
    assertStudents(received.payloads[0].data)
    assert.equal(received.payloads[0].data.schema.fields[0].type.bitWidth, 32)
  })

  it('round-trips an apache-arrow Table made by the CommonJS build', async () => {
    const cjsArrow = require('apache-arrow')
    assert.notEqual(cjsArrow.Table, arrow.Table, 'the two builds are separate copies')
    const table = cjsArrow.tableFromArrays({ id: Int32Array.from([1, 2, 3]), name: ['Alice', 'Bob', 'Charlie'] })
    const { received } = await roundTrip([{ dataname: 't', data: table, type: 'table' }])
    const back = received.payloads[0].data
    assert.deepEqual(back.getChild('name').toArray(), ['Alice', 'Bob', 'Charlie'])
  })

  it('builds a table from an array of row objects', async () => {
    const { received } = await roundTrip([{ dataname: 'students', data: students, type: 'table' }])
    assertStudents(received.payloads[0].data)
  })

  it('builds a table from an object of column arrays', async () => {
    const columns = { id: [1, 2, 3], name: ['Alice', 'Bob', 'Charlie'], score: [95.5, 88, 92.25] }
    const { received } = await roundTrip([{ dataname: 'students', data: columns, type: 'table' }])
    assertStudents(received.payloads[0].data)
  })

  it('takes Arrow IPC stream bytes as they are', async () => {
    const ipc = arrow.tableToIPC(arrow.tableFromJSON(students), 'stream')
    const { sent, received } = await roundTrip([{ dataname: 'students', data: ipc, type: 'table' }])
    assert.equal(sent.payloads[0].size, ipc.length)
    assertStudents(received.payloads[0].data)
  })

  it('hands back a Table that reads the received bytes in place', async () => {
    const table = arrow.tableFromArrays({ x: Float64Array.from({ length: 10_000 }, (_, i) => i / 2) })
    const { received } = await roundTrip([{ dataname: 'big', data: table, type: 'table' }])
    const back = received.payloads[0].data
    assert.equal(back.numRows, 10_000)
    assert.equal(back.getChild('x').get(9_999), 9_999 / 2)
  })
})

describe('binary-like types', () => {
  for (const type of ['image', 'audio', 'video', 'binary']) {
    it(`round-trips ${type} bytes given as a Buffer`, async () => {
      const data = bytes(4096, type.length)
      const { received } = await roundTrip([{ dataname: `${type}_data`, data, type }])
      const back = received.payloads[0].data
      assert.ok(Buffer.isBuffer(back))
      assert.ok(back.equals(data))
      assert.equal(received.payloads[0].type, type)
    })
  }

  it('accepts a Uint8Array, an ArrayBuffer, another typed array and a DataView', async () => {
    const source = bytes(64)
    const u8 = new Uint8Array(source)
    const inputs = [
      u8,
      u8.buffer.slice(0),
      new Uint16Array(u8.buffer.slice(0)),
      new DataView(u8.buffer.slice(0), 8, 16),
      u8.subarray(10, 20),
    ]
    const payloads = inputs.map((data, i) => ({ dataname: `b${i}`, data, type: 'binary' }))
    const { received } = await roundTrip(payloads)
    const expected = [source, source, source, source.subarray(8, 24), source.subarray(10, 20)]
    received.payloads.forEach((payload, i) => assert.ok(payload.data.equals(expected[i]), `input ${i}`))
  })

  it('sends an empty binary payload', async () => {
    const { received } = await roundTrip([{ dataname: 'empty', data: Buffer.alloc(0), type: 'binary' }])
    assert.equal(received.payloads[0].data.length, 0)
  })

  it('copies the caller’s bytes, so reusing the buffer after send is safe', async () => {
    const data = Buffer.alloc(1024, 7)
    const topic = subject('reuse')
    const sub = await bridge.subscribe(topic)
    const sending = bridge.send(topic, [{ dataname: 'd', data, type: 'binary' }])
    data.fill(9)
    await sending
    const received = await sub.next(10_000)
    assert.ok(received.payloads[0].data.equals(Buffer.alloc(1024, 7)))
    await sub.unsubscribe()
  })
})

describe('file payloads', () => {
  it('streams a binary payload from {path}', async () => {
    const data = bytes(200_000, 3)
    const path = join(scratch, 'photo.bin')
    writeFileSync(path, data)
    const { received } = await roundTrip([{ dataname: 'photo', data: { path }, type: 'image' }])
    assert.ok(received.payloads[0].data.equals(data))
  })

  it('reads a table from an Arrow IPC file given as {path}', async () => {
    const path = join(scratch, 'table.arrows')
    writeFileSync(path, arrow.tableToIPC(arrow.tableFromJSON([{ a: 1 }, { a: 2 }]), 'stream'))
    const { received } = await roundTrip([{ dataname: 't', data: { path }, type: 'table' }])
    assert.deepEqual(Array.from(received.payloads[0].data.getChild('a').toArray(), Number), [1, 2])
  })
})

describe('mixed payloads and metadata', () => {
  it('keeps order, per-payload metadata and envelope fields', async () => {
    const { sent, received } = await roundTrip(
      [
        { dataname: 'message_text', data: 'Hello!', type: 'text' },
        { dataname: 'config', data: { a: 1 }, type: 'dictionary', metadata: { content_type: 'application/json' } },
        { dataname: 'avatar', data: bytes(100), type: 'image', metadata: { filename: 'a.png' } },
      ],
      {
        correlationId: 'custom-id',
        msgPurpose: 'command',
        senderName: 'node-test',
        receiverName: 'dashboard',
        receiverId: 'r-1',
        replyTo: 'answers.here',
        replyToMsgId: 'm-0',
        metadata: { site: 'plant-2' },
      },
    )
    assert.deepEqual(
      received.payloads.map((p) => p.dataname),
      ['message_text', 'config', 'avatar'],
    )
    assert.deepEqual(received.payloads[1].metadata, { content_type: 'application/json' })
    assert.deepEqual(received.payloads[2].metadata, { filename: 'a.png' })
    assert.equal(received.correlationId, 'custom-id')
    assert.equal(received.msgPurpose, 'command')
    assert.equal(received.senderName, 'node-test')
    assert.equal(received.receiverName, 'dashboard')
    assert.equal(received.receiverId, 'r-1')
    assert.equal(received.replyTo, 'answers.here')
    assert.equal(received.replyToMsgId, 'm-0')
    assert.deepEqual(received.metadata, { site: 'plant-2' })
    assert.equal(received.version, 1)
    assert.equal(received.senderId, sent.senderId)
    assert.match(received.timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
    assert.equal(received.sendTo, sent.sendTo)
    assert.equal(received.brokerUrl, servers.natsUrl)
  })

  it('delivers a payload of a type it does not know as bytes, type unchanged', async () => {
    const envelope = encodeEnvelope('x', [{ dataname: 'holo', data: bytes(10), type: 'binary' }], {}, arrow)
    envelope.payloads[0].type = 'hologram'
    const received = await smartreceive(JSON.stringify(envelope))
    assert.equal(received.payloads[0].type, 'hologram')
    assert.ok(received.payloads[0].data.equals(bytes(10)))
  })
})

describe('both ways with an independent pure-JS implementation of the wire format', () => {
  const all = () => [
    { dataname: 'text', data: 'Hello World', type: 'text' },
    { dataname: 'dict', data: { a: [1, 2], b: 'c' }, type: 'dictionary' },
    { dataname: 'table', data: arrow.tableFromJSON([{ x: 1.5, y: 'a' }, { x: 2.5, y: 'b' }]), type: 'table' },
    ...['image', 'audio', 'video', 'binary'].map((type, i) => ({ dataname: type, data: bytes(300, i), type })),
  ]

  function assertAll(payloads) {
    assert.deepEqual(
      payloads.map((p) => p.type),
      ['text', 'dictionary', 'table', 'image', 'audio', 'video', 'binary'],
    )
    assert.equal(payloads[0].data, 'Hello World')
    assert.deepEqual(payloads[1].data, { a: [1, 2], b: 'c' })
    assert.deepEqual(
      payloads[2].data.toArray().map((r) => [r.x, r.y]),
      [
        [1.5, 'a'],
        [2.5, 'b'],
      ],
    )
    for (let i = 3; i < 7; i++) assert.ok(Buffer.from(payloads[i].data).equals(bytes(300, i - 3)))
  }

  it('natsbridge writes, the pure-JS reader reads (through a nats.js subscriber)', async () => {
    const nc = await nats.connect({ servers: servers.natsUrl })
    try {
      const topic = subject('to-purejs')
      const sub = nc.subscribe(topic, { max: 1 })
      await nc.flush()
      await smartsend(topic, all(), { natsUrl: servers.natsUrl })
      const [msg] = await collect(sub, 1)
      assert.equal(msg.headers.get('Content-Type'), 'application/vnd.natsbridge.envelope+json')
      const envelope = decodeEnvelope(msg.data, arrow)
      assert.equal(msg.headers.get('Nats-Msg-Id'), envelope.msg_id)
      assertAll(envelope.payloads)
    } finally {
      await nc.close()
    }
  })

  it('the pure-JS writer writes, natsbridge reads', async () => {
    const envelope = encodeEnvelope('pure.js', all(), { correlationId: 'pure' }, arrow)
    const received = await smartreceive(Buffer.from(JSON.stringify(envelope)))
    assert.equal(received.correlationId, 'pure')
    assertAll(received.payloads)
  })
})

async function collect(sub, count) {
  const messages = []
  const timer = setTimeout(() => sub.unsubscribe(), 10_000)
  for await (const msg of sub) {
    messages.push(msg)
    if (messages.length === count) break
  }
  clearTimeout(timer)
  assert.equal(messages.length, count, 'messages arrived within 10 s')
  return messages
}

// Interop with programs that use the plain `nats` npm client: they publish
// and subscribe to natsbridge messages with nothing but nats.js and the wire
// format (written here by the independent pure-JS implementation).
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'

import * as arrow from 'apache-arrow'
import * as nats from 'nats'

import { decodeEnvelope, encodeEnvelope } from '../../benchmarks/node/pure_js_bridge.mjs'
import { natsbridge, startServers, subject, withTimeout } from './harness.mjs'

const { Bridge, smartreceive, smartsend } = natsbridge

let servers
let bridge
let nc

before(async () => {
  servers = await startServers()
  bridge = await Bridge.connect(servers.natsUrl)
  nc = await nats.connect({ servers: servers.natsUrl })
})

after(async () => {
  await nc?.close()
  await bridge?.close()
  await servers?.stop()
})

const body = (envelope) => new TextEncoder().encode(JSON.stringify(envelope))

async function first(sub) {
  return withTimeout(
    (async () => {
      for await (const msg of sub) return msg
    })(),
    10_000,
    'a nats.js message',
  )
}

describe('a plain nats.js subscriber', () => {
  it('receives what smartsend publishes, and smartreceive decodes its message object', async () => {
    const topic = subject('js-sub')
    const sub = nc.subscribe(topic, { max: 1 })
    await nc.flush()
    const sent = await smartsend(topic, [{ dataname: 'message', data: 'Hello World', type: 'text' }], {
      natsUrl: servers.natsUrl,
    })
    const msg = await first(sub)
    assert.equal(msg.subject, topic)
    assert.equal(msg.headers.get('Nats-Msg-Id'), sent.msgId)
    const envelope = await smartreceive(msg)
    assert.equal(envelope.payloads[0].data, 'Hello World')
    assert.equal(envelope.subject, topic)
    assert.equal(envelope.msgId, sent.msgId)
    const wire = JSON.parse(new TextDecoder().decode(msg.data))
    assert.equal(wire.msg_id, sent.msgId, 'the wire keeps snake_case')
    assert.equal(wire.payloads[0].data, sent.payloads[0].data)
  })
})

describe('a plain nats.js publisher', () => {
  it('publishes a bare envelope (no headers) that a Bridge subscription decodes', async () => {
    const topic = subject('js-pub')
    const sub = await bridge.subscribe(topic)
    const envelope = encodeEnvelope(
      topic,
      [
        { dataname: 'temperature', data: '25.5', type: 'text' },
        { dataname: 'humidity', data: 65, type: 'dictionary' },
        { dataname: 'readings', data: [{ t: 1, v: 2.5 }], type: 'table' },
      ],
      { senderName: 'nats.js' },
      arrow,
    )
    nc.publish(topic, body(envelope))
    const received = await sub.next(10_000)
    assert.equal(received.senderName, 'nats.js')
    assert.equal(received.payloads[0].data, '25.5')
    assert.equal(received.payloads[1].data, 65)
    assert.equal(received.payloads[2].data.get(0).v, 2.5)
    await sub.unsubscribe()
  })
})

describe('request / reply across clients', () => {
  it('a Bridge answers a nats.js request on its NATS reply inbox', async () => {
    const topic = subject('js-request')
    const sub = await bridge.subscribe(topic)
    const answering = (async () => {
      const request = await sub.next(10_000)
      assert.ok(request.natsReply, 'the request carries its NATS reply subject')
      await bridge.reply(request, [{ dataname: 'answer', data: { ok: true }, type: 'dictionary' }])
      return request
    })()
    const requestEnvelope = encodeEnvelope(topic, [{ dataname: 'q', data: 'ping', type: 'text' }], {}, arrow)
    const response = await nc.request(topic, body(requestEnvelope), { timeout: 10_000 })
    await answering
    const reply = decodeEnvelope(response.data, arrow)
    assert.deepEqual(reply.payloads[0].data, { ok: true })
    assert.equal(reply.reply_to_msg_id, requestEnvelope.msg_id)
    assert.equal(reply.correlation_id, requestEnvelope.correlation_id)
    assert.equal(reply.msg_purpose, 'response')
    await sub.unsubscribe()
  })

  it('Bridge.request gets its answer from a nats.js responder', async () => {
    const topic = subject('js-respond')
    const responder = nc.subscribe(topic, { max: 1 })
    const responding = (async () => {
      const msg = await first(responder)
      const request = decodeEnvelope(msg.data, arrow)
      const answer = encodeEnvelope(
        request.reply_to || msg.reply,
        [{ dataname: 'data', data: { sensor_id: 'sensor-001', value: 42.5 }, type: 'dictionary' }],
        { replyToMsgId: request.msg_id, correlationId: request.correlation_id, msgPurpose: 'response' },
        arrow,
      )
      msg.respond(body(answer))
    })()
    await nc.flush()
    const reply = await bridge.request(topic, [{ dataname: 'command', data: { action: 'read_sensor' }, type: 'dictionary' }], {
      timeout: 10_000,
    })
    await responding
    assert.deepEqual(reply.payloads[0].data, { sensor_id: 'sensor-001', value: 42.5 })
  })

  it('replying to a nats.js message decoded with smartreceive uses its reply subject', async () => {
    const topic = subject('js-msg-reply')
    const sub = nc.subscribe(topic, { max: 1 })
    const answering = (async () => {
      const envelope = await smartreceive(await first(sub))
      assert.equal(envelope.subject, topic)
      await bridge.reply(envelope, [{ dataname: 'pong', data: 'pong', type: 'text' }])
    })()
    await nc.flush()
    const requestEnvelope = encodeEnvelope(topic, [{ dataname: 'ping', data: 'ping', type: 'text' }], {}, arrow)
    const response = await nc.request(topic, body(requestEnvelope), { timeout: 10_000 })
    await answering
    assert.equal(decodeEnvelope(response.data, arrow).payloads[0].data, 'pong')
  })
})

// JetStream durable consumption (issue 19 item 1) against a real nats-server:
// what was not acknowledged comes back, and only that, to the same durable
// name; deliver-from all / new / a sequence / a Date; nak with a delay
// redelivers after it; term does not; bad options are typed errors.
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, before, beforeEach, describe, it } from 'node:test'

import { natsbridge, rejectsWithCode, sleep, startServers } from './harness.mjs'

const { Bridge, DurableSubscription, JetStreamMessage } = natsbridge
const WAIT = 10_000

describe('Bridge.durableSubscribe', () => {
  let servers
  let bridge
  let stream
  let prefix
  before(async () => {
    servers = await startServers()
    bridge = await Bridge.connect(servers.natsUrl)
  })
  after(async () => {
    await bridge?.close()
    await servers?.stop()
  })
  beforeEach(async () => {
    const tag = randomUUID().replaceAll('-', '').slice(0, 10)
    stream = `NODEDUR_${tag.toUpperCase()}`
    prefix = `dur.${tag}`
    await bridge.ensureStream(stream, [`${prefix}.>`], { replicas: 1 })
  })

  async function publish(topic, numbers) {
    for (const n of numbers) {
      const sent = await bridge.send(topic, [{ dataname: 'n', data: String(n), type: 'text' }], { jetstream: true })
      assert.ok(sent.streamSequence > 0)
    }
  }
  const number = (message) => Number(message.envelope.payloads[0].data)

  it('gives what was not acknowledged, and only that, to the same durable name (delivery count 2)', async () => {
    await publish(`${prefix}.a`, [0, 1, 2, 3, 4, 5])
    const first = await Bridge.connect(servers.natsUrl)
    const sub = await first.durableSubscribe(null, { stream, durable: 'node-worker', ackWait: 1000 })
    assert.ok(sub instanceof DurableSubscription)
    for (let expected = 0; expected < 6; expected++) {
      const message = await sub.next(WAIT)
      assert.ok(message instanceof JetStreamMessage)
      assert.deepEqual([number(message), message.deliveryCount, message.streamSequence], [expected, 1, expected + 1])
      assert.equal(message.envelope.subject, `${prefix}.a`)
      if (expected % 2 === 0) await message.ack()
    }
    await sub.unsubscribe()
    assert.equal(await sub.next(100), null, 'next() after unsubscribe() is null')
    await first.close()

    const second = await Bridge.connect(servers.natsUrl)
    try {
      const again = await second.durableSubscribe(null, { stream, durable: 'node-worker', ackWait: 1000 })
      const seen = []
      for (let i = 0; i < 3; i++) {
        const message = await again.next(WAIT)
        seen.push([number(message), message.deliveryCount])
        await message.ack()
      }
      assert.deepEqual(
        seen.sort((a, b) => a[0] - b[0]),
        [
          [1, 2],
          [3, 2],
          [5, 2],
        ],
      )
      await rejectsWithCode(again.next(1500), 'TIMEOUT')
    } finally {
      await second.close()
    }
  })

  it('delivers from all, a sequence, only new ones, or a Date; the subject filters', async () => {
    await publish(`${prefix}.a`, [0, 1, 2, 3])
    const all = await bridge.durableSubscribe(`${prefix}.>`, { stream, deliver: 'all' })
    assert.equal(number(await all.next(WAIT)), 0)
    const third = await bridge.durableSubscribe(null, { stream, deliver: 3 })
    const message = await third.next(WAIT)
    assert.deepEqual([number(message), message.streamSequence], [2, 3])
    const sameThird = await bridge.durableSubscribe(null, { stream, deliver: '3' })
    assert.equal((await sameThird.next(WAIT)).streamSequence, 3)
    const fresh = await bridge.durableSubscribe(null, { stream, deliver: 'new' })
    await rejectsWithCode(fresh.next(500), 'TIMEOUT')
    await publish(`${prefix}.a`, [4])
    assert.equal(number(await fresh.next(WAIT)), 4)
    await sleep(50)
    const since = new Date()
    await sleep(50)
    await publish(`${prefix}.b`, [5])
    const later = await bridge.durableSubscribe(null, { stream, deliver: since })
    assert.equal(number(await later.next(WAIT)), 5)
    const onlyB = await bridge.durableSubscribe(`${prefix}.b`, { stream })
    assert.equal(number(await onlyB.next(WAIT)), 5)
    const byOption = await bridge.durableSubscribe(null, { stream, filterSubject: `${prefix}.b` })
    assert.equal(number(await byOption.next(WAIT)), 5)
    for (const sub of [all, third, sameThird, fresh, later, onlyB, byOption]) await sub.unsubscribe()
  })

  it('nak with a delay delivers again after it; term never again', async () => {
    await publish(`${prefix}.a`, [0, 1])
    const sub = await bridge.durableSubscribe(null, { stream, durable: 'settle', ackWait: 30_000 })
    const zero = await sub.next(WAIT)
    const one = await sub.next(WAIT)
    const started = Date.now()
    await zero.nak(800)
    await one.term()
    const again = await sub.next(WAIT)
    assert.ok(Date.now() - started >= 700, `redelivered after ${Date.now() - started} ms`)
    assert.deepEqual([number(again), again.deliveryCount], [0, 2])
    await again.ack()
    await rejectsWithCode(sub.next(1500), 'TIMEOUT')
    await sub.unsubscribe()
  })

  it('is an async iterable; leaving the loop stops pulling', async () => {
    await publish(`${prefix}.a`, [0, 1, 2])
    const sub = await bridge.durableSubscribe(null, { stream, durable: 'iterate', ackWait: 1000 })
    const seen = []
    for await (const message of sub) {
      seen.push(number(message))
      await message.ack()
      if (seen.length === 3) break
    }
    assert.deepEqual(seen, [0, 1, 2])
    assert.equal(await sub.next(100), null)
  })

  it('unsubscribe() ends a next() that is waiting', async () => {
    const sub = await bridge.durableSubscribe(null, { stream })
    const waiting = sub.next()
    await sleep(200)
    await sub.unsubscribe()
    assert.equal(await waiting, null)
  })

  it('refuses bad options with typed errors', async () => {
    for (const options of [
      { stream, deliver: 'yesterday' },
      { stream, deliver: 0 },
      { stream, deliver: -3 },
      { stream, deliver: new Date(Number.NaN) },
      { stream, ackWait: 0 },
      { stream, ackWait: -5 },
      { stream, ackWait: 'soon' },
      { stream, durable: '' },
      { stream, deliver: 'last_ack' }, // resuming needs a durable name
      { stream, filterSubject: `${prefix}.a` }, // differs from the subject below
      { stream, queue: 'q' }, // a subscribe option, not a consume one
      { stream, ack_wait: 10 }, // snake_case
      {}, // no stream
    ]) {
      await rejectsWithCode(bridge.durableSubscribe(`${prefix}.b`, options), 'INVALID_ARGUMENT')
    }
    await rejectsWithCode(bridge.durableSubscribe(null, { stream: `NO_SUCH_${stream}` }), 'JETSTREAM')
    await rejectsWithCode(
      bridge.durableSubscribe(null, { stream, durable: 'never-made', deliver: 'last_ack' }),
      'JETSTREAM',
    )
    await rejectsWithCode(bridge.ensureStream(`${stream}_ZERO`, 'zero.x', { replicas: 0 }), 'INVALID_ARGUMENT')
    await rejectsWithCode(bridge.ensureStream(`${stream}_HALF`, 'half.x', { replicas: 1.5 }), 'INVALID_ARGUMENT')
    await rejectsWithCode(bridge.ensureStream(`${stream}_BAD`, 42), 'INVALID_ARGUMENT')
    // A single server cannot keep three copies.
    await rejectsWithCode(bridge.ensureStream(`${stream}_THREE`, 'three.x', { replicas: 3 }), 'JETSTREAM')
    await publish(`${prefix}.a`, [0])
    const sub = await bridge.durableSubscribe(null, { stream })
    const message = await sub.next(WAIT)
    await rejectsWithCode(message.nak(-1), 'INVALID_ARGUMENT')
    await rejectsWithCode(sub.next(-1), 'INVALID_ARGUMENT')
    await sub.unsubscribe()
  })
})

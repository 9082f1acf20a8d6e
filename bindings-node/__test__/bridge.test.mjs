// The long-lived Bridge: subscriptions as async iterators, queue groups,
// request / reply, concurrent sends, close() and exiting by itself.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { after, before, describe, it } from 'node:test'

import * as arrow from 'apache-arrow'

import { encodeEnvelope } from '../../benchmarks/node/pure_js_bridge.mjs'
import { natsbridge, packageDir, rejectsWithCode, startServers, subject, withTimeout } from './harness.mjs'

const { Bridge, Subscription } = natsbridge

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

const text = (data, dataname = 'message') => [{ dataname, data, type: 'text' }]

describe('connect', () => {
  it('exposes the broker URL, max_payload and closed state', async () => {
    assert.equal(bridge.brokerUrl, servers.natsUrl)
    assert.equal(bridge.maxPayload, 1024 * 1024)
    assert.equal(bridge.closed, false)
  })

  it('strips credentials from brokerUrl', async () => {
    const withToken = await startServers(['--token', 's3cret', '--no-fileserver'])
    try {
      const url = withToken.natsUrl.replace('nats://', 'nats://s3cret@')
      const authed = await Bridge.connect(url)
      assert.equal(authed.brokerUrl, withToken.natsUrl)
      const sent = await authed.send(subject('auth'), text('hi'))
      assert.equal(sent.brokerUrl, withToken.natsUrl)
      await authed.close()
      await rejectsWithCode(Bridge.connect(withToken.natsUrl, { token: 'wrong', connectTimeout: 2000 }), 'AUTH')
    } finally {
      await withToken.stop()
    }
  })

  it('cannot be constructed directly', () => {
    assert.throws(() => new Bridge(), TypeError)
  })
})

describe('subscribe', () => {
  it('iterates envelopes with for await, in order, and unsubscribes on break', async () => {
    const topic = subject('iter')
    const sub = await bridge.subscribe(topic)
    assert.ok(sub instanceof Subscription)
    for (let i = 0; i < 5; i++) await bridge.send(topic, text(`m${i}`))
    const seen = []
    await withTimeout(
      (async () => {
        for await (const envelope of sub) {
          seen.push(envelope.payloads[0].data)
          assert.equal(envelope.subject, topic)
          if (seen.length === 5) break
        }
      })(),
      10_000,
      'five envelopes',
    )
    assert.deepEqual(seen, ['m0', 'm1', 'm2', 'm3', 'm4'])
    assert.equal(await sub.next(), null, 'leaving the loop unsubscribed')
  })

  it('matches wildcards', async () => {
    const base = subject('wild')
    const sub = await bridge.subscribe(`${base}.*`)
    await bridge.send(`${base}.a`, text('a'))
    const envelope = await sub.next(10_000)
    assert.equal(envelope.sendTo, `${base}.a`)
    await sub.unsubscribe()
  })

  it('accepts the single-token subject /chat/room1', async () => {
    const sub = await bridge.subscribe('/chat/room1')
    await bridge.send('/chat/room1', text('Hello World'))
    assert.equal((await sub.next(10_000)).payloads[0].data, 'Hello World')
    await sub.unsubscribe()
  })

  it('shares messages across a queue group', async () => {
    const topic = subject('queue')
    const members = await Promise.all([1, 2].map(() => bridge.subscribe(topic, { queue: 'workers' })))
    for (let i = 0; i < 20; i++) await bridge.send(topic, text(`job${i}`))
    await bridge.flush()
    const counts = await Promise.all(
      members.map(async (member) => {
        let count = 0
        try {
          while (await member.next(300)) count += 1
        } catch (err) {
          assert.equal(err.code, 'TIMEOUT')
        }
        return count
      }),
    )
    assert.equal(counts[0] + counts[1], 20, 'each job delivered once')
    await Promise.all(members.map((m) => m.unsubscribe()))
  })

  it('next(timeoutMs) rejects with TIMEOUT when nothing comes', async () => {
    const sub = await bridge.subscribe(subject('quiet'))
    const started = Date.now()
    await rejectsWithCode(sub.next(100), 'TIMEOUT')
    assert.ok(Date.now() - started < 5_000)
    await sub.unsubscribe()
  })

  it('a bad message rejects next() with its code and the subscription goes on', async () => {
    const topic = subject('bad-then-good')
    const sub = await bridge.subscribe(topic)
    const nc = await (await import('nats')).connect({ servers: servers.natsUrl })
    nc.publish(topic, new TextEncoder().encode('not json'))
    await nc.flush()
    await nc.close()
    await rejectsWithCode(sub.next(10_000), 'MALFORMED_ENVELOPE')
    await bridge.send(topic, text('fine'))
    assert.equal((await sub.next(10_000)).payloads[0].data, 'fine')
    await sub.unsubscribe()
  })

  it('keeps order through a burst with a bad message in the middle', async () => {
    const topic = subject('burst')
    const sub = await bridge.subscribe(topic)
    const nc = await (await import('nats')).connect({ servers: servers.natsUrl })
    try {
      // One connection publishes all seven, so they arrive in this order.
      const envelope = (data) =>
        JSON.stringify(encodeEnvelope(topic, [{ dataname: 'message', data, type: 'text' }], {}, arrow))
      for (let i = 0; i < 3; i++) nc.publish(topic, envelope(`before${i}`))
      nc.publish(topic, '{"version":1}')
      for (let i = 0; i < 3; i++) nc.publish(topic, envelope(`after${i}`))
      await nc.flush()
      // Let the whole burst arrive, so it is handed over together.
      await new Promise((ok) => setTimeout(ok, 100))
      const seen = []
      for (let i = 0; i < 3; i++) seen.push((await sub.next(5_000)).payloads[0].data)
      await rejectsWithCode(sub.next(5_000), 'MALFORMED_ENVELOPE')
      for (let i = 0; i < 3; i++) seen.push((await sub.next(5_000)).payloads[0].data)
      assert.deepEqual(seen, ['before0', 'before1', 'before2', 'after0', 'after1', 'after2'])
    } finally {
      await nc.close()
      await sub.unsubscribe()
    }
  })

  it('unsubscribe ends a pending next()', async () => {
    const sub = await bridge.subscribe(subject('pending'))
    const pending = sub.next()
    await sub.unsubscribe()
    assert.equal(await withTimeout(pending, 5_000, 'pending next'), null)
  })

  // The one rule after unsubscribe, the same in every front end.
  it('unsubscribe drops what had arrived; drain delivers it, then ends', async () => {
    const first = subject('rule-unsubscribe')
    const dropped = await bridge.subscribe(first)
    for (let i = 0; i < 5; i++) await bridge.send(first, text(`m${i}`))
    await bridge.flush()
    assert.equal((await dropped.next(5_000)).payloads[0].data, 'm0')
    await dropped.unsubscribe()
    assert.equal(await dropped.next(1_000), null, 'what had arrived is dropped')
    assert.equal(await dropped.next(1_000), null)

    const second = subject('rule-drain')
    const drained = await bridge.subscribe(second)
    for (let i = 0; i < 5; i++) await bridge.send(second, text(`m${i}`))
    await bridge.flush()
    await drained.drain()
    await bridge.send(second, text('after the drain'))
    const seen = []
    for await (const envelope of drained) seen.push(envelope.payloads[0].data)
    assert.deepEqual(seen, ['m0', 'm1', 'm2', 'm3', 'm4'])
    assert.equal(await drained.next(1_000), null)
  })

  it('timeouts lose nothing, and concurrentReceives keeps arrival order', async () => {
    const topic = subject('concurrent')
    const sub = await bridge.subscribe(topic, { concurrentReceives: 4 })
    await rejectsWithCode(sub.next(0), 'TIMEOUT')
    for (let i = 0; i < 20; i++) await bridge.send(topic, text(`m${i}`))
    const seen = []
    while (seen.length < 20) {
      try {
        seen.push((await sub.next(1)).payloads[0].data)
      } catch (err) {
        assert.equal(err.code, 'TIMEOUT')
      }
    }
    assert.deepEqual(seen, Array.from({ length: 20 }, (_, i) => `m${i}`))
    await sub.unsubscribe()
    await rejectsWithCode(bridge.subscribe(topic, { concurrentReceives: 0 }), 'INVALID_ARGUMENT')
  })
})

describe('request and reply', () => {
  it('answers a request through reply(), carrying correlation id and msg id', async () => {
    const topic = subject('rpc')
    const responderSub = await bridge.subscribe(topic)
    const responding = (async () => {
      const request = await responderSub.next(10_000)
      assert.equal(request.payloads[0].data.action, 'read_sensor')
      const sent = await bridge.reply(request, [
        { dataname: 'data', data: { sensor_id: 'sensor-001', value: 42.5 }, type: 'dictionary' },
      ])
      assert.equal(sent.msgPurpose, 'response')
      return request
    })()
    const reply = await bridge.request(
      topic,
      [{ dataname: 'command', data: { action: 'read_sensor' }, type: 'dictionary' }],
      { correlationId: 'corr-7', timeout: 10_000 },
    )
    const request = await responding
    assert.deepEqual(reply.payloads[0].data, { sensor_id: 'sensor-001', value: 42.5 })
    assert.equal(reply.replyToMsgId, request.msgId)
    assert.equal(reply.correlationId, 'corr-7')
    await responderSub.unsubscribe()
  })

  it('replies on an explicit replyTo subject', async () => {
    const topic = subject('cmd')
    const answers = subject('answers')
    const commands = await bridge.subscribe(topic)
    const answerSub = await bridge.subscribe(answers)
    await bridge.send(topic, text('ping'), { replyTo: answers })
    const request = await commands.next(10_000)
    assert.equal(request.replyTo, answers)
    await bridge.reply(request, text('pong'))
    const answer = await answerSub.next(10_000)
    assert.equal(answer.payloads[0].data, 'pong')
    assert.equal(answer.replyToMsgId, request.msgId)
    await commands.unsubscribe()
    await answerSub.unsubscribe()
  })

  it('rejects with NO_RESPONDERS when nobody listens, and TIMEOUT when nobody answers', async () => {
    await rejectsWithCode(bridge.request(subject('nobody'), text('?'), { timeout: 5_000 }), 'NO_RESPONDERS')
    const topic = subject('silent')
    const silent = await bridge.subscribe(topic)
    await rejectsWithCode(bridge.request(topic, text('?'), { timeout: 200 }), 'TIMEOUT')
    await silent.unsubscribe()
  })

  it('rejects reply() to an envelope with nowhere to reply', async () => {
    await rejectsWithCode(bridge.reply({ msgId: 'x', replyTo: '' }, text('?')), 'INVALID_ARGUMENT')
    await rejectsWithCode(bridge.reply('not an envelope', text('?')), 'INVALID_ARGUMENT')
  })
})

describe('concurrency', () => {
  it('runs many sends at once without losing or mixing messages', async () => {
    const topic = subject('concurrent')
    const sub = await bridge.subscribe(topic)
    const count = 500
    const sent = await Promise.all(
      Array.from({ length: count }, (_, i) =>
        bridge.send(topic, [
          { dataname: 'i', data: String(i), type: 'text' },
          { dataname: 'blob', data: Buffer.alloc(1000, i & 0xff), type: 'binary' },
        ]),
      ),
    )
    assert.equal(new Set(sent.map((s) => s.msgId)).size, count)
    const seen = new Set()
    while (seen.size < count) {
      const envelope = await sub.next(10_000)
      const i = Number(envelope.payloads[0].data)
      assert.ok(envelope.payloads[1].data.equals(Buffer.alloc(1000, i & 0xff)), `payloads of message ${i}`)
      seen.add(i)
    }
    await sub.unsubscribe()
  })

  it('keeps the event loop free while a call waits in the core', async () => {
    const topic = subject('loop')
    const sub = await bridge.subscribe(topic)
    const started = Date.now()
    const waiting = sub.next(2_000).catch((err) => err.code)
    const timerFired = await new Promise((ok) => setTimeout(() => ok(Date.now() - started), 20))
    assert.ok(timerFired < 1_000, `a 20 ms timer fired after ${timerFired} ms while next() waited`)
    await bridge.send(topic, text('late'))
    assert.equal((await waiting).payloads[0].data, 'late')
    await sub.unsubscribe()
  })
})

describe('close', () => {
  it('makes later calls reject with CLOSED and ends subscriptions', async () => {
    const own = await Bridge.connect(servers.natsUrl)
    const sub = await own.subscribe(subject('closing'))
    const pending = sub.next()
    await own.close()
    assert.equal(own.closed, true)
    assert.equal(await withTimeout(pending, 5_000, 'pending next after close'), null)
    await rejectsWithCode(own.send(subject('x'), text('late')), 'CLOSED')
    await rejectsWithCode(own.subscribe(subject('x')), 'CLOSED')
    await rejectsWithCode(own.request(subject('x'), text('late')), 'CLOSED')
    await rejectsWithCode(own.flush(), 'CLOSED')
    await rejectsWithCode(own.receive(Buffer.from('{"payloads":[]}')), 'CLOSED')
    await own.close()
  })

  it('lets the process exit by itself after close(), handlers and subscriptions included', async () => {
    const script = `
      const { Bridge, smartsend } = require(${JSON.stringify(packageDir)})
      ;(async () => {
        const bridge = await Bridge.connect(process.argv[1])
        const sub = await bridge.subscribe('exit.test', {
          fileserverDownloadHandler: async () => Buffer.alloc(1_100_000),
        })
        const waiting = sub.next()
        await bridge.send('exit.test', [{ dataname: 'b', data: Buffer.alloc(1_100_000), type: 'binary' }], {
          fileserverUploadHandler: (base, name) => 'memory://' + name,
        })
        const got = await waiting
        await smartsend('exit.test', [{ dataname: 'm', data: 'pooled', type: 'text' }], { natsUrl: process.argv[1] })
        await bridge.close()
        console.log('closed', got.payloads[0].transport)
      })().catch((err) => { console.error(err); process.exit(3) })
    `
    const child = spawn(process.execPath, ['-e', script, servers.natsUrl], { stdio: ['ignore', 'pipe', 'inherit'] })
    let output = ''
    child.stdout.on('data', (chunk) => (output += chunk))
    const code = await withTimeout(
      new Promise((ok) => child.once('exit', ok)),
      15_000,
      'the child process to exit by itself',
    ).catch((err) => {
      child.kill('SIGKILL')
      throw err
    })
    assert.equal(code, 0)
    assert.equal(output.trim(), 'closed link')
  })
})

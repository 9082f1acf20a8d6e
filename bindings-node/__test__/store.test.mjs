// Link transport (claim-check stores, wire-v1 section 5) from Node: the HTTP
// file server, the default JetStream Object Store, and JS upload / download
// handlers (sync, async, throwing).
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'

import * as arrow from 'apache-arrow'
import * as nats from 'nats'

import { natsbridge, rejectsWithCode, startServers, subject } from './harness.mjs'

const { Bridge, smartreceive, smartsend } = natsbridge

let servers
let bridge
let scratch

before(async () => {
  servers = await startServers()
  bridge = await Bridge.connect(servers.natsUrl)
  scratch = mkdtempSync(join(tmpdir(), 'natsbridge-store-'))
})

after(async () => {
  await bridge?.close()
  await servers?.stop()
  if (scratch) rmSync(scratch, { recursive: true, force: true })
})

const big = (n, seed = 0) => {
  const data = Buffer.allocUnsafe(n)
  for (let i = 0; i < n; i++) data[i] = (i * 7 + seed) & 0xff
  return data
}
const sha256 = (bytes) => createHash('sha256').update(bytes).digest('hex')

/** A TCP port nothing listens on. */
async function closedPort() {
  const server = createServer()
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok))
  const { port } = server.address()
  await new Promise((ok) => server.close(ok))
  return port
}

async function sendAndReceive(payloads, sendOptions, receiveOptions) {
  const topic = subject('store')
  const sub = await bridge.subscribe(topic, receiveOptions)
  try {
    const sent = await bridge.send(topic, payloads, sendOptions)
    const received = await sub.next(30_000)
    return { sent, received }
  } finally {
    await sub.unsubscribe()
  }
}

describe('HTTP file server', () => {
  it('sends a 2 MB binary as a link and fetches it back', async () => {
    const data = big(2_000_000)
    const { sent, received } = await sendAndReceive([{ dataname: 'large_document', data, type: 'binary' }], {
      fileserverUrl: servers.fileserverUrl,
    })
    const [link] = sent.payloads
    assert.equal(link.transport, 'link')
    assert.equal(link.encoding, 'url')
    assert.ok(link.data.startsWith(`${servers.fileserverUrl}/`), link.data)
    assert.equal(link.sha256, sha256(data))
    assert.equal(received.payloads[0].transport, 'link')
    assert.ok(received.payloads[0].data.equals(data))
  })

  it('mixes direct and link payloads in one message, and honours sizeThreshold', async () => {
    const table = arrow.tableFromArrays({ x: Float64Array.from({ length: 10_000 }, (_, i) => i) })
    const { sent, received } = await sendAndReceive(
      [
        { dataname: 'note', data: 'small', type: 'text' },
        { dataname: 'table', data: table, type: 'table' },
      ],
      { fileserverUrl: servers.fileserverUrl, sizeThreshold: 50_000 },
    )
    assert.deepEqual(
      sent.payloads.map((p) => p.transport),
      ['direct', 'link'],
    )
    assert.equal(received.payloads[0].data, 'small')
    assert.equal(received.payloads[1].data.numRows, 10_000)
    assert.equal(received.payloads[1].data.getChild('x').get(9_999), 9_999)
  })

  it('works with the function-style API and a plain nats.js subscriber', async () => {
    const nc = await nats.connect({ servers: servers.natsUrl })
    try {
      const topic = subject('fn-link')
      const sub = nc.subscribe(topic, { max: 1 })
      await nc.flush()
      const data = big(1_500_000, 3)
      await smartsend(topic, [{ dataname: 'file', data, type: 'binary' }], {
        natsUrl: servers.natsUrl,
        fileserverUrl: servers.fileserverUrl,
      })
      const msg = await nextMessage(sub)
      const envelope = await smartreceive(msg)
      assert.ok(envelope.payloads[0].data.equals(data))
    } finally {
      await nc.close()
    }
  })

  it('writes link payloads to saveDir and delivers {path}', async () => {
    const data = big(1_200_000, 5)
    const { received } = await sendAndReceive(
      [{ dataname: 'video', data, type: 'video' }],
      { fileserverUrl: servers.fileserverUrl },
      { saveDir: scratch },
    )
    const { path } = received.payloads[0].data
    assert.ok(path.startsWith(scratch), path)
    assert.ok(readFileSync(path).equals(data))
  })

  it('rejects with UPLOAD when the file server port is closed, and publishes nothing', async () => {
    const port = await closedPort()
    const topic = subject('upload-fail')
    const sub = await bridge.subscribe(topic)
    const err = await rejectsWithCode(
      bridge.send(topic, [{ dataname: 'file', data: big(1_100_000), type: 'binary' }], {
        fileserverUrl: `http://127.0.0.1:${port}`,
      }),
      'UPLOAD',
    )
    assert.match(err.message, /file/)
    await rejectsWithCode(sub.next(300), 'TIMEOUT')
    await sub.unsubscribe()
  })

  it('rejects with DOWNLOAD after bounded retries when a link points at a closed port', async () => {
    const port = await closedPort()
    const sent = await smartsend('unused.subject', [{ dataname: 'f', data: big(1_000_000), type: 'binary' }], {
      natsUrl: servers.natsUrl,
      fileserverUploadHandler: (_base, dataname) => `http://127.0.0.1:${port}/x/${dataname}`,
    })
    const envelope = toWire(sent)
    const started = Date.now()
    await rejectsWithCode(smartreceive(JSON.stringify(envelope), { maxRetries: 2, baseDelay: 10, maxDelay: 50 }), 'DOWNLOAD')
    assert.ok(Date.now() - started < 10_000, 'gave up in bounded time')
  })
})

describe('JetStream Object Store (the default store)', () => {
  it('sends a link through the Object Store when no fileserverUrl is given', async () => {
    const data = big(3_000_000, 9)
    const { sent, received } = await sendAndReceive([{ dataname: 'blob', data, type: 'binary' }])
    assert.match(sent.payloads[0].data, /^nats-object:\/\/natsbridge\//)
    assert.ok(received.payloads[0].data.equals(data))
  })

  it('smartreceive fetches nats-object links over the pooled connection', async () => {
    const topic = subject('objstore-fn')
    const nc = await nats.connect({ servers: servers.natsUrl })
    try {
      const sub = nc.subscribe(topic, { max: 1 })
      await nc.flush()
      const data = big(1_000_000, 11)
      await smartsend(topic, [{ dataname: 'blob', data, type: 'audio' }], { natsUrl: servers.natsUrl })
      const envelope = await smartreceive(await nextMessage(sub), { natsUrl: servers.natsUrl })
      assert.equal(envelope.payloads[0].transport, 'link')
      assert.ok(envelope.payloads[0].data.equals(data))
    } finally {
      await nc.close()
    }
  })
})

describe('JS upload and download handlers', () => {
  /** An in-memory claim-check store made of two JS handlers. */
  function memoryStore() {
    const objects = new Map()
    const calls = []
    return {
      objects,
      calls,
      upload(fileserverUrl, dataname, data) {
        calls.push(['upload', fileserverUrl, dataname, data.length])
        const url = `memory://store/${objects.size}/${dataname}`
        objects.set(url, Buffer.from(data))
        return url
      },
      download(url, maxRetries, baseDelay, maxDelay) {
        calls.push(['download', url, maxRetries, baseDelay, maxDelay])
        return objects.get(url)
      },
    }
  }

  it('calls synchronous handlers with the original design’s arguments', async () => {
    const store = memoryStore()
    const data = big(1_000_001)
    const { sent, received } = await sendAndReceive(
      [{ dataname: 'doc', data, type: 'binary' }],
      { fileserverUrl: 'http://files.example', fileserverUploadHandler: store.upload },
      { fileserverDownloadHandler: store.download, maxRetries: 3, baseDelay: 20, maxDelay: 400 },
    )
    assert.equal(sent.payloads[0].data, 'memory://store/0/doc')
    assert.ok(received.payloads[0].data.equals(data))
    assert.deepEqual(store.calls, [
      ['upload', 'http://files.example', 'doc', 1_000_001],
      ['download', 'memory://store/0/doc', 3, 20, 400],
    ])
  })

  it('awaits handlers that return Promises', async () => {
    const store = memoryStore()
    const data = big(1_000_000, 2)
    const { received } = await sendAndReceive(
      [{ dataname: 'doc', data, type: 'binary' }],
      {
        fileserverUploadHandler: async (...args) => {
          await new Promise((ok) => setTimeout(ok, 20))
          return store.upload(...args)
        },
      },
      {
        fileserverDownloadHandler: async (url) => {
          await new Promise((ok) => setTimeout(ok, 20))
          return new Uint8Array(store.objects.get(url))
        },
      },
    )
    assert.ok(received.payloads[0].data.equals(data))
    assert.equal(store.calls[0][1], '', 'without fileserverUrl the handler gets an empty base URL')
  })

  for (const [kind, makeHandler] of [
    ['throws', (error) => () => {
      throw error
    }],
    ['rejects', (error) => async () => {
      throw error
    }],
  ]) {
    it(`an upload handler that ${kind} rejects the send with HANDLER and the error as cause`, async () => {
      const thrown = new RangeError('the bucket is full')
      const err = await rejectsWithCode(
        smartsend(subject('h'), [{ dataname: 'doc', data: big(1_000_000), type: 'binary' }], {
          natsUrl: servers.natsUrl,
          fileserverUploadHandler: makeHandler(thrown),
        }),
        'HANDLER',
      )
      assert.equal(err.cause, thrown)
      assert.match(err.message, /doc/)
      assert.match(err.message, /the bucket is full/)
      assert.equal(err.dataname, 'doc')
    })

    it(`a download handler that ${kind} rejects the receive with HANDLER and the error as cause`, async () => {
      const store = memoryStore()
      const sent = await smartsend('unused', [{ dataname: 'doc', data: big(1_000_000), type: 'binary' }], {
        natsUrl: servers.natsUrl,
        fileserverUploadHandler: store.upload,
      })
      const thrown = new Error('cannot reach the store')
      const err = await rejectsWithCode(
        smartreceive(JSON.stringify(toWire(sent)), { fileserverDownloadHandler: makeHandler(thrown) }),
        'HANDLER',
      )
      assert.equal(err.cause, thrown)
    })
  }

  it('checks what a download handler returns: wrong bytes give INTEGRITY', async () => {
    const store = memoryStore()
    const sent = await smartsend('unused', [{ dataname: 'doc', data: big(1_000_000), type: 'binary' }], {
      natsUrl: servers.natsUrl,
      fileserverUploadHandler: store.upload,
    })
    await rejectsWithCode(
      smartreceive(JSON.stringify(toWire(sent)), { fileserverDownloadHandler: () => big(1_000_000, 99) }),
      'INTEGRITY',
    )
  })

  it('rejects with HANDLER when an upload handler returns no URL string', async () => {
    await rejectsWithCode(
      smartsend('unused', [{ dataname: 'doc', data: big(1_000_000), type: 'binary' }], {
        natsUrl: servers.natsUrl,
        fileserverUploadHandler: () => 42,
      }),
      'HANDLER',
    )
  })
})

/** The wire envelope (snake_case) of a SentEnvelope, as a pure-JS receiver would see it. */
function toWire(sent) {
  return {
    version: sent.version,
    correlation_id: sent.correlationId,
    msg_id: sent.msgId,
    timestamp: sent.timestamp,
    send_to: sent.sendTo,
    msg_purpose: sent.msgPurpose,
    sender_name: sent.senderName,
    sender_id: sent.senderId,
    receiver_name: sent.receiverName,
    receiver_id: sent.receiverId,
    reply_to: sent.replyTo,
    reply_to_msg_id: sent.replyToMsgId,
    broker_url: sent.brokerUrl,
    metadata: sent.metadata,
    payloads: sent.payloads,
  }
}

async function nextMessage(sub) {
  const timer = setTimeout(() => sub.unsubscribe(), 30_000)
  try {
    for await (const msg of sub) return msg
    throw new Error('no message within 30 s')
  } finally {
    clearTimeout(timer)
  }
}

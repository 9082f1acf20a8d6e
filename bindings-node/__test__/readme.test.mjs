// The JavaScript examples of the original design's README, run as written.
//
// Each snippet is in readme-examples/, copied verbatim from
// shared/original-design/NATSBridge-README.md with one change: the require
// path './src/NATSBridge' became 'natsbridge' (the first test checks the
// copies against the README when it is there). A snippet runs in its own
// Node process, as a user's script would, inside an async function (the
// snippets use top-level await). What a snippet uses but does not define
// (`msg`, `subject`, `data`, `largeData`, `image_data`, `large_file_data`,
// `customUploadHandler`, `customDownloadHandler`, and `smartsend` for the
// two snippets without a require) comes from a short prelude written here.
//
// The snippets hard-code nats://localhost:4222 (or use that default) and
// http://localhost:8080: those ports are forwarded to the harness's
// nats-server and file server.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync } from 'node:fs'
import { createConnection, createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'

import { natsbridge, packageDir, startServers, withTimeout, workspaceDir } from './harness.mjs'

const { Bridge } = natsbridge
const examplesDir = join(packageDir, '__test__', 'readme-examples')
const readmePath = join(workspaceDir, '..', 'shared', 'original-design', 'NATSBridge-README.md')

/** Forwards `port` on loopback (IPv4, and IPv6 when available) to `targetPort`. */
async function forward(port, targetPort) {
  const listeners = []
  const sockets = new Set()
  const track = (socket) => {
    sockets.add(socket)
    socket.once('close', () => sockets.delete(socket))
  }
  const make = () =>
    createServer((socket) => {
      const upstream = createConnection({ host: '127.0.0.1', port: targetPort })
      track(socket)
      track(upstream)
      socket.pipe(upstream).pipe(socket)
      // A side that goes away takes the other with it (a server may keep a
      // half-closed keep-alive connection open for minutes otherwise).
      socket.once('close', () => upstream.destroy())
      upstream.once('close', () => socket.destroy())
      socket.on('error', () => upstream.destroy())
      upstream.on('error', () => socket.destroy())
    })
  for (const host of ['127.0.0.1', '::1']) {
    const server = make()
    try {
      await new Promise((ok, fail) => {
        server.once('error', fail)
        server.listen(port, host, ok)
      })
      listeners.push(server)
    } catch (err) {
      if (host === '127.0.0.1') {
        await Promise.all(listeners.map((s) => new Promise((ok) => s.close(ok))))
        throw err
      }
    }
  }
  return {
    close() {
      for (const socket of sockets) socket.destroy()
      return Promise.all(listeners.map((s) => new Promise((ok) => s.close(ok))))
    },
  }
}

const servers = await startServers()
const forwards = []
let skipReason = false
try {
  forwards.push(await forward(4222, servers.natsPort))
  forwards.push(await forward(8080, new URL(servers.fileserverUrl).port))
} catch (err) {
  skipReason = `the README examples hard-code localhost:4222 and localhost:8080, and one is in use here (${err.code})`
}
const bridge = await Bridge.connect(servers.natsUrl)
const nodePath = mkdtempSync(join(tmpdir(), 'natsbridge-readme-'))
symlinkSync(packageDir, join(nodePath, 'natsbridge'))

after(async () => {
  await bridge.close()
  await Promise.all(forwards.map((f) => f.close()))
  await servers.stop()
  rmSync(nodePath, { recursive: true, force: true })
})

/** What every snippet may use without defining it. */
const commonPrelude = `
const { smartsend, smartreceive } = require('natsbridge')
const bytes = (n, seed) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 13 + seed) & 0xff))
const handlerCalls = []
/** A message as a nats.js subscriber receives it, carrying these payloads. */
async function incomingMessage(payloads, options) {
  const nats = require('nats')
  const nc = await nats.connect({ servers: 'localhost:4222' })
  const sub = nc.subscribe('readme.incoming', { max: 1 })
  await nc.flush()
  await smartsend('readme.incoming', payloads, options)
  let received
  for await (const m of sub) received = m
  await nc.close()
  return received
}
`

/** Runs one snippet in a fresh Node process; resolves to its stdout. */
async function runExample(file, { prelude = '', epilogue = '' } = {}) {
  const snippet = readFileSync(join(examplesDir, file), 'utf8')
  const script = `;(async () => {\n${commonPrelude}\n${prelude}\n{\n${snippet}\n${epilogue}\n}\n})().catch((err) => { console.error(err); process.exit(1) })\n`
  const child = spawn(process.execPath, ['-e', script], {
    env: { ...process.env, NODE_PATH: [nodePath, join(packageDir, 'node_modules')].join(':') },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk) => (stdout += chunk))
  child.stderr.on('data', (chunk) => (stderr += chunk))
  const code = await withTimeout(new Promise((ok) => child.once('exit', ok)), 30_000, `${file} to exit by itself`).catch(
    (err) => {
      child.kill('SIGKILL')
      throw err
    },
  )
  assert.equal(code, 0, `${file} exited with ${code}:\n${stderr}`)
  return stdout
}

/** Runs a snippet while subscribed to `subject`; resolves to the envelope it sent there. */
async function runAndReceive(file, subject, options) {
  const sub = await bridge.subscribe(subject)
  try {
    const stdout = await runExample(file, options)
    const envelope = await sub.next(10_000)
    return { stdout, envelope }
  } finally {
    await sub.unsubscribe()
  }
}

describe('the README copies', () => {
  it('are the README’s JavaScript blocks with only the require path changed', { skip: !existsSync(readmePath) && 'the original README is not beside this checkout' }, () => {
    const readme = readFileSync(readmePath, 'utf8')
    const blocks = [...readme.matchAll(/```javascript\n([\s\S]*?)```/g)].map((m) =>
      m[1].replaceAll("require('./src/NATSBridge')", "require('natsbridge')"),
    )
    const copies = readdirSync(examplesDir)
      .sort()
      .map((file) => readFileSync(join(examplesDir, file), 'utf8'))
    assert.deepEqual(copies, blocks)
  })
})

describe('the README JavaScript examples, run as written', { skip: skipReason }, () => {
  it('Installation: the require line', async () => {
    const stdout = await runExample('00-installation.js', { epilogue: 'console.log(typeof smartsend, typeof smartreceive)' })
    assert.equal(stdout.trim(), 'function function')
  })

  it('Quick start step 3: send a text message', async () => {
    const { stdout, envelope } = await runAndReceive('01-quick-start-send.js', '/chat/room1')
    assert.equal(stdout.trim(), 'Message sent!')
    assert.equal(envelope.payloads[0].dataname, 'message')
    assert.equal(envelope.payloads[0].data, 'Hello World')
    assert.equal(envelope.brokerUrl, 'nats://localhost:4222')
  })

  it('Quick start step 4: receive and process a message', async () => {
    const stdout = await runExample('02-quick-start-receive.js', {
      prelude: `const msg = await incomingMessage([{ dataname: 'message', data: 'Hello World', type: 'text' }])`,
    })
    assert.equal(stdout.trim(), 'Received message: Hello World')
  })

  it('API reference: smartsend with every option and a custom upload handler', async () => {
    const { envelope } = await runAndReceive('03-api-smartsend.js', '/api/smartsend', {
      prelude: `
        const subject = '/api/smartsend'
        const data = [
          { dataname: 'note', data: 'see attachment', type: 'text' },
          { dataname: 'attachment', data: bytes(1_500_000, 1), type: 'binary' },
        ]
        const customUploadHandler = async (fileserverUrl, dataname, body) => {
          const url = fileserverUrl + '/custom/' + dataname
          const response = await fetch(url, { method: 'PUT', body })
          if (!response.ok) throw new Error('upload failed: ' + response.status)
          return url
        }`,
    })
    assert.equal(envelope.correlationId, 'custom-id')
    assert.equal(envelope.senderName, 'NATSBridge')
    assert.equal(envelope.payloads[0].data, 'see attachment')
    assert.equal(envelope.payloads[1].transport, 'link')
    const expected = Buffer.from(Array.from({ length: 1_500_000 }, (_, i) => (i * 13 + 1) & 0xff))
    assert.ok(envelope.payloads[1].data.equals(expected))
  })

  it('API reference: smartreceive with a custom download handler and backoff options', async () => {
    const stdout = await runExample('04-api-smartreceive.js', {
      prelude: `
        const msg = await incomingMessage(
          [{ dataname: 'attachment', data: bytes(1_200_000, 2), type: 'binary' }],
          { fileserverUrl: 'http://localhost:8080' },
        )
        const customDownloadHandler = async (url, maxRetries, baseDelay, maxDelay) => {
          handlerCalls.push([maxRetries, baseDelay, maxDelay])
          return Buffer.from(await (await fetch(url)).arrayBuffer())
        }`,
      epilogue: `console.log(JSON.stringify({
        dataname: envelope.payloads[0].dataname,
        size: envelope.payloads[0].data.length,
        ok: envelope.payloads[0].data.equals(bytes(1_200_000, 2)),
        handlerCalls,
      }))`,
    })
    assert.deepEqual(JSON.parse(stdout), {
      dataname: 'attachment',
      size: 1_200_000,
      ok: true,
      handlerCalls: [[5, 100, 5000]],
    })
  })

  it('Direct transport', async () => {
    const { envelope } = await runAndReceive('05-direct-transport.js', '/topic')
    assert.equal(envelope.payloads[0].transport, 'direct')
    assert.equal(envelope.payloads[0].data, 'Hello')
  })

  it('Link transport', async () => {
    const { envelope } = await runAndReceive('06-link-transport.js', '/topic', {
      prelude: 'const largeData = bytes(2_000_000, 3)',
    })
    assert.equal(envelope.payloads[0].transport, 'link')
    assert.ok(envelope.payloads[0].data.equals(Buffer.from(Array.from({ length: 2_000_000 }, (_, i) => (i * 13 + 3) & 0xff))))
  })

  it('Example 1: chat with mixed content', async () => {
    const { envelope } = await runAndReceive('07-example1-mixed-content.js', '/chat/room1', {
      prelude: 'const image_data = bytes(5_000, 4)\nconst large_file_data = bytes(2_500_000, 5)',
    })
    assert.deepEqual(
      envelope.payloads.map((p) => [p.dataname, p.type, p.transport]),
      [
        ['message_text', 'text', 'direct'],
        ['user_avatar', 'image', 'direct'],
        ['large_document', 'binary', 'link'],
      ],
    )
    assert.equal(envelope.payloads[2].data.length, 2_500_000)
  })

  it('Example 2: dictionary exchange', async () => {
    const { envelope } = await runAndReceive('08-example2-dictionary.js', '/device/config')
    assert.deepEqual(envelope.payloads[0].data, {
      wifi_ssid: 'MyNetwork',
      wifi_password: 'password123',
      update_interval: 60,
    })
  })

  it('Example 3: table data (Arrow IPC)', async () => {
    const { envelope } = await runAndReceive('09-example3-table.js', '/data/analysis')
    const table = envelope.payloads[0].data
    assert.equal(table.numRows, 3)
    assert.deepEqual(
      table.toArray().map((r) => [Number(r.id), r.name, Number(r.score)]),
      [
        [1, 'Alice', 95],
        [2, 'Bob', 88],
        [3, 'Charlie', 92],
      ],
    )
  })

  it('Example 4: requester', async () => {
    const { envelope } = await runAndReceive('10-example4-requester.js', '/device/command')
    assert.equal(envelope.replyTo, '/device/response')
    assert.deepEqual(envelope.payloads[0].data, { action: 'read_sensor' })
  })

  it('Example 4: responder', async () => {
    const { envelope } = await runAndReceive('11-example4-responder.js', '/device/response', {
      prelude: `const msg = await incomingMessage(
        [{ dataname: 'command', data: { action: 'read_sensor' }, type: 'dictionary' }],
        { replyTo: '/device/response' },
      )`,
    })
    assert.deepEqual(envelope.payloads[0].data, { sensor_id: 'sensor-001', value: 42.5 })
  })

  it('Example 5: receiver of IoT sensor data', async () => {
    const stdout = await runExample('12-example5-receiver.js', {
      prelude: `const msg = await incomingMessage([
        { dataname: 'temperature', data: '25.5', type: 'text' },
        { dataname: 'humidity', data: 65, type: 'dictionary' },
      ])`,
    })
    assert.equal(stdout.trim(), 'Temperature: 25.5\nHumidity: 65')
  })
})

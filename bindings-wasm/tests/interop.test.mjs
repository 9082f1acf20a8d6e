// natsbridge in real Chromium: the page (the wasm codec and the ESM layer,
// loaded from the package's bundle by a plain <script type="module">) talks
// to the Rust core (the natsbridge CLI) over one nats-server: NATS over
// WebSocket for the page, TCP for the CLI. Every payload type both ways,
// links through the file server (CORS, from another origin) and the
// JetStream Object Store, request/reply both ways, error codes, the size cap.
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { tableFromArrays, tableFromIPC, tableToIPC } from 'apache-arrow'
import {
  inPage, launchBrowser, makeSite, openTestPage, runCli, serveStatic, startCli, startServers, subject,
} from './harness.mjs'

let servers
let capped
let site
let origin
let browser
let page
let work

before(async () => {
  site = makeSite()
  origin = await serveStatic(site.dir)
  // The file server answers CORS only for the page's origin.
  servers = await startServers(['--cors-origin', origin.url])
  // A server with a small max_payload, no JetStream and no file server: the size cap.
  capped = await startServers(['--max-payload', '100000', '--no-jetstream', '--no-fileserver'])
  browser = await launchBrowser()
  page = await openTestPage(browser, origin.url)
  work = mkdtempSync(join(tmpdir(), 'natsbridge-browser-test-'))
})

after(async () => {
  if (browser?.logs.length) console.log(browser.logs.join('\n'))
  await browser?.close()
  await servers?.stop()
  await capped?.stop()
  await origin?.close()
  site?.remove()
  if (work) rmSync(work, { recursive: true, force: true })
})

/** Runs `fn(nb, arg)` in the page and returns its value; a page-side error fails the test with its code. */
async function run(fn, arg) {
  const result = await inPage(page, fn, arg)
  if (result.error) throw new Error(`page: ${result.error.code}: ${result.error.message}`)
  return result.value
}

/** Runs `fn` in the page and returns the error it must throw (`{ code, message, dataname }`). */
async function runError(fn, arg) {
  const result = await inPage(page, fn, arg)
  assert.ok(result.error, `expected the page call to fail, it returned ${JSON.stringify(result.value)}`)
  return result.error
}

const studentsIpc = () =>
  tableToIPC(tableFromArrays({ id: Int32Array.from([1, 2, 3]), name: ['Alice', 'Bob', 'Carol'] }), 'stream')

test('the page loads the package bundle and the wasm codec', async () => {
  const version = await run((nb) => nb.version())
  const expected = readFileSync(join(import.meta.dirname, '..', '..', 'Cargo.toml'), 'utf8').match(/^version = "(.+)"/m)[1]
  assert.equal(version, expected)
})

describe('page -> Rust core', () => {
  test('every payload type sent from the page is decoded by the CLI', async () => {
    const subj = subject('types')
    const listener = startCli(['listen', subj, '--json', '--count', '1', '--server', servers.natsUrl])
    await listener.ready
    const sent = await run(
      async (nb, { wsUrl, subj }) => {
        const table = nb.arrow.tableFromArrays({ id: Int32Array.from([1, 2, 3]), name: ['Alice', 'Bob', 'Carol'] })
        const env = await nb.smartsend(subj, [
          { dataname: 'message', data: 'Hello from Chromium ✓', type: 'text' },
          { dataname: 'config', data: { update_interval: 60, tags: ['a', null, true] }, type: 'dictionary' },
          { dataname: 'students', data: table, type: 'table' },
          { dataname: 'rows', data: [{ x: 1.5, ok: true }, { x: 2.5, ok: false }], type: 'table' },
          { dataname: 'avatar', data: new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0, 255]), type: 'image', metadata: { content_type: 'image/png' } },
          { dataname: 'clip', data: new Uint8Array([1, 2, 3]).buffer, type: 'audio' },
          { dataname: 'movie', data: new Uint16Array([513]), type: 'video' },
          { dataname: 'blob', data: new Uint8Array(0), type: 'binary' },
        ], { natsUrl: wsUrl, msgPurpose: 'telemetry', senderName: 'chromium' })
        return { msgId: env.msgId, brokerUrl: env.brokerUrl, transports: env.payloads.map((p) => p.transport) }
      },
      { wsUrl: servers.wsUrl, subj },
    )
    assert.deepEqual(sent.transports, Array(8).fill('direct'))
    assert.equal(sent.brokerUrl, servers.wsUrl)
    const [line] = await listener.waitLines(1)
    const got = JSON.parse(line)
    assert.equal(got.msg_id, sent.msgId)
    assert.equal(got.msg_purpose, 'telemetry')
    assert.equal(got.sender_name, 'chromium')
    assert.equal(got.send_to, subj)
    const byName = Object.fromEntries(got.payloads.map((p) => [p.dataname, p]))
    assert.equal(byName.message.data ?? byName.message.value, 'Hello from Chromium ✓')
    const value = (p) => p.value ?? p.data
    assert.deepEqual(value(byName.config), { update_interval: 60, tags: ['a', null, true] })
    const students = tableFromIPC(Buffer.from(value(byName.students), 'base64'))
    assert.deepEqual(students.toArray().map((r) => [r.id, r.name]), [[1, 'Alice'], [2, 'Bob'], [3, 'Carol']])
    const rows = tableFromIPC(Buffer.from(value(byName.rows), 'base64'))
    assert.deepEqual(rows.toArray().map((r) => [r.x, r.ok]), [[1.5, true], [2.5, false]])
    assert.deepEqual([...Buffer.from(value(byName.avatar), 'base64')], [0x89, 0x50, 0x4e, 0x47, 0, 255])
    assert.equal(byName.avatar.metadata.content_type, 'image/png')
    assert.deepEqual([...Buffer.from(value(byName.clip), 'base64')], [1, 2, 3])
    assert.deepEqual([...Buffer.from(value(byName.movie), 'base64')], [1, 2])
    assert.equal(Buffer.from(value(byName.blob), 'base64').length, 0)
    assert.deepEqual(got.payloads.map((p) => p.type), ['text', 'dictionary', 'table', 'table', 'image', 'audio', 'video', 'binary'])
  })

  test('a large payload goes by link to the file server (cross-origin PUT, CORS) and the CLI downloads it', async () => {
    const subj = subject('fslink')
    const saveDir = join(work, 'fslink')
    const listener = startCli(['listen', subj, '--json', '--count', '1', '--save-dir', saveDir, '--server', servers.natsUrl])
    await listener.ready
    const sent = await run(
      async (nb, { wsUrl, subj, fileserverUrl }) => {
        const big = new Uint8Array(2_500_000)
        for (let i = 0; i < big.length; i++) big[i] = (i * 31 + 7) & 255
        const env = await nb.smartsend(subj, [
          { dataname: 'report.bin', data: big, type: 'binary' },
          { dataname: 'note', data: 'small one', type: 'text' },
        ], { natsUrl: wsUrl, fileserverUrl })
        return env.payloads.map((p) => ({ transport: p.transport, data: p.transport === 'link' ? p.data : '', sha256: p.sha256 }))
      },
      { wsUrl: servers.wsUrl, subj, fileserverUrl: servers.fileserverUrl },
    )
    assert.equal(sent[0].transport, 'link')
    assert.ok(sent[0].data.startsWith(`${servers.fileserverUrl}/`), sent[0].data)
    assert.equal(sent[1].transport, 'direct')
    await listener.waitLines(1)
    const expected = Buffer.alloc(2_500_000)
    for (let i = 0; i < expected.length; i++) expected[i] = (i * 31 + 7) & 255
    assert.equal(sent[0].sha256, createHash('sha256').update(expected).digest('hex'))
    const saved = readdirSync(saveDir).find((name) => name.endsWith('report.bin'))
    assert.ok(saved, `no report.bin in ${readdirSync(saveDir)}`)
    assert.ok(readFileSync(join(saveDir, saved)).equals(expected))
  })

  test('without a file server, a large payload goes to the JetStream Object Store (@nats-io/obj) and the CLI reads it', async () => {
    const subj = subject('objlink')
    const saveDir = join(work, 'objlink')
    const listener = startCli(['listen', subj, '--json', '--count', '1', '--save-dir', saveDir, '--server', servers.natsUrl])
    await listener.ready
    const sent = await run(
      async (nb, { wsUrl, subj }) => {
        const big = new Uint8Array(1_500_000).fill(42)
        const bridge = await nb.Bridge.connect(wsUrl)
        const env = await bridge.send(subj, [{ dataname: 'big', data: big, type: 'binary' }])
        await bridge.close()
        return env.payloads[0]
      },
      { wsUrl: servers.wsUrl, subj },
    )
    assert.equal(sent.transport, 'link')
    assert.match(sent.data, /^nats-object:\/\/natsbridge\//)
    await listener.waitLines(1)
    const saved = readdirSync(saveDir).find((name) => name.endsWith('big'))
    assert.ok(readFileSync(join(saveDir, saved)).equals(Buffer.alloc(1_500_000, 42)))
  })
})

describe('Rust core -> page', () => {
  /** Subscribes in the page, runs the CLI `send`, returns what the page received (bytes as arrays, tables as rows). */
  async function receiveInPage(subj, cliArgs, receiveOptions = {}) {
    await run(
      async (nb, { wsUrl, subj }) => {
        window.bridge ??= await nb.Bridge.connect(wsUrl)
        window.subs ??= {}
        window.subs[subj] = await window.bridge.subscribe(subj)
      },
      { wsUrl: servers.wsUrl, subj },
    )
    await runCli(['send', subj, '--server', servers.natsUrl, ...cliArgs])
    return run(
      async (nb, { subj, receiveOptions }) => {
        const env = await window.subs[subj].next(20_000)
        await window.subs[subj].unsubscribe()
        const plain = (p) => {
          let data = p.data
          if (data instanceof Uint8Array) data = { bytes: data.length <= 64 ? Array.from(data) : null, length: data.length, first: data[0], last: data[data.length - 1] }
          else if (data && typeof data === 'object' && typeof data.numRows === 'number' && data.schema) {
            data = { rows: data.toArray().map((row) => row.toJSON()), fields: data.schema.fields.map((f) => f.name) }
          }
          return { ...p, data }
        }
        void receiveOptions
        return { ...env, payloads: env.payloads.map(plain) }
      },
      { subj, receiveOptions },
    )
  }

  test('every payload type the CLI sends arrives in the page as native values', async () => {
    const subj = subject('fromcli')
    const arrowFile = join(work, 'scores.arrow')
    writeFileSync(arrowFile, studentsIpc())
    const files = { 'pic.png': [137, 80, 78, 71], 'sound.wav': [9, 8], 'film.mp4': [7], 'data.bin': [0, 1, 2, 255] }
    for (const [name, bytes] of Object.entries(files)) writeFileSync(join(work, name), Buffer.from(bytes))
    const env = await receiveInPage(subj, [
      '--text', 'message=Hello from Rust ✓',
      '--json-payload', 'config={"update_interval": 60, "nested": {"a": [1, 2.5]}}',
      '--file', `${arrowFile}:table`,
      '--file', `${join(work, 'pic.png')}:image`,
      '--file', `${join(work, 'sound.wav')}:audio`,
      '--file', `${join(work, 'film.mp4')}:video`,
      '--file', `${join(work, 'data.bin')}:binary`,
      '--sender-name', 'rust-cli',
    ])
    assert.equal(env.senderName, 'rust-cli')
    assert.equal(env.sendTo, subj)
    assert.equal(env.subject, subj)
    const byName = Object.fromEntries(env.payloads.map((p) => [p.dataname, p]))
    assert.equal(byName.message.data, 'Hello from Rust ✓')
    assert.deepEqual(byName.config.data, { update_interval: 60, nested: { a: [1, 2.5] } })
    assert.deepEqual(byName['scores.arrow'].data.rows, [{ id: 1, name: 'Alice' }, { id: 2, name: 'Bob' }, { id: 3, name: 'Carol' }])
    assert.deepEqual(byName['pic.png'].data.bytes, files['pic.png'])
    assert.equal(byName['pic.png'].type, 'image')
    assert.deepEqual(byName['sound.wav'].data.bytes, files['sound.wav'])
    assert.deepEqual(byName['film.mp4'].data.bytes, files['film.mp4'])
    assert.deepEqual(byName['data.bin'].data.bytes, files['data.bin'])
    assert.equal(byName['data.bin'].transport, 'direct')
  })

  test('a link through the file server is fetched by the page across origins (CORS)', async () => {
    const subj = subject('clifslink')
    const big = join(work, 'big.bin')
    const bytes = randomBytes(1_200_000)
    writeFileSync(big, bytes)
    const env = await receiveInPage(subj, ['--file', `${big}:binary`, '--fileserver-url', servers.fileserverUrl])
    const payload = env.payloads[0]
    assert.equal(payload.transport, 'link')
    assert.equal(payload.size, bytes.length)
    assert.equal(payload.sha256, createHash('sha256').update(bytes).digest('hex'))
    assert.deepEqual([payload.data.length, payload.data.first, payload.data.last], [bytes.length, bytes[0], bytes[bytes.length - 1]])
  })

  test('a link in the Object Store is read by the page over its WebSocket connection', async () => {
    const subj = subject('cliobjlink')
    const big = join(work, 'big2.bin')
    const bytes = randomBytes(1_100_000)
    writeFileSync(big, bytes)
    const env = await receiveInPage(subj, ['--file', `${big}:binary`])
    const payload = env.payloads[0]
    assert.equal(payload.transport, 'link')
    assert.equal(payload.encoding, 'url')
    assert.deepEqual([payload.data.length, payload.data.first, payload.data.last], [bytes.length, bytes[0], bytes[bytes.length - 1]])
  })
})

describe('request / reply with the Rust core', () => {
  test('the page requests, `natsbridge respond` answers', async () => {
    const subj = subject('respond')
    const responder = startCli(['respond', subj, '--json-payload', 'data={"value": 42.5}', '--server', servers.natsUrl])
    await responder.ready
    try {
      const reply = await run(
        async (nb, { wsUrl, subj }) => {
          const bridge = await nb.Bridge.connect(wsUrl)
          const request = [{ dataname: 'command', data: { action: 'read_sensor' }, type: 'dictionary' }]
          const env = await bridge.request(subj, request, { timeout: 10_000, correlationId: 'corr-browser-1' })
          await bridge.close()
          return env
        },
        { wsUrl: servers.wsUrl, subj },
      )
      assert.deepEqual(reply.payloads[0].data, { value: 42.5 })
      assert.equal(reply.correlationId, 'corr-browser-1')
      assert.equal(reply.msgPurpose, 'response')
      assert.notEqual(reply.replyToMsgId, '')
    } finally {
      responder.stop()
    }
  })

  test('`natsbridge request` asks, the page replies', async () => {
    const subj = subject('pagereply')
    await run(
      async (nb, { wsUrl, subj }) => {
        const bridge = await nb.Bridge.connect(wsUrl)
        const sub = await bridge.subscribe(subj)
        window.responderDone = (async () => {
          for await (const request of sub) {
            await bridge.reply(request, [{ dataname: 'echo', data: `got ${request.payloads[0].data}`, type: 'text' }])
            break
          }
          await bridge.close()
        })()
      },
      { wsUrl: servers.wsUrl, subj },
    )
    const out = await runCli(['request', subj, '--text', 'q=ping', '--json', '--timeout', '10', '--server', servers.natsUrl])
    const reply = JSON.parse(out)
    const echo = reply.payloads.find((p) => p.dataname === 'echo')
    assert.equal(echo.value ?? echo.data, 'got ping')
    assert.equal(reply.msg_purpose, 'response')
    await run(() => window.responderDone)
  })

  test('a request nobody answers fails with NO_RESPONDERS, a slow one with TIMEOUT', async () => {
    const error = await runError(
      async (nb, { wsUrl, subj }) => {
        const bridge = await nb.Bridge.connect(wsUrl)
        try {
          await bridge.request(subj, [{ dataname: 'q', data: 'x', type: 'text' }], { timeout: 3000 })
        } finally {
          await bridge.close()
        }
      },
      { wsUrl: servers.wsUrl, subj: subject('nobody') },
    )
    assert.equal(error.code, 'NO_RESPONDERS')
    const slow = await runError(
      async (nb, { wsUrl, subj }) => {
        const bridge = await nb.Bridge.connect(wsUrl)
        const silent = await bridge.subscribe(subj)
        try {
          await bridge.request(subj, [{ dataname: 'q', data: 'x', type: 'text' }], { timeout: 300 })
        } finally {
          await silent.unsubscribe()
          await bridge.close()
        }
      },
      { wsUrl: servers.wsUrl, subj: subject('silent') },
    )
    assert.equal(slow.code, 'TIMEOUT')
  })
})

describe('errors carry the core codes', () => {
  test('bad envelopes', async () => {
    const results = await run(async (nb) => {
      const good = JSON.stringify({
        version: 1, msg_id: 'm1', payloads: [{ dataname: 't', type: 'text', transport: 'direct', encoding: 'base64', size: 5, data: 'aGVsbG8=' }],
      })
      const cases = {
        truncated: good.slice(0, 30),
        notEnvelope: '[1,2]',
        noPayloads: '{"version":1}',
        version2: '{"version":2,"payloads":[]}',
        badBase64: good.replace('aGVsbG8=', 'aGVsbG8*'),
        sizeMismatch: good.replace('"size":5', '"size":6'),
        shaMismatch: good.replace('"size":5', `"size":5,"sha256":"${'0'.repeat(64)}"`),
        badUtf8: JSON.stringify({ payloads: [{ dataname: 't', type: 'text', transport: 'direct', size: 2, data: btoa('\xc3\x28') }] }),
        badJson: JSON.stringify({ payloads: [{ dataname: 'd', type: 'dictionary', transport: 'direct', size: 2, data: btoa('{x') }] }),
        badTable: JSON.stringify({ payloads: [{ dataname: 'tb', type: 'table', transport: 'direct', size: 4, data: btoa('nope') }] }),
        fileLink: JSON.stringify({ payloads: [{ dataname: 'f', type: 'binary', transport: 'link', encoding: 'url', size: 1, sha256: 'a'.repeat(64), data: 'file:///etc/passwd' }] }),
        metadataLink: JSON.stringify({ payloads: [{ dataname: 'f', type: 'binary', transport: 'link', encoding: 'url', size: 1, sha256: 'a'.repeat(64), data: 'http://169.254.169.254/latest/meta-data/' }] }),
        linkNoSha: JSON.stringify({ payloads: [{ dataname: 'f', type: 'binary', transport: 'link', encoding: 'url', size: 1, data: 'http://127.0.0.1:1/x' }] }),
      }
      const out = {}
      for (const [name, body] of Object.entries(cases)) {
        try {
          await nb.smartreceive(new TextEncoder().encode(body))
          out[name] = 'no error'
        } catch (err) {
          out[name] = `${err.code}${err.dataname ? `:${err.dataname}` : ''}`
        }
      }
      return out
    })
    assert.deepEqual(results, {
      truncated: 'MALFORMED_ENVELOPE',
      notEnvelope: 'MALFORMED_ENVELOPE',
      noPayloads: 'MALFORMED_ENVELOPE',
      version2: 'UNSUPPORTED_VERSION',
      badBase64: 'INVALID_BASE64:t',
      sizeMismatch: 'INTEGRITY:t',
      shaMismatch: 'INTEGRITY:t',
      badUtf8: 'INVALID_UTF8:t',
      badJson: 'INVALID_JSON:d',
      badTable: 'INVALID_TABLE:tb',
      fileLink: 'URL_NOT_ALLOWED:f',
      metadataLink: 'URL_NOT_ALLOWED:f',
      linkNoSha: 'MALFORMED_ENVELOPE:f',
    })
  })

  test('large direct payloads are hashed by the page and checked by the codec: a wrong digest is INTEGRITY', async () => {
    const results = await run(async (nb) => {
      // Over the codec's host-digest size (16 KiB): WebCrypto hashes, the codec compares.
      const big = new Uint8Array(20_000).map((_, i) => (i * 7) % 256)
      const text = 'é'.repeat(10_000)
      const wire = (await nb.encodeDirect('digest.test', [
        { dataname: 'b', data: big, type: 'binary' },
        { dataname: 't', data: text, type: 'text' },
      ], { directSha256: true })).wire
      const back = await nb.smartreceive(wire)
      const out = {
        same: back.payloads[0].data.length === big.length && back.payloads[0].data.every((b, i) => b === big[i]) && back.payloads[1].data === text,
        sha256: back.payloads.map((p) => p.sha256.length),
      }
      const codeOf = async (body) => {
        try {
          await nb.smartreceive(body)
          return 'no error'
        } catch (err) {
          return `${err.code}${err.dataname ? `:${err.dataname}` : ''}`
        }
      }
      const env = JSON.parse(new TextDecoder().decode(wire))
      // A sender's sha256 that does not match the bytes.
      const badSha = structuredClone(env)
      badSha.payloads[1].sha256 = '0'.repeat(64)
      out.badSha = await codeOf(JSON.stringify(badSha))
      // Bytes changed after hashing (the first byte of the base64 text).
      const tampered = structuredClone(env)
      tampered.payloads[0].data = (tampered.payloads[0].data[0] === 'A' ? 'B' : 'A') + tampered.payloads[0].data.slice(1)
      out.tampered = await codeOf(JSON.stringify(tampered))
      // Invalid UTF-8 whose sha256 is right: the digest passes, the text does not.
      const badUtf8 = new Uint8Array(20_000).fill(0xff)
      const sha = Array.from(new Uint8Array(await crypto.subtle.digest('SHA-256', badUtf8)), (b) => b.toString(16).padStart(2, '0')).join('')
      out.badUtf8 = await codeOf(JSON.stringify({ payloads: [{ dataname: 'u', type: 'text', transport: 'direct', size: 20_000, sha256: sha, data: btoa(String.fromCharCode(...badUtf8)) }] }))
      // The host itself giving a wrong digest is still the codec's INTEGRITY.
      const digest = crypto.subtle.digest
      crypto.subtle.digest = async () => new ArrayBuffer(32)
      try {
        out.wrongHostDigest = await codeOf(wire)
      } finally {
        crypto.subtle.digest = digest
      }
      out.afterRestore = (await nb.smartreceive(wire)).payloads.length
      return out
    })
    assert.deepEqual(results, {
      same: true,
      sha256: [64, 64],
      badSha: 'INTEGRITY:t',
      tampered: 'INTEGRITY:b',
      badUtf8: 'INVALID_UTF8:u',
      wrongHostDigest: 'INTEGRITY:b',
      afterRestore: 2,
    })
  })

  test('a link whose bytes were changed on the file server fails with INTEGRITY; a missing one with DOWNLOAD', async () => {
    const subj = subject('tamper')
    const sent = await run(
      async (nb, { wsUrl, subj, fileserverUrl }) => {
        const env = await nb.smartsend(subj, [{ dataname: 'doc', data: new Uint8Array(5000).fill(1), type: 'binary' }], { natsUrl: wsUrl, fileserverUrl, sizeThreshold: 1000 })
        window.tamperWire = JSON.stringify({ version: 1, payloads: env.payloads })
        return env.payloads[0]
      },
      { wsUrl: servers.wsUrl, subj, fileserverUrl: servers.fileserverUrl },
    )
    assert.equal(sent.transport, 'link')
    const relative = new URL(sent.data).pathname.split('/').map(decodeURIComponent).filter(Boolean)
    writeFileSync(join(servers.fileserverDir, ...relative), Buffer.alloc(5000, 2))
    const tampered = await runError((nb) => nb.smartreceive(window.tamperWire, { maxRetries: 0 }))
    assert.equal(tampered.code, 'INTEGRITY')
    assert.equal(tampered.dataname, 'doc')
    rmSync(join(servers.fileserverDir, ...relative))
    const missing = await runError((nb) => nb.smartreceive(window.tamperWire, { maxRetries: 1, baseDelay: 10 }))
    assert.equal(missing.code, 'DOWNLOAD')
    assert.match(missing.message, /404/)
  })

  test('bad sends: subject, dataname, type, value', async () => {
    const closed = await import('node:net').then(({ createServer }) => new Promise((ok) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const { port } = probe.address()
        probe.close(() => ok(`ws://127.0.0.1:${port}`))
      })
    }))
    const results = await run(async (nb, { wsUrl, closedUrl }) => {
      const bridge = await nb.Bridge.connect(wsUrl)
      const attempt = async (subject, payloads) => {
        try {
          await bridge.send(subject, payloads)
          return 'no error'
        } catch (err) {
          return err.code
        }
      }
      const out = {
        badSubject: await attempt('bad subject', [{ dataname: 'a', data: 'x', type: 'text' }]),
        emptyDataname: await attempt('ok.subject', [{ dataname: '', data: 'x', type: 'text' }]),
        unknownType: await attempt('ok.subject', [{ dataname: 'a', data: 'x', type: 'csv' }]),
        bytesAsText: await attempt('ok.subject', [{ dataname: 'a', data: new Uint8Array([1]), type: 'text' }]),
        textAsImage: await attempt('ok.subject', [{ dataname: 'a', data: 'x', type: 'image' }]),
        notArrow: await attempt('ok.subject', [{ dataname: 'a', data: new Uint8Array([1, 2, 3]), type: 'table' }]),
        bigint: await attempt('ok.subject', [{ dataname: 'a', data: { n: 1n }, type: 'dictionary' }]),
      }
      await bridge.close()
      try {
        await bridge.send('ok.subject', [{ dataname: 'a', data: 'x', type: 'text' }])
        out.afterClose = 'no error'
      } catch (err) {
        out.afterClose = err.code
      }
      try {
        await nb.Bridge.connect('nats://127.0.0.1:4222')
      } catch (err) {
        out.tcpUrl = err.code
      }
      try {
        await nb.Bridge.connect(closedUrl, { connectTimeout: 2000 })
      } catch (err) {
        out.nobodyThere = err.code
      }
      return out
    }, { wsUrl: servers.wsUrl, closedUrl: closed })
    assert.deepEqual(results, {
      badSubject: 'INVALID_ARGUMENT',
      emptyDataname: 'INVALID_ARGUMENT',
      unknownType: 'UNKNOWN_TYPE',
      bytesAsText: 'INVALID_ARGUMENT',
      textAsImage: 'INVALID_ARGUMENT',
      notArrow: 'INVALID_TABLE',
      bigint: 'SERIALIZATION',
      afterClose: 'CLOSED',
      tcpUrl: 'INVALID_ARGUMENT',
      nobodyThere: 'CONNECTION',
    })
  })
})

describe('the size cap (the server max_payload, planned by the core)', () => {
  test('fits direct, else link, else PAYLOAD_TOO_LARGE naming the payload', async () => {
    const out = await run(
      async (nb, { wsUrl, fileserverUrl }) => {
        const bridge = await nb.Bridge.connect(wsUrl)
        const result = { maxPayload: bridge.maxPayload }
        const small = await bridge.send('cap.test', [{ dataname: 'small', data: new Uint8Array(50_000), type: 'binary' }])
        result.small = small.payloads[0].transport
        try {
          await bridge.send('cap.test', [{ dataname: 'video', data: new Uint8Array(90_000), type: 'video' }])
          result.tooLarge = 'no error'
        } catch (err) {
          result.tooLarge = err.code
          result.message = err.message
          result.dataname = err.dataname
        }
        const linked = await bridge.send('cap.test', [{ dataname: 'video', data: new Uint8Array(90_000), type: 'video' }], { fileserverUrl })
        result.withStore = linked.payloads[0].transport
        await bridge.close()
        return result
      },
      { wsUrl: capped.wsUrl, fileserverUrl: servers.fileserverUrl },
    )
    assert.equal(out.maxPayload, 100000)
    assert.equal(out.small, 'direct')
    assert.equal(out.tooLarge, 'PAYLOAD_TOO_LARGE')
    assert.equal(out.dataname, 'video')
    assert.match(out.message, /'video'.*max_payload of 100000/)
    assert.equal(out.withStore, 'link')
  })
})

describe('CORS on the file server', () => {
  test('a page of an origin the file server does not list cannot upload', async () => {
    // Same files, other origin: localhost is not 127.0.0.1 to the browser.
    const other = await browser.open(`${origin.url.replace('127.0.0.1', 'localhost')}/index.html`)
    await other.waitForFunction(() => window.nbReady === true, null, { timeout: 30_000 })
    const result = await inPage(
      other,
      async (nb, { wsUrl, fileserverUrl }) => {
        const bridge = await nb.Bridge.connect(wsUrl)
        try {
          await bridge.send('cors.test', [{ dataname: 'x', data: new Uint8Array(3000), type: 'binary' }], { fileserverUrl, sizeThreshold: 1000 })
        } finally {
          await bridge.close()
        }
      },
      { wsUrl: servers.wsUrl, fileserverUrl: servers.fileserverUrl },
    )
    await other.close()
    assert.equal(result.error?.code, 'UPLOAD')
    assert.match(result.error.message, /CORS/)
  })
})

describe('link downloads retry like the core', () => {
  test('5xx and 429 are retried with backoff, 404 is not', async () => {
    const { createServer } = await import('node:http')
    const body = Buffer.from('the payload behind a flaky store')
    const hits = { flaky: 0, gone: 0 }
    const store = createServer((request, response) => {
      const cors = { 'Access-Control-Allow-Origin': origin.url }
      if (request.url === '/flaky') {
        hits.flaky += 1
        if (hits.flaky === 1) return response.writeHead(503, cors).end('busy')
        if (hits.flaky === 2) return response.writeHead(429, cors).end('slow down')
        return response.writeHead(200, cors).end(body)
      }
      hits.gone += 1
      return response.writeHead(404, cors).end('no such payload')
    })
    await new Promise((ok) => store.listen(0, '127.0.0.1', ok))
    const base = `http://127.0.0.1:${store.address().port}`
    const envelope = (path) =>
      JSON.stringify({
        version: 1,
        payloads: [{
          dataname: 'doc', type: 'text', transport: 'link', encoding: 'url', size: body.length,
          sha256: createHash('sha256').update(body).digest('hex'), data: `${base}${path}`,
        }],
      })
    try {
      const got = await run(
        async (nb, wire) => {
          const started = performance.now()
          const env = await nb.smartreceive(wire, { maxRetries: 3, baseDelay: 50, maxDelay: 1000 })
          return { text: env.payloads[0].data, transport: env.payloads[0].transport, ms: performance.now() - started }
        },
        envelope('/flaky'),
      )
      assert.equal(got.text, body.toString())
      assert.equal(got.transport, 'link')
      assert.equal(hits.flaky, 3)
      // Two waits: the first in [25, 50] ms, the second in [50, 100] ms.
      assert.ok(got.ms >= 75, `retried after ${got.ms} ms`)
      const gone = await runError((nb, wire) => nb.smartreceive(wire, { maxRetries: 3, baseDelay: 10 }), envelope('/gone'))
      assert.equal(gone.code, 'DOWNLOAD')
      assert.equal(hits.gone, 1)
      const capped = await runError((nb, wire) => nb.smartreceive(wire, { maxDownloadSize: 8 }), envelope('/flaky'))
      assert.equal(capped.code, 'DOWNLOAD')
      assert.match(capped.message, /max_download_size/)
      const listed = await runError((nb, wire) => nb.smartreceive(wire, { allowedOrigins: ['http://files.example.com'] }), envelope('/flaky'))
      assert.equal(listed.code, 'URL_NOT_ALLOWED')
    } finally {
      await new Promise((ok) => store.close(ok))
    }
  })
})

// The option schema (docs/options.json, generated from core/src/schema.rs)
// against the Node package: every option of the schema is in the right
// interface of index.d.ts with the schema's doc line, unit and default, and
// nothing else is; every call takes exactly the options of its scopes (read
// at run time, so a new schema row is checked with no edit here); and the
// drifts the option-schema issue listed for Node stay fixed.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'

import * as nats from 'nats'

import { natsbridge, packageDir, rejectsWithCode, startServers, subject, withTimeout, workspaceDir } from './harness.mjs'

const { Bridge, smartreceive, smartsend } = natsbridge

const schema = JSON.parse(readFileSync(join(workspaceDir, 'docs', 'options.json'), 'utf8'))
const options = schema.options

// Options of the schema that cannot apply to Node, each with its reason.
// (None: Node takes every connect, send, receive, subscribe and consume option.)
const NOT_APPLICABLE = {}

// Keys of a call's option object that are not options of the schema, each
// with its reason.
const CALL_ARGUMENTS = {
  'Bridge.request': {
    timeout:
      "the wait of this one request (ms), overriding the connection's requestTimeout; a call argument, not a schema option",
  },
  'Bridge.ensureStream': {
    replicas:
      "the replica count of this one stream, overriding the connection's jetstreamReplicas; a call argument, not a schema option",
  },
}

// The interface of index.d.ts that declares each scope's options.
const INTERFACE = {
  connect: 'ConnectOptions',
  send: 'SendOptions',
  receive: 'ReceiveOptions',
  subscribe: 'SubscribeOptions',
  consume: 'ConsumeOptions',
}

/** The doc every field must carry: the schema's doc line, then its unit and default. */
function expectedDoc(option) {
  const value = option.default
  let shown
  if (value === null) shown = 'unset'
  else if (typeof value === 'object') shown = value.derived
  else if (typeof value === 'number') shown = option.unit ? `${value} ${option.unit}` : String(value)
  else if (typeof value === 'string') shown = JSON.stringify(value)
  else shown = String(value)
  return `${option.doc} ${option.unit ? `Unit: ${option.unit}. ` : ''}Default: ${shown}.`
}

/** `{ name: { field: doc } }` for every `export interface` of index.d.ts. */
function interfaces(dts) {
  const found = {}
  for (const match of dts.matchAll(/export interface (\w+) \{\n([\s\S]*?)\n\}/g)) {
    const fields = {}
    let doc = ''
    for (const line of match[2].split('\n')) {
      const text = line.trim()
      if (text.startsWith('/**') || text.startsWith('*')) {
        const inner = text.replace(/^\/\*\*/, '').replace(/\*\/$/, '').replace(/^\*/, '').trim()
        doc = `${doc} ${inner}`.trim()
        continue
      }
      const field = /^(\w+)\??:/.exec(text)
      if (field) {
        fields[field[1]] = doc.replace(/\s+/g, ' ')
        doc = ''
      }
    }
    found[match[1]] = fields
  }
  return found
}

const dts = readFileSync(join(packageDir, 'index.d.ts'), 'utf8')
const declared = interfaces(dts)

describe('option schema parity: index.d.ts', () => {
  it('reads a schema with options of every scope', () => {
    assert.ok(options.length > 40, `docs/options.json has ${options.length} options`)
    assert.equal(schema.duration_unit, 'ms')
    for (const scope of Object.keys(INTERFACE)) assert.ok(options.some((o) => o.scope === scope), scope)
  })

  for (const [scope, name] of Object.entries(INTERFACE)) {
    it(`${name} has every ${scope} option with the schema's doc, unit and default, and nothing else`, () => {
      const fields = declared[name]
      assert.ok(fields, `index.d.ts has no interface ${name}`)
      const wanted = options.filter((o) => o.scope === scope && !(o.camel in NOT_APPLICABLE))
      for (const option of wanted) {
        assert.ok(option.camel in fields, `${name} lacks ${option.camel} (schema option ${option.name})`)
        assert.equal(fields[option.camel], expectedDoc(option), `the doc of ${name}.${option.camel}`)
      }
      const extra = Object.keys(fields).filter((field) => !wanted.some((o) => o.camel === field))
      assert.deepEqual(extra, [], `${name} has fields the schema lacks`)
    })
  }

  it('NatsUrlOption (the function-style API) has natsUrl alone, documented as the schema says', () => {
    const natsUrl = options.find((o) => o.scope === 'connect' && o.name === 'nats_url')
    assert.deepEqual(declared.NatsUrlOption, { natsUrl: expectedDoc(natsUrl) })
  })

  it('RequestOptions and EnsureStreamOptions hold only the call arguments listed here', () => {
    assert.deepEqual(Object.keys(declared.RequestOptions), Object.keys(CALL_ARGUMENTS['Bridge.request']))
    assert.deepEqual(Object.keys(declared.EnsureStreamOptions), Object.keys(CALL_ARGUMENTS['Bridge.ensureStream']))
  })

  it('each call declares the option interfaces of its scopes', () => {
    const signatures = {
      'function smartsend(': 'options?: SendOptions & NatsUrlOption',
      'function smartreceive(': 'options?: ReceiveOptions & NatsUrlOption',
      'static connect(': 'natsUrl?: string | null, options?: ConnectOptions',
      '  send(': 'options?: SendOptions)',
      '  subscribe(': 'options?: ReceiveOptions & SubscribeOptions',
      '  request(': 'options?: SendOptions & ReceiveOptions & RequestOptions',
      '  reply(': 'options?: SendOptions)',
      '  receive(': 'options?: ReceiveOptions)',
      '  durableSubscribe(': 'options?: ConsumeOptions & ReceiveOptions)',
      '  ensureStream(': 'options?: EnsureStreamOptions)',
    }
    for (const [call, type] of Object.entries(signatures)) {
      const line = dts.split('\n').find((l) => l.includes(call))
      assert.ok(line, `index.d.ts declares ${call}`)
      assert.ok(line.includes(type), `${call.trim()} takes ${type}: ${line}`)
    }
  })
})

describe('option schema parity: what each call accepts (at run time)', () => {
  let servers
  let bridge
  let request
  let body
  before(async () => {
    servers = await startServers()
    bridge = await Bridge.connect(servers.natsUrl)
    const sent = await bridge.send(subject('opts'), [{ dataname: 'm', data: 'hi', type: 'text' }])
    body = JSON.stringify(toWire(sent))
    request = await bridge.receive(body)
  })
  after(async () => {
    await bridge?.close()
    await servers?.stop()
  })

  const payloads = [{ dataname: 'm', data: 'hi', type: 'text' }]
  const calls = {
    smartsend: { scopes: ['send'], natsUrl: true, run: (o) => smartsend(subject('x'), payloads, o) },
    smartreceive: { scopes: ['receive'], natsUrl: true, run: (o) => smartreceive(body, o) },
    'Bridge.connect': { scopes: ['connect'], run: (o) => Bridge.connect(servers.natsUrl, o) },
    'Bridge.send': { scopes: ['send'], run: (o) => bridge.send(subject('x'), payloads, o) },
    'Bridge.reply': { scopes: ['send'], run: (o) => bridge.reply(request, payloads, o) },
    'Bridge.request': { scopes: ['send', 'receive'], run: (o) => bridge.request(subject('x'), payloads, o) },
    'Bridge.subscribe': { scopes: ['receive', 'subscribe'], run: (o) => bridge.subscribe(subject('x'), o) },
    'Bridge.receive': { scopes: ['receive'], run: (o) => bridge.receive(body, o) },
    'Bridge.durableSubscribe': { scopes: ['consume', 'receive'], run: (o) => bridge.durableSubscribe(subject('x'), o) },
    'Bridge.ensureStream': { scopes: [], run: (o) => bridge.ensureStream('NEVER_MADE', subject('x'), o) },
  }

  for (const [name, call] of Object.entries(calls)) {
    const takes = (o) => call.scopes.includes(o.scope) || (call.natsUrl && o.scope === 'connect' && o.name === 'nats_url')
    it(`${name} takes every option of ${call.scopes.join(' + ')}${call.natsUrl ? ' (+ natsUrl)' : ''} by its camelCase name`, async () => {
      // A value of no kind (a Symbol) is refused by the option's own check,
      // which names the option: proof the call knows it, with no I/O.
      for (const option of options.filter((o) => takes(o) && !(o.camel in NOT_APPLICABLE))) {
        const err = await rejectsWithCode(call.run({ [option.camel]: Symbol('no kind') }), 'INVALID_ARGUMENT')
        assert.match(err.message, new RegExp(`option ${option.camel} takes`), `${name} { ${option.camel} }`)
      }
    })

    it(`${name} refuses the options of other calls and snake_case names`, async () => {
      const own = new Set([...options.filter(takes).map((o) => o.camel), ...Object.keys(CALL_ARGUMENTS[name] ?? {})])
      for (const option of options.filter((o) => !own.has(o.camel))) {
        const err = await rejectsWithCode(call.run({ [option.camel]: 1 }), 'INVALID_ARGUMENT')
        assert.match(err.message, new RegExp(`unknown option '${option.camel}' of ${name.replace('.', '\\.')}`))
      }
      for (const option of options.filter((o) => takes(o) && o.name !== o.camel)) {
        const err = await rejectsWithCode(call.run({ [option.name]: 1 }), 'INVALID_ARGUMENT')
        assert.match(err.message, new RegExp(`unknown option '${option.name}'.*'${option.camel}'`))
      }
    })
  }

  it('numbers must be finite whole numbers >= 0, naming the option', async () => {
    for (const bad of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, '300', 2 ** 60]) {
      const err = await rejectsWithCode(bridge.receive(body, { downloadTimeout: bad }), 'INVALID_ARGUMENT')
      assert.match(err.message, /option downloadTimeout takes a whole number of milliseconds >= 0/)
    }
    const err = await rejectsWithCode(bridge.send(subject('x'), payloads, { sizeThreshold: -5 }), 'INVALID_ARGUMENT')
    assert.match(err.message, /option sizeThreshold takes a whole number of bytes >= 0, got -5/)
  })

  it('a secret is never shown in an error', async () => {
    const err = await rejectsWithCode(Bridge.connect(servers.natsUrl, { token: 12345 }), 'INVALID_ARGUMENT')
    assert.match(err.message, /option token takes/)
    assert.doesNotMatch(err.message, /12345/)
  })

  it('undefined and null mean "not given" (the core default applies)', async () => {
    const sent = await bridge.send(subject('x'), payloads, { msgPurpose: undefined, senderName: null })
    assert.equal(sent.msgPurpose, 'chat')
    assert.equal(sent.senderName, 'NATSBridge')
  })
})

describe('the drifts the option schema fixed (Node)', () => {
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

  it('directSha256: true puts sha256 on a direct payload (and it is absent by default)', async () => {
    const nc = await nats.connect({ servers: servers.natsUrl })
    try {
      const topic = subject('sha')
      const sub = nc.subscribe(topic, { max: 2 })
      await nc.flush()
      await bridge.send(topic, [{ dataname: 'm', data: 'hello', type: 'text' }], { directSha256: true })
      await bridge.send(topic, [{ dataname: 'm', data: 'hello', type: 'text' }])
      const wire = []
      await withTimeout(
        (async () => {
          for await (const msg of sub) wire.push(JSON.parse(new TextDecoder().decode(msg.data)))
        })(),
        10_000,
        'two envelopes',
      )
      assert.equal(wire[0].payloads[0].transport, 'direct')
      assert.equal(wire[0].payloads[0].sha256, createHash('sha256').update('hello').digest('hex'))
      assert.equal(wire[1].payloads[0].sha256, undefined)
    } finally {
      await nc.close()
    }
  })

  it('$NATS_URL is used when no natsUrl is given (smartsend and Bridge.connect)', async () => {
    const topic = subject('env-url')
    const sub = await bridge.subscribe(topic)
    const script = `
      const { Bridge, smartsend } = await import(${JSON.stringify(join(packageDir, 'index.mjs'))})
      await smartsend(${JSON.stringify(topic)}, [{ dataname: 'from', data: 'smartsend', type: 'text' }])
      const bridge = await Bridge.connect()
      await bridge.send(${JSON.stringify(topic)}, [{ dataname: 'from', data: 'Bridge.connect', type: 'text' }])
      await bridge.close()
    `
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
      // Not a test-runner child (NODE_TEST_CONTEXT would make it one).
      env: { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'NODE_TEST_CONTEXT')), NATS_URL: servers.natsUrl },
      stdio: ['ignore', 'inherit', 'inherit'],
    })
    const code = await withTimeout(new Promise((ok) => child.once('exit', ok)), 20_000, 'the child process')
    assert.equal(code, 0, 'the child sent through $NATS_URL')
    const got = [await sub.next(10_000), await sub.next(10_000)].map((e) => e.payloads[0].data).sort()
    assert.deepEqual(got, ['Bridge.connect', 'smartsend'])
    await sub.unsubscribe()
  })

  it('user without password (and password without user) is INVALID_ARGUMENT, not an empty password', async () => {
    const err = await rejectsWithCode(Bridge.connect(servers.natsUrl, { user: 'alice' }), 'INVALID_ARGUMENT')
    assert.match(err.message, /go together/)
    await rejectsWithCode(Bridge.connect(servers.natsUrl, { password: 's3cret' }), 'INVALID_ARGUMENT')
    await rejectsWithCode(Bridge.connect(servers.natsUrl, { tlsClientCert: '/nonexistent.pem' }), 'INVALID_ARGUMENT')
  })

  it('natsUrl given twice, differently, is INVALID_ARGUMENT', async () => {
    await rejectsWithCode(Bridge.connect(servers.natsUrl, { natsUrl: 'nats://127.0.0.1:1' }), 'INVALID_ARGUMENT')
    const same = await Bridge.connect(null, { natsUrl: servers.natsUrl })
    await same.close()
  })

  it('downloadTimeout is milliseconds: 300 against a link that never answers fails in well under 3 s', async () => {
    const silent = createServer(() => {}) // accepts, never answers
    await new Promise((ok) => silent.listen(0, '127.0.0.1', ok))
    try {
      const { port } = silent.address()
      const sent = await bridge.send(subject('silent'), [{ dataname: 'f', data: Buffer.alloc(64, 1), type: 'binary' }], {
        sizeThreshold: 0,
        fileserverUploadHandler: (_base, dataname) => `http://127.0.0.1:${port}/x/${dataname}`,
      })
      assert.equal(sent.payloads[0].transport, 'link')
      const started = Date.now()
      const failed = bridge.receive(JSON.stringify(toWire(sent)), { downloadTimeout: 300, maxRetries: 0 })
      const err = await withTimeout(failed.then(() => null, (e) => e), 10_000, 'the receive')
      const elapsed = Date.now() - started
      assert.ok(err, 'the receive failed')
      assert.ok(['DOWNLOAD', 'TIMEOUT'].includes(err.code), `${err.code}: ${err.message}`)
      assert.ok(elapsed >= 250 && elapsed < 3000, `failed after ${elapsed} ms`)
    } finally {
      silent.close()
    }
  })

  it('requestTimeout is no receive option any more (renamed downloadTimeout)', async () => {
    const err = await rejectsWithCode(smartreceive('{}', { requestTimeout: 300 }), 'INVALID_ARGUMENT')
    assert.match(err.message, /unknown option 'requestTimeout' of smartreceive \('requestTimeout' is a connect option\)/)
  })

  it('a misspelt option is refused, listing the known ones', async () => {
    const err = await rejectsWithCode(
      bridge.send(subject('x'), [{ dataname: 'm', data: 'hi', type: 'text' }], { sizeTreshold: 10 }),
      'INVALID_ARGUMENT',
    )
    assert.match(err.message, /unknown option 'sizeTreshold' of Bridge\.send; known: .*sizeThreshold/)
  })
})

/** The wire envelope (snake_case) of a SentEnvelope. */
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

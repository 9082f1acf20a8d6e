// natsbridge in the browser: the Node package's API (smartsend,
// smartreceive, Bridge, Subscription) over the natsbridge core's codec
// compiled to WebAssembly (./pkg, built by bindings-wasm/build.sh).
//
// This layer does what only a page can do, and converts values at the
// border: NATS over WebSocket (@nats-io/nats-core wsconnect), JetStream and
// the Object Store (@nats-io/jetstream, @nats-io/obj), HTTP links through
// fetch, apache-arrow Tables. Every wire rule (envelope fields, serialization,
// the transport rule against max_payload, base64, size and sha256 checks,
// Arrow IPC validation, link URL policy, retry delays, error kinds) is the
// core's, called through the wasm module.
import { wsconnect, headers as natsHeaders } from '@nats-io/nats-core'
import { jetstream } from '@nats-io/jetstream'
import { Objm } from '@nats-io/obj'
import { tableFromIPC, tableToIPC } from 'apache-arrow'
import initWasm, * as codec from './pkg/natsbridge_wasm.js'

/**
 * The apache-arrow build this layer reads and writes tables with; a page
 * that loads the bundle (dist/natsbridge.js) makes its Tables with it.
 */
export * as arrow from 'apache-arrow'

let wasmReady = null

/**
 * Loads the WebAssembly codec. Called by every function on first use; call
 * it yourself to load the module from somewhere else than beside this file
 * (`init(new URL('/assets/natsbridge_wasm_bg.wasm', location.href))`).
 */
export function init(moduleOrPath) {
  if (!wasmReady) {
    wasmReady = initWasm(moduleOrPath === undefined ? undefined : { module_or_path: moduleOrPath }).then(
      () => undefined,
      (err) => {
        wasmReady = null
        throw natsbridgeError('INVALID_ARGUMENT', `cannot load the natsbridge WebAssembly module: ${err?.message ?? err}`, err)
      },
    )
  }
  return wasmReady
}

/** An Error with a natsbridge `code`, made by the core so codes stay one list. */
function natsbridgeError(code, message, cause, dataname) {
  let err
  try {
    err = codec.makeError(code, message, dataname)
  } catch {
    // The wasm module is not loaded (it failed to load): a plain Error.
    err = new Error(message)
    err.code = code
  }
  if (cause !== undefined) {
    err.cause = cause
    const why = cause?.message ?? String(cause)
    if (why && !err.message.includes(why)) err.message += `\n  Caused by: ${why}`
  }
  return err
}

/**
 * Runs a call into the codec: its typed errors pass through; anything else
 * (a wasm trap is a bug in natsbridge) becomes code INTERNAL.
 */
function guard(call) {
  try {
    return call()
  } catch (err) {
    if (err instanceof Error && typeof err.code === 'string') throw err
    const internal = new Error(`natsbridge internal error: ${err?.message ?? err}`, { cause: err })
    internal.code = 'INTERNAL'
    throw internal
  }
}

const DEFAULTS = {
  maxRetries: 5,
  baseDelay: 100,
  maxDelay: 5000,
  requestTimeout: 30_000,
  connectTimeout: 5000,
  bridgeRequestTimeout: 10_000,
  objectStoreBucket: 'natsbridge',
  objectStoreTtl: 24 * 3600 * 1000,
}

/** Options a browser cannot honour: they name files on a disk. */
const FILE_OPTIONS = ['credentialsFile', 'tlsCaFile', 'tlsCertFile', 'tlsKeyFile', 'saveDir']

function refuseFileOptions(options) {
  for (const key of FILE_OPTIONS) {
    if (options?.[key] !== undefined) {
      throw natsbridgeError('INVALID_ARGUMENT', `option ${key} names a local file, which a browser page cannot read`)
    }
  }
}

// ---------------------------------------------------------------- payloads

function isArrowTable(value) {
  return (
    value !== null && typeof value === 'object' && !ArrayBuffer.isView(value) &&
    typeof value.schema === 'object' && Array.isArray(value.batches)
  )
}

function asBytes(value) {
  if (value instanceof Uint8Array) return value
  if (value instanceof ArrayBuffer) return new Uint8Array(value)
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength)
  return null
}

function jsonText(value, dataname) {
  let text
  try {
    text = JSON.stringify(value)
  } catch (err) {
    throw natsbridgeError('SERIALIZATION', `payload '${dataname}' has no JSON form: ${err.message}`, err, dataname)
  }
  if (text === undefined) {
    throw natsbridgeError('SERIALIZATION', `payload '${dataname}' has no JSON form (${typeof value})`, undefined, dataname)
  }
  return text
}

/** Hands one payload to the codec, by the JavaScript type of its data; the core decides whether it fits the payload type. */
function addPayload(outgoing, payload) {
  if (payload === null || typeof payload !== 'object') {
    throw natsbridgeError('INVALID_ARGUMENT', 'each payload is an object { dataname, data, type }')
  }
  const { dataname, data, type } = payload
  if (typeof dataname !== 'string' || typeof type !== 'string') {
    throw natsbridgeError('INVALID_ARGUMENT', 'a payload needs a string dataname and a string type')
  }
  const metadata = payload.metadata === undefined ? undefined : jsonText(payload.metadata, dataname)
  const bytes = asBytes(data)
  if (type === 'dictionary') return outgoing.addJson(dataname, type, jsonText(data, dataname), metadata)
  if (typeof data === 'string') return outgoing.addString(dataname, type, data, metadata)
  if (bytes) return outgoing.addBytes(dataname, type, bytes, metadata)
  if (isArrowTable(data)) {
    let ipc
    try {
      ipc = tableToIPC(data, 'stream')
    } catch (err) {
      throw natsbridgeError('SERIALIZATION', `apache-arrow could not write table '${dataname}' as Arrow IPC: ${err.message}`, err, dataname)
    }
    return outgoing.addBytes(dataname, type, ipc, metadata)
  }
  if (type === 'table' && data !== null && typeof data === 'object') {
    return outgoing.addTableJson(dataname, type, jsonText(data, dataname), metadata)
  }
  return outgoing.addJson(dataname, type, jsonText(data ?? null, dataname), metadata)
}

/** The envelope fields of a send, as the codec takes them. */
function headerOptions(options = {}) {
  const keys = [
    'correlationId', 'msgId', 'msgPurpose', 'senderName', 'senderId', 'receiverName', 'receiverId',
    'replyTo', 'replyToMsgId', 'metadata', 'sizeThreshold', 'directSha256',
  ]
  const picked = {}
  for (const key of keys) if (options[key] !== undefined && options[key] !== null) picked[key] = options[key]
  return JSON.stringify(picked)
}

// ---------------------------------------------------------------- stores

const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms))

/**
 * Runs `attempt(n)` with the core's backoff: a failure marked `retry` is
 * tried again after the core's delay, up to `retries` times.
 */
async function withBackoff(retries, baseDelay, maxDelay, code, attempt) {
  for (let retry = 0; ; retry++) {
    try {
      return await attempt(retry)
    } catch (err) {
      if (!err?.retry) throw err
      if (retry >= retries) {
        throw natsbridgeError(err.code ?? code, `gave up after ${retry + 1} attempts: ${err.message}`, err.cause, err.dataname)
      }
      await sleep(codec.backoffDelay(retry, baseDelay, maxDelay, Math.random()))
    }
  }
}

function retryable(err) {
  err.retry = true
  return err
}

function bearerFor(url, storeTokens) {
  if (!storeTokens) return undefined
  const origin = new URL(url).origin
  for (const [allowed, token] of Object.entries(storeTokens)) {
    try {
      if (new URL(allowed).origin === origin) return token
    } catch {
      // Not a URL: never matches.
    }
  }
  return undefined
}

/** PUT to the file server, retried like the core's HTTP store (3 retries, 100 ms .. 2 s). */
async function uploadHttp(url, body, token, dataname) {
  await withBackoff(3, 100, 2000, 'UPLOAD', async () => {
    let response
    try {
      response = await fetch(url, {
        method: 'PUT',
        body,
        headers: {
          'Content-Type': 'application/octet-stream',
          ...(token ? { Authorization: `Bearer ${token}` } : {}),
        },
      })
    } catch (err) {
      throw retryable(natsbridgeError('UPLOAD', `PUT ${url} failed (network error, or the file server does not allow this page's origin: CORS)`, err, dataname))
    }
    if (response.ok) return
    const detail = (await response.text().catch(() => '')).trim().slice(0, 200)
    const err = natsbridgeError('UPLOAD', `the file server answered ${response.status} to PUT ${url}${detail ? `: ${detail}` : ''}`, undefined, dataname)
    throw codec.retryableStatus(response.status) ? retryable(err) : err
  })
  return url
}

/** GET a link with the receive options' retries, timeout and policy. */
async function downloadHttp(url, dataname, options, policy) {
  const retries = options.maxRetries ?? DEFAULTS.maxRetries
  const base = options.baseDelay ?? DEFAULTS.baseDelay
  const max = options.maxDelay ?? DEFAULTS.maxDelay
  const timeout = options.requestTimeout ?? DEFAULTS.requestTimeout
  return withBackoff(retries, base, max, 'DOWNLOAD', async () => {
    const token = bearerFor(url, options.storeTokens)
    let response
    try {
      response = await fetch(url, {
        headers: token ? { Authorization: `Bearer ${token}` } : {},
        signal: AbortSignal.timeout(timeout),
        credentials: 'omit',
      })
    } catch (err) {
      const what = err?.name === 'TimeoutError' ? `took longer than ${timeout} ms` : "failed (network error, or the server does not allow this page's origin: CORS)"
      throw retryable(natsbridgeError('DOWNLOAD', `GET ${url} ${what}`, err, dataname))
    }
    if (response.redirected) guard(() => codec.checkUrl(response.url, dataname, policy))
    if (!response.ok) {
      const err = natsbridgeError('DOWNLOAD', `GET ${url} answered ${response.status}`, undefined, dataname)
      throw codec.retryableStatus(response.status) ? retryable(err) : err
    }
    try {
      return new Uint8Array(await response.arrayBuffer())
    } catch (err) {
      throw retryable(natsbridgeError('DOWNLOAD', `reading ${url} failed`, err, dataname))
    }
  })
}

function parseObjectUrl(url) {
  const rest = url.slice('nats-object://'.length)
  const slash = rest.indexOf('/')
  return { bucket: rest.slice(0, slash), name: decodeURIComponent(rest.slice(slash + 1)) }
}

// ---------------------------------------------------------------- receive

function toMessageBytes(msg) {
  if (typeof msg === 'string') return new TextEncoder().encode(msg)
  const direct = asBytes(msg)
  if (direct) return direct
  if (msg && typeof msg === 'object' && asBytes(msg.data)) return asBytes(msg.data)
  throw natsbridgeError('INVALID_ARGUMENT', 'smartreceive takes a NATS message, its bytes (Uint8Array) or the envelope text')
}

function valueOf(incoming, index, kind) {
  switch (kind) {
    case 'text':
      return incoming.text(index)
    case 'json':
      return JSON.parse(incoming.jsonText(index))
    case 'table':
      return tableFromIPC(incoming.bytes(index))
    default:
      return incoming.bytes(index)
  }
}

/**
 * Decodes a message: the codec verifies every direct payload; link payloads
 * are fetched (`objectStore(bucket)` opens an Object Store for nats-object
 * links) and verified by the codec too.
 */
async function decodeMessage(msg, options = {}, objectStore) {
  await init()
  refuseFileOptions(options)
  const bytes = toMessageBytes(msg)
  const incoming = guard(() => codec.decode(bytes))
  try {
    const envelope = JSON.parse(incoming.describe())
    const policy = JSON.stringify({
      allowedOrigins: options.allowedOrigins ?? [],
      allowPrivateAddresses: options.allowPrivateAddresses ?? true,
      maxDownloadSize: options.maxDownloadSize ?? 2 ** 30,
    })
    for (let index = 0; index < envelope.payloads.length; index++) {
      const payload = envelope.payloads[index]
      let kind = payload.kind
      delete payload.kind
      if (kind === 'link') {
        const url = incoming.linkUrl(index)
        const target = guard(() => incoming.checkLink(index, policy))
        let fetched
        if (options.fileserverDownloadHandler) {
          try {
            fetched = asBytes(
              await options.fileserverDownloadHandler(
                url,
                options.maxRetries ?? DEFAULTS.maxRetries,
                options.baseDelay ?? DEFAULTS.baseDelay,
                options.maxDelay ?? DEFAULTS.maxDelay,
              ),
            )
          } catch (err) {
            throw natsbridgeError('HANDLER', `the download handler failed for payload '${payload.dataname}'`, err, payload.dataname)
          }
          if (!fetched) throw natsbridgeError('HANDLER', `the download handler for payload '${payload.dataname}' returned no bytes`, undefined, payload.dataname)
        } else if (target === 'object') {
          fetched = await downloadObject(url, payload.dataname, options, objectStore)
        } else {
          fetched = await downloadHttp(url, payload.dataname, options, policy)
        }
        kind = guard(() => incoming.finishLink(index, fetched))
      }
      payload.data = valueOf(incoming, index, kind)
    }
    if (msg && typeof msg === 'object' && typeof msg.subject === 'string') {
      envelope.subject = msg.subject
      if (msg.reply) envelope.natsReply = msg.reply
    }
    return envelope
  } finally {
    incoming.free()
  }
}

async function downloadObject(url, dataname, options, objectStore) {
  if (!objectStore) {
    throw natsbridgeError('DOWNLOAD', `payload '${dataname}' is in the JetStream Object Store (${url}); reading it needs a NATS connection (natsUrl or a Bridge)`, undefined, dataname)
  }
  const { bucket, name } = parseObjectUrl(url)
  return withBackoff(options.maxRetries ?? DEFAULTS.maxRetries, options.baseDelay ?? DEFAULTS.baseDelay, options.maxDelay ?? DEFAULTS.maxDelay, 'DOWNLOAD', async () => {
    let store
    try {
      store = await objectStore(bucket, false)
    } catch (err) {
      throw natsbridgeError('DOWNLOAD', `payload '${dataname}': the Object Store bucket ${JSON.stringify(bucket)} cannot be opened`, err, dataname)
    }
    let bytes
    try {
      bytes = await store.getBlob(name)
    } catch (err) {
      throw retryable(natsbridgeError('DOWNLOAD', `payload '${dataname}': reading ${url} failed`, err, dataname))
    }
    if (bytes === null) {
      throw natsbridgeError('DOWNLOAD', `payload '${dataname}': object ${JSON.stringify(name)} is not in the Object Store bucket ${JSON.stringify(bucket)} (expired or never stored)`, undefined, dataname)
    }
    return bytes
  })
}

// ---------------------------------------------------------------- NATS errors

function connectError(err, url) {
  const text = `${err?.name ?? ''} ${err?.message ?? err}`
  if (/authoriz|authentic|auth/i.test(text)) return natsbridgeError('AUTH', `the NATS server at ${codec.stripCredentials(url)} refused the credentials`, err)
  if (err?.name === 'TimeoutError' || /timeout/i.test(text)) return natsbridgeError('TIMEOUT', `connecting to ${codec.stripCredentials(url)} took too long`, err)
  return natsbridgeError('CONNECTION', `cannot connect to NATS at ${codec.stripCredentials(url)} over WebSocket`, err)
}

function requestError(err, subject, timeout) {
  const noResponders = err?.name === 'NoRespondersError' || err?.cause?.name === 'NoRespondersError' || (typeof err?.isNoResponders === 'function' && err.isNoResponders())
  if (noResponders) return natsbridgeError('NO_RESPONDERS', `no subscriber is listening on ${JSON.stringify(subject)}`, err)
  if (err?.name === 'TimeoutError' || err?.cause?.name === 'TimeoutError') {
    return natsbridgeError('TIMEOUT', `no reply to the request on ${JSON.stringify(subject)} within ${timeout} ms`, err)
  }
  if (err?.name === 'ClosedConnectionError') return natsbridgeError('CLOSED', 'the bridge is closed', err)
  return natsbridgeError('CONNECTION', `the request on ${JSON.stringify(subject)} failed`, err)
}

// ---------------------------------------------------------------- Bridge

/**
 * Envelopes arriving on a subject, in order: `for await (const envelope of
 * subscription)` or `await subscription.next(timeoutMs)`. A message that is
 * not a valid envelope makes `next()` reject with that message's error; the
 * subscription goes on. A `next` that times out loses nothing: the message
 * it was waiting for is the next one returned.
 */
export class Subscription {
  #bridge
  #sub
  #iterator
  #pending = null
  #options
  #ended = false

  constructor(bridge, sub, options) {
    this.#bridge = bridge
    this.#sub = sub
    this.#iterator = sub[Symbol.asyncIterator]()
    this.#options = options
  }

  /** The next envelope, or `null` once the subscription ended. With `timeoutMs`, rejects with code `TIMEOUT` when nothing arrives in time. */
  async next(timeoutMs) {
    if (this.#ended) return null
    if (!this.#pending) this.#pending = this.#iterator.next()
    let step
    if (timeoutMs === undefined || timeoutMs === null) {
      step = await this.#pending
    } else {
      let timer
      const timedOut = Symbol('timeout')
      step = await Promise.race([this.#pending, new Promise((ok) => { timer = setTimeout(() => ok(timedOut), timeoutMs) })])
      clearTimeout(timer)
      if (step === timedOut) throw natsbridgeError('TIMEOUT', `no message within ${timeoutMs} ms`)
    }
    this.#pending = null
    if (step.done) {
      this.#ended = true
      return null
    }
    return this.#bridge.receive(step.value, this.#options)
  }

  /** Stops the subscription; a pending and every later `next()` resolves to `null`. */
  async unsubscribe() {
    this.#ended = true
    this.#sub.unsubscribe()
  }

  [Symbol.asyncIterator]() {
    return {
      next: async () => {
        const value = await this.next()
        return value === null ? { done: true, value: undefined } : { done: false, value }
      },
      return: async () => {
        await this.unsubscribe()
        return { done: true, value: undefined }
      },
      [Symbol.asyncIterator]() {
        return this
      },
    }
  }
}

/**
 * A long-lived connection to NATS over WebSocket that every call reuses.
 *
 * ```js
 * const bridge = await Bridge.connect('ws://127.0.0.1:8080')
 * const sub = await bridge.subscribe('/chat/room1')
 * await bridge.send('/chat/room1', [{ dataname: 'message', data: 'hi', type: 'text' }])
 * for await (const envelope of sub) { console.log(envelope.payloads[0].data); break }
 * await bridge.close()
 * ```
 */
export class Bridge {
  #nc
  #url
  #options
  #closed = false
  #jetstream = null
  #objm = null
  #stores = new Map()

  constructor(nc, url, options, token) {
    if (token !== Bridge.#token) throw new TypeError('use `await Bridge.connect(natsUrl, options)` to make a Bridge')
    this.#nc = nc
    this.#url = url
    this.#options = options
  }

  static #token = Symbol('Bridge')

  /** Connects to `natsUrl` (`ws://` or `wss://`; several separated by commas). */
  static async connect(natsUrl, options = {}) {
    await init()
    refuseFileOptions(options)
    if (typeof natsUrl !== 'string' || natsUrl.trim() === '') {
      throw natsbridgeError('INVALID_ARGUMENT', 'a browser needs the NATS WebSocket URL, e.g. ws://127.0.0.1:8080')
    }
    const servers = natsUrl.split(',').map((s) => s.trim()).filter(Boolean)
    for (const server of servers) {
      if (!/^wss?:\/\//i.test(server)) {
        throw natsbridgeError('INVALID_ARGUMENT', `${codec.stripCredentials(server)} is not a WebSocket URL: a browser reaches NATS over ws:// or wss:// (the server's websocket listener)`)
      }
    }
    let nc
    try {
      nc = await wsconnect({
        servers,
        name: options.name,
        token: options.token,
        user: options.user,
        pass: options.user !== undefined ? (options.password ?? '') : options.password,
        timeout: options.connectTimeout ?? DEFAULTS.connectTimeout,
        maxReconnectAttempts: 10,
      })
    } catch (err) {
      throw connectError(err, natsUrl)
    }
    return new Bridge(nc, natsUrl, options, Bridge.#token)
  }

  #checkOpen() {
    if (this.#closed) throw natsbridgeError('CLOSED', 'the bridge is closed')
  }

  #js() {
    this.#jetstream ??= jetstream(this.#nc)
    return this.#jetstream
  }

  /** Opens (or, for uploads, creates) an Object Store bucket, once per bucket. */
  async #objectStore(bucket, create) {
    const key = `${create ? 'w' : 'r'}:${bucket}`
    if (!this.#stores.has(key)) {
      this.#objm ??= new Objm(this.#nc)
      const opening = create
        ? this.#objm.create(bucket, {
            description: 'natsbridge claim-check payloads',
            ttl: (this.#options.objectStoreTtl ?? DEFAULTS.objectStoreTtl) * 1_000_000,
          })
        : this.#objm.open(bucket)
      this.#stores.set(key, opening)
      opening.catch(() => this.#stores.delete(key))
    }
    return this.#stores.get(key)
  }

  /** Where link payloads of a send go: `[kind, upload(outgoing, index)]`, or null. */
  #storeFor(options) {
    if (options.fileserverUploadHandler) {
      return ['handler', async (outgoing, index) => {
        try {
          const url = await options.fileserverUploadHandler(options.fileserverUrl ?? this.#options.fileserverUrl ?? '', outgoing.dataname(index), outgoing.body(index))
          if (typeof url !== 'string') throw new TypeError(`it returned ${typeof url}, not a URL string`)
          return url
        } catch (err) {
          throw natsbridgeError('HANDLER', `the upload handler failed for payload '${outgoing.dataname(index)}'`, err, outgoing.dataname(index))
        }
      }]
    }
    const fileserver = options.fileserverUrl ?? this.#options.fileserverUrl
    if (fileserver) {
      const kind = `fileserver:${fileserver}`
      const token = options.fileserverToken ?? this.#options.fileserverToken
      return [kind, (outgoing, index) => uploadHttp(outgoing.linkUrl(index, kind), outgoing.body(index), token, outgoing.dataname(index))]
    }
    if (this.#nc.info?.jetstream) {
      const bucket = this.#options.objectStoreBucket ?? DEFAULTS.objectStoreBucket
      const kind = `object:${bucket}`
      return [kind, async (outgoing, index) => {
        const dataname = outgoing.dataname(index)
        try {
          const store = await this.#objectStore(bucket, true)
          await store.putBlob({ name: outgoing.payloadId(index), description: dataname }, outgoing.body(index))
        } catch (err) {
          throw natsbridgeError('UPLOAD', `payload '${dataname}' could not be stored in the JetStream Object Store bucket ${JSON.stringify(bucket)}`, err, dataname)
        }
        return outgoing.linkUrl(index, kind)
      }]
    }
    return null
  }

  /** Builds an envelope: the codec plans it; link payloads are uploaded here. */
  async #build(subject, payloads, options) {
    await init()
    this.#checkOpen()
    if (!Array.isArray(payloads)) throw natsbridgeError('INVALID_ARGUMENT', 'payloads must be an array of { dataname, data, type }')
    const outgoing = guard(() => new codec.Outgoing(subject, headerOptions(options), this.brokerUrl))
    try {
      for (const payload of payloads) guard(() => addPayload(outgoing, payload))
      let plan
      try {
        plan = guard(() => outgoing.plan(this.maxPayload, ''))
      } catch (err) {
        const store = err.code === 'PAYLOAD_TOO_LARGE' ? this.#storeFor(options) : null
        if (!store) throw err
        plan = guard(() => outgoing.plan(this.maxPayload, store[0]))
        const uploads = []
        plan.forEach((transport, index) => {
          if (transport === 1) uploads.push(store[1](outgoing, index).then((url) => outgoing.setLink(index, url)))
        })
        await Promise.all(uploads)
      }
      return guard(() => outgoing.finish())
    } finally {
      outgoing.free()
    }
  }

  #headers(sent) {
    const h = natsHeaders()
    h.set('Nats-Msg-Id', sent.msgId)
    h.set('Content-Type', codec.contentType())
    return h
  }

  /** Sends `payloads` as one envelope on `subject`; resolves to the envelope as sent. */
  async send(subject, payloads, options = {}) {
    const sent = await this.#build(subject, payloads, options)
    try {
      const wire = sent.wire()
      const envelope = JSON.parse(sent.json())
      if (options.jetstream) {
        try {
          const ack = await this.#js().publish(subject, wire, { headers: this.#headers(sent), msgID: sent.msgId })
          envelope.streamSequence = ack.seq
        } catch (err) {
          throw natsbridgeError('JETSTREAM', `JetStream did not acknowledge the message on ${JSON.stringify(subject)} (is there a stream for it?)`, err)
        }
      } else {
        try {
          this.#nc.publish(subject, wire, { headers: this.#headers(sent) })
        } catch (err) {
          throw natsbridgeError(this.#closed ? 'CLOSED' : 'PUBLISH', `publishing on ${JSON.stringify(subject)} failed`, err)
        }
      }
      return envelope
    } finally {
      sent.free()
    }
  }

  /** Subscribes to `subject` (wildcards allowed); `{ queue }` joins a queue group. */
  async subscribe(subject, options = {}) {
    await init()
    this.#checkOpen()
    guard(() => codec.validateSubscribeSubject(subject))
    const sub = this.#nc.subscribe(subject, options.queue ? { queue: options.queue } : {})
    await this.#nc.flush()
    return new Subscription(this, sub, options)
  }

  /** Sends a request and resolves to the reply envelope; `timeout` in ms. */
  async request(subject, payloads, options = {}) {
    this.#checkOpen()
    const inbox = this.#nc.options?.inboxPrefix ? `${this.#nc.options.inboxPrefix}.${crypto.randomUUID().replaceAll('-', '')}` : `_INBOX.${crypto.randomUUID().replaceAll('-', '')}`
    const timeout = options.timeout ?? this.#options.requestTimeout ?? DEFAULTS.bridgeRequestTimeout
    const sendOptions = { ...options, replyTo: options.replyTo || inbox }
    const sent = await this.#build(subject, payloads, sendOptions)
    let reply
    try {
      const sub = this.#nc.subscribe(sendOptions.replyTo, { max: 1, timeout })
      const iterator = sub[Symbol.asyncIterator]()
      try {
        this.#nc.publish(subject, sent.wire(), { reply: sendOptions.replyTo, headers: this.#headers(sent) })
      } catch (err) {
        sub.unsubscribe()
        throw requestError(err, subject, timeout)
      }
      let step
      try {
        step = await iterator.next()
      } catch (err) {
        throw requestError(err, subject, timeout)
      }
      if (step.done) throw natsbridgeError('CLOSED', 'the connection closed while waiting for a reply')
      reply = step.value
      if (reply.headers?.hasError && reply.headers.code === 503) {
        throw natsbridgeError('NO_RESPONDERS', `no subscriber is listening on ${JSON.stringify(subject)}`)
      }
    } finally {
      sent.free()
    }
    return this.receive(reply, options)
  }

  /** Answers `request` (an envelope this bridge received), as every front end does. */
  async reply(request, payloads, options = {}) {
    await init()
    // The core's rule (wire-v1 section 6): the NATS reply subject first, never a
    // `$` system subject, only the connection's replySubjectPrefixes when set.
    const prefixes = this.#options.replySubjectPrefixes
    const allowed = prefixes == null ? undefined : [].concat(prefixes)
    const subject = guard(() => codec.replySubject(request?.msgId ?? '', request?.replyTo ?? '', request?.natsReply || undefined, allowed))
    return this.send(subject, payloads, {
      msgPurpose: 'response',
      ...options,
      replyToMsgId: request.msgId,
      correlationId: request.correlationId,
    })
  }

  /** Decodes a message received some other way, fetching `nats-object://` links over this connection. */
  async receive(msg, options = {}) {
    this.#checkOpen()
    return decodeMessage(msg, options, (bucket, create) => this.#objectStore(bucket, create))
  }

  /** Resolves once everything published so far has reached the server. */
  async flush() {
    this.#checkOpen()
    try {
      await this.#nc.flush()
    } catch (err) {
      throw natsbridgeError('CONNECTION', 'flushing to the NATS server failed', err)
    }
  }

  /** Flushes and closes the connection; later calls reject with code `CLOSED`. */
  async close() {
    if (this.#closed) return
    this.#closed = true
    try {
      await this.#nc.flush()
    } catch {
      // Closing anyway.
    }
    await this.#nc.close()
    // A pooled bridge that was closed is replaced on the next use (pooledBridge).
  }

  get closed() {
    return this.#closed
  }

  /** The server URL(s) without credentials, as written into `brokerUrl`. */
  get brokerUrl() {
    return codec.stripCredentials(this.#url)
  }

  /** The largest message the server accepts, in bytes. */
  get maxPayload() {
    return this.#nc.info?.max_payload ?? 1024 * 1024
  }
}

// ---------------------------------------------------------------- functions

/** One pooled Bridge per URL for the function-style API. */
const pool = new Map()

async function pooledBridge(natsUrl) {
  if (typeof natsUrl !== 'string' || !natsUrl) {
    throw natsbridgeError('INVALID_ARGUMENT', 'in a browser, pass natsUrl: the NATS WebSocket URL (ws:// or wss://)')
  }
  if (!pool.has(natsUrl)) {
    const connecting = Bridge.connect(natsUrl)
    pool.set(natsUrl, connecting)
    connecting.catch(() => pool.delete(natsUrl))
  }
  const bridge = await pool.get(natsUrl)
  if (bridge.closed) {
    pool.delete(natsUrl)
    return pooledBridge(natsUrl)
  }
  return bridge
}

/**
 * Sends `payloads` as one envelope on `subject` over the pooled connection
 * to `options.natsUrl` (a ws:// URL); resolves to the envelope as sent.
 */
export async function smartsend(subject, payloads, options = {}) {
  const bridge = await pooledBridge(options.natsUrl)
  return bridge.send(subject, payloads, options)
}

/**
 * Decodes a received message (a nats message, its bytes, or the envelope
 * text): verifies every payload and fetches link payloads with retries.
 * `nats-object://` links need `options.natsUrl` (a ws:// URL).
 */
export async function smartreceive(msg, options = {}) {
  if (options.natsUrl) {
    const bridge = await pooledBridge(options.natsUrl)
    return bridge.receive(msg, options)
  }
  return decodeMessage(msg, options, undefined)
}

/**
 * Writes an envelope without NATS (for tools, tests, stored messages):
 * resolves to `{ envelope, wire }`, the envelope as sent and its bytes.
 * Every payload must travel direct: one that would need a link (at least
 * `sizeThreshold`, or over `options.maxPayload`, default 1 MiB) fails with
 * code `PAYLOAD_TOO_LARGE`.
 */
export async function encodeDirect(subject, payloads, options = {}) {
  await init()
  if (!Array.isArray(payloads)) throw natsbridgeError('INVALID_ARGUMENT', 'payloads must be an array of { dataname, data, type }')
  const outgoing = guard(() => new codec.Outgoing(subject, headerOptions(options), options.brokerUrl ?? ''))
  try {
    for (const payload of payloads) guard(() => addPayload(outgoing, payload))
    guard(() => outgoing.plan(options.maxPayload ?? 1024 * 1024, ''))
    const sent = guard(() => outgoing.finish())
    try {
      return { envelope: JSON.parse(sent.json()), wire: sent.wire() }
    } finally {
      sent.free()
    }
  } finally {
    outgoing.free()
  }
}

/** The natsbridge version, shared by every front end. */
export async function version() {
  await init()
  return codec.version()
}

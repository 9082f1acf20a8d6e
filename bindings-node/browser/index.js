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

// ---------------------------------------------------------------- options

/** The core's option schema (the wasm module's `optionSchema()`), read once. */
let schemaCache = null
function schemaRows() {
  schemaCache ??= codec.optionSchema()
  return schemaCache.options
}

/**
 * The core's option schema: `{ options: [{ name, camel, scope, kind, unit,
 * default, doc }] }`, as `docs/options.json` publishes it. Durations are
 * milliseconds and sizes bytes.
 */
export async function optionSchema() {
  await init()
  return codec.optionSchema()
}

/** The core's default of option `camel` of `scope` (never a literal here). */
function defaultOf(scope, camel) {
  const row = schemaRows().find((o) => o.scope === scope && o.camel === camel)
  if (row === undefined || row.default === null || typeof row.default === 'object') {
    throw natsbridgeError('INTERNAL', `the option schema has no plain default for ${scope} option ${camel}`)
  }
  return row.default
}

/**
 * Options of the schema a browser page cannot honour, and why; giving one
 * (not undefined or null) is INVALID_ARGUMENT.
 */
export const UNAVAILABLE_OPTIONS = Object.freeze({
  credentialsFile: 'it names a local file, which a browser page cannot read',
  nkey: 'nkey signing is not in the browser build (use token or user and password)',
  tlsCaFile: "it names a local file; the browser's own certificate store decides (use wss://)",
  tlsClientCert: "it names a local file; client certificates are the browser's own",
  tlsClientKey: "it names a local file; client certificates are the browser's own",
  subscriptionCapacity: 'nats.js over WebSocket has no per-subscription buffer bound to set',
  saveDir: 'it names a local directory, which a browser page cannot write',
  proxy: "fetch goes through the browser's own proxy settings",
  maxEnvelopeDownloadSize: "a receive limit of the core's client layer, which the browser build (the codec) lacks",
  maxLinkPayloads: "a receive limit of the core's client layer, which the browser build (the codec) lacks",
  maxConcurrentDownloads: "a receive limit of the core's client layer, which the browser build (the codec) lacks",
  maxTableRows: "a receive limit of the core's client layer, which the browser build (the codec) lacks",
  handlerTimeout: "a receive limit of the core's client layer, which the browser build (the codec) lacks",
  downloadConnectTimeout: "fetch has no connect timeout of its own; downloadTimeout bounds each attempt",
  envelopeTimeout: "a receive limit of the core's client layer, which the browser build (the codec) lacks",
})

/** What each call's option object may hold: schema scopes, plus its own arguments. */
const CALLS = {
  smartsend: { scopes: ['send'], natsUrl: true },
  smartreceive: { scopes: ['receive'], natsUrl: true },
  encodeDirect: { scopes: ['send'], extra: { brokerUrl: 'string', maxPayload: 'number' } },
  'Bridge.connect': { scopes: ['connect'] },
  'Bridge.send': { scopes: ['send'] },
  'Bridge.reply': { scopes: ['send'] },
  'Bridge.request': { scopes: ['send', 'receive'], extra: { timeout: 'number' } },
  'Bridge.subscribe': { scopes: ['receive', 'subscribe'] },
  'Bridge.receive': { scopes: ['receive'] },
}

const EXPECTED = {
  bool: 'true or false',
  count: 'a whole number >= 0',
  bytes: 'a whole number of bytes >= 0',
  milliseconds: 'a whole number of milliseconds >= 0',
  string: 'a string',
  secret: 'a string (a secret)',
  url: 'a URL string',
  path: 'a path string',
  strings: 'a string or a list of strings',
  token_map: 'a map of origin to token strings',
  object: 'a JSON object',
  callback: 'a function',
}

const isPlainObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v) && !ArrayBuffer.isView(v)
const isWholeNumber = (v) => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0

/** `value` checked against option `row`'s kind (a lone string for a list becomes a list). */
function checkValue(row, value) {
  let ok
  switch (row.kind) {
    case 'bool': ok = typeof value === 'boolean'; break
    case 'count': case 'bytes': case 'milliseconds': ok = isWholeNumber(value); break
    case 'string': case 'secret': case 'url': case 'path': ok = typeof value === 'string'; break
    case 'strings':
      if (typeof value === 'string') return [value]
      ok = Array.isArray(value) && value.every((v) => typeof v === 'string')
      break
    case 'token_map': ok = isPlainObject(value) && Object.values(value).every((v) => typeof v === 'string'); break
    case 'object': ok = isPlainObject(value); break
    case 'callback': ok = typeof value === 'function'; break
    default: ok = false
  }
  if (ok) return value
  const shown = row.kind === 'secret' ? typeof value : typeof value === 'number' || typeof value === 'boolean' ? String(value) : Array.isArray(value) ? 'an array' : typeof value
  throw natsbridgeError('INVALID_ARGUMENT', `option ${row.camel} takes ${EXPECTED[row.kind] ?? row.kind}, got ${shown}`)
}

/**
 * The option object of `call`, checked against the schema: every key must
 * be an option of the call's scopes (or one of its own arguments), every
 * value of the option's kind. Keys whose value is undefined or null are
 * dropped (not given: the core's default applies).
 */
function checkOptions(call, options) {
  if (options === undefined || options === null) return {}
  if (!isPlainObject(options)) throw natsbridgeError('INVALID_ARGUMENT', `the options of ${call} must be an object`)
  const { scopes, natsUrl = false, extra = {} } = CALLS[call]
  const rows = schemaRows()
  const takes = (o) => scopes.includes(o.scope) || (natsUrl && o.scope === 'connect' && o.name === 'nats_url')
  const checked = {}
  for (const key of Object.keys(options)) {
    const value = options[key]
    const row = rows.find((o) => o.camel === key && takes(o))
    if (row === undefined && !(key in extra)) {
      const known = [...rows.filter(takes).map((o) => o.camel), ...Object.keys(extra)]
      const snake = rows.find((o) => o.name === key && o.camel !== key && takes(o))
      const other = rows.find((o) => o.camel === key)
      const hint = snake ? ` (JavaScript names are camelCase: '${snake.camel}')` : other ? ` ('${key}' is a ${other.scope} option)` : ''
      throw natsbridgeError('INVALID_ARGUMENT', `unknown option '${key}' of ${call}${hint}; known: ${known.join(', ')}`)
    }
    if (value === undefined || value === null) continue
    if (row === undefined) {
      if (!isWholeNumber(value) && extra[key] === 'number') throw natsbridgeError('INVALID_ARGUMENT', `option ${key} takes a whole number >= 0, got ${String(value)}`)
      if (typeof value !== 'string' && extra[key] === 'string') throw natsbridgeError('INVALID_ARGUMENT', `option ${key} takes a string, got ${typeof value}`)
      checked[key] = value
      continue
    }
    if (key in UNAVAILABLE_OPTIONS) throw natsbridgeError('INVALID_ARGUMENT', `option ${key} is not available in a browser: ${UNAVAILABLE_OPTIONS[key]}`)
    checked[key] = checkValue(row, value)
  }
  return checked
}

/** `options` without `natsUrl` (handed on to a Bridge call after the pool took it). */
function withoutNatsUrl({ natsUrl, ...rest }) {
  return rest
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
  const retries = options.maxRetries ?? defaultOf('receive', 'maxRetries')
  const base = options.baseDelay ?? defaultOf('receive', 'baseDelay')
  const max = options.maxDelay ?? defaultOf('receive', 'maxDelay')
  const timeout = options.downloadTimeout ?? defaultOf('receive', 'downloadTimeout')
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

/** WebCrypto's SHA-256 (native); missing outside secure contexts. */
const subtle = globalThis.crypto?.subtle

/** The SHA-256 of `bytes` by the page, for the codec to compare. */
async function hostDigest(bytes) {
  try {
    return new Uint8Array(await subtle.digest('SHA-256', bytes))
  } catch (err) {
    throw natsbridgeError('INTERNAL', `crypto.subtle.digest failed: ${err?.message ?? err}`, err)
  }
}

/**
 * Decodes a message: the codec verifies every direct payload (large ones
 * against the digest the page computes, kind `digest`); link payloads are
 * fetched (`objectStore(bucket)` opens an Object Store for nats-object
 * links) and verified by the codec too. `options` are checked receive
 * options (checkOptions).
 */
async function decodeMessage(msg, options, objectStore) {
  await init()
  const bytes = toMessageBytes(msg)
  const incoming = guard(() => codec.decode(bytes, subtle !== undefined))
  try {
    const envelope = JSON.parse(incoming.describe())
    let policy
    for (let index = 0; index < envelope.payloads.length; index++) {
      const payload = envelope.payloads[index]
      let kind = payload.kind
      delete payload.kind
      if (kind === 'digest') {
        // digestView is a view of wasm memory: digest() copies it at once.
        const digest = await hostDigest(incoming.digestView(index))
        kind = guard(() => incoming.confirmDigest(index, digest))
      } else if (kind === 'link') {
        policy ??= JSON.stringify({
          allowedOrigins: options.allowedOrigins ?? [],
          allowPrivateAddresses: options.allowPrivateAddresses ?? defaultOf('receive', 'allowPrivateAddresses'),
          maxDownloadSize: options.maxDownloadSize ?? defaultOf('receive', 'maxDownloadSize'),
        })
        const url = incoming.linkUrl(index)
        const target = guard(() => incoming.checkLink(index, policy))
        let fetched
        if (options.fileserverDownloadHandler) {
          try {
            fetched = asBytes(
              await options.fileserverDownloadHandler(
                url,
                options.maxRetries ?? defaultOf('receive', 'maxRetries'),
                options.baseDelay ?? defaultOf('receive', 'baseDelay'),
                options.maxDelay ?? defaultOf('receive', 'maxDelay'),
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
        if (subtle) {
          const digest = await hostDigest(fetched)
          kind = guard(() => incoming.finishLinkDigest(index, fetched, digest))
        } else {
          kind = guard(() => incoming.finishLink(index, fetched))
        }
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
  const retries = options.maxRetries ?? defaultOf('receive', 'maxRetries')
  const base = options.baseDelay ?? defaultOf('receive', 'baseDelay')
  const max = options.maxDelay ?? defaultOf('receive', 'maxDelay')
  return withBackoff(retries, base, max, 'DOWNLOAD', async () => {
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
  #receive
  #sub
  #iterator
  #pending = null
  #ended = false

  constructor(receive, sub) {
    this.#receive = receive
    this.#sub = sub
    this.#iterator = sub[Symbol.asyncIterator]()
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
    return this.#receive(step.value)
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

  /**
   * Connects to `natsUrl` (`ws://` or `wss://`; several separated by
   * commas), or `options.natsUrl`: a page has no `$NATS_URL` and no TCP, so
   * one of them is required.
   */
  static async connect(natsUrl, options) {
    await init()
    options = checkOptions('Bridge.connect', options)
    if (natsUrl !== undefined && natsUrl !== null && options.natsUrl !== undefined && natsUrl !== options.natsUrl) {
      throw natsbridgeError('INVALID_ARGUMENT', 'natsUrl given twice (as the first argument and in options), differently')
    }
    natsUrl = natsUrl ?? options.natsUrl
    if (typeof natsUrl !== 'string' || natsUrl.trim() === '') {
      throw natsbridgeError('INVALID_ARGUMENT', 'a browser needs the NATS WebSocket URL, e.g. ws://127.0.0.1:8080')
    }
    if ((options.user === undefined) !== (options.password === undefined)) {
      throw natsbridgeError('INVALID_ARGUMENT', 'user and password go together: set both or neither')
    }
    const servers = natsUrl.split(',').map((s) => s.trim()).filter(Boolean)
    for (const server of servers) {
      if (!/^wss?:\/\//i.test(server)) {
        throw natsbridgeError('INVALID_ARGUMENT', `${codec.stripCredentials(server)} is not a WebSocket URL: a browser reaches NATS over ws:// or wss:// (the server's websocket listener)`)
      }
      if (options.requireTls && !/^wss:\/\//i.test(server)) {
        throw natsbridgeError('INVALID_ARGUMENT', `requireTls: ${codec.stripCredentials(server)} is not a wss:// URL`)
      }
    }
    let nc
    try {
      nc = await wsconnect({
        servers,
        name: options.name,
        token: options.token,
        user: options.user,
        pass: options.password,
        timeout: options.connectTimeout ?? defaultOf('connect', 'connectTimeout'),
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
            ttl: (this.#options.objectStoreTtl ?? defaultOf('connect', 'objectStoreTtl')) * 1_000_000,
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
      const bucket = this.#options.objectStoreBucket ?? defaultOf('connect', 'objectStoreBucket')
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
  async send(subject, payloads, options) {
    await init()
    return this.#send(subject, payloads, checkOptions('Bridge.send', options))
  }

  async #send(subject, payloads, options) {
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
  async subscribe(subject, options) {
    await init()
    const { queue, concurrentReceives, ...receive } = checkOptions('Bridge.subscribe', options)
    if (concurrentReceives === 0) throw natsbridgeError('INVALID_ARGUMENT', 'concurrentReceives must be at least 1')
    this.#checkOpen()
    guard(() => codec.validateSubscribeSubject(subject))
    const sub = this.#nc.subscribe(subject, queue ? { queue } : {})
    await this.#nc.flush()
    // Envelopes are decoded one at a time, in arrival order (any
    // concurrentReceives >= 1 gives the same results).
    return new Subscription((msg) => this.#receive(msg, receive), sub)
  }

  /** Sends a request and resolves to the reply envelope; `timeout` in ms. */
  async request(subject, payloads, options) {
    await init()
    options = checkOptions('Bridge.request', options)
    this.#checkOpen()
    const inbox = this.#nc.options?.inboxPrefix ? `${this.#nc.options.inboxPrefix}.${crypto.randomUUID().replaceAll('-', '')}` : `_INBOX.${crypto.randomUUID().replaceAll('-', '')}`
    const timeout = options.timeout ?? this.#options.requestTimeout ?? defaultOf('connect', 'requestTimeout')
    const { timeout: _, ...rest } = options
    const sendOptions = { ...rest, replyTo: options.replyTo || inbox }
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
    return this.#receive(reply, rest)
  }

  /** Answers `request` (an envelope this bridge received), as every front end does. */
  async reply(request, payloads, options) {
    await init()
    options = checkOptions('Bridge.reply', options)
    // The core's rule (wire-v1 section 6): the NATS reply subject first, never a
    // `$` system subject, only the connection's replySubjectPrefixes when set.
    const prefixes = this.#options.replySubjectPrefixes
    const allowed = prefixes == null ? undefined : [].concat(prefixes)
    const subject = guard(() => codec.replySubject(request?.msgId ?? '', request?.replyTo ?? '', request?.natsReply || undefined, allowed))
    return this.#send(subject, payloads, {
      msgPurpose: 'response',
      ...options,
      replyToMsgId: request.msgId,
      correlationId: request.correlationId,
    })
  }

  /** Decodes a message received some other way, fetching `nats-object://` links over this connection. */
  async receive(msg, options) {
    await init()
    return this.#receive(msg, checkOptions('Bridge.receive', options))
  }

  async #receive(msg, options) {
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
export async function smartsend(subject, payloads, options) {
  await init()
  options = checkOptions('smartsend', options)
  const bridge = await pooledBridge(options.natsUrl)
  return bridge.send(subject, payloads, withoutNatsUrl(options))
}

/**
 * Decodes a received message (a nats message, its bytes, or the envelope
 * text): verifies every payload and fetches link payloads with retries.
 * `nats-object://` links need `options.natsUrl` (a ws:// URL).
 */
export async function smartreceive(msg, options) {
  await init()
  options = checkOptions('smartreceive', options)
  if (options.natsUrl) {
    const bridge = await pooledBridge(options.natsUrl)
    return bridge.receive(msg, withoutNatsUrl(options))
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
export async function encodeDirect(subject, payloads, options) {
  await init()
  options = checkOptions('encodeDirect', options)
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

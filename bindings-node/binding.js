// natsbridge for Node, the thin JavaScript layer: loads the prebuilt native
// addon for this platform and adds the two things that need JavaScript:
// apache-arrow tables (they travel as Arrow IPC stream bytes; converted
// here) and `for await` over subscriptions. Every rule of the wire format,
// transports, sizes, retries and errors is in the native core.
//
// `index.js` (require) and `index.mjs` (import) each bind this layer to the
// apache-arrow build their callers get: Node loads apache-arrow's CommonJS
// and ES module builds as two separate copies, and a Table must be written
// and read by the copy its caller uses.
'use strict'

const { existsSync, readFileSync } = require('node:fs')
const { join } = require('node:path')

/** The platform part of the addon's file name, as `napi build --platform` writes it. */
function platformTriple() {
  const { platform, arch } = process
  if (platform === 'linux') return `linux-${arch}-${isMusl() ? 'musl' : 'gnu'}`
  if (platform === 'win32') return `win32-${arch}-msvc`
  return `${platform}-${arch}`
}

function isMusl() {
  try {
    return !process.report.getReport().header.glibcVersionRuntime
  } catch {
    return existsSync('/etc/alpine-release') || readFileSync('/usr/bin/ldd', 'utf8').includes('musl')
  }
}

/**
 * Loads the native addon: `NATSBRIDGE_NATIVE_PATH` when set, else
 * `natsbridge.<platform>.node` beside this file (what the npm tarball ships),
 * else a per-platform package `natsbridge-<platform>`.
 */
function loadNative() {
  const triple = platformTriple()
  const candidates = [
    process.env.NATSBRIDGE_NATIVE_PATH,
    join(__dirname, `natsbridge.${triple}.node`),
    `natsbridge-${triple}`,
  ].filter(Boolean)
  const failures = []
  for (const candidate of candidates) {
    try {
      return require(candidate)
    } catch (err) {
      failures.push(`  ${candidate}: ${String(err.message).split('\n')[0]}`)
    }
  }
  const error = new Error(
    `natsbridge: no native addon could be loaded for ${triple}. Tried:\n${failures.join('\n')}\n` +
      'Build it from source with `npm run build` in the package folder (needs a Rust toolchain).',
  )
  error.code = 'NATIVE_ADDON_NOT_FOUND'
  throw error
}

const native = loadNative()

/** Duck-typed, so a Table from any copy of apache-arrow is recognised. */
function isArrowTable(value) {
  return (
    value !== null &&
    typeof value === 'object' &&
    !ArrayBuffer.isView(value) &&
    typeof value.schema === 'object' &&
    Array.isArray(value.batches)
  )
}

/**
 * The apache-arrow builds a Table may come from: the CommonJS build, and the
 * ES module build, whose loading starts now so it is ready by the first send.
 */
const arrowBuilds = [require('apache-arrow')]
const esmBuild = import('apache-arrow').then(
  (esm) => {
    arrowBuilds.push(esm)
    return esm
  },
  () => undefined,
)

// `instanceof Table` is true across builds (apache-arrow defines
// Symbol.hasInstance), but a Table must be written by its own build.
const madeBy = (table, arrow) => arrow.Table.prototype.isPrototypeOf(table)

/**
 * Writes `table` as an Arrow IPC stream with the apache-arrow build it was
 * made with: synchronously when that build is loaded (almost always), else a
 * Promise. A Table from some other copy is written by `preferred`; the core
 * validates the bytes either way.
 */
function tableToStream(table, preferred) {
  const build = [preferred, ...arrowBuilds].find((arrow) => madeBy(table, arrow))
  if (build) return build.tableToIPC(table, 'stream')
  return esmBuild.then((esm) => (esm && madeBy(table, esm) ? esm : preferred).tableToIPC(table, 'stream'))
}

/** An apache-arrow failure to write a table, as a natsbridge error. */
function arrowWriteError(cause) {
  const error = new Error(`apache-arrow could not write a table as Arrow IPC: ${cause?.message ?? cause}`, { cause })
  error.code = 'SERIALIZATION'
  return error
}

/**
 * The public API, with apache-arrow tables written and read by `arrow`
 * (the `apache-arrow` module object of the caller's flavour).
 */
function createApi(arrow) {
  // Synchronous unless a table needs a build still loading, so the caller's
  // buffers are copied before the call returns and may be reused at once.
  function toNativePayloads(payloads) {
    if (!Array.isArray(payloads) || !payloads.some((p) => p?.type === 'table' && isArrowTable(p.data))) {
      return payloads
    }
    const converted = payloads.map((p) =>
      p?.type === 'table' && isArrowTable(p.data) ? { ...p, data: tableToStream(p.data, arrow) } : p,
    )
    if (!converted.some((p) => p?.data instanceof Promise)) return converted
    return Promise.all(converted.map(async (p) => (p?.data instanceof Promise ? { ...p, data: await p.data } : p)))
  }

  /** Calls `call(nativePayloads)` now, or once tables are written; never throws. */
  function withPayloads(payloads, call) {
    let converted
    try {
      converted = toNativePayloads(payloads)
    } catch (err) {
      return Promise.reject(arrowWriteError(err))
    }
    if (!(converted instanceof Promise)) return call(converted)
    return converted.then(call, (err) => Promise.reject(arrowWriteError(err)))
  }

  // Received tables arrive as their IPC bytes in a Buffer that shares the
  // core's memory; `tableFromIPC` reads them in place.
  function fromNativeEnvelope(envelope) {
    if (envelope) {
      for (const payload of envelope.payloads) {
        if (payload.type === 'table' && payload.data instanceof Uint8Array) {
          payload.data = arrow.tableFromIPC(payload.data)
        }
      }
    }
    return envelope
  }

  function smartsend(subject, payloads, options) {
    return withPayloads(payloads, (converted) => native.smartsend(subject, converted, options))
  }

  async function smartreceive(msg, options) {
    return fromNativeEnvelope(await native.smartreceive(msg, options))
  }

  class Subscription {
    #native
    // Envelopes (and errors) already decoded: the native side hands over every
    // message that has arrived in one go, so a burst costs one promise.
    #queue = []
    #ended = false
    #unsubscribed = false

    constructor(nativeSubscription) {
      this.#native = nativeSubscription
    }

    async next(timeoutMs) {
      if (this.#queue.length === 0 && !this.#ended) {
        const batch = await this.#native.nextBatch(timeoutMs)
        // A batch taken just before an unsubscribe() is dropped too.
        if (!this.#unsubscribed) this.#queue.push(...batch)
      }
      if (this.#queue.length === 0) return null
      const item = this.#queue.shift()
      if (item === null) {
        this.#ended = true
        return null
      }
      if (item instanceof Error) throw item
      return fromNativeEnvelope(item)
    }

    // The core's one rule: unsubscribe ends at once and drops what had
    // arrived (also what this layer already holds); drain delivers it, then
    // ends.
    unsubscribe() {
      this.#ended = true
      this.#unsubscribed = true
      this.#queue.length = 0
      return this.#native.unsubscribe()
    }

    drain() {
      return this.#native.drain()
    }

    // Leaving a `for await` loop early unsubscribes; a message that is not a
    // valid envelope ends the loop with its error, and the subscription
    // itself goes on (iterate again to continue).
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

  // A JetStream message is the native object itself, with its envelope
  // (tables read by this layer's apache-arrow) as the `envelope` property.
  function fromNativeMessage(message) {
    if (message) message.envelope = fromNativeEnvelope(message.takeEnvelope())
    return message
  }

  class DurableSubscription {
    #native

    constructor(nativeSubscription) {
      this.#native = nativeSubscription
    }

    async next(timeoutMs) {
      return fromNativeMessage(await this.#native.next(timeoutMs))
    }

    unsubscribe() {
      return this.#native.unsubscribe()
    }

    // Leaving a `for await` loop early stops pulling (what was not
    // acknowledged comes again after ackWait); a message that is not a valid
    // envelope ends the loop with its error, and the subscription goes on.
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

  class Bridge {
    #native
    constructor(nativeBridge) {
      if (!(nativeBridge instanceof native.Bridge)) {
        throw new TypeError('use `await Bridge.connect(natsUrl, options)` to make a Bridge')
      }
      this.#native = nativeBridge
    }

    static async connect(natsUrl, options) {
      return new Bridge(await native.Bridge.connect(natsUrl, options))
    }

    send(subject, payloads, options) {
      return withPayloads(payloads, (converted) => this.#native.send(subject, converted, options))
    }

    async subscribe(subject, options) {
      return new Subscription(await this.#native.subscribe(subject, options))
    }

    async durableSubscribe(subject, options) {
      return new DurableSubscription(await this.#native.durableSubscribe(subject, options))
    }

    ensureStream(name, subjects, options) {
      return this.#native.ensureStream(name, subjects, options)
    }

    request(subject, payloads, options) {
      return withPayloads(payloads, (converted) => this.#native.request(subject, converted, options)).then(
        fromNativeEnvelope,
      )
    }

    reply(request, payloads, options) {
      return withPayloads(payloads, (converted) => this.#native.reply(request, converted, options))
    }

    async receive(msg, options) {
      return fromNativeEnvelope(await this.#native.receive(msg, options))
    }

    flush() {
      return this.#native.flush()
    }

    close() {
      return this.#native.close()
    }

    get closed() {
      return this.#native.closed
    }

    get brokerUrl() {
      return this.#native.brokerUrl
    }

    get maxPayload() {
      return this.#native.maxPayload
    }
  }

  return {
    smartsend,
    smartreceive,
    Bridge,
    Subscription,
    DurableSubscription,
    JetStreamMessage: native.JetStreamMessage,
    errorKinds: native.errorKinds, version: native.version }
}

module.exports = { createApi }

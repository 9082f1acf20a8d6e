// A pure-JavaScript implementation of the natsbridge wire format v1
// (shared/spec/wire-v1.md) on the `nats` npm client: the peer the Node
// binding is measured against, and an independent reader/writer for the
// binding's interop tests. Written from the spec with nothing but JSON,
// base64 (Buffer), SHA-256 (node:crypto) and apache-arrow.
//
// Scope: direct transport only (every payload inside the envelope, as in the
// benchmark's cases); a payload that would need a claim-check store is
// refused, as the spec's sender rule 4 says for a sender without one.
//
// It imports no npm package itself: the caller hands it the `nats` and
// `apache-arrow` modules it uses, so the benchmark and the tests share one copy.
import { createHash, randomUUID } from 'node:crypto'

export const WIRE_VERSION = 1
export const DEFAULT_SIZE_THRESHOLD = 1_000_000
const CONTENT_TYPE = 'application/vnd.natsbridge.envelope+json'
const KNOWN_TYPES = new Set(['text', 'dictionary', 'table', 'image', 'audio', 'video', 'binary'])
const SENDER_ID = randomUUID()

export class WireError extends Error {
  constructor(code, message) {
    super(message)
    this.code = code
  }
}

const sha256Hex = (bytes) => createHash('sha256').update(bytes).digest('hex')

/** Serialized bytes of one payload (spec section 4). */
export function serialize({ dataname, data, type }, arrow) {
  if (typeof dataname !== 'string' || dataname === '') throw new WireError('INVALID_ARGUMENT', 'empty dataname')
  if (!KNOWN_TYPES.has(type)) throw new WireError('UNKNOWN_TYPE', `unknown payload type '${type}'`)
  switch (type) {
    case 'text':
      return Buffer.from(data, 'utf8')
    case 'dictionary':
      return Buffer.from(JSON.stringify(data), 'utf8')
    case 'table': {
      if (data instanceof Uint8Array) return data
      const table = Array.isArray(data) ? arrow.tableFromJSON(data) : data
      return arrow.tableToIPC(table, 'stream')
    }
    default:
      return data instanceof Uint8Array ? data : new Uint8Array(data)
  }
}

/** The envelope object of a send (spec section 2), every payload direct. */
export function encodeEnvelope(subject, payloads, options = {}, arrow) {
  const threshold = options.sizeThreshold ?? DEFAULT_SIZE_THRESHOLD
  return {
    version: WIRE_VERSION,
    correlation_id: options.correlationId ?? randomUUID(),
    msg_id: options.msgId ?? randomUUID(),
    timestamp: new Date().toISOString(),
    send_to: subject,
    msg_purpose: options.msgPurpose ?? 'chat',
    sender_name: options.senderName ?? 'NATSBridge',
    sender_id: SENDER_ID,
    receiver_name: options.receiverName ?? '',
    receiver_id: options.receiverId ?? '',
    reply_to: options.replyTo ?? '',
    reply_to_msg_id: options.replyToMsgId ?? '',
    broker_url: options.brokerUrl ?? '',
    metadata: options.metadata ?? {},
    payloads: payloads.map((payload) => {
      const bytes = serialize(payload, arrow)
      if (bytes.length >= threshold) {
        throw new WireError('PAYLOAD_TOO_LARGE', `payload '${payload.dataname}' needs a claim-check store`)
      }
      return {
        id: randomUUID(),
        dataname: payload.dataname,
        type: payload.type,
        transport: 'direct',
        encoding: 'base64',
        size: bytes.length,
        sha256: sha256Hex(bytes),
        data: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('base64'),
        metadata: payload.metadata ?? {},
      }
    }),
  }
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/
const utf8 = new TextDecoder('utf-8', { fatal: true })

/** Decodes and verifies an envelope body (spec sections 2-4); direct payloads only. */
export function decodeEnvelope(body, arrow) {
  let envelope
  try {
    envelope = JSON.parse(typeof body === 'string' ? body : utf8.decode(body))
  } catch (err) {
    throw new WireError('MALFORMED_ENVELOPE', `not a JSON envelope: ${err.message}`)
  }
  if (envelope === null || typeof envelope !== 'object' || !Array.isArray(envelope.payloads)) {
    throw new WireError('MALFORMED_ENVELOPE', 'payloads missing or not an array')
  }
  if ((envelope.version ?? 1) > WIRE_VERSION) {
    throw new WireError('UNSUPPORTED_VERSION', `envelope version ${envelope.version}`)
  }
  envelope.payloads = envelope.payloads.map((payload) => {
    if (payload.transport !== 'direct') {
      throw new WireError('UNSUPPORTED', 'this reader handles direct payloads only')
    }
    if (typeof payload.data !== 'string' || !BASE64.test(payload.data)) {
      throw new WireError('INVALID_BASE64', `payload '${payload.dataname}' is not base64`)
    }
    const bytes = Buffer.from(payload.data, 'base64')
    if (bytes.length !== payload.size || (payload.sha256 && sha256Hex(bytes) !== payload.sha256)) {
      throw new WireError('INTEGRITY', `payload '${payload.dataname}' does not match its size or sha256`)
    }
    return { ...payload, data: deserialize(payload.type, bytes, arrow) }
  })
  return envelope
}

function deserialize(type, bytes, arrow) {
  switch (type) {
    case 'text':
      try {
        return utf8.decode(bytes)
      } catch {
        throw new WireError('INVALID_UTF8', 'text payload is not UTF-8')
      }
    case 'dictionary':
      return JSON.parse(utf8.decode(bytes))
    case 'table':
      return arrow.tableFromIPC(bytes)
    default:
      return bytes
  }
}

/** The original design's smartsend / smartreceive, in plain JS over a nats.js connection. */
export class PureJsBridge {
  /** `nats` and `arrow` are the `nats` and `apache-arrow` modules. */
  constructor(connection, { nats, arrow, brokerUrl = '' }) {
    this.nc = connection
    this.nats = nats
    this.arrow = arrow
    this.brokerUrl = brokerUrl
  }

  async smartsend(subject, payloads, options = {}) {
    const envelope = encodeEnvelope(subject, payloads, { brokerUrl: this.brokerUrl, ...options }, this.arrow)
    const body = Buffer.from(JSON.stringify(envelope), 'utf8')
    if (body.length > this.nc.info.max_payload) {
      throw new WireError('PAYLOAD_TOO_LARGE', `envelope of ${body.length} bytes exceeds max_payload`)
    }
    const headers = this.nats.headers()
    headers.set('Nats-Msg-Id', envelope.msg_id)
    headers.set('Content-Type', CONTENT_TYPE)
    this.nc.publish(subject, body, { headers })
    return envelope
  }

  async smartreceive(msg) {
    return decodeEnvelope(msg.data ?? msg, this.arrow)
  }
}

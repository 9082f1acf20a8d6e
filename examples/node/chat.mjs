// Example 1 of the original design, chat with mixed content: a text, a small
// image and a 1.5 MB document in one message on /chat/room1 (the document
// travels by link: to FILESERVER_URL when set, else the JetStream Object Store).
//
//   NATS_URL=nats://localhost:4222 node examples/node/chat.mjs
import assert from 'node:assert/strict'

import { Bridge } from '../../bindings-node/index.mjs'

const subject = `/chat/room1/node-${process.pid}`
const imageData = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47]), Buffer.from(Array.from({ length: 256 }, (_, i) => i))])
const largeFileData = Buffer.alloc(1_500_000)
for (let i = 0; i < largeFileData.length; i++) largeFileData[i] = i % 251

const bridge = await Bridge.connect(process.env.NATS_URL ?? 'nats://localhost:4222')
const room = await bridge.subscribe(subject)
await bridge.send(subject, [
  { dataname: 'message_text', data: 'Hello!', type: 'text' },
  { dataname: 'user_avatar', data: imageData, type: 'image' },
  { dataname: 'large_document', data: largeFileData, type: 'binary' },
], { fileserverUrl: process.env.FILESERVER_URL || undefined })
const envelope = await room.next(30_000)
assert.ok(envelope, 'no message within 30 s')
for (const p of envelope.payloads) console.log(`${p.dataname} (${p.type}, ${p.transport}): ${p.type === 'text' ? p.data : `${p.data.length} bytes`}`)
const [text, avatar, doc] = envelope.payloads
assert.equal(text.data, 'Hello!')
assert.ok(imageData.equals(avatar.data))
assert.ok(largeFileData.equals(doc.data))
assert.equal(doc.transport, 'link')
await room.unsubscribe()
await bridge.close()
console.log('example ok: chat (text, image, 1.5 MB document by link)')

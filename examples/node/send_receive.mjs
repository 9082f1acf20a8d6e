// natsbridge from Node: one message with a text, a dictionary, a table, a
// small binary and a 1.5 MB document sent, and received back.
//
// The document is over the default sizeThreshold (1,000,000 bytes), so it
// travels by claim-check: to the file server at FILESERVER_URL when set,
// else the JetStream Object Store of the NATS server.
//
//   (cd bindings-node && npm ci && npm run build)
//   NATS_URL=nats://localhost:4222 FILESERVER_URL=http://127.0.0.1:8080 \
//       node examples/node/send_receive.mjs
//
// In an application, `import { Bridge } from 'natsbridge'` after
// `npm install ./bindings-node`; here the package is loaded from the tree.
// Checks what arrives and exits non-zero on any difference; the last line is
// `example ok: ...`.
import assert from 'node:assert/strict'

import { Bridge } from '../../bindings-node/index.mjs'

const natsUrl = process.env.NATS_URL ?? 'nats://localhost:4222'
const fileserverUrl = process.env.FILESERVER_URL || undefined
const subject = `/examples/node/${process.pid}`

// A table as columns (an apache-arrow Table works too); it arrives as an apache-arrow Table.
const users = { id: [1, 2], name: ['Alice', 'Bob'] }
const config = { update_interval: 60, tags: ['a', 'b'] }
const thumbnail = Buffer.from([0x89, 0x50, 0x4e, 0x47])
const document = Buffer.alloc(1_500_000)
for (let i = 0; i < document.length; i++) document[i] = i % 251

try {
  const bridge = await Bridge.connect(natsUrl)
  const inbox = await bridge.subscribe(subject)
  const sent = await bridge.send(
    subject,
    [
      { dataname: 'message', data: 'Hello World', type: 'text' },
      { dataname: 'config', data: config, type: 'dictionary' },
      { dataname: 'users', data: users, type: 'table' },
      { dataname: 'thumbnail', data: thumbnail, type: 'image' },
      { dataname: 'document', data: document, type: 'binary' },
    ],
    { fileserverUrl },
  )
  console.log(`sent ${sent.msgId} with ${sent.payloads.length} payloads`)
  const received = await inbox.next(30_000)
  assert.ok(received, 'a message within 30 s')
  assert.equal(received.msgId, sent.msgId)
  for (const p of received.payloads) console.log(`  ${p.dataname} (${p.type}, ${p.transport}, ${p.size} bytes)`)
  const byName = Object.fromEntries(received.payloads.map((p) => [p.dataname, p]))
  assert.deepEqual(received.payloads.map((p) => p.dataname), ['message', 'config', 'users', 'thumbnail', 'document'])
  assert.equal(byName.message.data, 'Hello World')
  assert.deepEqual(byName.config.data, config)
  const table = byName.users.data
  assert.equal(table.numRows, 2)
  assert.deepEqual(Array.from(table.getChild('name')), ['Alice', 'Bob'])
  assert.deepEqual(Array.from(table.getChild('id'), Number), [1, 2])
  assert.ok(thumbnail.equals(byName.thumbnail.data), 'binary')
  assert.equal(byName.document.transport, 'link', 'the document travels by link')
  assert.ok(document.equals(byName.document.data), 'linked document bytes')
  await inbox.unsubscribe()
  await bridge.close()
  console.log(`example ok: text dictionary table binary link(${fileserverUrl ? 'file server' : 'object store'})`)
} catch (err) {
  console.error(`example failed: ${err.code ?? ''} ${err.stack ?? err}`)
  process.exit(1)
}

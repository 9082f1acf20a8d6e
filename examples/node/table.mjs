// Example 3 of the original design, table data (Arrow IPC): rows sent on
// /data/analysis as a table, received as an apache-arrow Table.
//
//   NATS_URL=nats://localhost:4222 node examples/node/table.mjs
import assert from 'node:assert/strict'

import { Bridge } from '../../bindings-node/index.mjs'

const subject = `/data/analysis/node-${process.pid}`
const tableData = [
  { id: 1, name: 'Alice', score: 95 },
  { id: 2, name: 'Bob', score: 88 },
  { id: 3, name: 'Charlie', score: 92 },
]

const bridge = await Bridge.connect(process.env.NATS_URL ?? 'nats://localhost:4222')
const inbox = await bridge.subscribe(subject)
await bridge.send(subject, [{ dataname: 'students', data: tableData, type: 'table' }])
const envelope = await inbox.next(30_000)
assert.ok(envelope, 'no message within 30 s')
const table = envelope.payloads[0].data
console.log(`students (table): ${table.numRows} rows, columns ${table.schema.fields.map((f) => f.name)}`)
const rows = table.toArray().map((r) => ({ id: Number(r.id), name: r.name, score: Number(r.score) }))
assert.deepEqual(rows, tableData)
await inbox.unsubscribe()
await bridge.close()
console.log('example ok: table')

// Example 2 of the original design, dictionary exchange: a configuration
// sent on /device/config as a dictionary and received as an object.
//
//   NATS_URL=nats://localhost:4222 node examples/node/dictionary.mjs
import assert from 'node:assert/strict'

import { Bridge } from '../../bindings-node/index.mjs'

const subject = `/device/config/node-${process.pid}`
const config = { wifi_ssid: 'MyNetwork', wifi_password: 'password123', update_interval: 60 }

const bridge = await Bridge.connect(process.env.NATS_URL ?? 'nats://localhost:4222')
const inbox = await bridge.subscribe(subject)
await bridge.send(subject, [{ dataname: 'config', data: config, type: 'dictionary' }])
const envelope = await inbox.next(30_000)
assert.ok(envelope, 'no message within 30 s')
const [payload] = envelope.payloads
console.log(`${payload.dataname} (${payload.type}): ${JSON.stringify(payload.data)}`)
assert.deepEqual(payload.data, config)
await inbox.unsubscribe()
await bridge.close()
console.log('example ok: dictionary')

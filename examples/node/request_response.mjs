// Example 4 of the original design, request-response: a responder answers
// {action: "read_sensor"} on /device/command with a sensor reading; the
// requester sends the command and waits for the answer.
//
//   NATS_URL=nats://localhost:4222 node examples/node/request_response.mjs
//
// Both sides run in this process here; tests/interop/ runs every language pair.
import assert from 'node:assert/strict'

import { Bridge } from '../../bindings-node/index.mjs'

const subject = `/device/command/node-${process.pid}`
const bridge = await Bridge.connect(process.env.NATS_URL ?? 'nats://localhost:4222')
const commands = await bridge.subscribe(subject)

const responder = (async () => {
  const envelope = await commands.next(30_000)
  for (const payload of envelope.payloads) {
    if (payload.dataname === 'command' && payload.data.action === 'read_sensor') {
      const response = { sensor_id: 'sensor-001', value: 42.5 }
      await bridge.reply(envelope, [{ dataname: 'data', data: response, type: 'dictionary' }])
    }
  }
})()

const reply = await bridge.request(subject, [{ dataname: 'command', data: { action: 'read_sensor' }, type: 'dictionary' }], { timeout: 30_000 })
await responder
const [payload] = reply.payloads
console.log(`reply to ${reply.replyToMsgId}: ${payload.dataname} = ${JSON.stringify(payload.data)}`)
assert.deepEqual(payload.data, { sensor_id: 'sensor-001', value: 42.5 })
await commands.unsubscribe()
await bridge.close()
console.log('example ok: request-response')

// Example 5 of the original design, the JavaScript receiver of the
// MicroPython IoT device (examples/micropython/iot_device.py): prints the
// device's temperature and humidity, then sends it a reboot command.
//
//   NATS_URL=nats://localhost:4222 IOT_ID=1 node examples/node/iot_receiver.mjs
import assert from 'node:assert/strict'

import { Bridge } from '../../bindings-node/index.mjs'

const device = process.env.IOT_ID ?? '1'
const bridge = await Bridge.connect(process.env.NATS_URL ?? 'nats://localhost:4222')
const sensors = await bridge.subscribe(`/device/sensors/${device}`)
await bridge.flush()
console.log(`listening on /device/sensors/${device}`)
const envelope = await sensors.next(120_000)
assert.ok(envelope, 'no telemetry within 120 s')
const seen = {}
for (const payload of envelope.payloads) {
  if (payload.dataname === 'temperature') console.log(`Temperature: ${payload.data}`)
  else if (payload.dataname === 'humidity') console.log(`Humidity: ${payload.data}`)
  seen[payload.dataname] = payload.data
}
assert.deepEqual(seen, { temperature: '25.5', humidity: 65 })
assert.equal(envelope.msgPurpose, 'telemetry')
await bridge.send(`/device/commands/${device}`, [{ dataname: 'command', data: { action: 'reboot' }, type: 'dictionary' }], { msgPurpose: 'command' })
console.log('sent the reboot command')
await sensors.unsubscribe()
await bridge.close()
console.log('example ok: iot receiver (node)')

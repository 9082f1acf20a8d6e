// Throughput of smartsend + smartreceive from Node, in one run, against the
// same work done by a pure-JavaScript implementation of the wire format on
// the `nats` npm client (pure_js_bridge.mjs) and against raw nats.js
// publish/subscribe of the same payload bytes (no envelope: the ceiling).
//
//   cd bindings-node && npm ci && npm run build && npm run build:testenv
//   node ../benchmarks/node/bench_node.mjs            # BENCH_SECONDS=3 by default
//   BENCH_CASES=text BENCH_SECONDS=5 BENCH_RUNS=3 node ../benchmarks/node/bench_node.mjs
//
// A message counts once it has been sent and a subscriber in the same
// process has decoded it (for raw nats.js: received it). Senders keep up to
// WINDOW sends in flight; every implementation runs the same loop. Each case
// runs a warm-up, then RUNS timed runs interleaving the implementations; the
// median is reported, and each ratio is the median of the per-run ratios.
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

import { PureJsBridge } from './pure_js_bridge.mjs'

const here = dirname(fileURLToPath(import.meta.url))
const packageDir = join(here, '..', '..', 'bindings-node')
const require = createRequire(join(packageDir, 'index.js'))
const { startServers } = await import(join(packageDir, '__test__', 'harness.mjs'))
// CommonJS everywhere, so natsbridge and the pure-JS peer share one apache-arrow build.
const natsbridge = require('./index.js')
const nats = require('nats')
const arrow = require('apache-arrow')

const SECONDS = Number(process.env.BENCH_SECONDS ?? 3)
const RUNS = Number(process.env.BENCH_RUNS ?? 3)
const WINDOW = Number(process.env.BENCH_WINDOW ?? 64)

function tableOf(rows) {
  return arrow.tableFromArrays({
    id: Int32Array.from({ length: rows }, (_, i) => i),
    value: Float64Array.from({ length: rows }, (_, i) => i * 0.5),
    name: Array.from({ length: rows }, (_, i) => `sensor-${i % 100}`),
  })
}

const allCases = [
  { name: '1 KiB text', key: 'text', payloads: () => [{ dataname: 'message', data: 'x'.repeat(1024), type: 'text' }] },
  { name: '100 KiB binary', key: 'binary', payloads: () => [{ dataname: 'blob', data: Buffer.alloc(100 * 1024, 7), type: 'binary' }] },
  { name: '10,000-row table', key: 'table', payloads: () => [{ dataname: 'table', data: tableOf(10_000), type: 'table' }] },
]
// BENCH_CASES=text,table runs only those cases (keys: text, binary, table).
const wanted = process.env.BENCH_CASES?.split(',').map((key) => key.trim())
const cases = wanted ? allCases.filter((c) => wanted.includes(c.key)) : allCases

/** The raw bytes of a case's payload, for the nats.js ceiling. */
function rawBytes(payload) {
  if (payload.type === 'text') return Buffer.from(payload.data)
  if (payload.type === 'table') return arrow.tableToIPC(payload.data, 'stream')
  return payload.data
}

/**
 * Sends for `seconds` with up to WINDOW sends in flight while `receive`
 * counts decoded messages; returns messages per second (sent and received).
 */
async function measure({ send, subscribe }, seconds) {
  let received = 0
  let sent = 0
  let inFlight = 0
  let wake = null
  let failure = null
  const done = await subscribe(() => {
    received += 1
  })
  const settle = () => {
    inFlight -= 1
    if (wake) {
      const resume = wake
      wake = null
      resume()
    }
  }
  const started = performance.now()
  const deadline = started + seconds * 1000
  while (performance.now() < deadline && !failure) {
    inFlight += 1
    sent += 1
    send().then(settle, (err) => {
      failure = err
      settle()
    })
    // A counter, not Promise.race: the harness must cost the same for everyone.
    if (inFlight >= WINDOW) await new Promise((ok) => (wake = ok))
    // Wait for the subscriber to keep up, so the run measures the pipeline
    // and no queue grows until the server drops a slow consumer.
    while (sent - received > WINDOW * 4 && !failure) await new Promise((ok) => setImmediate(ok))
  }
  while (inFlight > 0) await new Promise((ok) => (wake = ok))
  if (failure) throw failure
  await done(sent)
  const elapsed = (performance.now() - started) / 1000
  if (received !== sent) throw new Error(`sent ${sent} but received ${received}`)
  return sent / elapsed
}

/** A nats.js subscription that calls `onMessage` for each message, awaiting `decode`. */
function natsSubscriber(nc, subject, decode) {
  return async (onMessage) => {
    const sub = nc.subscribe(subject)
    // The server must have the subscription before anyone publishes: the
    // natsbridge functions publish on another connection, which nats.js'
    // per-connection ordering does not cover.
    await nc.flush()
    let count = 0
    let wanted = Infinity
    let finish
    const finished = new Promise((ok) => (finish = ok))
    ;(async () => {
      for await (const msg of sub) {
        await decode(msg)
        onMessage()
        count += 1
        if (count >= wanted) break
      }
      finish()
    })()
    return async (total) => {
      wanted = total
      if (count >= wanted) sub.unsubscribe()
      await withTimeout(finished, 60_000, `${subject}: ${total} messages`)
      sub.unsubscribe()
    }
  }
}

function withTimeout(promise, ms, what) {
  let timer
  return Promise.race([
    promise,
    new Promise((_, fail) => (timer = setTimeout(() => fail(new Error(`timed out waiting for ${what}`)), ms))),
  ]).finally(() => clearTimeout(timer))
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]

const servers = await startServers(['--no-fileserver'])
const nc = await nats.connect({ servers: servers.natsUrl })
const bridge = await natsbridge.Bridge.connect(servers.natsUrl)
const pure = new PureJsBridge(nc, { nats, arrow, brokerUrl: servers.natsUrl })
let topic = 0
const next = (name) => `bench.${name}.${(topic += 1)}`

const implementations = {
  'natsbridge Bridge (send + subscribe)': (payloads) => {
    const subject = next('bridge')
    return {
      send: () => bridge.send(subject, payloads),
      subscribe: async (onMessage) => {
        let wanted = Infinity
        let count = 0
        const sub = await bridge.subscribe(subject)
        const finished = (async () => {
          for await (const envelope of sub) {
            if (envelope.payloads.length !== payloads.length) throw new Error('lost a payload')
            onMessage()
            count += 1
            if (count >= wanted) break
          }
        })()
        return async (total) => {
          wanted = total
          if (count >= wanted) await sub.unsubscribe()
          await withTimeout(finished, 60_000, `${subject}: ${total} envelopes`)
        }
      },
    }
  },
  'natsbridge smartsend + smartreceive (nats.js subscriber)': (payloads) => {
    const subject = next('fn')
    return {
      send: () => natsbridge.smartsend(subject, payloads, { natsUrl: servers.natsUrl }),
      subscribe: natsSubscriber(nc, subject, (msg) => natsbridge.smartreceive(msg)),
    }
  },
  'pure JS (nats.js + JSON + base64 + sha256 + apache-arrow)': (payloads) => {
    const subject = next('pure')
    return {
      send: () => pure.smartsend(subject, payloads),
      subscribe: natsSubscriber(nc, subject, (msg) => pure.smartreceive(msg)),
    }
  },
  'raw nats.js publish (no envelope)': (payloads) => {
    const subject = next('raw')
    const bytes = rawBytes(payloads[0])
    return {
      send: async () => nc.publish(subject, bytes),
      subscribe: natsSubscriber(nc, subject, async () => {}),
    }
  },
}

const results = []
console.log(`natsbridge ${natsbridge.version()} | node ${process.version} | ${SECONDS} s x ${RUNS} runs, window ${WINDOW}`)
for (const testCase of cases) {
  const payloads = testCase.payloads()
  const rates = Object.fromEntries(Object.keys(implementations).map((name) => [name, []]))
  // Runs interleave the implementations, so a change in the machine's load
  // during the case touches them all alike; run 0 is a warm-up.
  for (let run = 0; run <= RUNS; run++) {
    for (const [name, make] of Object.entries(implementations)) {
      const rate = await measure(make(payloads), run === 0 ? Math.min(1, SECONDS) : SECONDS)
      if (run > 0) rates[name].push(rate)
    }
  }
  const row = { case: testCase.name, rates: {}, runs: rates }
  for (const [name, values] of Object.entries(rates)) {
    row.rates[name] = median(values)
    console.log(
      `  ${testCase.name.padEnd(18)} ${name.padEnd(58)} ${row.rates[name].toFixed(0).padStart(8)} msg/s` +
        `  (runs: ${values.map((v) => v.toFixed(0)).join(', ')})`,
    )
  }
  results.push(row)
}

const names = Object.keys(implementations)
const [bridgeName, fnName, pureName, rawName] = names
console.log('\n| case | natsbridge Bridge | natsbridge functions | pure JS | raw nats.js | Bridge / pure JS | functions / pure JS | Bridge / raw |')
console.log('|---|---:|---:|---:|---:|---:|---:|---:|')
const pairedRatio = (row, a, b) => median(row.runs[a].map((rate, i) => rate / row.runs[b][i]))
for (const row of results) {
  const r = row.rates
  console.log(
    `| ${row.case} | ${r[bridgeName].toFixed(0)} | ${r[fnName].toFixed(0)} | ${r[pureName].toFixed(0)} | ${r[rawName].toFixed(0)} | ` +
      `${pairedRatio(row, bridgeName, pureName).toFixed(2)}x | ${pairedRatio(row, fnName, pureName).toFixed(2)}x | ` +
      `${pairedRatio(row, bridgeName, rawName).toFixed(2)}x |`,
  )
}

await bridge.close()
await nc.close()
await servers.stop()

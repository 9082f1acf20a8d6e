// Browser profile: where the time of one smartreceive goes, step by step,
// for the wasm codec and the pure-JS decoder of bench.mjs, in one Chromium
// page. Prints markdown tables (microseconds per message), then the
// Chromium CPU profile (playwright CDP) of smartreceive loops: self time by
// function, wasm functions by their Rust names.
//
//   bash bindings-wasm/build.sh                    # once
//   node benchmarks/browser/profile.mjs            # PROFILE_MS=300 per step
//
// Steps are timed in loops (performance.now() is coarse in a page that is
// not cross-origin isolated), each on inputs prepared before the loop, so a
// step's time is that step alone. The codec's steps call the wasm-bindgen
// module directly (bindings-node/browser/pkg, a second instance beside the
// bundle's); `smartreceive` is the package's whole receive.
import { symlinkSync } from 'node:fs'
import { join } from 'node:path'
import os from 'node:os'
import { launchBrowser, makeSite, openTestPage, serveStatic, workspaceDir } from '../../bindings-wasm/tests/harness.mjs'

const stepMs = Number(process.env.PROFILE_MS ?? 300)
const cpuMs = Number(process.env.PROFILE_CPU_MS ?? 2000)

const site = makeSite()
symlinkSync(join(workspaceDir, 'bindings-node', 'browser', 'pkg'), join(site.dir, 'pkg'))
const origin = await serveStatic(site.dir)
const browser = await launchBrowser()
try {
  const page = await openTestPage(browser, origin.url)
  console.log(`load average before: ${os.loadavg().map((x) => x.toFixed(2)).join(', ')}`)
  await page.evaluate(async () => {
    const nb = window.nb
    const { arrow } = nb
    const codec = await import('./pkg/natsbridge_wasm.js')
    await codec.default()
    const rows = 10_000
    const table = arrow.tableFromArrays({
      id: Int32Array.from({ length: rows }, (_, i) => i),
      score: Float64Array.from({ length: rows }, (_, i) => i * 0.5),
      name: Array.from({ length: rows }, (_, i) => `name-${i % 100}`),
    })
    const binary = new Uint8Array(100 * 1024)
    for (let at = 0; at < binary.length; at += 65536) crypto.getRandomValues(binary.subarray(at, at + 65536))
    const cases = {
      'text 1 KiB': [{ dataname: 'message', data: 'x'.repeat(1024), type: 'text' }],
      'binary 100 KiB': [{ dataname: 'blob', data: binary, type: 'binary' }],
      'table 10,000 rows': [{ dataname: 'table', data: table, type: 'table' }],
    }
    const envelopes = {}
    for (const [name, payloads] of Object.entries(cases)) {
      envelopes[`${name}, with sha256`] = (await nb.encodeDirect('bench.subject', payloads, { directSha256: true })).wire
      envelopes[`${name}, default (no sha256)`] = (await nb.encodeDirect('bench.subject', payloads)).wire
    }
    window.profileSetup = { codec, envelopes }
  })

  // Step timings.
  const steps = await page.evaluate(async (stepMs) => {
    const { codec, envelopes } = window.profileSetup
    const nb = window.nb
    const { tableFromIPC } = nb.arrow
    const utf8 = new TextDecoder('utf-8', { fatal: true })
    const hex = (buffer) => Array.from(new Uint8Array(buffer), (b) => b.toString(16).padStart(2, '0')).join('')
    const fromBase64 = (text) => Uint8Array.fromBase64(text)
    const per = (fn) => {
      let n = 0
      const t0 = performance.now()
      let t
      do {
        for (let i = 0; i < 8; i++) fn()
        n += 8
        t = performance.now()
      } while (t - t0 < stepMs)
      return ((t - t0) * 1000) / n
    }
    const perAsync = async (fn) => {
      let n = 0
      const t0 = performance.now()
      let t
      do {
        for (let i = 0; i < 8; i++) await fn()
        n += 8
        t = performance.now()
      } while (t - t0 < stepMs)
      return ((t - t0) * 1000) / n
    }
    const out = {}
    // The codec API in this build: the deferred-digest one has digestView.
    const deferred = typeof codec.Incoming.prototype.digestView === 'function'
    for (const [name, wire] of Object.entries(envelopes)) {
      const r = {}
      // --- wasm codec
      r['wasm: decode (copy in, JSON, base64, checks)'] = per(() => codec.decode(wire, true).free())
      const inc = codec.decode(wire, true)
      const described = JSON.parse(inc.describe())
      r['wasm: describe + JSON.parse'] = per(() => JSON.parse(inc.describe()))
      let kind = described.payloads[0].kind
      if (kind === 'digest') {
        r['wasm: host sha256 (SubtleCrypto on a wasm memory view)'] = await perAsync(() => crypto.subtle.digest('SHA-256', inc.digestView(0)))
        const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', inc.digestView(0)))
        r['wasm: confirmDigest (compare, deserialize)'] = per(() => {
          const again = codec.decode(wire, true)
          again.confirmDigest(0, digest)
          again.free()
        }) - r['wasm: decode (copy in, JSON, base64, checks)']
        kind = inc.confirmDigest(0, digest)
      }
      if (kind === 'text') r['wasm: value out (text)'] = per(() => inc.text(0))
      else r['wasm: value out (bytes)'] = per(() => inc.bytes(0))
      if (kind === 'table') {
        const ipc = inc.bytes(0)
        r['wasm: tableFromIPC'] = per(() => tableFromIPC(ipc))
      }
      inc.free()
      r['wasm: whole smartreceive'] = await perAsync(() => nb.smartreceive(wire))
      if (!deferred) {
        // What hashing costs in wasm (sha2), for comparison with the host's.
        const env = JSON.parse(utf8.decode(wire))
        const raw = fromBase64(env.payloads[0].data)
        r['(wasm sha256Hex of the payload alone)'] = per(() => codec.sha256Hex(raw))
      }
      // --- pure JS
      r['JS: UTF-8 + JSON.parse'] = per(() => JSON.parse(utf8.decode(wire)))
      const env = JSON.parse(utf8.decode(wire))
      const p = env.payloads[0]
      r['JS: base64 (fromBase64)'] = per(() => fromBase64(p.data))
      const raw = fromBase64(p.data)
      if (p.sha256) r['JS: sha256 (SubtleCrypto + hex)'] = await perAsync(async () => hex(await crypto.subtle.digest('SHA-256', raw)))
      if (p.type === 'text') r['JS: TextDecoder'] = per(() => utf8.decode(raw))
      if (p.type === 'table') r['JS: tableFromIPC'] = per(() => tableFromIPC(raw))
      out[name] = r
    }
    return out
  }, stepMs)
  for (const [name, r] of Object.entries(steps)) {
    console.log(`\n#### ${name}\n\n| step | µs per message |\n|---|---|`)
    for (const [step, us] of Object.entries(r)) console.log(`| ${step} | ${us.toFixed(1)} |`)
  }

  // CPU profile of smartreceive loops, self time by function.
  const cdp = await browser.context.newCDPSession(page)
  await cdp.send('Profiler.enable')
  await cdp.send('Profiler.setSamplingInterval', { interval: 100 })
  for (const name of ['text 1 KiB, default (no sha256)', 'binary 100 KiB, with sha256', 'table 10,000 rows, with sha256']) {
    await cdp.send('Profiler.start')
    await page.evaluate(
      async ([name, ms]) => {
        const wire = window.profileSetup.envelopes[name]
        const end = performance.now() + ms
        while (performance.now() < end) for (let i = 0; i < 8; i++) await window.nb.smartreceive(wire)
      },
      [name, cpuMs],
    )
    const { profile } = await cdp.send('Profiler.stop')
    const self = new Map()
    const byId = new Map(profile.nodes.map((n) => [n.id, n]))
    const counts = new Map()
    for (const id of profile.samples) counts.set(id, (counts.get(id) ?? 0) + 1)
    let total = 0
    for (const [id, count] of counts) {
      const node = byId.get(id)
      const fn = node.callFrame.functionName || `(anonymous ${node.callFrame.url.split('/').pop()}:${node.callFrame.lineNumber})`
      if (fn === '(idle)' || fn === '(program)') continue
      self.set(fn, (self.get(fn) ?? 0) + count)
      total += count
    }
    const top = [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, 14)
    console.log(`\n#### CPU profile: smartreceive of ${name} (self time, ${total} samples)\n\n| function | self |\n|---|---|`)
    for (const [fn, count] of top) console.log(`| \`${fn.length > 90 ? `${fn.slice(0, 87)}...` : fn}\` | ${((100 * count) / total).toFixed(1)}% |`)
  }
  console.log(`\nload average after: ${os.loadavg().map((x) => x.toFixed(2)).join(', ')}`)
} finally {
  await browser.close()
  await origin.close()
  site.remove()
}

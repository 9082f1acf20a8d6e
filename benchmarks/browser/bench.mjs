// Browser benchmark: smartreceive through the wasm codec beside a pure-JS
// decoder of the same envelopes, in one Chromium page and one run.
//
//   bash bindings-wasm/build.sh            # once
//   node benchmarks/browser/bench.mjs      # writes benchmarks/browser/RESULTS.md
//
// Envelopes are made once in the page by the codec, as a default send writes
// them (no sha256 on direct payloads: both decoders check the size) and with
// `directSha256: true` (both also check a sha256): a 1 KiB text, 100 KiB of
// bytes, a 10,000-row table (int32, float64, utf8). Each decoder turns the
// message bytes into the same values: the string, a Uint8Array, an
// apache-arrow Table.
//   wasm:   nb.smartreceive(bytes) (JSON, base64, size, sha256, UTF-8 and
//           Arrow IPC validation in the core's Rust, compiled to wasm), then
//           apache-arrow's tableFromIPC for tables.
//   pure JS: JSON.parse, base64 (Uint8Array.fromBase64 where the browser has
//           it, else atob), SubtleCrypto sha256, TextDecoder, tableFromIPC.
// Rounds interleave the decoders; each rate is the median of the rounds.
import { readFileSync, writeFileSync } from 'node:fs'
import { gzipSync } from 'node:zlib'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { launchBrowser, makeSite, openTestPage, serveStatic, workspaceDir } from '../../bindings-wasm/tests/harness.mjs'

const here = dirname(fileURLToPath(import.meta.url))
const rounds = Number(process.env.BENCH_ROUNDS ?? 7)
const seconds = Number(process.env.BENCH_SECONDS ?? 1)

const site = makeSite()
const origin = await serveStatic(site.dir)
const browser = await launchBrowser()
try {
  const page = await openTestPage(browser, origin.url)
  const results = await page.evaluate(
    async ({ rounds, seconds }) => {
      const nb = window.nb
      const { arrow } = nb
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

      // Envelopes, written by the codec as any sender would.
      const envelopes = {}
      for (const [name, payloads] of Object.entries(cases)) {
        envelopes[`${name}, with sha256`] = (await nb.encodeDirect('bench.subject', payloads, { directSha256: true })).wire
        envelopes[`${name}, default (no sha256)`] = (await nb.encodeDirect('bench.subject', payloads)).wire
      }

      const hex = (buffer) => Array.from(new Uint8Array(buffer), (b) => b.toString(16).padStart(2, '0')).join('')
      const fromBase64 = typeof Uint8Array.fromBase64 === 'function'
        ? (text) => Uint8Array.fromBase64(text)
        : (text) => {
            const bin = atob(text)
            const out = new Uint8Array(bin.length)
            for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i)
            return out
          }
      const utf8 = new TextDecoder('utf-8', { fatal: true })
      async function pureDecode(bytes) {
        const env = JSON.parse(utf8.decode(bytes))
        if (!Array.isArray(env.payloads)) throw new Error('MALFORMED_ENVELOPE')
        for (const p of env.payloads) {
          const raw = fromBase64(p.data)
          if (raw.length !== p.size) throw new Error('INTEGRITY')
          if (p.sha256 && hex(await crypto.subtle.digest('SHA-256', raw)) !== p.sha256) throw new Error('INTEGRITY')
          if (p.type === 'text') p.data = utf8.decode(raw)
          else if (p.type === 'dictionary') p.data = JSON.parse(utf8.decode(raw))
          else if (p.type === 'table') p.data = arrow.tableFromIPC(raw)
          else p.data = raw
        }
        return env
      }
      const decoders = {
        wasm: (bytes) => nb.smartreceive(bytes),
        'pure JS': pureDecode,
      }
      // Both give the same values.
      for (const [name, wire] of Object.entries(envelopes)) {
        const a = await decoders.wasm(wire)
        const b = await decoders['pure JS'](wire)
        const size = (v) => (typeof v === 'string' ? v.length : v.numRows ?? v.length)
        if (size(a.payloads[0].data) !== size(b.payloads[0].data)) throw new Error(`decoders disagree on ${name}`)
      }

      async function rate(decode, wire) {
        let count = 0
        const start = performance.now()
        const end = start + seconds * 1000
        while (performance.now() < end) {
          for (let i = 0; i < 8; i++) await decode(wire)
          count += 8
        }
        return count / ((performance.now() - start) / 1000)
      }
      const samples = {}
      for (const name of Object.keys(envelopes)) samples[name] = { wasm: [], 'pure JS': [] }
      for (let round = 0; round < rounds + 1; round++) {
        for (const [name, wire] of Object.entries(envelopes)) {
          for (const decoder of round % 2 ? ['wasm', 'pure JS'] : ['pure JS', 'wasm']) {
            const r = await rate(decoders[decoder], wire)
            if (round > 0) samples[name][decoder].push(r)
          }
        }
      }
      const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
      const out = {}
      for (const [name, s] of Object.entries(samples)) {
        const ratios = s.wasm.map((w, i) => w / s['pure JS'][i])
        out[name] = { wasm: median(s.wasm), pure: median(s['pure JS']), ratio: median(ratios), bytes: envelopes[name].length }
      }
      return { out, userAgent: navigator.userAgent, fromBase64: typeof Uint8Array.fromBase64 === 'function' }
    },
    { rounds, seconds },
  )
  const wasmFile = join(workspaceDir, 'bindings-node', 'browser', 'pkg', 'natsbridge_wasm_bg.wasm')
  const wasm = readFileSync(wasmFile)
  const gzip = gzipSync(wasm, { level: 9 }).length
  const target = (name) => (name.startsWith('text') ? 1.0 : 1.5)
  const fmt = (n) => Math.round(n).toLocaleString('en-US')
  const lines = Object.entries(results.out).map(
    ([name, r]) =>
      `| ${name} | ${fmt(r.bytes)} | ${fmt(r.wasm)} | ${fmt(r.pure)} | ${r.ratio.toFixed(2)}x | ${target(name).toFixed(1)}x | ${r.ratio >= target(name) ? 'met' : 'missed'} |`,
  )
  const report = [
    '| envelope | message bytes | wasm (msg/s) | pure JS (msg/s) | wasm / pure JS | target | |',
    '|---|---|---|---|---|---|---|',
    ...lines,
  ].join('\n')
  const sizes = `wasm module: ${fmt(wasm.length)} bytes raw, ${fmt(gzip)} bytes gzip -9 (limit 1.5 MB gzip)`
  console.log(report)
  console.log(sizes)
  console.log(`browser: ${results.userAgent}; Uint8Array.fromBase64: ${results.fromBase64}`)
  if (process.env.BENCH_WRITE !== '0') {
    const resultsFile = join(here, 'RESULTS.md')
    const text = readFileSync(resultsFile, 'utf8')
    const start = text.indexOf('<!-- results -->')
    const end = text.indexOf('<!-- /results -->')
    const block = `<!-- results -->\n${report}\n\n${sizes}.\nBrowser: \`${results.userAgent}\`; \`Uint8Array.fromBase64\` ${results.fromBase64 ? 'available (the pure-JS decoder uses it)' : 'missing (the pure-JS decoder uses atob)'}; ${rounds} rounds of ${seconds} s per decoder and envelope.\n`
    if (start >= 0 && end > start) writeFileSync(resultsFile, text.slice(0, start) + block + text.slice(end))
  }
} finally {
  await browser.close()
  await origin.close()
  site.remove()
}

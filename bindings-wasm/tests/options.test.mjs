// The option schema (docs/options.json, generated from core/src/schema.rs)
// against the browser build, in real Chromium: the wasm module's
// optionSchema() is the core's table; every call of the ESM layer takes
// exactly the options of its scopes that a page can honour (read at run time,
// so a new schema row is checked with no edit here), refuses the others with
// INVALID_ARGUMENT, and the drifts of the option-schema issue stay fixed.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'

import { inPage, launchBrowser, makeSite, openTestPage, serveStatic, startServers, workspaceDir } from './harness.mjs'

const schema = JSON.parse(readFileSync(join(workspaceDir, 'docs', 'options.json'), 'utf8'))

// Options of the schema a browser page cannot honour, each with its reason
// (the ESM layer refuses them with INVALID_ARGUMENT).
const NOT_APPLICABLE = {
  credentialsFile: 'a local file, which a page cannot read',
  nkey: 'nkey signing is not in the browser build',
  tlsCaFile: "a local file; the browser's certificate store decides",
  tlsClientCert: "a local file; client certificates are the browser's own",
  tlsClientKey: "a local file; client certificates are the browser's own",
  subscriptionCapacity: 'nats.js over WebSocket has no per-subscription buffer bound',
  saveDir: 'a local directory, which a page cannot write',
  proxy: "fetch uses the browser's own proxy settings",
  maxEnvelopeDownloadSize: "a receive limit of the core's client layer, which the wasm build (codec only) lacks",
  maxLinkPayloads: "a receive limit of the core's client layer, which the wasm build (codec only) lacks",
  maxConcurrentDownloads: "a receive limit of the core's client layer, which the wasm build (codec only) lacks",
  maxTableRows: "a receive limit of the core's client layer, which the wasm build (codec only) lacks",
  handlerTimeout: "a receive limit of the core's client layer, which the wasm build (codec only) lacks",
  downloadConnectTimeout: 'fetch has no connect timeout of its own; downloadTimeout bounds each attempt',
  envelopeTimeout: "a receive limit of the core's client layer, which the wasm build (codec only) lacks",
}
// natsUrl applies, but not its default: a page has no $NATS_URL and no TCP
// (nats://localhost:4222), so a ws:// URL is required.

// Keys of a call's option object that are not options of the schema, each with its reason.
const CALL_ARGUMENTS = {
  'Bridge.request': { timeout: "this request's wait (ms), overriding the connection's requestTimeout" },
  encodeDirect: {
    brokerUrl: 'the brokerUrl written into an envelope made without NATS',
    maxPayload: "the server's max_payload to plan against, without NATS",
  },
}

const CALLS = {
  smartsend: { scopes: ['send'], natsUrl: true },
  smartreceive: { scopes: ['receive'], natsUrl: true },
  encodeDirect: { scopes: ['send'] },
  'Bridge.connect': { scopes: ['connect'] },
  'Bridge.send': { scopes: ['send'] },
  'Bridge.reply': { scopes: ['send'] },
  'Bridge.request': { scopes: ['send', 'receive'] },
  'Bridge.subscribe': { scopes: ['receive', 'subscribe'] },
  'Bridge.receive': { scopes: ['receive'] },
}

let servers
let site
let web
let browser
let page

before(async () => {
  servers = await startServers()
  site = makeSite()
  web = await serveStatic(site.dir)
  browser = await launchBrowser()
  page = await openTestPage(browser, web.url)
})

after(async () => {
  if (browser?.logs.length) console.log(browser.logs.join('\n'))
  await browser?.close()
  await web?.close()
  site?.remove()
  await servers?.stop()
})

/**
 * Runs each `[call, options]` in the page (Bridge calls on a bridge
 * connected to the test server); resolves to each call's error
 * (`{ code, message }`) or `null` when it resolved.
 */
async function tryCalls(cases) {
  const result = await inPage(
    page,
    async (nb, { wsUrl, cases }) => {
      const bridge = await nb.Bridge.connect(wsUrl)
      const { envelope, wire } = await nb.encodeDirect('t.x', [{ dataname: 'm', data: 'hi', type: 'text' }])
      const request = await bridge.receive(wire)
      const payloads = [{ dataname: 'm', data: 'hi', type: 'text' }]
      const run = {
        smartsend: (o) => nb.smartsend('t.x', payloads, o),
        smartreceive: (o) => nb.smartreceive(wire, o),
        encodeDirect: (o) => nb.encodeDirect('t.x', payloads, o),
        'Bridge.connect': (o) => nb.Bridge.connect(wsUrl, o).then((b) => b.close()),
        'Bridge.send': (o) => bridge.send('t.x', payloads, o),
        'Bridge.reply': (o) => bridge.reply(request, payloads, o),
        'Bridge.request': (o) => bridge.request('t.x', payloads, o),
        'Bridge.subscribe': (o) => bridge.subscribe('t.x', o).then((s) => s.unsubscribe()),
        'Bridge.receive': (o) => bridge.receive(wire, o),
      }
      const out = []
      for (const [call, entries] of cases) {
        try {
          await run[call](Object.fromEntries(entries.map(([key, value]) => [key, value === '<symbol>' ? Symbol('no kind') : value])))
          out.push(null)
        } catch (err) {
          out.push({ code: err?.code, message: String(err?.message ?? err) })
        }
      }
      await bridge.close()
      void envelope
      return out
    },
    { wsUrl: servers.wsUrl, cases },
  )
  assert.ok(!result.error, `the page failed: ${JSON.stringify(result.error)}`)
  return result.value
}

describe('option schema parity: the browser build', () => {
  it("optionSchema() is the core's table, as docs/options.json publishes it", async () => {
    const result = await inPage(page, (nb) => nb.optionSchema())
    assert.deepEqual(result.value, schema)
  })

  it('the options the ESM layer refuses are exactly the ones listed here as not applicable', async () => {
    const result = await inPage(page, (nb) => Object.keys(nb.UNAVAILABLE_OPTIONS))
    assert.deepEqual(result.value.sort(), Object.keys(NOT_APPLICABLE).sort())
    for (const camel of Object.keys(NOT_APPLICABLE)) {
      assert.ok(schema.options.some((o) => o.camel === camel), `${camel} is an option of the schema`)
    }
  })

  for (const [name, call] of Object.entries(CALLS)) {
    const takes = (o) => call.scopes.includes(o.scope) || (call.natsUrl && o.scope === 'connect' && o.name === 'nats_url')
    it(`${name} takes every applicable option of ${call.scopes.join(' + ')} by its camelCase name, refuses the rest`, async () => {
      const own = schema.options.filter(takes)
      const ownNames = new Set([...own.map((o) => o.camel), ...Object.keys(CALL_ARGUMENTS[name] ?? {})])
      const applicable = own.filter((o) => !(o.camel in NOT_APPLICABLE))
      const unavailable = own.filter((o) => o.camel in NOT_APPLICABLE)
      const others = schema.options.filter((o) => !ownNames.has(o.camel))
      const snake = own.filter((o) => o.name !== o.camel)
      const cases = [
        ...applicable.map((o) => [name, [[o.camel, '<symbol>']]]),
        ...unavailable.map((o) => [name, [[o.camel, 'x']]]),
        ...others.map((o) => [name, [[o.camel, 1]]]),
        ...snake.map((o) => [name, [[o.name, 1]]]),
      ]
      const errors = await tryCalls(cases)
      let at = 0
      for (const o of applicable) {
        const err = errors[at++]
        assert.equal(err?.code, 'INVALID_ARGUMENT', `${name} { ${o.camel}: Symbol }: ${JSON.stringify(err)}`)
        assert.match(err.message, new RegExp(`option ${o.camel} takes`))
      }
      for (const o of unavailable) {
        const err = errors[at++]
        assert.equal(err?.code, 'INVALID_ARGUMENT', `${name} { ${o.camel} }`)
        assert.match(err.message, new RegExp(`option ${o.camel} is not available in a browser`))
      }
      for (const o of others) {
        const err = errors[at++]
        assert.equal(err?.code, 'INVALID_ARGUMENT', `${name} { ${o.camel} }`)
        assert.match(err.message, new RegExp(`unknown option '${o.camel}' of ${name.replace('.', '\\.')}`))
      }
      for (const o of snake) {
        const err = errors[at++]
        assert.equal(err?.code, 'INVALID_ARGUMENT', `${name} { ${o.name} }`)
        assert.match(err.message, new RegExp(`unknown option '${o.name}'.*'${o.camel}'`))
      }
    })
  }
})

describe('the drifts the option schema fixed (browser)', () => {
  it('directSha256: true puts sha256 on a direct payload (absent by default)', async () => {
    const result = await inPage(page, async (nb) => {
      const payloads = [{ dataname: 'm', data: 'hello', type: 'text' }]
      const withHash = await nb.encodeDirect('t.x', payloads, { directSha256: true })
      const without = await nb.encodeDirect('t.x', payloads)
      return [withHash.envelope.payloads[0].sha256, without.envelope.payloads[0].sha256 ?? null]
    })
    assert.deepEqual(result.value, ['2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824', null])
  })

  it('user without password is INVALID_ARGUMENT, not an empty password', async () => {
    const result = await inPage(page, (nb, url) => nb.Bridge.connect(url, { user: 'alice' }), servers.wsUrl)
    assert.equal(result.error?.code, 'INVALID_ARGUMENT')
    assert.match(result.error.message, /go together/)
  })

  it('downloadTimeout is milliseconds: 300 against a link that never answers fails in well under 3 s', async () => {
    const silent = createServer(() => {}) // accepts, never answers
    await new Promise((ok) => silent.listen(0, '127.0.0.1', ok))
    try {
      const url = `http://127.0.0.1:${silent.address().port}/x/f`
      const result = await inPage(
        page,
        async (nb, url) => {
          const { wire: bytes } = await nb.encodeDirect('t.x', [{ dataname: 'f', data: 'hello', type: 'text' }], { directSha256: true })
          // The same envelope with its payload moved to a link that never answers.
          const wire = JSON.parse(new TextDecoder().decode(bytes))
          Object.assign(wire.payloads[0], { transport: 'link', encoding: 'url', data: url })
          const started = performance.now()
          try {
            await nb.smartreceive(JSON.stringify(wire), { downloadTimeout: 300, maxRetries: 0 })
            return { resolved: true }
          } catch (err) {
            return { code: err.code, message: err.message, elapsed: performance.now() - started }
          }
        },
        url,
      )
      const outcome = result.value
      assert.equal(outcome.code, 'DOWNLOAD', JSON.stringify(outcome))
      assert.match(outcome.message, /took longer than 300 ms/)
      assert.ok(outcome.elapsed >= 250 && outcome.elapsed < 3000, `failed after ${outcome.elapsed} ms`)
    } finally {
      silent.close()
    }
  })

  it('a misspelt option is refused, listing the known ones', async () => {
    const result = await inPage(page, (nb) => nb.encodeDirect('t.x', [{ dataname: 'm', data: 'hi', type: 'text' }], { sizeTreshold: 10 }))
    assert.equal(result.error?.code, 'INVALID_ARGUMENT')
    assert.match(result.error.message, /unknown option 'sizeTreshold' of encodeDirect; known: .*sizeThreshold/)
  })

  it('requestTimeout is no receive option (renamed downloadTimeout)', async () => {
    const result = await inPage(page, (nb) => nb.smartreceive('{}', { requestTimeout: 300 }))
    assert.equal(result.error?.code, 'INVALID_ARGUMENT')
    assert.match(result.error.message, /'requestTimeout' is a connect option/)
  })
})

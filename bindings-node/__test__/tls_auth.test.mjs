// TLS and authentication against servers that require them (issue 19 item 3):
// nb-testenv starts nats-server with TLS (a CA made at start), mutual TLS,
// user/password, an nkey or an operator/JWT setup (.creds), and an https file
// server. Each mode round trips through the Node package; each wrong
// credential or untrusted certificate rejects with its code within the
// connect timeout; no secret shows in an envelope or an error.
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { describe, it } from 'node:test'

import { natsbridge, startServers, subject } from './harness.mjs'

const { Bridge } = natsbridge
const CONNECT_TIMEOUT_MS = 3000

async function roundTrip(bridge, secrets = []) {
  const topic = subject('secure')
  const sub = await bridge.subscribe(topic)
  const sent = await bridge.send(topic, [{ dataname: 'greeting', data: 'hello, secured', type: 'text' }])
  const got = await sub.next(10_000)
  await sub.unsubscribe()
  assert.equal(got.payloads[0].data, 'hello, secured')
  const shown = JSON.stringify(sent) + JSON.stringify(got)
  for (const secret of secrets) assert.ok(!shown.includes(secret), shown)
}

async function failsFast(url, options, code, secrets = []) {
  const started = performance.now()
  const err = await Bridge.connect(url, { ...options, connectTimeout: CONNECT_TIMEOUT_MS }).then(
    () => assert.fail('connecting must fail'),
    (err) => err,
  )
  const elapsed = performance.now() - started
  assert.equal(err.code, code, String(err))
  assert.ok(elapsed < CONNECT_TIMEOUT_MS, `took ${elapsed} ms: ${err}`)
  const shown = `${err} ${err.stack} ${JSON.stringify(err)}`
  for (const secret of secrets) assert.ok(!shown.includes(secret), shown)
  return err
}

async function withServers(args, body) {
  const servers = await startServers(args)
  try {
    await body(servers)
  } finally {
    await servers.stop()
  }
}

describe('TLS', () => {
  it('round trips with a custom CA, links over https, and refuses an untrusted CA in time', async () => {
    await withServers(['--tls', '--fileserver-tls', '--no-jetstream'], async (servers) => {
      const { info } = servers
      assert.match(servers.fileserverUrl, /^https:\/\//)
      const bridge = await Bridge.connect(servers.natsUrl, {
        tlsCaFile: info.tls_ca,
        requireTls: true,
        fileserverUrl: servers.fileserverUrl,
      })
      try {
        await roundTrip(bridge)
        const topic = subject('secure-link')
        const sub = await bridge.subscribe(topic)
        const blob = Buffer.alloc(200_000, 7)
        const sent = await bridge.send(topic, [{ dataname: 'blob', data: blob, type: 'binary' }], { sizeThreshold: 1000 })
        assert.equal(sent.payloads[0].transport, 'link')
        const got = await sub.next(10_000)
        assert.ok(Buffer.from(got.payloads[0].data).equals(blob))
        await sub.unsubscribe()
      } finally {
        await bridge.close()
      }
      const err = await failsFast(servers.natsUrl, { tlsCaFile: info.tls_untrusted_ca }, 'CONNECTION')
      assert.match(String(err.message), /TLS/)
    })
  })

  it('mutual TLS round trips and refuses a missing client certificate in time', async () => {
    await withServers(['--mtls', '--no-jetstream', '--no-fileserver'], async (servers) => {
      const { info } = servers
      const bridge = await Bridge.connect(servers.natsUrl, {
        tlsCaFile: info.tls_ca,
        tlsClientCert: info.tls_client_cert,
        tlsClientKey: info.tls_client_key,
      })
      await roundTrip(bridge)
      await bridge.close()
      await failsFast(servers.natsUrl, { tlsCaFile: info.tls_ca }, 'CONNECTION')
    })
  })
})

describe('auth', () => {
  it('user/password round trips; a wrong password is AUTH in time and never echoed', async () => {
    const password = `node-pw-${randomUUID()}`
    await withServers(['--user', 'alice', '--password', password, '--no-jetstream', '--no-fileserver'], async (servers) => {
      const bridge = await Bridge.connect(servers.natsUrl, { user: 'alice', password })
      await roundTrip(bridge, [password])
      await bridge.close()
      const wrong = `node-wrong-${randomUUID()}`
      await failsFast(servers.natsUrl, { user: 'alice', password: wrong }, 'AUTH', [wrong, password])
    })
  })

  it('nkey and .creds round trip; strangers are AUTH in time', async () => {
    await withServers(['--nkey', '--no-jetstream', '--no-fileserver'], async (servers) => {
      const seed = servers.info.nkey_seed
      const bridge = await Bridge.connect(servers.natsUrl, { nkey: seed })
      await roundTrip(bridge, [seed])
      await bridge.close()
      const stranger = servers.info.stranger_nkey_seed
      await failsFast(servers.natsUrl, { nkey: stranger }, 'AUTH', [stranger, seed])
    })
    await withServers(['--creds', '--no-jetstream', '--no-fileserver'], async (servers) => {
      const bridge = await Bridge.connect(servers.natsUrl, { credentialsFile: servers.info.creds_file })
      await roundTrip(bridge)
      await bridge.close()
      await failsFast(servers.natsUrl, { credentialsFile: servers.info.foreign_creds_file }, 'AUTH')
    })
  })
})

// The live chat page (bindings-node/browser/examples/chat), served by the
// natsbridge file server (`--static`), driven as a user would in Chromium:
// type a message, attach a file, press Send, see the other side's reply
// (`natsbridge respond`: text, an image, a table, a large file by link).
// `natsbridge listen` checks what the page sent; a screenshot is saved.
import assert from 'node:assert/strict'
import { deflateSync, crc32 } from 'node:zlib'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { tableFromArrays, tableToIPC } from 'apache-arrow'
import { launchBrowser, startCli, startServers, subject, workspaceDir } from './harness.mjs'

const screenshotDir = process.env.NB_SCREENSHOT_DIR ?? join(process.env.CARGO_TARGET_DIR ?? join(workspaceDir, 'target'), 'browser-screenshots')

/** A real PNG (an RGB gradient), so the page has something to show. */
function png(width, height) {
  const chunk = (type, data) => {
    const body = Buffer.concat([Buffer.from(type), data])
    const out = Buffer.alloc(8 + data.length + 4)
    out.writeUInt32BE(data.length, 0)
    body.copy(out, 4)
    out.writeUInt32BE(crc32(body), 8 + data.length)
    return out
  }
  const header = Buffer.alloc(13)
  header.writeUInt32BE(width, 0)
  header.writeUInt32BE(height, 4)
  header.set([8, 2, 0, 0, 0], 8)
  const raw = Buffer.alloc((width * 3 + 1) * height)
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const at = y * (width * 3 + 1) + 1 + x * 3
      raw[at] = (x * 255) / width
      raw[at + 1] = (y * 255) / height
      raw[at + 2] = 160
    }
  }
  return Buffer.concat([
    Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ])
}

let servers
let browser
let work

before(async () => {
  // The file server serves the package's browser folder (the chat page and the bundle) under /app/.
  servers = await startServers(['--static-dir', join(workspaceDir, 'bindings-node', 'browser')])
  browser = await launchBrowser()
  work = mkdtempSync(join(tmpdir(), 'natsbridge-chat-test-'))
})

after(async () => {
  if (browser?.logs.length) console.log(browser.logs.join('\n'))
  await browser?.close()
  await servers?.stop()
  if (work) rmSync(work, { recursive: true, force: true })
})

test('a user chats with `natsbridge respond`: text, an image, a table and a large file come back', async () => {
  const room = subject('chat')
  const picture = png(96, 64)
  writeFileSync(join(work, 'sunset.png'), picture)
  const scores = tableFromArrays({ name: ['Alice', 'Bob', 'Carol'], score: Float64Array.from([9.5, 7.25, 8]) })
  writeFileSync(join(work, 'scores.arrow'), tableToIPC(scores, 'stream'))
  const big = Buffer.alloc(1_500_000)
  for (let i = 0; i < big.length; i++) big[i] = i % 251
  writeFileSync(join(work, 'report.pdf'), big)

  const listener = startCli(['listen', room, '--json', '--count', '1', '--server', servers.natsUrl])
  const responder = startCli([
    'respond', room, '--server', servers.natsUrl, '--sender-name', 'rust-responder',
    '--text', 'reply=Hello from Rust, got your message',
    '--file', `${join(work, 'sunset.png')}:image`,
    '--file', `${join(work, 'scores.arrow')}:table`,
    '--file', `${join(work, 'report.pdf')}:binary`,
    '--fileserver-url', servers.fileserverUrl,
  ])
  try {
    await Promise.all([listener.ready, responder.ready])
    const query = new URLSearchParams({ ws: servers.wsUrl, subject: room, name: 'alice' })
    const page = await browser.open(`${servers.fileserverUrl}/app/examples/chat/index.html?${query}`)
    await page.setViewportSize({ width: 900, height: 760 })
    await page.waitForSelector('body[data-state="connected"]', { timeout: 30_000 })

    // As a user: type, attach, send.
    await page.fill('#text', 'Hi from the browser!')
    await page.setInputFiles('#file', { name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('attached notes\n') })
    await page.click('#send')
    await page.waitForSelector('.msg.reply', { timeout: 30_000 })
    await page.waitForFunction(() => {
      const img = document.querySelector('.msg.reply img')
      return img && img.complete && img.naturalWidth > 0
    }, null, { timeout: 10_000 })

    const dom = await page.evaluate(() => {
      const reply = document.querySelector('.msg.reply')
      const link = reply.querySelector('.payload-binary a')
      return {
        who: reply.querySelector('.who').textContent,
        text: reply.querySelector('.payload-text').textContent,
        image: [reply.querySelector('img').naturalWidth, reply.querySelector('img').naturalHeight],
        header: [...reply.querySelectorAll('th')].map((th) => th.textContent),
        rows: [...reply.querySelectorAll('tbody tr')].map((tr) => [...tr.cells].map((td) => td.textContent)),
        link: link && { text: link.textContent, download: link.download, href: link.href.slice(0, 5) },
        linkTransport: reply.querySelector('.payload-binary').dataset.transport,
        mine: [...document.querySelectorAll('.msg.mine .payload')].map((p) => p.textContent),
      }
    })
    assert.equal(dom.who, 'rust-responder')
    assert.equal(dom.text, 'Hello from Rust, got your message')
    assert.deepEqual(dom.image, [96, 64])
    assert.deepEqual(dom.header, ['name', 'score'])
    assert.deepEqual(dom.rows, [['Alice', '9.5'], ['Bob', '7.25'], ['Carol', '8']])
    assert.equal(dom.link.download, 'report.pdf')
    assert.equal(dom.link.href, 'blob:')
    assert.match(dom.link.text, /1,500,000 bytes, link/)
    assert.equal(dom.linkTransport, 'link')
    assert.deepEqual(dom.mine, ['Hi from the browser!', 'attached notes.txt (binary, 15 bytes)'])

    // The download link holds the large file's exact bytes.
    const downloaded = await page.evaluate(async () => {
      const bytes = new Uint8Array(await (await fetch(document.querySelector('.msg.reply .payload-binary a').href)).arrayBuffer())
      let ok = bytes.length === 1_500_000
      for (let i = 0; ok && i < bytes.length; i += 997) ok = bytes[i] === i % 251
      return ok
    })
    assert.ok(downloaded)

    mkdirSync(screenshotDir, { recursive: true })
    const shot = join(screenshotDir, 'chat.png')
    await page.screenshot({ path: shot, fullPage: true })
    console.log(`screenshot: ${shot}`)

    // What the page sent, as the Rust core decoded it.
    const [line] = await listener.waitLines(1)
    const sent = JSON.parse(line)
    assert.equal(sent.sender_name, 'alice')
    const byName = Object.fromEntries(sent.payloads.map((p) => [p.dataname, p]))
    assert.equal(byName.message.value ?? byName.message.data, 'Hi from the browser!')
    assert.equal(Buffer.from(byName['notes.txt'].value ?? byName['notes.txt'].data, 'base64').toString(), 'attached notes\n')
    assert.equal(byName['notes.txt'].metadata.filename, 'notes.txt')
    await page.close()
  } finally {
    responder.stop()
    listener.stop()
  }
})

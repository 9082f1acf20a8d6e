// A chat page on natsbridge: each message (text, and an attached file) is a
// request to the chat subject; the other side (`natsbridge respond`, a
// Python program, ...) answers with any mix of payloads, shown by type:
// text as a bubble, images inline, tables as HTML tables, anything else (a
// large file arriving by link) as a download link.
//
// Query parameters: ws (the NATS WebSocket URL, required), subject (default
// chat.room1), fs (a file server for large attachments; default: the
// JetStream Object Store), name (the sender name).
import * as nb from '../../dist/natsbridge.js'

const params = new URLSearchParams(location.search)
const wsUrl = params.get('ws')
const subject = params.get('subject') ?? 'chat.room1'
const fileserverUrl = params.get('fs') ?? undefined
const senderName = params.get('name') ?? 'browser'

const log = document.getElementById('log')
const state = document.getElementById('state')
const form = document.getElementById('composer')
const textInput = document.getElementById('text')
const fileInput = document.getElementById('file')
const sendButton = document.getElementById('send')

function bubble(who, mine) {
  const div = document.createElement('div')
  div.className = mine ? 'msg mine' : 'msg'
  const label = document.createElement('div')
  label.className = 'who'
  label.textContent = who
  div.append(label)
  log.append(div)
  return div
}

function typeOfFile(file) {
  if (file.type.startsWith('image/')) return 'image'
  if (file.type.startsWith('audio/')) return 'audio'
  if (file.type.startsWith('video/')) return 'video'
  if (file.name.endsWith('.arrow')) return 'table'
  return 'binary'
}

/** Shows one received payload as its type calls for. */
function render(container, payload) {
  const part = document.createElement('div')
  part.className = `payload payload-${payload.type}`
  part.dataset.dataname = payload.dataname
  part.dataset.transport = payload.transport
  if (payload.type === 'text') {
    part.textContent = payload.data
  } else if (payload.type === 'dictionary') {
    const pre = document.createElement('pre')
    pre.textContent = JSON.stringify(payload.data, null, 2)
    part.append(pre)
  } else if (payload.type === 'table') {
    const table = document.createElement('table')
    const fields = payload.data.schema.fields.map((f) => f.name)
    const head = table.createTHead().insertRow()
    for (const name of fields) head.append(Object.assign(document.createElement('th'), { textContent: name }))
    const body = table.createTBody()
    for (const row of payload.data.toArray()) {
      const tr = body.insertRow()
      for (const name of fields) tr.insertCell().textContent = String(row[name])
    }
    part.append(table)
  } else if (payload.type === 'image') {
    const img = document.createElement('img')
    img.alt = payload.dataname
    img.src = URL.createObjectURL(new Blob([payload.data], { type: payload.metadata?.content_type ?? 'image/png' }))
    part.append(img)
  } else {
    const a = document.createElement('a')
    a.href = URL.createObjectURL(new Blob([payload.data]))
    a.download = payload.dataname
    a.textContent = `${payload.dataname} (${payload.size.toLocaleString()} bytes, ${payload.transport})`
    part.append(a)
  }
  container.append(part)
}

let bridge
async function start() {
  if (!wsUrl) throw new Error('open this page with ?ws=ws://host:port (the NATS WebSocket listener)')
  bridge = await nb.Bridge.connect(wsUrl, { name: 'natsbridge-chat' })
  state.textContent = `connected to ${bridge.brokerUrl}, subject ${subject}`
  document.body.dataset.state = 'connected'
  sendButton.disabled = false
}

form.addEventListener('submit', async (event) => {
  event.preventDefault()
  const text = textInput.value
  const file = fileInput.files[0]
  if (!text && !file) return
  const payloads = []
  if (text) payloads.push({ dataname: 'message', data: text, type: 'text' })
  if (file) {
    payloads.push({
      dataname: file.name,
      data: new Uint8Array(await file.arrayBuffer()),
      type: typeOfFile(file),
      metadata: { content_type: file.type, filename: file.name },
    })
  }
  const mine = bubble(senderName, true)
  for (const p of payloads) {
    const part = document.createElement('div')
    part.className = 'payload payload-own'
    part.textContent = p.type === 'text' ? p.data : `attached ${p.dataname} (${p.type}, ${p.data.length.toLocaleString()} bytes)`
    mine.append(part)
  }
  textInput.value = ''
  fileInput.value = ''
  try {
    const reply = await bridge.request(subject, payloads, { senderName, timeout: 15_000, fileserverUrl })
    const theirs = bubble(reply.senderName || 'reply', false)
    theirs.classList.add('reply')
    for (const payload of reply.payloads) render(theirs, payload)
  } catch (err) {
    const failed = bubble('error', false)
    failed.classList.add('error')
    failed.textContent = `${err.code}: ${err.message}`
  }
  log.scrollTop = log.scrollHeight
})

start().catch((err) => {
  state.textContent = `${err.code ?? 'ERROR'}: ${err.message}`
  document.body.dataset.state = 'failed'
})

"""The interop matrix's MicroPython driver (the unix port): natsbridge_micro,
one Client for the whole run, speaking the runner's JSON-lines protocol on
stdin/stdout (tests/interop/README.md).

No Arrow on a device: a table goes out as the raw Arrow IPC bytes the runner
gives (``ipc_b64``) and comes back as raw IPC bytes (the runner reads them).
No Object Store client: the runner gives it no link-objstore cell."""

# MicroPython code: %-formatting works on every port and build.
# ruff: noqa: UP031

import binascii
import hashlib
import json
import os
import sys

import natsbridge_micro as nb

client = nb.Client(os.getenv("NATS_URL"))
fileserver_url = os.getenv("FILESERVER_URL")
inboxes = {}  # subject -> (sid, list of messages)


def b64(data):
    return binascii.b2a_base64(data).decode().strip()


def send_options(transport):
    if transport == "link-http":
        return {"fileserver_url": fileserver_url, "size_threshold": 1}
    return {}


def value(spec):
    kind = spec["type"]
    if kind == "text":
        return spec["text"]
    if kind == "dictionary":
        return spec["json"]
    if kind == "table":
        return binascii.a2b_base64(spec["table"]["ipc_b64"])
    return binascii.a2b_base64(spec["b64"])


def outgoing(specs):
    return [(s["dataname"], value(s), s["type"]) for s in specs]


def canonical(envelope):
    out = []
    for dataname, data, kind in envelope["payloads"]:
        item = {"dataname": dataname, "type": kind}
        if kind == "text":
            item["text"] = data
        elif kind == "dictionary":
            item["json"] = data
        elif kind == "table":
            item["ipc_b64"] = b64(bytes(data))
        else:
            data = bytes(data)
            item["sha256"] = binascii.hexlify(hashlib.sha256(data).digest()).decode()
            item["len"] = len(data)
        out.append(item)
    return out


def take(op):
    sid, got = inboxes.pop(op["subject"])
    try:
        waited = 0
        while not got and waited < op["timeout_ms"]:
            client.wait_msg(0.1)
            waited += 100
        if not got:
            raise nb.NatsTimeoutError(
                "nothing on %s within %d ms" % (op["subject"], op["timeout_ms"])
            )
        return nb.smartreceive(got[0])
    finally:
        client.unsubscribe(sid)


def handle(op):
    kind = op["op"]
    if kind == "subscribe":
        got = []
        inboxes[op["subject"]] = (client.subscribe(op["subject"], got.append), got)
        return {}
    if kind == "send":
        client.smartsend(
            op["subject"], outgoing(op["payloads"]), **send_options(op["transport"])
        )
        return {}
    if kind == "receive":
        return {"payloads": canonical(take(op))}
    if kind == "request":
        reply = client.request(
            op["subject"],
            outgoing(op["payloads"]),
            op["timeout_ms"] / 1000,
            **send_options(op["transport"]),
        )
        return {"payloads": canonical(reply)}
    if kind == "answer":
        request = take(op)
        client.reply(
            request, list(request["payloads"]), **send_options(op["transport"])
        )
        return {"payloads": canonical(request)}
    raise ValueError("unknown op " + kind)


print(json.dumps({"ready": "micropython"}))
while True:
    line = sys.stdin.readline()
    if not line:
        break
    op = json.loads(line)
    if op["op"] == "quit":
        break
    try:
        result = handle(op)
        result["ok"] = True
    except Exception as e:  # noqa: BLE001 (the cell's reason, back to the runner)
        result = {"ok": False, "error": "%s: %s" % (type(e).__name__, e)}
    print(json.dumps(result))
client.close()

"""The interop matrix's third-party driver: a natsbridge peer written from
docs/wire-v1.md alone, with nats-py, json, base64, hashlib, urllib and
pyarrow. It imports nothing of natsbridge; it speaks the runner's JSON-lines
protocol on stdin/stdout (tests/interop/README.md).

Links: http(s) through the natsbridge file server (PUT <base>/<id>/<name>,
GET the same URL) and nats-object://<bucket>/<name> through nats-py's
JetStream Object Store, in the bucket natsbridge receivers read by default
("natsbridge")."""

from __future__ import annotations

import asyncio
import base64
import datetime
import hashlib
import json
import os
import sys
import urllib.parse
import urllib.request
import uuid

import nats
import pyarrow
from pyvalues import canonical, ipc_table, spec_value

BUCKET = "natsbridge"
NATS_URL = os.environ["NATS_URL"]
FILESERVER_URL = os.environ["FILESERVER_URL"]
SENDER_ID = str(uuid.uuid4())


def serialize(kind: str, value) -> bytes:
    """Section 4: the serialized bytes of a value per type."""
    if kind == "text":
        return value.encode("utf-8")
    if kind == "dictionary":
        return json.dumps(value, ensure_ascii=False).encode("utf-8")
    if kind == "table":
        sink = pyarrow.BufferOutputStream()
        with pyarrow.ipc.new_stream(sink, value.schema) as writer:
            writer.write_table(value)
        return sink.getvalue().to_pybytes()
    return bytes(value)


def deserialize(kind: str, data: bytes):
    if kind == "text":
        return data.decode("utf-8")
    if kind == "dictionary":
        return json.loads(data.decode("utf-8"))
    if kind == "table":
        return ipc_table(data)
    return data


class Peer:
    def __init__(self) -> None:
        self.nc = None
        self.js = None
        self.subs: dict[str, object] = {}

    async def connect(self) -> None:
        self.nc = await nats.connect(NATS_URL)
        self.js = self.nc.jetstream()

    async def store(self):
        try:
            return await self.js.object_store(BUCKET)
        # Not there yet: create it (nats-py raises its own NotFound classes).
        except Exception:  # noqa: BLE001
            return await self.js.create_object_store(BUCKET)

    async def envelope(
        self, subject: str, items: list[tuple], transport: str, **fields
    ) -> bytes:
        """Sections 2, 3 and 5: the envelope JSON of (dataname, value, type) items."""
        payloads = []
        for dataname, value, kind in items:
            data = serialize(kind, value)
            pid = str(uuid.uuid4())
            digest = hashlib.sha256(data).hexdigest()
            payload = {
                "id": pid,
                "dataname": dataname,
                "type": kind,
                "size": len(data),
                "sha256": digest,
                "metadata": {},
            }
            if transport == "direct":
                payload.update(
                    transport="direct",
                    encoding="base64",
                    data=base64.b64encode(data).decode("ascii"),
                )
            elif transport == "link-http":
                url = f"{FILESERVER_URL}/{pid}/{urllib.parse.quote(dataname, safe='')}"
                request = urllib.request.Request(url, data=data, method="PUT")
                await asyncio.to_thread(
                    lambda r=request: urllib.request.urlopen(r, timeout=10).read()
                )
                payload.update(transport="link", encoding="url", data=url)
            else:
                name = f"{pid}/{dataname}"
                await (await self.store()).put(name, data)
                payload.update(
                    transport="link",
                    encoding="url",
                    data=f"nats-object://{BUCKET}/{name}",
                )
            payloads.append(payload)
        now = datetime.datetime.now(datetime.UTC)
        envelope = {
            "version": 1,
            "correlation_id": str(uuid.uuid4()),
            "msg_id": str(uuid.uuid4()),
            "timestamp": now.strftime("%Y-%m-%dT%H:%M:%S.")
            + f"{now.microsecond // 1000:03d}Z",
            "send_to": subject,
            "msg_purpose": "chat",
            "sender_name": "third-party",
            "sender_id": SENDER_ID,
            "receiver_name": "",
            "receiver_id": "",
            "reply_to": "",
            "reply_to_msg_id": "",
            "broker_url": NATS_URL,
            "metadata": {},
            "payloads": payloads,
        }
        envelope.update(fields)
        return json.dumps(envelope).encode("utf-8")

    async def fetch(self, url: str) -> bytes:
        if url.startswith(("http://", "https://")):
            return await asyncio.to_thread(
                lambda: urllib.request.urlopen(url, timeout=10).read()
            )
        if url.startswith("nats-object://"):
            bucket, _, name = url[len("nats-object://") :].partition("/")
            store = await self.js.object_store(bucket)
            return (await store.get(urllib.parse.unquote(name))).data
        raise ValueError(f"URL not allowed: {url}")

    async def decode(self, body: bytes) -> dict:
        """Sections 2-5 on receive: check version, fields, size and sha256."""
        envelope = json.loads(body)
        if envelope.get("version", 1) > 1:
            raise ValueError("unsupported version")
        items = []
        for p in envelope["payloads"]:
            if not p.get("dataname"):
                raise ValueError("a payload without a dataname")
            if p["transport"] == "direct":
                data = base64.b64decode(p["data"], validate=True)
            else:
                data = await self.fetch(p["data"])
            if len(data) != p["size"]:
                raise ValueError(f"{p['dataname']}: size {len(data)} != {p['size']}")
            if p.get("sha256") and hashlib.sha256(data).hexdigest() != p["sha256"]:
                raise ValueError(f"{p['dataname']}: sha256 mismatch")
            items.append((p["dataname"], deserialize(p["type"], data), p["type"]))
        envelope["payloads"] = items
        return envelope

    async def take(self, op: dict):
        sub = self.subs.pop(op["subject"])
        try:
            return await sub.next_msg(timeout=op["timeout_ms"] / 1000)
        finally:
            await sub.unsubscribe()

    async def handle(self, op: dict) -> dict:
        kind = op["op"]
        if kind == "subscribe":
            self.subs[op["subject"]] = await self.nc.subscribe(op["subject"])
            await self.nc.flush()
            return {}
        if kind == "send":
            items = [(s["dataname"], spec_value(s), s["type"]) for s in op["payloads"]]
            await self.nc.publish(
                op["subject"],
                await self.envelope(op["subject"], items, op["transport"]),
            )
            await self.nc.flush()
            return {}
        if kind == "receive":
            envelope = await self.decode((await self.take(op)).data)
            return {
                "payloads": [canonical(d, t, v) for d, v, t in envelope["payloads"]]
            }
        if kind == "request":
            items = [(s["dataname"], spec_value(s), s["type"]) for s in op["payloads"]]
            body = await self.envelope(
                op["subject"], items, op["transport"], msg_purpose="request"
            )
            msg = await self.nc.request(
                op["subject"], body, timeout=op["timeout_ms"] / 1000
            )
            envelope = await self.decode(msg.data)
            return {
                "payloads": [canonical(d, t, v) for d, v, t in envelope["payloads"]]
            }
        if kind == "answer":
            msg = await self.take(op)
            request = await self.decode(msg.data)
            # Section 6: the NATS reply subject first (unless it starts with $), else reply_to.
            target = (
                msg.reply
                if msg.reply and not msg.reply.startswith("$")
                else request.get("reply_to", "")
            )
            if not target:
                raise ValueError("nowhere to reply")
            body = await self.envelope(
                target,
                request["payloads"],
                op["transport"],
                msg_purpose="response",
                correlation_id=request.get("correlation_id", ""),
                reply_to_msg_id=request.get("msg_id", ""),
            )
            await self.nc.publish(target, body)
            await self.nc.flush()
            return {"payloads": [canonical(d, t, v) for d, v, t in request["payloads"]]}
        raise ValueError(f"unknown op {kind!r}")


async def main() -> None:
    peer = Peer()
    await peer.connect()
    print(json.dumps({"ready": "thirdparty"}), flush=True)
    while True:
        line = await asyncio.to_thread(sys.stdin.readline)
        if not line:
            break
        op = json.loads(line)
        if op["op"] == "quit":
            break
        try:
            result = {"ok": True, **await peer.handle(op)}
        except Exception as e:  # noqa: BLE001 (the cell's reason, back to the runner)
            result = {"ok": False, "error": f"{type(e).__name__}: {e}"}
        print(json.dumps(result), flush=True)
    await peer.nc.close()


asyncio.run(main())

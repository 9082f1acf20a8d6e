"""A pure-Python implementation of natsbridge wire format v1 on nats-py.

The peer the Python benchmark measures natsbridge against: what a careful
Python developer would write from the spec (shared/spec/wire-v1.md) with the
standard library (json, base64, hashlib), pyarrow for Arrow IPC and nats-py
for NATS. It follows the spec's sender and receiver rules: UUIDv4 ids,
RFC 3339 timestamps, the Nats-Msg-Id and Content-Type headers, sha256 and
size on every payload and their check on receive, the size threshold with
link transport through an HTTP file server (PUT to
``<fileserver_url>/<id>/<dataname>``, GET with retries and backoff), unknown
types delivered as bytes, a version check.

Not a product: no Object Store, no max_payload planning, no streaming.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import io
import json
import os
import random
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from typing import Any

import pyarrow as pa
import pyarrow.ipc

CONTENT_TYPE = "application/vnd.natsbridge.envelope+json"
BINARY_TYPES = {"image", "audio", "video", "binary"}
SENDER_ID = str(uuid.uuid4())


class WireError(Exception):
    """A message that does not follow wire v1, or a payload that fails its checks."""


def _now() -> str:
    now = datetime.datetime.now(datetime.timezone.utc)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


def serialize(value: Any, payload_type: str) -> bytes:
    """The serialized bytes of one payload (wire-v1 section 4)."""
    if payload_type == "text":
        return value.encode("utf-8")
    if payload_type == "dictionary":
        return json.dumps(value, separators=(",", ":"), allow_nan=False).encode("utf-8")
    if payload_type == "table":
        if not isinstance(value, (pa.Table, pa.RecordBatch)):
            value = pa.table(value)
        sink = io.BytesIO()
        with pa.ipc.new_stream(sink, value.schema) as writer:
            writer.write(value)
        return sink.getvalue()
    if payload_type in BINARY_TYPES:
        return bytes(value)
    raise WireError(f"unknown payload type {payload_type!r}")


def deserialize(raw: bytes, payload_type: str) -> Any:
    """The value of one payload from its serialized bytes."""
    if payload_type == "text":
        return raw.decode("utf-8")
    if payload_type == "dictionary":
        return json.loads(raw)
    if payload_type == "table":
        return pa.ipc.open_stream(raw).read_all()
    return raw


def _upload(fileserver_url: str, payload_id: str, dataname: str, raw: bytes) -> str:
    url = f"{fileserver_url.rstrip('/')}/{payload_id}/{urllib.parse.quote(dataname, safe='')}"
    request = urllib.request.Request(url, data=raw, method="PUT")
    with urllib.request.urlopen(request, timeout=30):
        pass
    return url


def _download(url: str, max_retries: int, base_delay: int, max_delay: int) -> bytes:
    if not url.startswith(("http://", "https://")):
        raise WireError(f"refusing to fetch {url!r}")
    for attempt in range(max_retries + 1):
        try:
            with urllib.request.urlopen(url, timeout=30) as response:
                return response.read()
        except urllib.error.HTTPError as err:
            if err.code < 500 and err.code != 429:
                raise
            if attempt == max_retries:
                raise
        except OSError:
            if attempt == max_retries:
                raise
        delay = min(base_delay * 2**attempt, max_delay)
        delay = delay / 2 + random.uniform(0, delay / 2)
        time.sleep(delay / 1000)
    raise WireError("unreachable")


def encode(
    subject: str,
    data: list[tuple[str, Any, str]],
    *,
    nats_url: str,
    fileserver_url: str | None = None,
    size_threshold: int = 1_000_000,
    correlation_id: str | None = None,
    msg_purpose: str = "chat",
    sender_name: str = "NATSBridge",
    receiver_name: str = "",
    receiver_id: str = "",
    reply_to: str = "",
    reply_to_msg_id: str = "",
    metadata: dict | None = None,
    direct_sha256: bool = False,
) -> dict:
    """The envelope of a send, with every payload serialized and placed.
    ``sha256`` is written for link payloads, and for direct ones only with
    ``direct_sha256`` (optional there in wire v1; natsbridge's default too)."""
    payloads = []
    for dataname, value, payload_type in data:
        if not dataname:
            raise WireError("empty dataname")
        raw = serialize(value, payload_type)
        payload_id = str(uuid.uuid4())
        entry = {
            "id": payload_id,
            "dataname": dataname,
            "type": payload_type,
            "size": len(raw),
            "metadata": {},
        }
        link = len(raw) >= size_threshold
        if link or direct_sha256:
            entry["sha256"] = hashlib.sha256(raw).hexdigest()
        if link:
            if not fileserver_url:
                raise WireError(f"payload {dataname!r} needs a file server")
            entry.update(
                transport="link",
                encoding="url",
                data=_upload(fileserver_url, payload_id, dataname, raw),
            )
        else:
            entry.update(
                transport="direct",
                encoding="base64",
                data=base64.b64encode(raw).decode("ascii"),
            )
        payloads.append(entry)
    return {
        "version": 1,
        "correlation_id": correlation_id or str(uuid.uuid4()),
        "msg_id": str(uuid.uuid4()),
        "timestamp": _now(),
        "send_to": subject,
        "msg_purpose": msg_purpose,
        "sender_name": sender_name,
        "sender_id": SENDER_ID,
        "receiver_name": receiver_name,
        "receiver_id": receiver_id,
        "reply_to": reply_to,
        "reply_to_msg_id": reply_to_msg_id,
        "broker_url": nats_url,
        "metadata": metadata or {},
        "payloads": payloads,
    }


async def smartsend(nc, subject: str, data: list[tuple[str, Any, str]], **options) -> dict:
    """Sends one envelope on ``subject`` through the nats-py client ``nc``."""
    envelope = encode(subject, data, nats_url=options.pop("nats_url", ""), **options)
    body = json.dumps(envelope, separators=(",", ":")).encode("utf-8")
    headers = {"Nats-Msg-Id": envelope["msg_id"], "Content-Type": CONTENT_TYPE}
    await nc.publish(subject, body, headers=headers)
    return envelope


def smartreceive(
    msg: Any, max_retries: int = 5, base_delay: int = 100, max_delay: int = 5000
) -> dict:
    """Decodes a message (bytes or a nats-py Msg) into the envelope's fields
    with ``"payloads"`` as ``(dataname, value, type)`` tuples."""
    body = getattr(msg, "data", msg)
    try:
        envelope = json.loads(body)
    except ValueError as err:
        raise WireError(f"not JSON: {err}") from err
    if not isinstance(envelope, dict) or not isinstance(envelope.get("payloads"), list):
        raise WireError("not an envelope")
    if envelope.get("version", 1) > 1:
        raise WireError(f"unsupported version {envelope['version']}")
    payloads = []
    for payload in envelope["payloads"]:
        if payload.get("transport") == "link":
            raw = _download(payload["data"], max_retries, base_delay, max_delay)
        else:
            raw = base64.b64decode(payload["data"], validate=True)
        if len(raw) != payload["size"]:
            raise WireError(f"payload {payload['dataname']!r}: size mismatch")
        sha = payload.get("sha256")
        if sha and hashlib.sha256(raw).hexdigest() != sha:
            raise WireError(f"payload {payload['dataname']!r}: sha256 mismatch")
        payloads.append((payload["dataname"], deserialize(raw, payload["type"]), payload["type"]))
    envelope["payloads"] = payloads
    return envelope


if __name__ == "__main__":  # a self-check: encode and decode without a server
    envelope = encode(
        "/chat/room1",
        [("m", "Hello", "text"), ("t", {"a": [1, 2]}, "table"), ("b", os.urandom(8), "binary")],
        nats_url="nats://localhost:4222",
    )
    back = smartreceive(json.dumps(envelope).encode())
    assert back["payloads"][0] == ("m", "Hello", "text")
    assert back["payloads"][1][1].to_pydict() == {"a": [1, 2]}
    print("ok")

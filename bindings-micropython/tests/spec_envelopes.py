"""Envelopes built and checked from shared/spec/wire-v1.md alone (json,
base64, hashlib, uuid), with no natsbridge code: the reference the module's
output and input are held against."""

from __future__ import annotations

import base64
import hashlib
import re
import uuid
from datetime import UTC, datetime

UUID4 = re.compile(
    r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"
)
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
ENVELOPE_STRINGS = [
    "correlation_id",
    "msg_id",
    "timestamp",
    "send_to",
    "msg_purpose",
    "sender_name",
    "sender_id",
    "receiver_name",
    "receiver_id",
    "reply_to",
    "reply_to_msg_id",
    "broker_url",
]


def hexed(blob: bytes) -> dict:
    return {"hex": blob.hex()}


def spec_payload(dataname: str, raw: bytes, kind: str, with_sha: bool = True) -> dict:
    p = {
        "id": str(uuid.uuid4()),
        "dataname": dataname,
        "type": kind,
        "transport": "direct",
        "encoding": "base64",
        "size": len(raw),
        "data": base64.b64encode(raw).decode(),
        "metadata": {},
    }
    if with_sha:
        p["sha256"] = hashlib.sha256(raw).hexdigest()
    return p


def spec_envelope(subject: str, payloads: list, **fields) -> dict:
    env = {
        "version": 1,
        "correlation_id": str(uuid.uuid4()),
        "msg_id": str(uuid.uuid4()),
        "timestamp": "2026-11-25T10:00:00.123Z",
        "send_to": subject,
        "msg_purpose": "chat",
        "sender_name": "hand-built",
        "sender_id": str(uuid.uuid4()),
        "receiver_name": "",
        "receiver_id": "",
        "reply_to": "",
        "reply_to_msg_id": "",
        "broker_url": "nats://127.0.0.1:4222",
        "metadata": {},
        "payloads": payloads,
    }
    env.update(fields)
    return env


def assert_spec_envelope(env: dict, subject: str, broker_url: str) -> None:
    """Checks an envelope as it went over the wire against spec sections 2-3."""
    assert env["version"] == 1
    for field in ENVELOPE_STRINGS:
        assert isinstance(env[field], str), field
    for field in ("correlation_id", "msg_id", "sender_id"):
        assert UUID4.match(env[field]), (field, env[field])
    assert TIMESTAMP.match(env["timestamp"]), env["timestamp"]
    sent = datetime.strptime(env["timestamp"], "%Y-%m-%dT%H:%M:%S.%fZ")
    now = datetime.now(UTC).replace(tzinfo=None)
    assert abs((now - sent).total_seconds()) < 120, (env["timestamp"], now)
    assert env["send_to"] == subject
    assert env["broker_url"] == broker_url and "@" not in env["broker_url"]
    assert isinstance(env["metadata"], dict)
    assert isinstance(env["payloads"], list)
    for p in env["payloads"]:
        assert UUID4.match(p["id"])
        assert isinstance(p["dataname"], str) and p["dataname"]
        assert p["type"] in (
            "text",
            "dictionary",
            "table",
            "image",
            "audio",
            "video",
            "binary",
        )
        assert isinstance(p["metadata"], dict)
        assert re.fullmatch(r"[0-9a-f]{64}", p["sha256"])
        if p["transport"] == "direct":
            assert p["encoding"] == "base64"
            raw = base64.b64decode(p["data"], validate=True)
            assert base64.b64encode(raw).decode() == p["data"]  # padded, canonical
            assert len(raw) == p["size"]
            assert hashlib.sha256(raw).hexdigest() == p["sha256"]
        else:
            assert (p["transport"], p["encoding"]) == ("link", "url")
            assert p["data"].startswith("http://")


def spec_link(dataname: str, raw: bytes, kind: str, url: str) -> dict:
    """A link payload whose URL serves raw."""
    return {
        "id": str(uuid.uuid4()),
        "dataname": dataname,
        "type": kind,
        "transport": "link",
        "encoding": "url",
        "size": len(raw),
        "sha256": hashlib.sha256(raw).hexdigest(),
        "data": url,
        "metadata": {},
    }

"""Every payload type end to end: MicroPython <-> MicroPython, MicroPython ->
nats-py, and nats-py (an envelope built by hand from the spec) -> MicroPython."""

from __future__ import annotations

import json
import random
import uuid

import pytest

import natsbridge_micro as nb
from micro_runner import RECEIVE_ONE, publish, receive_while
from spec_envelopes import (
    ENVELOPE_STRINGS,
    assert_spec_envelope,
    hexed,
    spec_envelope,
    spec_payload,
)

_rng = random.Random(7)
TEXT = 'Hello World ☃ 🚀 ünïcödé, "quotes" \\ and a\nnewline'
DICT = {
    "wifi_ssid": "MyNetwork",
    "update_interval": 60,
    "nested": {"k": [1, 2.5, {"x": "é☃🚀"}], "none": None, "yes": True},
    "escapes": '"\\\n\t\u0001',
}
# Sizes around base64's 3-byte groups and the module's 1536-byte encode chunks.
BLOBS = {
    "table": _rng.randbytes(301),
    "image": bytes(range(256)) * 12,
    "audio": _rng.randbytes(1537),
    "video": _rng.randbytes(4609),
    "binary": _rng.randbytes(3002),
}

# Builds the payload list on the sending side, from P (JSON parameters).
BUILD = """
import binascii

def build():
    blob = {}
    for kind in P["blobs"]:
        blob[kind] = binascii.unhexlify(P["blobs"][kind])
    return [
        ("message", P["text"], "text"),
        ("config", P["dict"], "dictionary"),
        ("list", [1, "two", None, True, 2.5], "dictionary"),
        ("number", 42, "dictionary"),
        ("string", "just a string", "dictionary"),
        ("flag", False, "dictionary"),
        ("nothing", None, "dictionary"),
        ("students.arrow", blob["table"], "table"),
        ("avatar", blob["image"], "image"),
        ("clip", bytearray(blob["audio"]), "audio"),
        ("movie", memoryview(blob["video"]), "video"),
        ("blob", blob["binary"], "binary"),
        ("empty", b"", "binary"),
        ("данные ☃", "unicode dataname", "text", {"hint": "héllo"}),
    ]
"""

SEND = (
    BUILD
    + """
env = nb.smartsend(P["subject"], build(), nats_url=P["nats_url"],
                   metadata=P["metadata"], msg_purpose="telemetry", keep_data=True)
result(env)
"""
)


def expected_payloads() -> list:
    return [
        ["message", TEXT, "text"],
        ["config", DICT, "dictionary"],
        ["list", [1, "two", None, True, 2.5], "dictionary"],
        ["number", 42, "dictionary"],
        ["string", "just a string", "dictionary"],
        ["flag", False, "dictionary"],
        ["nothing", None, "dictionary"],
        ["students.arrow", hexed(BLOBS["table"]), "table"],
        ["avatar", hexed(BLOBS["image"]), "image"],
        ["clip", hexed(BLOBS["audio"]), "audio"],
        ["movie", hexed(BLOBS["video"]), "video"],
        ["blob", hexed(BLOBS["binary"]), "binary"],
        ["empty", hexed(b""), "binary"],
        ["данные ☃", "unicode dataname", "text"],
    ]


def send_params(nats_url: str, subject: str) -> dict:
    return {
        "nats_url": nats_url,
        "subject": subject,
        "text": TEXT,
        "dict": DICT,
        "blobs": {k: v.hex() for k, v in BLOBS.items()},
        "metadata": {"note": "héllo ☃", "n": 1},
    }


@pytest.mark.parametrize(
    ("sender", "receiver"),
    [
        ("micropython", "micropython"),
        ("micropython", "cpython"),
        ("cpython", "micropython"),
    ],
)
def test_every_type_between_module_instances(nb_env, script, sender, receiver):
    subject = f"/chat/{uuid.uuid4().hex}"
    receiving = script(receiver, RECEIVE_ONE, nats_url=nb_env.nats_url, subject=subject)
    receiving.wait_for("READY")
    sent = script(sender, SEND, **send_params(nb_env.nats_url, subject)).result()
    got = receiving.result()
    assert "error" not in got, got
    env = got["env"]

    assert env["payloads"] == expected_payloads()
    for field in [*ENVELOPE_STRINGS, "version", "metadata"]:
        assert env[field] == sent[field], field
    assert env["msg_purpose"] == "telemetry"
    assert env["metadata"] == {"note": "héllo ☃", "n": 1}
    assert env["_nats_reply"] == ""
    assert got["headers"] == {
        "Nats-Msg-Id": sent["msg_id"],
        "Content-Type": "application/vnd.natsbridge.envelope+json",
    }
    assert [p["dataname"] for p in sent["payloads"]] == [
        p[0] for p in expected_payloads()
    ]
    assert sent["payloads"][-1]["metadata"] == {"hint": "héllo"}


def test_micropython_to_nats_py(nb_env, script):
    """A plain nats-py subscriber gets a spec-conformant envelope, which the
    module decodes under CPython."""
    subject = "/chat/room1"
    sent = {}

    def send():
        sent.update(
            script(
                "micropython", SEND, **send_params(nb_env.nats_url, subject)
            ).result()
        )

    (msg,) = receive_while(nb_env.nats_url, subject, send)
    wire = json.loads(msg.data)
    assert_spec_envelope(wire, subject, nb_env.nats_url)
    assert wire == sent  # keep_data=True returns exactly what was sent
    assert msg.headers == {
        "Nats-Msg-Id": sent["msg_id"],
        "Content-Type": "application/vnd.natsbridge.envelope+json",
    }
    env = nb.smartreceive(msg)
    assert [
        [d, hexed(v) if isinstance(v, bytes | bytearray) else v, t]
        for d, v, t in env["payloads"]
    ] == expected_payloads()
    assert env["msg_id"] == sent["msg_id"]


@pytest.mark.parametrize("with_headers", [False, True])
def test_hand_built_envelope_to_micropython(nb_env, script, with_headers):
    """An envelope made from the spec alone (json, base64, hashlib) and
    published by nats-py, bare or with headers, decodes on MicroPython,
    including an unknown payload type, an unknown field and a direct payload
    without sha256."""
    subject = f"sensors.{uuid.uuid4().hex}"
    payloads = [
        spec_payload("message", TEXT.encode(), "text"),
        spec_payload("config", json.dumps(DICT).encode(), "dictionary", with_sha=False),
        spec_payload("null", b"null", "dictionary"),
        spec_payload("students.arrow", BLOBS["table"], "table"),
        spec_payload("avatar", BLOBS["image"], "image"),
        spec_payload("clip", BLOBS["audio"], "audio"),
        spec_payload("movie", BLOBS["video"], "video"),
        spec_payload("blob", BLOBS["binary"], "binary"),
        spec_payload("point-cloud", b"\x01\x02\x03", "x-pointcloud"),
    ]
    env = spec_envelope(
        subject, payloads, metadata={"emoji": "🚀"}, future_field={"ignored": True}
    )
    del env["receiver_id"]  # a missing string field reads as ""
    receiving = script(
        "micropython", RECEIVE_ONE, nats_url=nb_env.nats_url, subject=subject
    )
    receiving.wait_for("READY")
    headers = {"Nats-Msg-Id": env["msg_id"]} if with_headers else None
    publish(nb_env.nats_url, subject, json.dumps(env).encode(), headers=headers)
    got = receiving.result()["env"]
    assert got["payloads"] == [
        ["message", TEXT, "text"],
        ["config", DICT, "dictionary"],
        ["null", None, "dictionary"],
        ["students.arrow", hexed(BLOBS["table"]), "table"],
        ["avatar", hexed(BLOBS["image"]), "image"],
        ["clip", hexed(BLOBS["audio"]), "audio"],
        ["movie", hexed(BLOBS["video"]), "video"],
        ["blob", hexed(BLOBS["binary"]), "binary"],
        ["point-cloud", hexed(b"\x01\x02\x03"), "x-pointcloud"],
    ]
    assert got["receiver_id"] == ""
    # json.dumps wrote the emoji as an escaped surrogate pair.
    assert got["metadata"] == {"emoji": "🚀"}
    assert got["msg_id"] == env["msg_id"]
    assert got["correlation_id"] == env["correlation_id"]


def test_missing_version_and_fields_read_as_defaults(nb_env, script):
    """Only payloads is required: everything else defaults (spec section 2)."""
    subject = f"minimal.{uuid.uuid4().hex}"
    receiving = script(
        "micropython", RECEIVE_ONE, nats_url=nb_env.nats_url, subject=subject
    )
    receiving.wait_for("READY")
    publish(nb_env.nats_url, subject, b'{"payloads": []}')
    got = receiving.result()["env"]
    assert got["version"] == 1
    assert got["metadata"] == {}
    assert got["payloads"] == []
    assert all(got[field] == "" for field in ENVELOPE_STRINGS)

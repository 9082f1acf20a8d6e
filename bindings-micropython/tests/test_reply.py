"""Request/reply, spec section 6: the reply goes to reply_to, or to the NATS
reply inbox when reply_to is empty, and carries reply_to_msg_id and the
request's correlation_id."""

from __future__ import annotations

import json
import uuid

import pytest

import natsbridge_micro as nb
from micro_runner import request
from spec_envelopes import spec_envelope, spec_payload

RESPONDER = """
c = nb.Client(P["nats_url"])
seen = []

def on_request(msg):
    env = nb.smartreceive(msg)
    seen.append(env)
    asked = env["payloads"][0][1]
    c.reply(env, [("data", {"sensor_id": "sensor-001", "value": 42.5, "asked": asked},
                   "dictionary")])

c.subscribe(P["subject"], on_request)
print("READY")
for _ in range(40):
    if seen:
        break
    c.wait_msg(0.5)
result(show_env(seen[0]) if seen else {"error": "no request within 20 s"})
"""


def test_reply_goes_to_the_nats_inbox_when_reply_to_is_empty(nb_env, script, impl):
    subject = f"/device/command/{uuid.uuid4().hex}"
    responder = script(impl, RESPONDER, nats_url=nb_env.nats_url, subject=subject)
    responder.wait_for("READY")
    command = {"action": "read_sensor"}
    sent = spec_envelope(
        subject, [spec_payload("command", json.dumps(command).encode(), "dictionary")]
    )
    answer = request(nb_env.nats_url, subject, json.dumps(sent).encode())
    seen = responder.result()
    assert seen["_nats_reply"] == answer.subject  # nats-py's inbox

    reply = nb.smartreceive(answer)
    assert reply["send_to"] == answer.subject
    assert reply["reply_to_msg_id"] == sent["msg_id"]
    assert reply["correlation_id"] == sent["correlation_id"]
    assert reply["msg_purpose"] == "response"
    assert reply["payloads"] == [
        (
            "data",
            {"sensor_id": "sensor-001", "value": 42.5, "asked": command},
            "dictionary",
        )
    ]


REQUESTER = """
c = nb.Client(P["nats_url"])
reply = c.request(P["subject"], [("command", {"action": "read_sensor"}, "dictionary")],
                  timeout=10, correlation_id="trace-42")
result(show_env(reply))
"""


def test_request_with_reply_to_between_module_instances(nb_env, script, impl):
    """The requester (MicroPython or CPython) sets reply_to to its own inbox;
    the MicroPython responder answers there."""
    subject = f"/device/command/{uuid.uuid4().hex}"
    responder = script(
        "micropython", RESPONDER, nats_url=nb_env.nats_url, subject=subject
    )
    responder.wait_for("READY")
    reply = script(impl, REQUESTER, nats_url=nb_env.nats_url, subject=subject).result()
    seen = responder.result()
    assert seen["reply_to"].startswith("_INBOX.")
    assert reply["send_to"] == seen["reply_to"]
    assert reply["reply_to_msg_id"] == seen["msg_id"]
    assert reply["correlation_id"] == seen["correlation_id"] == "trace-42"
    assert reply["payloads"] == [
        [
            "data",
            {
                "sensor_id": "sensor-001",
                "value": 42.5,
                "asked": {"action": "read_sensor"},
            },
            "dictionary",
        ]
    ]


def test_reply_without_anywhere_to_send_it():
    env = nb.smartreceive(json.dumps(spec_envelope("s", [])))
    with pytest.raises(nb.InvalidArgumentError, match="no reply_to"):
        nb.reply(env, [("a", "b", "text")], nats_url="nats://127.0.0.1:1")


@pytest.mark.parametrize(
    "reply_to, nats_reply",
    [
        ("$JS.API.STREAM.PURGE.ORDERS", ""),
        ("", "$KV.config.x"),
        ("$SYS.REQ.X", "$JS.ACK.S.C.1"),
    ],
)
def test_reply_never_goes_to_a_system_subject(reply_to, nats_reply):
    """Issue 16 item 1: refused before any connection is made."""
    env = nb.smartreceive(json.dumps(spec_envelope("s", [])))
    env["reply_to"], env["_nats_reply"] = reply_to, nats_reply
    with pytest.raises(nb.InvalidArgumentError, match="system subjects"):
        nb.reply(env, [("a", "b", "text")], nats_url="nats://127.0.0.1:1")


def test_reply_outside_the_allowed_prefixes_is_refused():
    env = nb.smartreceive(json.dumps(spec_envelope("s", [])))
    env["reply_to"] = "orders.delete"
    with pytest.raises(nb.InvalidArgumentError, match="reply_subject_prefixes"):
        nb.reply(
            env,
            [("a", "b", "text")],
            nats_url="nats://127.0.0.1:1",
            reply_subject_prefixes=["_INBOX."],
        )


def test_the_nats_reply_inbox_wins_over_the_body(nb_env, script, impl):
    """A body naming another subject as reply_to does not redirect the reply
    away from the requester's inbox (the old order answered reply_to and this
    request timed out)."""
    subject = f"/device/command/{uuid.uuid4().hex}"
    responder = script(impl, RESPONDER, nats_url=nb_env.nats_url, subject=subject)
    responder.wait_for("READY")
    sent = spec_envelope(subject, [spec_payload("command", b'{"a": 1}', "dictionary")])
    sent["reply_to"] = "somewhere.else"
    answer = request(nb_env.nats_url, subject, json.dumps(sent).encode())
    assert responder.result()["reply_to"] == "somewhere.else"
    assert nb.smartreceive(answer)["reply_to_msg_id"] == sent["msg_id"]

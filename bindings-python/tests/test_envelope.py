"""The envelope as sent (a dict of its JSON) and as received (a
ReceivedEnvelope dict) and the send keywords that fill it (envelope.rs,
options.rs)."""

from __future__ import annotations

import copy
import pickle
import re
import uuid

import pytest

import natsbridge

from conftest import WAIT

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def test_sent_envelope_has_every_wire_field_with_the_original_defaults(nats_url, subject):
    sent = natsbridge.smartsend(subject, [("message", "Hello", "text")], nats_url=nats_url)
    assert list(sent) == [
        "version",
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
        "metadata",
        "payloads",
    ]
    assert sent["version"] == 1
    assert UUID.match(sent["correlation_id"]) and UUID.match(sent["msg_id"])
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", sent["timestamp"])
    assert sent["send_to"] == subject
    assert sent["msg_purpose"] == "chat"
    assert sent["sender_name"] == "NATSBridge"
    assert (sent["receiver_name"], sent["receiver_id"], sent["reply_to"]) == ("", "", "")
    assert sent["broker_url"] == nats_url
    assert sent["metadata"] == {}
    (payload,) = sent["payloads"]
    assert UUID.match(payload["id"])
    assert {k: payload[k] for k in ("dataname", "type", "transport", "encoding", "size")} == {
        "dataname": "message",
        "type": "text",
        "transport": "direct",
        "encoding": "base64",
        "size": 5,
    }


def test_send_keywords_fill_the_envelope_and_arrive(bridge, subject):
    correlation_id = str(uuid.uuid4())
    with bridge.subscribe(subject) as subscription:
        sent = bridge.send(
            subject,
            [("command", {"action": "read_sensor"}, "dictionary")],
            correlation_id=correlation_id,
            msg_purpose="command",
            sender_name="controller",
            receiver_name="sensor-001",
            receiver_id="b1946ac9-2cc3-4c3a-8f3a-5f9d1b6e0a11",
            reply_to="/device/response",
            reply_to_msg_id="9a1e0c7e-1111-4222-8333-444455556666",
            metadata={"site": "plant-2", "shift": [1, 2]},
        )
        received = subscription.next(timeout=WAIT)
    for key in (
        "correlation_id",
        "msg_purpose",
        "sender_name",
        "receiver_name",
        "receiver_id",
        "reply_to",
        "reply_to_msg_id",
        "metadata",
    ):
        assert received[key] == sent[key], key
    assert sent["correlation_id"] == correlation_id
    assert received["metadata"] == {"site": "plant-2", "shift": [1, 2]}
    assert received["msg_id"] == sent["msg_id"]


def test_received_envelope_is_a_dict_that_knows_its_subject(bridge, subject):
    with bridge.subscribe(subject) as subscription:
        bridge.send(subject, [("m", "hi", "text")])
        received = subscription.next(timeout=WAIT)
    assert isinstance(received, dict)
    assert isinstance(received, natsbridge.ReceivedEnvelope)
    assert received.subject == subject
    assert received.nats_reply is None
    assert received["payloads"] == [("m", "hi", "text")]


def test_received_envelope_is_the_python_class_the_package_exports(bridge, subject):
    # A pure-Python dict subclass (natsbridge/_envelope.py) that the
    # extension instantiates: the abi3 build cannot subclass dict natively.
    assert natsbridge.ReceivedEnvelope is natsbridge._natsbridge.ReceivedEnvelope
    assert natsbridge.ReceivedEnvelope.__module__ == "natsbridge"
    with bridge.subscribe(subject) as subscription:
        bridge.send(subject, [("m", "hi", "text")])
        received = subscription.next(timeout=WAIT)
    assert type(received) is natsbridge.ReceivedEnvelope
    with pytest.raises(AttributeError):
        received.subject = "elsewhere"
    with pytest.raises(AttributeError):
        received.anything = 1
    copied = copy.copy(received)
    assert (copied, copied.subject, type(copied)) == (received, subject, type(received))
    unpickled = pickle.loads(pickle.dumps(received))
    assert (unpickled, unpickled.subject, unpickled.nats_reply) == (received, subject, None)


def test_received_envelope_can_be_made_like_a_dict():
    made = natsbridge.ReceivedEnvelope({"msg_id": "m"}, subject="a.b", nats_reply="_INBOX.x", k=1)
    assert made == {"msg_id": "m", "k": 1}
    assert (made.subject, made.nats_reply) == ("a.b", "_INBOX.x")
    bare = natsbridge.ReceivedEnvelope()
    assert (bare, bare.subject, bare.nats_reply) == ({}, None, None)


def test_decoding_bare_bytes_knows_no_subject(nats_url, subject):
    sent = natsbridge.smartsend(subject, [("m", "hi", "text")], nats_url=nats_url)
    import json

    received = natsbridge.smartreceive(json.dumps(sent))
    assert received.subject is None
    assert received["payloads"] == [("m", "hi", "text")]


@pytest.mark.parametrize(
    "as_message",
    [lambda b: b, bytearray, memoryview, lambda b: b.decode()],
    ids=["bytes", "bytearray", "memoryview", "str"],
)
def test_smartreceive_reads_every_body_form(nats_url, subject, as_message):
    import json

    sent = natsbridge.smartsend(subject, [("m", "hi", "text")], nats_url=nats_url)
    body = json.dumps(sent).encode()
    assert natsbridge.smartreceive(as_message(body))["msg_id"] == sent["msg_id"]


def test_an_unknown_keyword_is_a_type_error(nats_url, subject):
    with pytest.raises(TypeError, match="unexpected keyword argument 'size_treshold'"):
        natsbridge.smartsend(subject, [("m", "x", "text")], nats_url=nats_url, size_treshold=1)
    with pytest.raises(TypeError, match="unexpected keyword argument 'retries'"):
        natsbridge.smartreceive(b"{}", retries=1)


def test_none_keywords_mean_the_defaults(nats_url, subject):
    sent = natsbridge.smartsend(
        subject,
        [("m", "x", "text")],
        nats_url=nats_url,
        fileserver_url=None,
        fileserver_upload_handler=None,
        correlation_id=None,
        metadata=None,
    )
    assert sent["metadata"] == {}
    assert UUID.match(sent["correlation_id"])


def test_nats_url_defaults_to_the_environment(nats_url, subject, monkeypatch):
    monkeypatch.setenv("NATS_URL", nats_url)
    sent = natsbridge.smartsend(subject, [("m", "x", "text")])
    assert sent["broker_url"] == nats_url


def test_credentials_never_reach_the_envelope(nats_url, subject):
    with_password = nats_url.replace("nats://", "nats://alice:s3cret@")
    # The test server has no auth, so these credentials are simply unused.
    with natsbridge.Bridge(with_password) as bridge:
        sent = bridge.send(subject, [("m", "x", "text")])
    assert "s3cret" not in sent["broker_url"]
    assert sent["broker_url"] == nats_url

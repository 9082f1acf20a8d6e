"""Interop with plain nats-py: people who already use nats-py keep their
client and call smartreceive(msg) on its messages; a nats-py publisher that
follows the wire spec by hand is read by natsbridge."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os

import nats
import pyarrow as pa

import natsbridge

from conftest import WAIT


def run(coroutine):
    return asyncio.run(asyncio.wait_for(coroutine, WAIT * 3))


def test_a_nats_py_subscriber_decodes_with_smartreceive(nats_url, fileserver_url, subject):
    table = pa.table({"id": [1, 2], "name": ["a", "b"]})
    large = os.urandom(1_100_000)

    async def main():
        nc = await nats.connect(nats_url)
        sub = await nc.subscribe(subject)
        await nc.flush()
        sent = await natsbridge.asmartsend(
            subject,
            [
                ("message", "Hello World", "text"),
                ("config", {"interval": 60}, "dictionary"),
                ("table", table, "table"),
                ("large", large, "binary"),
            ],
            nats_url=nats_url,
            fileserver_url=fileserver_url,
        )
        msg = await sub.next_msg(timeout=WAIT)
        await nc.close()
        return sent, msg

    sent, msg = run(main())
    assert msg.headers["Nats-Msg-Id"] == sent["msg_id"]
    assert msg.headers["Content-Type"] == "application/vnd.natsbridge.envelope+json"
    envelope = natsbridge.smartreceive(msg)
    assert envelope.subject == subject
    assert envelope["msg_id"] == sent["msg_id"]
    payloads = envelope["payloads"]
    assert payloads[0] == ("message", "Hello World", "text")
    assert payloads[1] == ("config", {"interval": 60}, "dictionary")
    assert payloads[2][1].equals(table)
    assert payloads[3] == ("large", large, "binary")


def hand_made_envelope(subject: str) -> bytes:
    """What a client with nothing but json, base64 and hashlib sends (the
    MicroPython client, say): no headers, only the fields it cares about."""
    text = b"from nats-py"
    config = json.dumps({"threshold": 0.5}).encode()
    return json.dumps(
        {
            "correlation_id": "c-1",
            "msg_id": "m-1",
            "send_to": subject,
            "sender_name": "micro",
            "payloads": [
                {
                    "id": "p-1",
                    "dataname": "greeting",
                    "type": "text",
                    "transport": "direct",
                    "encoding": "base64",
                    "size": len(text),
                    "data": base64.b64encode(text).decode(),
                },
                {
                    "id": "p-2",
                    "dataname": "config",
                    "type": "dictionary",
                    "transport": "direct",
                    "encoding": "base64",
                    "size": len(config),
                    "sha256": hashlib.sha256(config).hexdigest(),
                    "data": base64.b64encode(config).decode(),
                },
            ],
        }
    ).encode()


def test_a_nats_py_publisher_is_read_by_a_bridge(bridge, subject):
    async def publish():
        nc = await nats.connect(bridge.broker_url)
        await nc.publish(subject, hand_made_envelope(subject))
        await nc.flush()
        await nc.close()

    with bridge.subscribe(subject) as subscription:
        run(publish())
        envelope = subscription.next(timeout=WAIT)
    assert envelope["sender_name"] == "micro"
    assert envelope["version"] == 1
    assert envelope["payloads"] == [
        ("greeting", "from nats-py", "text"),
        ("config", {"threshold": 0.5}, "dictionary"),
    ]


def test_a_nats_py_request_is_answered_by_a_bridge(bridge, subject):
    with bridge.subscribe(subject) as subscription:

        async def ask():
            nc = await nats.connect(bridge.broker_url)
            try:
                return await nc.request(subject, hand_made_envelope(subject), timeout=WAIT)
            finally:
                await nc.close()

        async def main():
            asking = asyncio.ensure_future(ask())
            request = await asyncio.to_thread(subscription.next, WAIT)
            assert request.nats_reply and request["reply_to"] == ""
            bridge.reply(request, [("answer", "pong", "text")])
            return await asking

        answer = run(main())
    envelope = natsbridge.smartreceive(answer)
    assert envelope["payloads"] == [("answer", "pong", "text")]
    assert envelope["reply_to_msg_id"] == "m-1"
    assert envelope["correlation_id"] == "c-1"


def test_smartreceive_on_a_nats_py_msg_keeps_its_reply_subject(bridge, subject):
    async def main():
        nc = await nats.connect(bridge.broker_url)
        sub = await nc.subscribe(subject)
        await nc.flush()
        await nc.publish(subject, hand_made_envelope(subject), reply="inbox.xyz")
        msg = await sub.next_msg(timeout=WAIT)
        await nc.close()
        return msg

    envelope = natsbridge.smartreceive(run(main()))
    assert envelope.nats_reply == "inbox.xyz"
    assert envelope.subject == subject

"""JetStream durable consumption (issue 19 item 1) against a real nats-server:
redelivery of what was not acknowledged, deliver-from, nak, term, typed
errors, sync and asyncio."""

from __future__ import annotations

import asyncio
import datetime
import time
import uuid

import pytest

import natsbridge

from conftest import WAIT


@pytest.fixture
def stream(bridge):
    """A fresh stream and its subject prefix."""
    tag = uuid.uuid4().hex[:10]
    name = f"PYDUR_{tag.upper()}"
    bridge.ensure_stream(name, [f"dur.{tag}.>"], replicas=1)
    return name, f"dur.{tag}"


def publish(bridge, subject, numbers):
    for n in numbers:
        sent = bridge.send(subject, [("n", str(n), "text")], jetstream=True)
        assert sent["msg_id"]


def number(message) -> int:
    return int(message.envelope["payloads"][0][1])


def test_unacked_messages_come_back_to_the_same_durable_name(nats_url, bridge, stream):
    name, prefix = stream
    publish(bridge, f"{prefix}.a", range(6))
    with natsbridge.Bridge(nats_url) as worker:
        sub = worker.durable_subscribe(stream=name, durable="py-worker", ack_wait=1000)
        for expected in range(6):
            message = sub.next(timeout=WAIT)
            assert (number(message), message.delivery_count) == (expected, 1)
            assert message.stream_sequence == expected + 1
            if expected % 2 == 0:
                message.ack()
    # The first worker is gone; the same durable name gets exactly the rest.
    with natsbridge.Bridge(nats_url) as worker:
        sub = worker.durable_subscribe(stream=name, durable="py-worker", ack_wait=1000)
        again = []
        for _ in range(3):
            message = sub.next(timeout=WAIT)
            again.append((number(message), message.delivery_count))
            message.ack()
        assert sorted(again) == [(1, 2), (3, 2), (5, 2)]
        with pytest.raises(natsbridge.NatsTimeoutError):
            sub.next(timeout=1.5)


def test_deliver_from_all_new_sequence_and_time(bridge, stream):
    name, prefix = stream
    publish(bridge, f"{prefix}.a", range(4))
    first = bridge.durable_subscribe(f"{prefix}.>", stream=name, deliver="all")
    assert number(first.next(timeout=WAIT)) == 0
    third = bridge.durable_subscribe(stream=name, deliver=3)
    message = third.next(timeout=WAIT)
    assert (number(message), message.stream_sequence) == (2, 3)
    new = bridge.durable_subscribe(stream=name, deliver="new")
    with pytest.raises(natsbridge.NatsTimeoutError):
        new.next(timeout=0.5)
    publish(bridge, f"{prefix}.a", [4])
    assert number(new.next(timeout=WAIT)) == 4
    time.sleep(0.05)
    since = datetime.datetime.now(datetime.timezone.utc)
    time.sleep(0.05)
    publish(bridge, f"{prefix}.b", [5])
    later = bridge.durable_subscribe(stream=name, deliver=since)
    assert number(later.next(timeout=WAIT)) == 5
    # The subject filters the stream's subjects.
    only_b = bridge.durable_subscribe(f"{prefix}.b", stream=name)
    assert number(only_b.next(timeout=WAIT)) == 5


def test_nak_with_delay_redelivers_and_term_does_not(bridge, stream):
    name, prefix = stream
    publish(bridge, f"{prefix}.a", range(2))
    sub = bridge.durable_subscribe(stream=name, durable="settle", ack_wait=30_000)
    zero, one = sub.next(timeout=WAIT), sub.next(timeout=WAIT)
    started = time.monotonic()
    zero.nak(delay_ms=800)
    one.term()
    again = sub.next(timeout=WAIT)
    assert time.monotonic() - started >= 0.7
    assert (number(again), again.delivery_count) == (0, 2)
    again.ack()
    with pytest.raises(natsbridge.NatsTimeoutError):
        sub.next(timeout=1.5)


def test_bad_options_are_typed_errors(bridge, stream):
    name, _ = stream
    for kwargs in [
        {"stream": name, "deliver": "yesterday"},
        {"stream": name, "deliver": 0},
        {"stream": name, "deliver": datetime.datetime(2026, 1, 1)},  # no offset
        {"stream": name, "ack_wait": 0},
        {"stream": name, "ack_wait": -5},
        {"stream": name, "durable": ""},
        {"stream": name, "deliver": "last_ack"},  # resuming needs a durable name
        {},  # no stream
    ]:
        with pytest.raises(natsbridge.InvalidArgumentError):
            bridge.durable_subscribe(**kwargs)
    with pytest.raises(natsbridge.InvalidArgumentError):
        bridge.durable_subscribe(stream=name, ack_wait="soon")
    with pytest.raises(natsbridge.JetStreamError):
        bridge.durable_subscribe(stream="NO_SUCH_STREAM_" + name)
    with pytest.raises(natsbridge.JetStreamError):
        bridge.durable_subscribe(stream=name, durable="never-made", deliver="last_ack")
    with pytest.raises(natsbridge.InvalidArgumentError):
        bridge.ensure_stream(name + "_ZERO", ["zero.x"], replicas=0)
    # A single server cannot keep three copies.
    with pytest.raises(natsbridge.JetStreamError):
        bridge.ensure_stream(name + "_THREE", ["three.x"], replicas=3)


def test_asyncio_durable_consumption(nats_url, stream, bridge):
    name, prefix = stream
    publish(bridge, f"{prefix}.a", range(3))

    async def main():
        worker = await natsbridge.Bridge.aconnect(nats_url)
        try:
            await worker.aensure_stream(name, f"{prefix}.>")
            sub = await worker.adurable_subscribe(stream=name, durable="py-async", ack_wait=1000)
            seen = []
            async for message in sub:
                seen.append((number(message), message.delivery_count))
                if number(message) != 1:
                    await message.aack()
                if len(seen) == 3:
                    break
            redelivered = await asyncio.wait_for(sub.anext(), WAIT)
            seen.append((number(redelivered), redelivered.delivery_count))
            await redelivered.aack()
            with pytest.raises(natsbridge.NatsTimeoutError):
                await sub.anext(timeout=1.0)
            return seen
        finally:
            await worker.aclose()

    assert asyncio.run(main()) == [(0, 1), (1, 1), (2, 1), (1, 2)]

"""The asyncio forms: awaitables that never block the event loop, and
`async for` on subscriptions (runtime.rs, bridge.rs)."""

from __future__ import annotations

import asyncio
import json
import os
import time

import pytest

import natsbridge

from conftest import WAIT


def run(coroutine):
    return asyncio.run(asyncio.wait_for(coroutine, WAIT * 3))


def test_asend_and_async_for(nats_url, subject):
    async def main():
        async with await natsbridge.Bridge.aconnect(nats_url) as bridge:
            subscription = await bridge.asubscribe(subject)
            for index in range(3):
                await bridge.asend(subject, [("n", index, "dictionary")])
            got = []
            async for envelope in subscription:
                got.append(envelope["payloads"][0][1])
                if len(got) == 3:
                    break
            subscription.unsubscribe()
            rest = [envelope async for envelope in subscription]
            return got, rest, bridge

    got, rest, bridge = run(main())
    assert got == [0, 1, 2]
    assert rest == []
    assert bridge.closed


def test_the_loop_keeps_running_while_waiting(nats_url, subject):
    async def main():
        bridge = await natsbridge.Bridge.aconnect(nats_url)
        subscription = await bridge.asubscribe(subject)
        ticks = 0

        async def ticker():
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        async def send_later():
            await asyncio.sleep(0.5)
            await bridge.asend(subject, [("m", "late", "text")])

        ticking = asyncio.ensure_future(ticker())
        sending = asyncio.ensure_future(send_later())
        started = time.monotonic()
        envelope = await subscription.__anext__()
        waited = time.monotonic() - started
        ticking.cancel()
        await sending
        await bridge.aclose()
        return envelope, waited, ticks

    envelope, waited, ticks = run(main())
    assert envelope["payloads"] == [("m", "late", "text")]
    assert waited >= 0.4
    assert ticks >= 20  # ~50 if the loop was free the whole time


def test_arequest_and_areply(nats_url, subject):
    async def main():
        bridge = await natsbridge.Bridge.aconnect(nats_url)
        requests = await bridge.asubscribe(subject)

        async def serve():
            async for request in requests:
                _, data, _ = request["payloads"][0]
                await bridge.areply(request, [("answer", data * 2, "dictionary")])
                return

        serving = asyncio.ensure_future(serve())
        reply = await bridge.arequest(subject, [("x", 21, "dictionary")], timeout=WAIT)
        await serving
        await bridge.aclose()
        return reply

    reply = run(main())
    assert reply["payloads"] == [("answer", 42, "dictionary")]


def test_asmartsend_and_asmartreceive_with_links(nats_url, subject):
    raw = os.urandom(1_500_000)

    async def main():
        sent = await natsbridge.asmartsend(subject, [("blob", raw, "binary")], nats_url=nats_url)
        received = await natsbridge.asmartreceive(json.dumps(sent), nats_url=nats_url)
        return sent, received

    sent, received = run(main())
    assert sent["payloads"][0]["transport"] == "link"
    assert received["payloads"] == [("blob", raw, "binary")]


def test_async_errors_are_the_same_classes(nats_url, subject):
    async def main():
        bridge = await natsbridge.Bridge.aconnect(nats_url)
        with pytest.raises(natsbridge.NoRespondersError):
            await bridge.arequest(subject, [("q", "?", "text")], timeout=WAIT)
        with pytest.raises(natsbridge.MalformedEnvelopeError):
            await natsbridge.asmartreceive(b"[]")
        with pytest.raises(natsbridge.UnknownTypeError):
            await bridge.asend(subject, [("x", "y", "nope")])
        await bridge.aclose()
        with pytest.raises(natsbridge.ClosedError):
            await bridge.asend(subject, [("x", "y", "text")])

    run(main())


def test_a_cancelled_wait_leaves_the_subscription_usable(nats_url, subject):
    async def main():
        bridge = await natsbridge.Bridge.aconnect(nats_url)
        subscription = await bridge.asubscribe(subject)
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(subscription.__anext__(), 0.2)
        await bridge.asend(subject, [("m", "after", "text")])
        envelope = await asyncio.wait_for(subscription.__anext__(), WAIT)
        await bridge.aclose()
        return envelope

    assert run(main())["payloads"] == [("m", "after", "text")]


def test_cancelled_waits_never_lose_or_reorder_messages(nats_url, subject):
    # Waits time out constantly while messages arrive: a message that a
    # cancelled wait had already taken must reach the next wait, in order.
    count = 300

    async def main():
        bridge = await natsbridge.Bridge.aconnect(nats_url)
        subscription = await bridge.asubscribe(subject)

        async def publish():
            for index in range(count):
                await bridge.asend(subject, [("n", index, "dictionary")])
                await asyncio.sleep(0)

        publishing = asyncio.ensure_future(publish())
        got, timeouts = [], 0
        while len(got) < count:
            try:
                envelope = await asyncio.wait_for(subscription.__anext__(), 0.0002)
                got.append(envelope["payloads"][0][1])
            except asyncio.TimeoutError:
                timeouts += 1
        await publishing
        await bridge.aclose()
        return got, timeouts

    got, timeouts = run(main())
    assert got == list(range(count))
    assert timeouts > 0  # the test did cancel waits


def test_unsubscribe_ends_a_pending_async_for(nats_url, subject):
    async def main():
        bridge = await natsbridge.Bridge.aconnect(nats_url)
        subscription = await bridge.asubscribe(subject)

        async def consume():
            return [envelope async for envelope in subscription]

        consuming = asyncio.ensure_future(consume())
        await asyncio.sleep(0.2)  # the consumer now waits in the subscription
        subscription.unsubscribe()  # the blocking form, on the loop's thread
        got = await asyncio.wait_for(consuming, WAIT)
        await bridge.aclose()
        return got

    assert run(main()) == []

"""The long-lived Bridge: subscribe, request, reply, close; threads; the GIL
released and Ctrl-C honoured while blocking (bridge.rs, runtime.rs)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import nats
import pytest

import natsbridge

from conftest import WAIT, Collector, eventually


def test_subscription_is_an_iterator(bridge, subject):
    subscription = bridge.subscribe(subject)
    for index in range(3):
        bridge.send(subject, [("n", index, "dictionary")])
    values = []
    for envelope in subscription:
        values.append(envelope["payloads"][0][1])
        if len(values) == 3:
            break
    assert values == [0, 1, 2]
    subscription.unsubscribe()
    assert subscription.next(timeout=WAIT) is None
    assert list(subscription) == []


def test_wildcard_subscriptions(bridge, subject):
    with bridge.subscribe(subject + ".>") as subscription:
        bridge.send(subject + ".a.b", [("m", "deep", "text")])
        envelope = subscription.next(timeout=WAIT)
    assert envelope.subject == subject + ".a.b"


def test_a_bad_message_raises_and_the_subscription_goes_on(bridge, subject):
    async def publish_garbage() -> None:
        nc = await nats.connect(bridge.broker_url)
        await nc.publish(subject, b"this is not an envelope")
        await nc.flush()
        await nc.close()

    with bridge.subscribe(subject) as subscription:
        bridge.send(subject, [("m", "first", "text")])
        asyncio.run(publish_garbage())
        bridge.send(subject, [("m", "third", "text")])
        # NATS orders messages per publisher only: the garbage (another
        # connection) may arrive anywhere, the bridge's two sends in order.
        texts, errors = [], 0
        for _ in range(3):
            try:
                texts.append(subscription.next(timeout=WAIT)["payloads"][0][1])
            except natsbridge.MalformedEnvelopeError:
                errors += 1
        assert texts == ["first", "third"]
        assert errors == 1


def test_unsubscribe_ends_a_next_waiting_in_another_thread(bridge, subject):
    subscription = bridge.subscribe(subject)
    got = []
    waiting = threading.Thread(target=lambda: got.append(subscription.next(timeout=WAIT)))
    waiting.start()
    time.sleep(0.2)  # the thread now waits in the subscription
    started = time.monotonic()
    subscription.unsubscribe()
    waiting.join(WAIT)
    assert got == [None]
    assert time.monotonic() - started < WAIT / 2


def test_queue_groups_share_the_messages(bridge, subject):
    first = bridge.subscribe(subject, queue="workers")
    second = bridge.subscribe(subject, queue="workers")
    for index in range(20):
        bridge.send(subject, [("n", index, "dictionary")])
    bridge.flush()
    got = []
    for subscription in (first, second):
        while True:
            try:
                got.append(subscription.next(timeout=0.3)["payloads"][0][1])
            except natsbridge.TimeoutError:
                break
    assert sorted(got) == list(range(20))


def responder(bridge: natsbridge.Bridge, subject: str, count: int) -> threading.Thread:
    subscription = bridge.subscribe(subject)

    def serve() -> None:
        for _ in range(count):
            request = subscription.next(timeout=WAIT)
            name, data, _ = request["payloads"][0]
            bridge.reply(request, [("answer", {"echo": data, "to": name}, "dictionary")])
        subscription.unsubscribe()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return thread


def test_request_and_reply(bridge, subject):
    thread = responder(bridge, subject, 1)
    reply = bridge.request(subject, [("question", "ping", "text")], timeout=WAIT)
    thread.join(WAIT)
    assert reply["payloads"] == [("answer", {"echo": "ping", "to": "question"}, "dictionary")]
    assert reply["msg_purpose"] == "response"
    assert reply["reply_to_msg_id"]


def test_reply_carries_the_request_ids(bridge, subject):
    with bridge.subscribe(subject) as requests, bridge.subscribe(subject + ".answers") as answers:
        sent = bridge.send(
            subject,
            [("command", {"action": "read_sensor"}, "dictionary")],
            reply_to=subject + ".answers",
        )
        request = requests.next(timeout=WAIT)
        replied = bridge.reply(request, [("data", {"value": 42.5}, "dictionary")])
        answer = answers.next(timeout=WAIT)
    assert replied["send_to"] == subject + ".answers"
    assert answer["reply_to_msg_id"] == sent["msg_id"]
    assert answer["correlation_id"] == sent["correlation_id"]
    assert answer["payloads"] == [("data", {"value": 42.5}, "dictionary")]


def test_reply_needs_somewhere_to_go(bridge, subject):
    with bridge.subscribe(subject) as requests:
        bridge.send(subject, [("m", "no reply_to", "text")])
        request = requests.next(timeout=WAIT)
    with pytest.raises(natsbridge.InvalidArgumentError, match="nowhere to reply"):
        bridge.reply(request, [("m", "x", "text")])
    with pytest.raises(natsbridge.InvalidArgumentError):
        bridge.reply({"not": "an envelope"}, [("m", "x", "text")])


def test_threads_sending_at_once(bridge, nats_url, subject):
    threads, per_thread = 8, 40
    total = threads * per_thread
    collector = Collector(bridge.subscribe(subject), total)

    def send_many(worker: int) -> list[str]:
        ids = []
        for index in range(per_thread):
            data = [
                ("n", {"worker": worker, "index": index}, "dictionary"),
                ("b", os.urandom(64), "binary"),
            ]
            # Half through the shared Bridge, half through the pooled function API.
            if index % 2:
                ids.append(bridge.send(subject, data)["msg_id"])
            else:
                ids.append(natsbridge.smartsend(subject, data, nats_url=nats_url)["msg_id"])
        return ids

    with ThreadPoolExecutor(threads) as pool:
        sent_ids = [i for ids in pool.map(send_many, range(threads)) for i in ids]
    received = collector.join()
    assert len(set(sent_ids)) == total
    assert sorted(e["msg_id"] for e in received) == sorted(sent_ids)
    per_worker = {}
    for envelope in received:
        value = envelope["payloads"][0][1]
        per_worker.setdefault(value["worker"], []).append(value["index"])
    # One connection: each thread's messages arrive in the order it sent them.
    for worker in range(threads):
        indexes = per_worker[worker]
        assert sorted(indexes) == list(range(per_thread))


def test_blocking_calls_release_the_gil(bridge, subject):
    ticks = 0
    stop = threading.Event()

    def count() -> None:
        nonlocal ticks
        while not stop.is_set():
            ticks += 1

    counter = threading.Thread(target=count)
    with bridge.subscribe(subject) as subscription:
        counter.start()
        try:
            with pytest.raises(natsbridge.TimeoutError):
                subscription.next(timeout=0.5)
            ticks_while_blocked = ticks
        finally:
            stop.set()
            counter.join(WAIT)
    # A thread holding the GIL for 0.5 s would let the counter run a few
    # switch intervals at most; released, it counts freely.
    assert ticks_while_blocked > 100_000


INTERRUPT_SCRIPT = textwrap.dedent(
    """
    import os, signal, sys, threading, time
    import natsbridge
    bridge = natsbridge.Bridge(sys.argv[1])
    subscription = bridge.subscribe("nobody.sends.here")
    threading.Timer(0.5, lambda: os.kill(os.getpid(), signal.SIGINT)).start()
    started = time.monotonic()
    try:
        subscription.next()
    except KeyboardInterrupt:
        print(f"interrupted after {time.monotonic() - started:.3f}", flush=True)
        bridge.send("after.interrupt", [("m", "still works", "text")])
        print("still works", flush=True)
    """
)


def test_ctrl_c_interrupts_a_blocking_wait(nats_url):
    done = subprocess.run(
        [sys.executable, "-c", INTERRUPT_SCRIPT, nats_url],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("interrupted after ")
    assert 0.4 < float(lines[0].split()[-1]) < 2.0
    assert lines[1] == "still works"


def test_context_managers_close(nats_url, subject):
    with natsbridge.Bridge(nats_url) as bridge:
        assert not bridge.closed
        assert bridge.max_payload > 0
        assert repr(bridge).startswith("natsbridge.Bridge(")
    assert bridge.closed
    assert eventually(lambda: bridge.closed)
    with pytest.raises(natsbridge.ClosedError):
        bridge.subscribe(subject)


def test_jetstream_sends_are_acknowledged(bridge, subject):
    bridge.ensure_stream("PYTEST_" + subject.split(".")[1][:8].upper(), [subject])
    sent = bridge.send(subject, [("m", "durable", "text")], jetstream=True)
    assert sent["msg_id"]
    with pytest.raises(natsbridge.JetStreamError):
        bridge.send(subject + ".nostream", [("m", "x", "text")], jetstream=True)


def test_closing_ends_subscriptions(nats_url, subject):
    bridge = natsbridge.Bridge(nats_url)
    subscription = bridge.subscribe(subject)
    bridge.close()
    started = time.monotonic()
    assert subscription.next(timeout=WAIT) is None
    assert time.monotonic() - started < WAIT


def test_close_hands_everything_sent_to_the_server_before_the_process_exits(
    bridge, nats_url, subject
):
    """close() returns once the server has what was published before it, so a
    process that exits right after (os._exit: no teardown at all) loses none
    of it. async-nats' drain only queues its request: examples/run.sh once
    lost a command a Node process sent just before close() and exit."""
    subscription = bridge.subscribe(subject)
    bridge.flush()
    child = textwrap.dedent(
        f"""
        import os, natsbridge
        bridge = natsbridge.Bridge({nats_url!r})
        for index in range(200):
            bridge.send({subject!r}, [("n", index, "dictionary")])
        bridge.close()
        os._exit(0)
        """
    )
    for _ in range(5):
        subprocess.run([sys.executable, "-c", child], check=True, timeout=60)
        received = [subscription.next(timeout=WAIT) for _ in range(200)]
        assert [envelope["payloads"][0][1] for envelope in received] == list(range(200))


def test_unsubscribe_after_ends_the_subscription(bridge, subject):
    subscription = bridge.subscribe(subject)
    subscription.unsubscribe_after(2)
    for index in range(3):
        bridge.send(subject, [("n", index, "dictionary")])
    first, second = (subscription.next(timeout=WAIT) for _ in range(2))
    assert [first["payloads"][0][1], second["payloads"][0][1]] == [0, 1]
    assert subscription.next(timeout=WAIT) is None


def test_unsubscribe_drops_what_had_arrived(bridge, subject):
    """The one rule after unsubscribe (every front end): it ends at once and
    what had arrived but was not taken is not delivered."""
    subscription = bridge.subscribe(subject)
    for index in range(5):
        bridge.send(subject, [("n", index, "dictionary")])
    bridge.flush()
    assert subscription.next(timeout=WAIT)["payloads"][0][1] == 0
    subscription.unsubscribe()
    assert subscription.next(timeout=WAIT) is None
    assert list(subscription) == []
    subscription.unsubscribe()  # again: nothing happens


def test_drain_delivers_what_had_arrived_then_ends(bridge, subject):
    subscription = bridge.subscribe(subject)
    for index in range(5):
        bridge.send(subject, [("n", index, "dictionary")])
    bridge.flush()
    subscription.drain()
    bridge.send(subject, [("n", "after the drain", "dictionary")])
    values = [envelope["payloads"][0][1] for envelope in subscription]
    assert values == [0, 1, 2, 3, 4]
    assert subscription.next(timeout=WAIT) is None


def test_concurrent_receives_keep_arrival_order(bridge, subject):
    subscription = bridge.subscribe(subject, concurrent_receives=4)
    with pytest.raises(natsbridge.NatsTimeoutError):
        subscription.next(timeout=0.001)
    for index in range(30):
        bridge.send(subject, [("n", index, "dictionary")])
    values = []
    while len(values) < 30:
        try:
            values.append(subscription.next(timeout=0.001)["payloads"][0][1])
        except natsbridge.NatsTimeoutError:
            continue
    assert values == list(range(30))
    subscription.unsubscribe()

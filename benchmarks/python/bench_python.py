"""Throughput of natsbridge's Python package against a pure-Python
implementation of the same wire format and against raw nats-py, in one run.

For each case (1 KiB text, 100 KiB binary, 10,000-row table) and each
implementation, N messages are sent on a fresh subject and decoded by a
subscriber in the same process; messages/s = N / (time from the first send to
the last decoded message). At most WINDOW messages are in flight, so no
subscriber falls behind far enough to be cut off as a slow consumer.

- natsbridge (threads): ``natsbridge.smartsend`` in the main thread, a
  ``Bridge.subscribe`` subscription (smartreceive in the core) read by a
  second thread.
- natsbridge (asyncio): ``await bridge.asend`` and ``async for`` on
  ``bridge.asubscribe``, in one event loop.
- nats-py + functions: a nats-py subscription whose callback calls
  ``natsbridge.smartreceive(msg)`` on the event loop, and function-style
  ``natsbridge.smartsend`` from a plain thread (how a nats-py user keeps
  their client; issue 21's last row).
- pure Python: ``pure_python_bridge.smartsend`` / ``smartreceive`` on nats-py
  (json, base64, hashlib, pyarrow IPC), one event loop.
- raw nats-py: publish of a ready-made body of the same size as the
  natsbridge envelope and a subscriber that only counts: the ceiling.

Run (servers from the shared harness; build it first):

    cargo build --release -p natsbridge-testkit --bin nb-testenv
    NB_TESTENV=target/release/nb-testenv python benchmarks/python/bench_python.py \
        [--write benchmarks/python/RESULTS.md]

Not a test: it asserts nothing about speed, it prints and writes numbers.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import sys
import threading
import time
from pathlib import Path

import nats
import pyarrow as pa

import natsbridge

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parents[1] / "tests" / "harness"))

import pure_python_bridge as pure  # noqa: E402
import testenv  # noqa: E402

WINDOW = 64
WAIT = 120.0  # seconds; bounds every wait in the benchmark


def table_10k() -> pa.Table:
    n = 10_000
    return pa.table(
        {
            "id": pa.array(range(n), pa.int64()),
            "name": pa.array([f"sensor-{i % 97:03d}" for i in range(n)]),
            "value": pa.array([i * 0.25 for i in range(n)], pa.float64()),
            "ok": pa.array([i % 3 != 0 for i in range(n)]),
        }
    )


def cases(scale: float) -> list[tuple[str, list, int]]:
    def count(n: int) -> int:
        return max(10, int(n * scale))

    return [
        ("1 KiB text", [("message", "x" * 1024, "text")], count(20_000)),
        ("100 KiB binary", [("blob", os.urandom(100 * 1024), "binary")], count(3_000)),
        ("10,000-row table", [("readings", table_10k(), "table")], count(600)),
    ]


def check(envelope: dict, data: list) -> None:
    """A cheap check that the decoded value is the one sent."""
    name, value, kind = envelope["payloads"][0]
    if name != data[0][0] or kind != data[0][2]:
        raise AssertionError(f"got {name!r} of type {kind!r}")
    if kind == "table":
        if value.num_rows != data[0][1].num_rows:
            raise AssertionError("table rows differ")
    elif len(value) != len(data[0][1]):
        raise AssertionError("payload length differs")


OPTIONS: dict = {}
"""Send options given to both bridges (``--direct-sha256``)."""


def run_natsbridge_threads(url: str, subject: str, data: list, n: int) -> float:
    bridge = natsbridge.Bridge(url)
    subscription = bridge.subscribe(subject)
    received = 0
    room = threading.Condition()
    failure: list[BaseException] = []

    def receive() -> None:
        nonlocal received
        try:
            for _ in range(n):
                envelope = subscription.next(timeout=WAIT)
                check(envelope, data)
                with room:
                    received += 1
                    room.notify()
        except BaseException as err:
            failure.append(err)
            with room:
                received = n
                room.notify()

    natsbridge.smartsend(subject + ".warmup", data, nats_url=url)
    receiver = threading.Thread(target=receive)
    start = time.perf_counter()
    receiver.start()
    for sent in range(n):
        if sent - received >= WINDOW:
            with room:
                if not room.wait_for(lambda s=sent: s - received < WINDOW, timeout=WAIT):
                    raise TimeoutError("natsbridge subscriber stalled")
        natsbridge.smartsend(subject, data, nats_url=url, **OPTIONS)
    receiver.join(WAIT)
    elapsed = time.perf_counter() - start
    bridge.close()
    if failure:
        raise failure[0]
    return n / elapsed


async def run_natsbridge_asyncio(url: str, subject: str, data: list, n: int) -> float:
    bridge = await natsbridge.Bridge.aconnect(url)
    subscription = await bridge.asubscribe(subject)
    received = 0
    room = asyncio.Event()

    async def receive() -> None:
        nonlocal received
        async for envelope in subscription:
            check(envelope, data)
            received += 1
            room.set()
            if received == n:
                return

    start = time.perf_counter()
    receiver = asyncio.create_task(receive())
    for sent in range(n):
        while sent - received >= WINDOW:
            room.clear()
            await asyncio.wait_for(room.wait(), WAIT)
        await bridge.asend(subject, data, **OPTIONS)
    await asyncio.wait_for(receiver, WAIT)
    elapsed = time.perf_counter() - start
    await bridge.aclose()
    return n / elapsed


async def run_nats_py(url: str, subject: str, n: int, send, decode) -> float:
    """Shared by the pure-Python bridge and raw nats-py: ``send(nc)`` sends
    one message, ``decode(msg)`` handles one."""
    nc = await nats.connect(url)
    received = 0
    room = asyncio.Event()
    done = asyncio.Event()
    failure: list[BaseException] = []

    async def on_message(msg) -> None:
        nonlocal received
        try:
            decode(msg)
        except BaseException as err:
            failure.append(err)
            done.set()
        received += 1
        room.set()
        if received == n:
            done.set()

    await nc.subscribe(subject, cb=on_message)
    await nc.flush()
    start = time.perf_counter()
    for sent in range(n):
        while sent - received >= WINDOW:
            room.clear()
            await asyncio.wait_for(room.wait(), WAIT)
        await send(nc)
    await asyncio.wait_for(done.wait(), WAIT)
    elapsed = time.perf_counter() - start
    await nc.close()
    if failure:
        raise failure[0]
    return n / elapsed


def run_functions_nats_py(url: str, subject: str, data: list, n: int) -> float:
    """How a nats-py user keeps their client (the README's invitation): a
    nats-py subscription whose callback calls ``natsbridge.smartreceive(msg)``
    on the event loop, and ``natsbridge.smartsend`` (function style, pooled
    connection) called from a plain thread."""

    async def main() -> float:
        nc = await nats.connect(url)
        received = 0
        room = threading.Condition()
        done = asyncio.Event()
        failure: list[BaseException] = []

        async def on_message(msg) -> None:
            nonlocal received
            try:
                check(natsbridge.smartreceive(msg), data)
            except BaseException as err:
                failure.append(err)
                done.set()
            with room:
                received += 1
                room.notify()
            if received == n:
                done.set()

        await nc.subscribe(subject, cb=on_message)
        await nc.flush()
        natsbridge.smartsend(subject + ".warmup", data, nats_url=url)

        def send() -> None:
            try:
                for sent in range(n):
                    if sent - received >= WINDOW:
                        with room:
                            if not room.wait_for(
                                lambda s=sent: s - received < WINDOW or failure, timeout=WAIT
                            ):
                                raise TimeoutError("nats-py subscriber stalled")
                    if failure:
                        return
                    natsbridge.smartsend(subject, data, nats_url=url, **OPTIONS)
            except BaseException as err:
                failure.append(err)
                loop.call_soon_threadsafe(done.set)

        loop = asyncio.get_running_loop()
        sender = threading.Thread(target=send)
        start = time.perf_counter()
        sender.start()
        await asyncio.wait_for(done.wait(), WAIT)
        elapsed = time.perf_counter() - start
        await asyncio.to_thread(sender.join, WAIT)
        await nc.close()
        if failure:
            raise failure[0]
        return n / elapsed

    return asyncio.run(main())


def run_pure(url: str, subject: str, data: list, n: int) -> float:
    async def send(nc) -> None:
        await pure.smartsend(nc, subject, data, nats_url=url, **OPTIONS)

    def decode(msg) -> None:
        check(pure.smartreceive(msg), data)

    return asyncio.run(run_nats_py(url, subject, n, send, decode))


def run_raw(url: str, subject: str, data: list, n: int) -> float:
    body = natsbridge.smartsend(subject + ".size", data, nats_url=url)
    import json

    raw = json.dumps(body, separators=(",", ":")).encode()

    async def send(nc) -> None:
        await nc.publish(subject, raw)

    return asyncio.run(run_nats_py(url, subject, n, send, lambda msg: None))


IMPLEMENTATIONS = [
    ("natsbridge (threads)", run_natsbridge_threads),
    ("natsbridge (asyncio)", lambda *a: asyncio.run(run_natsbridge_asyncio(*a))),
    ("nats-py + functions", run_functions_nats_py),
    ("pure Python", run_pure),
    ("raw nats-py", run_raw),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="multiply message counts")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement (median)")
    parser.add_argument("--write", type=Path, help="write the results as markdown here")
    parser.add_argument("--append", action="store_true", help="add to --write's file")
    parser.add_argument(
        "--direct-sha256",
        action="store_true",
        help="both bridges also hash direct payloads (optional in wire v1; off by default)",
    )
    parser.add_argument(
        "--only",
        action="append",
        help="run only implementations whose name contains this (repeatable)",
    )
    parser.add_argument(
        "--case", action="append", help="run only cases whose name contains this (repeatable)"
    )
    args = parser.parse_args()
    if args.direct_sha256:
        OPTIONS["direct_sha256"] = True

    results: dict[str, dict[str, float]] = {}
    with testenv.NbTestEnv() as env:
        for case, data, n in cases(args.scale):
            if args.case and not any(part in case for part in args.case):
                continue
            results[case] = {}
            for index, (name, run) in enumerate(IMPLEMENTATIONS):
                if args.only and not any(part in name for part in args.only):
                    continue
                rates = []
                for attempt in range(args.repeat):
                    subject = f"bench.{index}.{attempt}.{case.split()[1]}"
                    rates.append(run(env.nats_url, subject, data, n))
                results[case][name] = statistics.median(rates)
                print(f"{case:>18} | {name:<21} | {results[case][name]:>10,.0f} msg/s", flush=True)

    columns = [
        ("natsbridge (threads)", "natsbridge threads msg/s"),
        ("natsbridge (asyncio)", "natsbridge asyncio msg/s"),
        ("nats-py + functions", "nats-py sub + smartreceive, smartsend thread msg/s"),
        ("pure Python", "pure Python msg/s"),
        ("raw nats-py", "raw nats-py msg/s"),
    ]
    ratios = [
        ("natsbridge (threads)", "pure Python", "threads / pure"),
        ("natsbridge (asyncio)", "pure Python", "asyncio / pure"),
        ("nats-py + functions", "pure Python", "nats-py + functions / pure"),
        ("natsbridge (threads)", "raw nats-py", "threads / raw"),
    ]
    present = set().union(*(rates.keys() for rates in results.values()))
    columns = [c for c in columns if c[0] in present]
    ratios = [r for r in ratios if r[0] in present and r[1] in present]
    head = ["case"] + [c[1] for c in columns] + [r[2] for r in ratios]
    lines = ["| " + " | ".join(head) + " |", "|---" + "|---:" * (len(head) - 1) + "|"]
    for case, rates in results.items():
        cells = [case] + [f"{rates[c[0]]:,.0f}" for c in columns]
        cells += [f"{rates[a] / rates[b]:.2f}x" for a, b, _ in ratios]
        lines.append("| " + " | ".join(cells) + " |")
    table = "\n".join(lines)
    print()
    print(table)
    if args.write:
        machine = (
            f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
        )
        command = " ".join(["python", "benchmarks/python/bench_python.py", *sys.argv[1:]])
        section = (
            f"## sha256 of direct payloads {'on' if args.direct_sha256 else 'off'}\n\n"
            "Command (from the repository root, after `cargo build --release -p "
            "natsbridge-testkit --bin nb-testenv` and installing bindings-python):\n\n"
            f"    NB_TESTENV=target/release/nb-testenv {command}\n\n"
            f"Machine: {machine}; natsbridge {natsbridge.__version__}, "
            f"pyarrow {pa.__version__}. Median of {args.repeat} runs; at most {WINDOW} "
            "messages in flight.\n\n" + table + "\n"
        )
        if args.append and args.write.exists():
            with args.write.open("a") as out:
                out.write("\n" + section)
        else:
            args.write.write_text("# Python benchmark results\n\n" + section)


if __name__ == "__main__":
    main()

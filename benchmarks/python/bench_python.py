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
    args = parser.parse_args()
    if args.direct_sha256:
        OPTIONS["direct_sha256"] = True

    results: dict[str, dict[str, float]] = {}
    with testenv.NbTestEnv() as env:
        for case, data, n in cases(args.scale):
            results[case] = {}
            for index, (name, run) in enumerate(IMPLEMENTATIONS):
                rates = []
                for attempt in range(args.repeat):
                    subject = f"bench.{index}.{attempt}.{case.split()[1]}"
                    rates.append(run(env.nats_url, subject, data, n))
                results[case][name] = statistics.median(rates)
                print(f"{case:>18} | {name:<21} | {results[case][name]:>10,.0f} msg/s", flush=True)

    lines = [
        "| case | natsbridge threads msg/s | natsbridge asyncio msg/s | pure Python msg/s "
        "| raw nats-py msg/s | threads / pure | asyncio / pure | threads / raw |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for case, rates in results.items():
        threads = rates["natsbridge (threads)"]
        aio = rates["natsbridge (asyncio)"]
        pure_rate = rates["pure Python"]
        raw = rates["raw nats-py"]
        lines.append(
            f"| {case} | {threads:,.0f} | {aio:,.0f} | {pure_rate:,.0f} | {raw:,.0f} "
            f"| {threads / pure_rate:.2f}x | {aio / pure_rate:.2f}x | {threads / raw:.2f}x |"
        )
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

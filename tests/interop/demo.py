"""The main job's live demo (scripts/main.sh): natsbridge programs in
different languages talking over one NATS server, on the embedded defaults
(large payloads through the JetStream Object Store, no file server).

    .venv/bin/python tests/interop/demo.py --nats-url URL [--ws-url URL]

It reuses the interop matrix's long-lived drivers (tests/interop/README.md):
a Python sender, a Node responder, a Julia table receiver, a C receiver of a
large file, a MicroPython device sending telemetry, and the browser page
(headless Chromium) when Chromium and a WebSocket URL are there. One line per
event, then a summary with timings; exit 1 if a step failed."""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import shutil
import sys
import time

from pyvalues import pattern
from run import Driver, compile_c, free_port, payload_specs, start_drivers

T0 = time.monotonic()
steps: list[tuple[str, bool, float, str]] = []


def say(line: str) -> None:
    print(f"[{time.monotonic() - T0:6.2f} s] {line}", flush=True)


def step(name: str, fn) -> None:
    started = time.monotonic()
    try:
        detail = fn()
        ok = True
    except Exception as e:  # noqa: BLE001 (a failed step is reported and counted, the demo goes on)
        detail, ok = f"{type(e).__name__}: {e}", False
    ms = (time.monotonic() - started) * 1000
    steps.append((name, ok, ms, detail))
    say(f"{'OK  ' if ok else 'FAIL'} {name}: {detail} ({ms:.0f} ms)")


def ok(result: dict, who: str) -> dict:
    if not result.get("ok"):
        raise RuntimeError(f"{who}: {result.get('error')}")
    return result


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--nats-url", required=True)
    parser.add_argument("--ws-url", default="")
    parser.add_argument("--page-port", type=int, default=0)
    args = parser.parse_args()
    names = ["python", "node", "julia", "c", "micropython"]
    if args.ws_url and args.page_port and shutil.which("chromium"):
        names.append("browser")
    else:
        say("browser: skipped (needs chromium and a NATS WebSocket listener)")
    compile_c()
    say(f"starting {', '.join(names)} on {args.nats_url}")
    drivers = start_drivers(
        names,
        {"nats_url": args.nats_url, "ws_url": args.ws_url},
        args.page_port or free_port(),
    )
    for name, d in drivers.items():
        say(f"{name} connected ({d.startup:.1f} s to start)")
    py, node, julia, c, micro = (
        drivers[n] for n in ["python", "node", "julia", "c", "micropython"]
    )
    browser = drivers.get("browser")
    try:
        run_steps(py, node, julia, c, micro, browser)
    finally:
        for d in drivers.values():
            d.close()
    print("\nsummary")
    for name, good, ms, _ in steps:
        print(f"  {'OK  ' if good else 'FAIL'} {name:<44} {ms:8.0f} ms")
    failed = sum(1 for s in steps if not s[1])
    print(
        f"{len(steps) - failed} of {len(steps)} steps OK, {time.monotonic() - T0:.1f} s in all"
    )
    return 1 if failed else 0


def run_steps(
    py: Driver,
    node: Driver,
    julia: Driver,
    c: Driver,
    micro: Driver,
    browser: Driver | None,
) -> None:
    table_spec = next(
        s for s in payload_specs("python", "julia") if s["type"] == "table"
    )

    def node_responds() -> str:
        ok(node.call({"op": "subscribe", "subject": "demo.sensor.read"}), "node")
        node.post(
            {
                "op": "answer",
                "subject": "demo.sensor.read",
                "timeout_ms": 10000,
                "transport": "auto",
            }
        )
        command = {"action": "read_sensor", "sensor_id": "sensor-001"}
        spec = [{"dataname": "command", "type": "dictionary", "json": command}]
        asked = ok(
            py.call(
                {
                    "op": "request",
                    "subject": "demo.sensor.read",
                    "payloads": spec,
                    "timeout_ms": 10000,
                    "transport": "auto",
                }
            ),
            "python",
        )
        ok(node.result(), "node")
        got = asked["payloads"][0]["json"]
        if got != command:
            raise RuntimeError(f"reply {got}")
        return f"python asked {json.dumps(command)}, node answered on python's inbox with {json.dumps(got)}"

    def julia_table() -> str:
        ok(julia.call({"op": "subscribe", "subject": "demo.tables"}), "julia")
        ok(
            py.call(
                {
                    "op": "send",
                    "subject": "demo.tables",
                    "payloads": [table_spec],
                    "transport": "auto",
                }
            ),
            "python",
        )
        got = ok(
            julia.call(
                {"op": "receive", "subject": "demo.tables", "timeout_ms": 10000}
            ),
            "julia",
        )
        table = got["payloads"][0]["table"]
        want = {c["name"]: c["values"] for c in table_spec["table"]["columns"]}
        if table["columns"] != want:
            raise RuntimeError(f"columns {table['columns']}")
        names = ", ".join(f"{n}:{t}" for n, t in table["schema"])
        return (
            f"python sent an Arrow table, julia read {len(want['id'])} rows ({names})"
        )

    def c_large_file() -> str:
        size = 8_000_000
        ok(c.call({"op": "subscribe", "subject": "demo.files"}), "c")
        spec = [{"dataname": "dataset.bin", "type": "binary", "pattern_len": size}]
        sent = ok(
            py.call(
                {
                    "op": "send",
                    "subject": "demo.files",
                    "payloads": spec,
                    "transport": "auto",
                }
            ),
            "python",
        )
        got = ok(
            c.call({"op": "receive", "subject": "demo.files", "timeout_ms": 30000}), "c"
        )
        data = base64.b64decode(got["payloads"][0]["b64"])
        if hashlib.sha256(data).digest() != hashlib.sha256(pattern(size)).digest():
            raise RuntimeError("the bytes C received differ")
        return (
            f"python sent {size:,} bytes ({sent['transports'][0]} {sent['links'][0] if sent['links'] else ''}), "
            f"c received them, sha256 equal"
        )

    def micro_telemetry() -> str:
        receivers = [node] + ([browser] if browser else [])
        for r in receivers:
            ok(r.call({"op": "subscribe", "subject": "demo.telemetry"}), r.name)
        spec = [
            {"dataname": "temperature", "type": "text", "text": "25.5"},
            {
                "dataname": "humidity",
                "type": "dictionary",
                "json": {"percent": 65, "sensor": "dht22"},
            },
        ]
        ok(
            micro.call(
                {
                    "op": "send",
                    "subject": "demo.telemetry",
                    "payloads": spec,
                    "transport": "auto",
                }
            ),
            "micropython",
        )
        seen = []
        for r in receivers:
            got = ok(
                r.call(
                    {"op": "receive", "subject": "demo.telemetry", "timeout_ms": 10000}
                ),
                r.name,
            )
            values = [p.get("text", p.get("json")) for p in got["payloads"]]
            if values != ["25.5", {"percent": 65, "sensor": "dht22"}]:
                raise RuntimeError(f"{r.name} got {values}")
            seen.append(r.name)
        return f"micropython sent temperature 25.5 and humidity 65 %, received by {' and '.join(seen)}"

    def browser_asks_c() -> str:
        ok(c.call({"op": "subscribe", "subject": "demo.browser.ask"}), "c")
        c.post(
            {
                "op": "answer",
                "subject": "demo.browser.ask",
                "timeout_ms": 10000,
                "transport": "auto",
            }
        )
        spec = [{"dataname": "question", "type": "text", "text": "hello from Chromium"}]
        asked = ok(
            browser.call(
                {
                    "op": "request",
                    "subject": "demo.browser.ask",
                    "payloads": spec,
                    "timeout_ms": 10000,
                    "transport": "auto",
                }
            ),
            "browser",
        )
        ok(c.result(), "c")
        if asked["payloads"][0].get("text") != "hello from Chromium":
            raise RuntimeError(f"reply {asked['payloads']}")
        return "the page asked over NATS WebSocket, c answered, the page read the reply"

    step("python asks, node responds", node_responds)
    step("python -> julia: a table", julia_table)
    step("python -> c: a large file by claim-check", c_large_file)
    step(
        "micropython telemetry -> node" + (", browser" if browser else ""),
        micro_telemetry,
    )
    if browser:
        step("browser asks, c responds", browser_asks_c)


if __name__ == "__main__":
    sys.exit(main())

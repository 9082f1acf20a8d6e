"""The interop matrix: every language sends to every language, and asks every
other one, over one nb-testenv (nats-server with JetStream and WebSocket, the
natsbridge file server with CORS for the browser page).

    .venv/bin/python tests/interop/run.py [--only rust,python,...]

One long-lived driver process per language speaks JSON lines on stdin/stdout
(tests/interop/README.md). Each cell: the receiver subscribes, the sender
sends a text, a dictionary, a table and a binary payload, the receiver
returns what it decoded in a canonical JSON form, compared exactly with what
was sent. Prints the grids and "N passed, N failed"; exits 1 if a cell fails.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import queue
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pyarrow

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(HERE))
from pyvalues import canonical, ipc_table, spec_table

TARGET = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
VENV = Path(os.environ.get("VENV", ROOT / ".venv"))
CELL_TIMEOUT = float(
    os.environ.get("NB_INTEROP_CELL_TIMEOUT", "20")
)  # seconds, per driver call
RECEIVE_MS = 10_000  # how long a receiver waits for the message
TRANSPORTS = ["direct", "link-http", "link-objstore"]
ORDER = ["rust", "c", "python", "node", "julia", "micropython", "browser", "thirdparty"]
# What a driver cannot do, and why (printed under the grid as n/a reasons).
UNSUPPORTED = {
    (
        "micropython",
        "link-objstore",
    ): "MicroPython has no JetStream Object Store client (file server links only)",
}
RAW_TABLES = {
    "micropython"
}  # tables travel as raw Arrow IPC bytes (no Arrow on a device)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Driver:
    """One long-lived driver process; calls are answered in order, one line each."""

    def __init__(
        self, name: str, argv: list[str], env: dict, ready_timeout: float
    ) -> None:
        self.name = name
        self.stale = 0  # answers still owed to calls that timed out
        self.lines: queue.Queue = queue.Queue()
        self.log = open(  # noqa: SIM115 (lives as long as the driver; closed in close())
            Path(os.environ.get("NB_INTEROP_LOGS", "/tmp")) / f"nb-interop-{name}.log",
            "w",
        )
        self.proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
            env=env,
            cwd=ROOT,
            text=True,
        )
        threading.Thread(target=self._pump, daemon=True).start()
        self.started = time.monotonic()
        line = self._line(ready_timeout)
        if line is None or "ready" not in json.loads(line):
            raise RuntimeError(
                f"driver {name} did not start (see {self.log.name}): {line!r}"
            )
        self.startup = time.monotonic() - self.started

    def _pump(self) -> None:
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def _line(self, timeout: float) -> str | None:
        try:
            return self.lines.get(timeout=timeout)
        except queue.Empty:
            return None

    def post(self, op: dict) -> None:
        self.proc.stdin.write(json.dumps(op) + "\n")
        self.proc.stdin.flush()

    def result(self, timeout: float = CELL_TIMEOUT) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            line = self._line(max(0.0, deadline - time.monotonic()))
            if line is None:
                if self.proc.poll() is not None:
                    return {
                        "ok": False,
                        "error": f"{self.name} driver exited ({self.proc.returncode})",
                    }
                self.stale += 1
                return {
                    "ok": False,
                    "error": f"{self.name}: no answer within {timeout:.0f} s",
                }
            if self.stale:
                self.stale -= 1
                continue
            return json.loads(line)

    def call(self, op: dict) -> dict:
        self.post(op)
        return self.result()

    def close(self) -> None:
        try:
            self.post({"op": "quit"})
            self.proc.stdin.close()
            self.proc.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
        self.log.close()


def payload_specs(sender: str, receiver: str) -> list[dict]:
    """What one cell sends: every payload type, values that catch lossy conversions."""
    blob = hashlib.sha256(f"{sender}->{receiver}".encode()).digest() * 128 + bytes(
        range(256)
    )
    table = {
        "columns": [
            {"name": "id", "type": "int64", "values": [1, -2, 9007199254740991]},
            {"name": "name", "type": "utf8", "values": ["Alice", "Bøb ✓", ""]},
            {"name": "score", "type": "float64", "values": [1.5, -2.25, 1e10]},
            {"name": "ok", "type": "bool", "values": [True, False, True]},
        ]
    }
    spec_t = {"dataname": "table", "type": "table", "table": table}
    ipc = serialize_ipc(spec_table(spec_t))
    spec_t["table"]["ipc_b64"] = base64.b64encode(ipc).decode("ascii")
    return [
        {
            "dataname": "message",
            "type": "text",
            "text": f"Hello from {sender} to {receiver} ✓ 日本",
        },
        {
            "dataname": "config",
            "type": "dictionary",
            "json": {
                "n": 60,
                "neg": -7,
                "f": 2.5,
                "s": "ü",
                "list": [1, "a", None, True, False],
                "nested": {"k": []},
            },
        },
        spec_t,
        {
            "dataname": "blob",
            "type": "binary",
            "b64": base64.b64encode(blob).decode("ascii"),
        },
    ]


def serialize_ipc(table: pyarrow.Table) -> bytes:
    sink = pyarrow.BufferOutputStream()
    with pyarrow.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def expected(specs: list[dict]) -> list[dict]:
    out = []
    for s in specs:
        if s["type"] == "table":
            out.append(canonical(s["dataname"], "table", spec_table(s)))
        elif s["type"] == "binary":
            out.append(canonical(s["dataname"], "binary", base64.b64decode(s["b64"])))
        else:
            out.append({k: v for k, v in s.items()})
    return out


def normalize(payloads: list[dict]) -> list[dict]:
    """Raw IPC tables (MicroPython) are read here with pyarrow into the canonical form."""
    out = []
    for p in payloads:
        if p.get("type") == "table" and "ipc_b64" in p:
            p = canonical(
                p["dataname"], "table", ipc_table(base64.b64decode(p["ipc_b64"]))
            )
        elif "b64" in p:  # the C driver reports bytes as base64
            p = canonical(p["dataname"], p["type"], base64.b64decode(p["b64"]))
        out.append(p)
    return out


def same(a, b) -> bool:
    """Exact equality; a bool is never a number, numbers compare by value (1 == 1.0)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


def difference(want: list[dict], got: list[dict]) -> str | None:
    if [p.get("dataname") for p in got] != [p["dataname"] for p in want]:
        return f"datanames {[p.get('dataname') for p in got]}"
    for w, g in zip(want, got):
        if not same(w, g):
            return f"{w['dataname']}: got {json.dumps(g, ensure_ascii=False)[:300]}"
    return None


def start_drivers(only: list[str], info: dict, page_port: int) -> dict[str, Driver]:
    env = dict(os.environ)
    env.update(
        NATS_URL=info["nats_url"],
        WS_URL=info.get("ws_url") or "",
        FILESERVER_URL=info.get("fileserver_url") or "",
        PAGE_PORT=str(page_port),
        PYTHONPATH=str(HERE),
        PYTHONUNBUFFERED="1",
    )
    micropython = os.environ.get("MICROPYTHON") or str(VENV / "bin" / "micropython")
    julia_env = dict(env)
    bindings_julia = ROOT / "bindings-julia"
    libunwind = (
        Path(
            os.environ.get(
                "JULIA_LIBUNWIND_DIR", Path.home() / ".cache/natsbridge/julia-libunwind"
            )
        )
        / "usr/lib/x86_64-linux-gnu"
    )
    julia_env.update(
        JULIA_LOAD_PATH=f"{bindings_julia}:@stdlib",
        NATSBRIDGE_LIBRARY_PATH=str(TARGET / "release"),
    )
    if (libunwind / "libunwind.so.8").exists():
        julia_env["LD_LIBRARY_PATH"] = (
            f"{libunwind}:{env.get('LD_LIBRARY_PATH', '')}".rstrip(":")
        )
    micro_env = dict(env, MICROPYPATH=f"{ROOT / 'bindings-micropython'}:{HERE}")
    commands = {
        "rust": ([str(TARGET / "release" / "interop-driver")], env, 30),
        "c": ([str(TARGET / "interop" / "driver_c")], env, 30),
        "python": (
            [str(VENV / "bin" / "python"), str(HERE / "driver_python.py")],
            env,
            30,
        ),
        "node": (["node", str(HERE / "driver.mjs"), "node"], env, 30),
        "julia": (
            ["julia", "--startup-file=no", str(HERE / "driver_julia.jl")],
            julia_env,
            180,
        ),
        "micropython": ([micropython, str(HERE / "driver_micro.py")], micro_env, 30),
        "browser": (["node", str(HERE / "driver.mjs"), "browser"], env, 60),
        "thirdparty": (
            [str(VENV / "bin" / "python"), str(HERE / "driver_thirdparty.py")],
            env,
            30,
        ),
    }
    drivers: dict[str, Driver] = {}
    errors: list[str] = []

    def start(name: str) -> None:
        argv, denv, ready = commands[name]
        try:
            if name == "julia":
                # Julia 1.5 precompiles outside-in, each package in its own process
                # (bindings-julia/run-tests.sh); a no-op when the caches are fresh.
                for package in ("NATSBridge_jll", "NATSBridge"):
                    subprocess.run(
                        ["julia", "--startup-file=no", "-e", f"using {package}"],
                        env=denv,
                        check=True,
                        timeout=600,
                        stdout=subprocess.DEVNULL,
                    )
            drivers[name] = Driver(name, argv, denv, ready)
        except (OSError, RuntimeError, subprocess.SubprocessError) as e:
            errors.append(f"{name}: {e}")

    threads = [threading.Thread(target=start, args=(n,)) for n in only]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        for d in drivers.values():
            d.close()
        raise SystemExit("drivers failed to start:\n  " + "\n  ".join(errors))
    return drivers


def compile_c() -> None:
    out = TARGET / "interop"
    out.mkdir(parents=True, exist_ok=True)
    (out / "lib").mkdir(exist_ok=True)
    so = out / "lib" / "libnatsbridge.so.0"
    if not so.exists():
        so.symlink_to(TARGET / "release" / "libnatsbridge.so")
    subprocess.run(
        [
            "cc",
            "-std=c11",
            "-O1",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-I",
            str(ROOT / "include"),
            str(HERE / "driver_c.c"),
            "-L",
            str(TARGET / "release"),
            "-lnatsbridge",
            f"-Wl,-rpath,{out / 'lib'}",
            "-o",
            str(out / "driver_c"),
        ],
        check=True,
    )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--only", default=",".join(ORDER), help="comma-separated drivers"
    )
    args = parser.parse_args()
    only = [n for n in ORDER if n in args.only.split(",")]
    t0 = time.monotonic()
    if "c" in only:
        compile_c()
    page_port = free_port()
    testenv = subprocess.Popen(
        [
            str(TARGET / "release" / "nb-testenv"),
            "--websocket",
            "--cors-origin",
            f"http://127.0.0.1:{page_port}",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    info = json.loads(testenv.stdout.readline())
    print(
        f"nats {info['nats_url']}  websocket {info['ws_url']}  file server {info['fileserver_url']}"
    )
    drivers = {}
    try:
        drivers = start_drivers(only, info, page_port)
        print(
            "drivers up: "
            + ", ".join(f"{n} {d.startup:.1f}s" for n, d in drivers.items())
        )
        results, failures = run_cells(drivers, only)
    finally:
        for d in drivers.values():
            d.close()
        testenv.stdin.close()
        testenv.wait(timeout=30)
    passed = sum(1 for r in results.values() if r == "ok")
    failed = sum(1 for r in results.values() if r == "FAIL")
    if failures:
        print("\nfailures:")
        for cell, why in failures:
            print(f"  {cell}: {why}")
    print(f"\n{passed} passed, {failed} failed ({time.monotonic() - t0:.1f} s)")
    return 1 if failed else 0


def run_cells(drivers: dict[str, Driver], only: list[str]):
    results: dict[tuple, str] = {}
    failures: list[tuple[str, str]] = []
    counter = 0
    for transport in TRANSPORTS:
        for sender in only:
            for receiver in only:
                counter += 1
                cell = (transport, sender, receiver)
                if (sender, transport) in UNSUPPORTED or (
                    receiver,
                    transport,
                ) in UNSUPPORTED:
                    results[cell] = "n/a"
                    continue
                subject = f"interop.{transport}.{sender}.{receiver}.{counter}"
                specs = payload_specs(sender, receiver)
                why = send_cell(
                    drivers[sender], drivers[receiver], subject, specs, transport
                )
                results[cell] = "ok" if why is None else "FAIL"
                if why:
                    failures.append((f"{transport} {sender} -> {receiver}", why))
        print_grid(
            f"send -> receive, {transport} (rows send, columns receive)",
            only,
            {(s, r): v for (t, s, r), v in results.items() if t == transport},
        )
    for asker in only:
        for answerer in only:
            counter += 1
            cell = ("request", asker, answerer)
            if asker == answerer:
                results[cell] = "-"
                continue
            subject = f"interop.request.{asker}.{answerer}.{counter}"
            why = request_cell(
                drivers[asker],
                drivers[answerer],
                subject,
                payload_specs(asker, answerer),
            )
            results[cell] = "ok" if why is None else "FAIL"
            if why:
                failures.append((f"request {asker} asks, {answerer} answers", why))
    print_grid(
        "request (row asks) / reply (column answers), direct",
        only,
        {(s, r): v for (t, s, r), v in results.items() if t == "request"},
    )
    for (name, transport), why in UNSUPPORTED.items():
        if name in only:
            print(f"n/a: {name} x {transport}: {why}")
    print(
        "-: a driver does not ask itself (each binding's own suite covers request/reply within one language)"
    )
    if "micropython" in only:
        print(
            "micropython tables: sent as raw Arrow IPC bytes (pyarrow-made, given by the runner), received as raw IPC "
            "bytes that the runner reads with pyarrow; every other driver builds and reads tables itself"
        )
    return results, failures


def send_cell(
    sender: Driver, receiver: Driver, subject: str, specs: list[dict], transport: str
) -> str | None:
    r = receiver.call({"op": "subscribe", "subject": subject})
    if not r["ok"]:
        return f"{receiver.name} subscribe: {r['error']}"
    r = sender.call(
        {"op": "send", "subject": subject, "payloads": specs, "transport": transport}
    )
    if not r["ok"]:
        receiver.call({"op": "receive", "subject": subject, "timeout_ms": 1})
        return f"{sender.name} send: {r['error']}"
    r = receiver.call({"op": "receive", "subject": subject, "timeout_ms": RECEIVE_MS})
    if not r["ok"]:
        return f"{receiver.name} receive: {r['error']}"
    return difference(expected(specs), normalize(r["payloads"]))


def request_cell(
    asker: Driver, answerer: Driver, subject: str, specs: list[dict]
) -> str | None:
    r = answerer.call({"op": "subscribe", "subject": subject})
    if not r["ok"]:
        return f"{answerer.name} subscribe: {r['error']}"
    answerer.post(
        {
            "op": "answer",
            "subject": subject,
            "timeout_ms": RECEIVE_MS,
            "transport": "direct",
        }
    )
    asked = asker.call(
        {
            "op": "request",
            "subject": subject,
            "payloads": specs,
            "timeout_ms": RECEIVE_MS,
            "transport": "direct",
        }
    )
    answered = answerer.result()
    if not answered["ok"]:
        return f"{answerer.name} answer: {answered['error']}"
    if not asked["ok"]:
        return f"{asker.name} request: {asked['error']}"
    want = expected(specs)
    why = difference(want, normalize(answered["payloads"]))
    if why:
        return f"the request as {answerer.name} read it: {why}"
    why = difference(want, normalize(asked["payloads"]))
    return f"the reply as {asker.name} read it: {why}" if why else None


def print_grid(title: str, names: list[str], cells: dict) -> None:
    width = max(len(n) for n in names) + 1
    print(f"\n{title}")
    print(" " * width + "".join(n[:11].rjust(12) for n in names))
    for s in names:
        print(s.ljust(width) + "".join(cells.get((s, r), "?").rjust(12) for r in names))


if __name__ == "__main__":
    sys.exit(main())

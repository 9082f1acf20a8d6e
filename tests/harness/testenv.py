"""Start natsbridge's test servers from any Python test suite.

`nb-testenv` (testkit/src/bin/nb-testenv.rs) starts a real nats-server (and the
claim-check file server) on free loopback ports, prints one JSON line such as
``{"nats_url": "nats://127.0.0.1:PORT", "nats_port": PORT, ...}`` once they
accept connections, and stops them when its stdin is closed. This module runs
it and hands that line back, so every Python suite shares one harness:

    import testenv  # with tests/harness on sys.path

    with testenv.NbTestEnv("--max-payload", "20000") as env:
        print(env.nats_url, env.fileserver_url)

Options are nb-testenv's: ``--max-payload BYTES``, ``--no-jetstream``,
``--token TOKEN`` (for NATS), ``--no-fileserver``, ``--fileserver-token TOKEN``
(required for uploads). The binary is ``$NB_TESTENV`` if set, else
``<repo>/target/debug/nb-testenv``; build it with
``cargo build -p natsbridge-testkit --bin nb-testenv``.
"""

from __future__ import annotations

import json
import os
import selectors
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Self

REPO_ROOT = Path(__file__).resolve().parents[2]
BUILD_COMMAND = "cargo build -p natsbridge-testkit --bin nb-testenv"


def binary() -> Path:
    """The nb-testenv to run: $NB_TESTENV, else the workspace's debug build."""
    override = os.environ.get("NB_TESTENV")
    path = Path(override) if override else REPO_ROOT / "target" / "debug" / "nb-testenv"
    if not path.is_file():
        raise FileNotFoundError(
            f"nb-testenv not found at {path}. Build it from {REPO_ROOT} with "
            f"`{BUILD_COMMAND}`, or point NB_TESTENV at a built binary."
        )
    return path


class NbTestEnv:
    """A running nb-testenv; stopped by `stop()` or on leaving a `with` block.

    `info` is the whole JSON line it printed; `nats_url`, `nats_port` and
    `fileserver_url` (None when this nb-testenv has no file server) are
    shortcuts into it.
    """

    __test__ = False  # not a pytest test class, whatever module imports it

    def __init__(self, *args: str, start_timeout: float = 60.0) -> None:
        self.args = args
        # Lives as long as the process; stop() closes it.
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115
        self._process = subprocess.Popen(
            [str(binary()), *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
        )
        try:
            self.info: dict = json.loads(self._read_line(start_timeout))
        except BaseException:
            self.stop()
            raise

    @property
    def nats_url(self) -> str:
        return self.info["nats_url"]

    @property
    def nats_port(self) -> int:
        return self.info["nats_port"]

    @property
    def fileserver_url(self) -> str | None:
        return self.info.get("fileserver_url")

    def require_fileserver(self) -> str:
        """The file server's URL; raises when this nb-testenv has none."""
        if not self.fileserver_url:
            raise RuntimeError(
                f"nb-testenv ({binary()}) printed no fileserver_url: it predates the "
                f"file server. Rebuild it with `{BUILD_COMMAND}`. It printed: {self.info}"
            )
        return self.fileserver_url

    def _read_line(self, timeout: float) -> bytes:
        stdout = self._process.stdout
        assert stdout is not None
        deadline = time.monotonic() + timeout
        line = b""
        with selectors.DefaultSelector() as selector:
            selector.register(stdout, selectors.EVENT_READ)
            while not line.endswith(b"\n"):
                left = deadline - time.monotonic()
                if left <= 0 or not selector.select(left):
                    raise TimeoutError(
                        f"nb-testenv printed no line within {timeout} s; {self._log()}"
                    )
                chunk = os.read(stdout.fileno(), 4096)
                if not chunk:
                    raise RuntimeError(
                        f"nb-testenv exited before printing its line; {self._log()}"
                    )
                line += chunk
        return line

    def _log(self) -> str:
        self._stderr.seek(0)
        text = self._stderr.read().decode(errors="replace").strip()
        return f"its stderr: {text}" if text else "it wrote nothing to stderr"

    @property
    def running(self) -> bool:
        return self._process.poll() is None

    def stop(self, timeout: float = 15.0) -> None:
        """Closes nb-testenv's stdin, which stops its servers, and waits for it
        (killing it after `timeout` seconds). Safe to call twice."""
        process = self._process
        if process.stdin and not process.stdin.closed:
            process.stdin.close()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout and not process.stdout.closed:
            process.stdout.close()
        self._stderr.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

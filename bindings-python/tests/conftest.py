"""Fixtures for the natsbridge Python tests: real servers from the shared
harness (tests/harness/testenv.py runs nb-testenv: nats-server with JetStream
and natsbridge's file server, on free loopback ports)."""

from __future__ import annotations

import os
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import natsbridge

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "harness"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import testenv  # noqa: E402

WAIT = 10.0
"""Seconds any single wait in these tests may take."""

# tests/package checks a built wheel (NB_WHEEL) in fresh virtualenvs:
# tests/package/check_wheel.sh runs it; the package suite alone does not.
collect_ignore = [] if os.environ.get("NB_WHEEL") else ["package"]


@pytest.fixture(scope="session")
def env() -> Iterator[testenv.NbTestEnv]:
    """NATS with JetStream, and the file server."""
    with testenv.NbTestEnv() as running:
        running.require_fileserver()
        yield running


@pytest.fixture(scope="session")
def nats_url(env: testenv.NbTestEnv) -> str:
    return env.nats_url


@pytest.fixture(scope="session")
def fileserver_url(env: testenv.NbTestEnv) -> str:
    return env.require_fileserver()


@pytest.fixture(scope="session")
def bare_env() -> Iterator[testenv.NbTestEnv]:
    """NATS without JetStream and no file server: nowhere to put a link payload."""
    with testenv.NbTestEnv("--no-jetstream", "--no-fileserver") as running:
        yield running


@pytest.fixture
def bridge(nats_url: str) -> Iterator[natsbridge.Bridge]:
    with natsbridge.Bridge(nats_url) as connected:
        yield connected


@pytest.fixture
def subject() -> str:
    """A subject no other test uses."""
    return f"test.{uuid.uuid4().hex}"


def eventually(condition: Callable[[], bool], timeout: float = WAIT) -> bool:
    """Polls `condition` until it holds or `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


class Collector:
    """Receives `count` envelopes from a subscription on a background thread."""

    def __init__(self, subscription: natsbridge.Subscription, count: int) -> None:
        self.envelopes: list = []
        self.errors: list[BaseException] = []
        self._thread = threading.Thread(target=self._run, args=(subscription, count), daemon=True)
        self._thread.start()

    def _run(self, subscription: natsbridge.Subscription, count: int) -> None:
        try:
            for _ in range(count):
                self.envelopes.append(subscription.next(timeout=WAIT))
        except BaseException as err:
            self.errors.append(err)

    def join(self) -> list:
        self._thread.join(WAIT * 2)
        assert not self._thread.is_alive(), "the collector did not finish"
        if self.errors:
            raise self.errors[0]
        return self.envelopes

"""Fixtures for the MicroPython client's tests: nb-testenv servers (through the
shared harness in tests/harness/testenv.py) and script runners for the
MicroPython unix port and CPython."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[1]
sys.path[:0] = [str(REPO_ROOT / "tests" / "harness"), str(HERE.parent)]

import testenv
from micro_runner import Script


@pytest.fixture(scope="session")
def nb_env():
    """The default servers: nats-server with JetStream, 1 MiB max_payload."""
    with testenv.NbTestEnv() as env:
        yield env


@pytest.fixture(scope="session")
def small_env():
    """Servers whose nats-server has max_payload 20000."""
    with testenv.NbTestEnv("--max-payload", "20000") as env:
        yield env


@pytest.fixture(scope="session")
def token_env():
    """Servers whose nats-server requires the token `s3cret-T`."""
    with testenv.NbTestEnv("--token", "s3cret-T") as env:
        yield env


def _fileserver(env: testenv.NbTestEnv) -> str:
    try:
        return env.require_fileserver()
    except RuntimeError as e:
        pytest.fail(str(e))


@pytest.fixture
def fileserver_url(nb_env) -> str:
    """The claim-check file server of nb_env."""
    return _fileserver(nb_env)


@pytest.fixture
def small_fileserver_url(small_env) -> str:
    """The claim-check file server of small_env."""
    return _fileserver(small_env)


@pytest.fixture
def start_env():
    """Starts a private nb-testenv with the given options (stopped at teardown)."""
    started: list[testenv.NbTestEnv] = []

    def start(*args: str) -> testenv.NbTestEnv:
        env = testenv.NbTestEnv(*args)
        started.append(env)
        return env

    yield start
    for env in started:
        env.stop()


@pytest.fixture
def script(tmp_path):
    """Starts a script: script(impl, body, flags=(), **params) -> Script."""
    running: list[Script] = []

    def start(impl: str, body: str, flags=(), **params: object) -> Script:
        s = Script(impl, body, tmp_path, flags, **params)
        running.append(s)
        return s

    yield start
    for s in running:
        s.kill()


@pytest.fixture(params=["micropython", "cpython"])
def impl(request) -> str:
    """Runs a test once under the MicroPython unix port, once under CPython."""
    return request.param

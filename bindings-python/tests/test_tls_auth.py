"""TLS and authentication against servers that require them (issue 19 item 3):
nb-testenv starts nats-server with TLS (a CA made at start), mutual TLS, a
token, user/password, an nkey or an operator/JWT setup (.creds), and an https
file server. Each mode round trips through the Python package; each wrong
credential or untrusted certificate raises the typed error within the connect
timeout; no secret shows in an envelope or an error."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest

import natsbridge

import testenv
from conftest import WAIT

CONNECT_TIMEOUT_MS = 3000


def round_trip(bridge: natsbridge.Bridge, secrets: tuple[str, ...] = ()) -> None:
    subject = f"secure.{uuid.uuid4().hex}"
    with bridge.subscribe(subject) as subscription:
        sent = bridge.send(subject, [("greeting", "hello, secured", "text")])
        envelope = subscription.next(timeout=WAIT)
    assert envelope["payloads"][0][1] == "hello, secured"
    shown = repr(sent) + repr(envelope)
    for secret in secrets:
        assert secret not in shown


def fails_fast(error: type[BaseException], secrets: tuple[str, ...], url: str, **options) -> str:
    """Connecting raises `error` before the connect timeout; returns its text."""
    started = time.monotonic()
    with pytest.raises(error) as caught:
        natsbridge.Bridge(url, connect_timeout=CONNECT_TIMEOUT_MS, **options)
    elapsed = time.monotonic() - started
    assert elapsed < CONNECT_TIMEOUT_MS / 1000, f"took {elapsed:.2f} s: {caught.value!r}"
    shown = f"{caught.value} {caught.value!r}"
    for secret in secrets:
        assert secret not in shown, shown
    return shown


@pytest.fixture(scope="module")
def tls_env() -> Iterator[testenv.NbTestEnv]:
    """NATS requiring TLS and the file server on https, one CA for both."""
    with testenv.NbTestEnv("--tls", "--fileserver-tls", "--no-jetstream") as running:
        yield running


@pytest.fixture(scope="module")
def mtls_env() -> Iterator[testenv.NbTestEnv]:
    with testenv.NbTestEnv("--mtls", "--no-jetstream", "--no-fileserver") as running:
        yield running


def test_tls_with_a_custom_ca_round_trips_and_links_go_over_https(tls_env):
    info = tls_env.info
    assert tls_env.fileserver_url.startswith("https://")
    with natsbridge.Bridge(
        tls_env.nats_url,
        tls_ca_file=info["tls_ca"],
        require_tls=True,
        fileserver_url=tls_env.fileserver_url,
    ) as bridge:
        round_trip(bridge)
        subject = f"secure.{uuid.uuid4().hex}"
        blob = bytes(range(256)) * 2000
        with bridge.subscribe(subject) as subscription:
            sent = bridge.send(subject, [("blob", blob, "binary")], size_threshold=1000)
            envelope = subscription.next(timeout=WAIT)
        assert sent["payloads"][0]["transport"] == "link"
        assert envelope["payloads"][0][1] == blob


def test_an_untrusted_ca_is_a_connection_error_in_time(tls_env):
    shown = fails_fast(
        natsbridge.NatsConnectionError,
        (),
        tls_env.nats_url,
        tls_ca_file=tls_env.info["tls_untrusted_ca"],
    )
    assert "TLS" in shown


def test_mutual_tls_round_trips_and_refuses_a_missing_client_cert(mtls_env):
    info = mtls_env.info
    with natsbridge.Bridge(
        mtls_env.nats_url,
        tls_ca_file=info["tls_ca"],
        tls_client_cert=info["tls_client_cert"],
        tls_client_key=info["tls_client_key"],
    ) as bridge:
        round_trip(bridge)
    fails_fast(natsbridge.NatsConnectionError, (), mtls_env.nats_url, tls_ca_file=info["tls_ca"])


def test_user_password_round_trips_and_a_wrong_password_is_an_auth_error_in_time():
    password = "py-pw-" + uuid.uuid4().hex
    with testenv.NbTestEnv(
        "--user", "alice", "--password", password, "--no-jetstream", "--no-fileserver"
    ) as env:
        with natsbridge.Bridge(env.nats_url, user="alice", password=password) as bridge:
            round_trip(bridge, (password,))
        wrong = "py-wrong-" + uuid.uuid4().hex
        fails_fast(
            natsbridge.AuthError, (wrong, password), env.nats_url, user="alice", password=wrong
        )


def test_nkey_and_creds_round_trip_and_strangers_are_auth_errors_in_time():
    with testenv.NbTestEnv("--nkey", "--no-jetstream", "--no-fileserver") as env:
        seed = env.info["nkey_seed"]
        with natsbridge.Bridge(env.nats_url, nkey=seed) as bridge:
            round_trip(bridge, (seed,))
        stranger = env.info["stranger_nkey_seed"]
        fails_fast(natsbridge.AuthError, (stranger, seed), env.nats_url, nkey=stranger)
    with testenv.NbTestEnv("--creds", "--no-jetstream", "--no-fileserver") as env:
        with natsbridge.Bridge(env.nats_url, credentials_file=env.info["creds_file"]) as bridge:
            round_trip(bridge)
        fails_fast(
            natsbridge.AuthError, (), env.nats_url, credentials_file=env.info["foreign_creds_file"]
        )

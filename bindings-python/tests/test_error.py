"""Errors: one exception class per core error kind, under NatsBridgeError,
raised for each bad input of the core (error.rs)."""

from __future__ import annotations

import base64
import builtins
import hashlib
import json
import math
import re
import socket
import time
from pathlib import Path

import pytest

import natsbridge

STUB = Path(natsbridge.__file__).with_name("_natsbridge.pyi")


def class_name(kind: str) -> str:
    """The class name of a kind: ``<kind>Error``, ``Nats<kind>Error`` when that is a built-in."""
    plain = f"{kind}Error"
    return f"Nats{plain}" if hasattr(builtins, plain) else plain


def test_one_class_per_core_kind_all_under_the_base():
    assert len(natsbridge.ERROR_KINDS) >= 24
    assert "Internal" in natsbridge.ERROR_KINDS
    assert sorted(natsbridge.ERROR_CLASSES) == sorted(natsbridge.ERROR_KINDS)
    codes = set()
    for kind in natsbridge.ERROR_KINDS:
        cls = getattr(natsbridge, class_name(kind))
        assert cls is natsbridge.ERROR_CLASSES[kind]
        assert cls.__name__ == class_name(kind)
        assert issubclass(cls, natsbridge.NatsBridgeError)
        assert cls.kind == kind
        assert cls.__module__ == "natsbridge"
        assert re.fullmatch(r"[A-Z0-9_]+", cls.code)
        codes.add(cls.c_code)
        assert class_name(kind) in natsbridge.__all__
    assert len(codes) == len(natsbridge.ERROR_KINDS)
    assert natsbridge.IntegrityError.code == "INTEGRITY"
    assert natsbridge.IntegrityError.c_code == 7
    assert natsbridge.InternalError.code == "INTERNAL"


def test_the_stub_lists_every_class_and_public_name():
    stub = STUB.read_text()
    for name in ["NatsBridgeError", *(class_name(kind) for kind in natsbridge.ERROR_KINDS)]:
        assert re.search(rf"^class {name}\(", stub, re.M), f"{name} missing from {STUB.name}"
    for name in natsbridge.__all__:
        assert re.search(rf"^(class |def ){name}\b|^{name}:", stub, re.M), name
    for alias in ["TimeoutError", "ConnectionError"]:
        assert re.search(rf"^{alias} = Nats{alias}$", stub, re.M), alias


def test_star_import_leaves_the_builtins_alone():
    namespace: dict = {}
    exec("from natsbridge import *", namespace)
    assert "TimeoutError" not in namespace and "ConnectionError" not in namespace
    exec("from natsbridge import *\nt, c = TimeoutError, ConnectionError", namespace)
    assert namespace["t"] is builtins.TimeoutError
    assert namespace["c"] is builtins.ConnectionError
    assert namespace["NatsTimeoutError"] is natsbridge.NatsTimeoutError
    for name in natsbridge.__all__:
        assert not hasattr(builtins, name), f"{name} in __all__ shadows a built-in"


def test_old_names_stay_importable():
    from natsbridge import ConnectionError as OldConnectionError
    from natsbridge import TimeoutError as OldTimeoutError

    assert OldTimeoutError is natsbridge.NatsTimeoutError
    assert OldConnectionError is natsbridge.NatsConnectionError
    assert natsbridge.TimeoutError is natsbridge.NatsTimeoutError


def test_familiar_builtins_still_catch():
    assert issubclass(natsbridge.NatsTimeoutError, builtins.TimeoutError)
    assert issubclass(natsbridge.NatsConnectionError, builtins.ConnectionError)
    assert issubclass(natsbridge.InvalidArgumentError, ValueError)
    assert issubclass(natsbridge.UnknownTypeError, ValueError)


def envelope(**payload_fields) -> dict:
    raw = payload_fields.pop("raw", b"Hello")
    payload = {
        "id": "b8d1e1f0-0000-4000-8000-000000000001",
        "dataname": "message",
        "type": "text",
        "transport": "direct",
        "encoding": "base64",
        "size": len(raw),
        "sha256": hashlib.sha256(raw).hexdigest(),
        "data": base64.b64encode(raw).decode(),
        "metadata": {},
    }
    payload.update(payload_fields)
    return {"version": 1, "msg_id": "9a1e", "correlation_id": "3f0c", "payloads": [payload]}


def body(value: dict) -> bytes:
    return json.dumps(value).encode()


def test_a_good_hand_made_envelope_decodes():
    assert natsbridge.smartreceive(body(envelope()))["payloads"] == [("message", "Hello", "text")]


@pytest.mark.parametrize(
    ("message", "error"),
    [
        (b"not json at all", natsbridge.MalformedEnvelopeError),
        (b'{"version": 1}', natsbridge.MalformedEnvelopeError),
        (b'{"payloads": {"a": 1}}', natsbridge.MalformedEnvelopeError),
        (body({**envelope(), "version": 2}), natsbridge.UnsupportedVersionError),
        (body(envelope(data="@@not base64@@")), natsbridge.InvalidBase64Error),
        (body(envelope(size=6)), natsbridge.IntegrityError),
        (body(envelope(sha256="0" * 64)), natsbridge.IntegrityError),
        (body(envelope(raw=b"\xff\xfe\xfd")), natsbridge.InvalidUtf8Error),
        (body(envelope(type="dictionary", raw=b"{not json")), natsbridge.InvalidJsonError),
        (body(envelope(type="table", raw=b"not arrow")), natsbridge.InvalidTableError),
        (
            body(envelope(transport="link", encoding="url", data="file:///etc/passwd")),
            natsbridge.UrlNotAllowedError,
        ),
    ],
    ids=[
        "not json",
        "no payloads",
        "payloads not an array",
        "version 2",
        "bad base64",
        "size mismatch",
        "sha256 mismatch",
        "invalid utf-8",
        "invalid json",
        "not arrow",
        "file url",
    ],
)
def test_bad_messages_raise_their_class(message, error):
    with pytest.raises(error) as caught:
        natsbridge.smartreceive(message)
    assert isinstance(caught.value, natsbridge.NatsBridgeError)
    assert str(caught.value)
    assert caught.value.message


def test_payload_errors_name_the_payload():
    with pytest.raises(natsbridge.IntegrityError) as caught:
        natsbridge.smartreceive(body(envelope(size=99)))
    assert caught.value.dataname == "message"
    assert "message" in str(caught.value)


@pytest.mark.parametrize(
    ("data", "error", "text"),
    [
        ([("", "x", "text")], natsbridge.InvalidArgumentError, "dataname"),
        ([("x", "a", "csv")], natsbridge.UnknownTypeError, "csv"),
        ([("x", b"bytes", "text")], natsbridge.InvalidArgumentError, "text"),
        ([("x", 42, "text")], natsbridge.InvalidArgumentError, "int"),
        ([("x", "a string", "binary")], natsbridge.InvalidArgumentError, "binary"),
        ([("x", {1, 2}, "dictionary")], natsbridge.SerializationError, "set"),
        ([("x", {"v": math.nan}, "dictionary")], natsbridge.SerializationError, "nan"),
        ([("x", {"v": [math.inf]}, "dictionary")], natsbridge.SerializationError, "inf"),
        ([("x", {"v": 2**70}, "dictionary")], natsbridge.SerializationError, "64 bits"),
        ([("x", {(1, 2): "tuple key"}, "dictionary")], natsbridge.SerializationError, "key"),
        ([("x", object(), "table")], natsbridge.InvalidArgumentError, "table"),
        ([("x", b"not arrow", "table")], natsbridge.InvalidTableError, "Arrow"),
        ([("x", {"a": [1, "one"]}, "table")], natsbridge.SerializationError, "mixes"),
        ([("x", "y")], natsbridge.InvalidArgumentError, "tuple"),
        (("x", "y", "text"), natsbridge.InvalidArgumentError, "list of"),
        ([("x", Path("/nonexistent/natsbridge"), "binary")], natsbridge.IoError, "nonexistent"),
    ],
    ids=[
        "empty dataname",
        "unknown type",
        "bytes as text",
        "int as text",
        "str as binary",
        "set in dictionary",
        "nan in dictionary",
        "inf in dictionary",
        "huge int",
        "tuple key",
        "object as table",
        "not arrow table",
        "mixed column",
        "two-item tuple",
        "one tuple not a list",
        "missing file",
    ],
)
def test_bad_payloads_raise_their_class(bridge, subject, data, error, text):
    with pytest.raises(error) as caught:
        bridge.send(subject, data)
    assert text.lower() in str(caught.value).lower()


def test_dictionary_errors_say_where(bridge, subject):
    with pytest.raises(natsbridge.SerializationError) as caught:
        bridge.send(subject, [("cfg", {"a": [1, {"b": {3}}]}, "dictionary")])
    assert caught.value.dataname == "cfg"
    assert '["a"][1]["b"]' in str(caught.value)


@pytest.mark.parametrize(
    "bad", ["", "bad subject", "a..b", "trailing.", "wild.*", "wild.>"], ids=repr
)
def test_bad_subjects_are_refused(bridge, bad):
    with pytest.raises(natsbridge.InvalidArgumentError, match="subject"):
        bridge.send(bad, [("m", "x", "text")])


def test_slash_subjects_are_fine(bridge):
    assert bridge.send("/chat/room1", [("m", "x", "text")])["send_to"] == "/chat/room1"


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_closed_port_is_a_connection_error_in_bounded_time():
    url = f"nats://127.0.0.1:{closed_port()}"
    started = time.monotonic()
    with pytest.raises(natsbridge.ConnectionError) as caught:
        natsbridge.Bridge(url, connect_timeout=2000)
    assert time.monotonic() - started < 10
    assert "127.0.0.1" in str(caught.value)
    with pytest.raises(natsbridge.ConnectionError):
        natsbridge.smartsend("a.b", [("m", "x", "text")], nats_url=url)


def test_too_large_without_a_store(bare_env, subject):
    with pytest.raises(natsbridge.PayloadTooLargeError) as caught:
        natsbridge.smartsend(
            subject, [("video", b"\x00" * 1_200_000, "video")], nats_url=bare_env.nats_url
        )
    assert caught.value.transient is False
    assert "video" in str(caught.value)


def test_a_closed_bridge_says_closed(nats_url, subject):
    bridge = natsbridge.Bridge(nats_url)
    bridge.close()
    bridge.close()  # twice is fine
    assert bridge.closed
    with pytest.raises(natsbridge.ClosedError):
        bridge.send(subject, [("m", "x", "text")])


def test_timeouts_are_timeout_errors(bridge, subject):
    with bridge.subscribe(subject) as subscription:
        started = time.monotonic()
        with pytest.raises(natsbridge.TimeoutError):
            subscription.next(timeout=0.2)
        assert 0.15 < time.monotonic() - started < 5
    with pytest.raises(natsbridge.NoRespondersError):
        bridge.request(subject + ".nobody", [("q", "?", "text")], timeout=5)


def link_envelope(url: str, raw: bytes = b"x" * 10) -> bytes:
    return body(
        envelope(
            raw=raw,
            type="binary",
            transport="link",
            encoding="url",
            data=url,
        )
    )


def test_a_missing_link_is_a_download_error_without_retries(fileserver_url):
    started = time.monotonic()
    with pytest.raises(natsbridge.DownloadError) as caught:
        natsbridge.smartreceive(link_envelope(f"{fileserver_url}/no/such/payload"))
    assert "404" in str(caught.value)
    assert time.monotonic() - started < 5  # a 4xx is not retried


def test_a_link_to_a_closed_port_gives_up_in_bounded_time():
    started = time.monotonic()
    with pytest.raises(natsbridge.DownloadError):
        natsbridge.smartreceive(
            link_envelope(f"http://127.0.0.1:{closed_port()}/x"),
            max_retries=2,
            base_delay=10,
            max_delay=20,
        )
    assert time.monotonic() - started < 10


@pytest.mark.parametrize(
    "url",
    ["http://169.254.169.254/latest/meta-data", "ftp://127.0.0.1/x"],
    ids=["cloud metadata", "ftp"],
)
def test_refused_link_targets(url):
    with pytest.raises(natsbridge.UrlNotAllowedError):
        natsbridge.smartreceive(link_envelope(url))


def test_an_origin_outside_the_allow_list_is_refused(fileserver_url):
    with pytest.raises(natsbridge.UrlNotAllowedError):
        natsbridge.smartreceive(
            link_envelope(f"{fileserver_url}/a/b"), allowed_origins=["https://files.example.com"]
        )

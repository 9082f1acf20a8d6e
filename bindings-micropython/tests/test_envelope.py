"""Bad envelopes and bad arguments raise their own exception class, the same
under CPython (in-process) and MicroPython (one batch script)."""

from __future__ import annotations

import base64
import json

import pytest

import natsbridge_micro as nb
from spec_envelopes import spec_envelope, spec_link, spec_payload


def envelope(*payloads: dict, **fields) -> bytes:
    env = spec_envelope("bad.envelopes", list(payloads))
    env.update(fields)
    return json.dumps(env).encode()


def payload(**changes) -> dict:
    p = spec_payload("greeting", b"hello", "text")
    p.update(changes)
    return p


def without(d: dict, key: str) -> dict:
    return {k: v for k, v in d.items() if k != key}


HELLO_SHA = payload()["sha256"]

# id -> (message body, max_payload_limit or None, exception class name, words in its message)
BAD = {
    "not json": (b"hello", None, "MalformedEnvelopeError", "JSON"),
    "json array": (b"[1, 2]", None, "MalformedEnvelopeError", "object"),
    "payloads missing": (
        json.dumps(without(spec_envelope("s", []), "payloads")).encode(),
        None,
        "MalformedEnvelopeError",
        "payloads",
    ),
    "payloads an object": (
        envelope(payloads={}),
        None,
        "MalformedEnvelopeError",
        "payloads",
    ),
    "version 2": (envelope(version=2), None, "UnsupportedVersionError", "version 2"),
    "version a string": (
        envelope(version="1"),
        None,
        "MalformedEnvelopeError",
        "version",
    ),
    "version 0": (envelope(version=0), None, "MalformedEnvelopeError", "version"),
    "version 1.5": (envelope(version=1.5), None, "MalformedEnvelopeError", "version"),
    "string field a number": (
        envelope(reply_to=5),
        None,
        "MalformedEnvelopeError",
        "reply_to",
    ),
    "metadata a list": (
        envelope(metadata=[]),
        None,
        "MalformedEnvelopeError",
        "metadata",
    ),
    "payload not an object": (
        envelope(payloads=[1]),
        None,
        "MalformedEnvelopeError",
        "object",
    ),
    "empty dataname": (
        envelope(payload(dataname="")),
        None,
        "MalformedEnvelopeError",
        "dataname",
    ),
    "size a string": (
        envelope(payload(size="5")),
        None,
        "MalformedEnvelopeError",
        "size",
    ),
    "unknown transport": (
        envelope(payload(transport="carrier-pigeon")),
        None,
        "MalformedEnvelopeError",
        "carrier-pigeon",
    ),
    "base64 with a bad character": (
        envelope(payload(data="aGVs!G8=")),
        None,
        "InvalidBase64Error",
        "base64",
    ),
    "base64 without padding": (
        envelope(payload(data="aGVsbG8")),
        None,
        "InvalidBase64Error",
        "base64",
    ),
    "base64 with a line break": (
        envelope(payload(data="aGVs\nbG8=")),
        None,
        "InvalidBase64Error",
        "base64",
    ),
    "size mismatch": (envelope(payload(size=6)), None, "IntegrityError", "size"),
    "sha256 mismatch": (
        envelope(payload(sha256="0" * 64)),
        None,
        "IntegrityError",
        "sha256",
    ),
    "text not utf-8": (
        envelope(spec_payload("t", b"\xff\xfeok", "text")),
        None,
        "InvalidUtf8Error",
        "UTF-8",
    ),
    "dictionary not utf-8": (
        envelope(spec_payload("d", b'{"a": "\xff"}', "dictionary")),
        None,
        "InvalidUtf8Error",
        "UTF-8",
    ),
    "dictionary not json": (
        envelope(spec_payload("d", b"{nope", "dictionary")),
        None,
        "InvalidJsonError",
        "JSON",
    ),
    "file link": (
        envelope(spec_link("f", b"x", "binary", "file:///etc/passwd")),
        None,
        "UrlNotAllowedError",
        "file:///etc/passwd",
    ),
    "ftp link": (
        envelope(spec_link("f", b"x", "binary", "ftp://127.0.0.1/x")),
        None,
        "UrlNotAllowedError",
        "http",
    ),
    "nats-object link": (
        envelope(spec_link("f", b"x", "binary", "nats-object://bucket/object")),
        None,
        "UrlNotAllowedError",
        "full natsbridge client",
    ),
    "link without sha256": (
        envelope(
            without(spec_link("f", b"x", "binary", "http://127.0.0.1:1/x"), "sha256")
        ),
        None,
        "MalformedEnvelopeError",
        "sha256",
    ),
    "payload over max_payload_limit": (
        envelope(spec_payload("big", b"x" * 11, "binary")),
        10,
        "PayloadTooLargeError",
        "max_payload_limit",
    ),
}


@pytest.mark.parametrize("case", BAD, ids=list(BAD))
def test_bad_envelope_on_cpython(case):
    body, limit, name, words = BAD[case]
    with pytest.raises(nb.NatsBridgeError) as raised:
        nb.smartreceive(body, max_payload_limit=limit)
    assert type(raised.value).__name__ == name, raised.value
    assert words in str(raised.value)


CHECK_ALL = """
import binascii
out = {}
for case in P["cases"]:
    body = binascii.unhexlify(case[1])
    out[case[0]] = error_of(nb.smartreceive, body, max_payload_limit=case[2])
result(out)
"""


def test_bad_envelopes_on_micropython(script):
    cases = [[case, body.hex(), limit] for case, (body, limit, _, _) in BAD.items()]
    got = script("micropython", CHECK_ALL, cases=cases).result()
    for case, (_, _, name, words) in BAD.items():
        assert got[case] is not None, f"{case}: no error on MicroPython"
        assert got[case][0] == name, (case, got[case])
        assert words in got[case][1], (case, got[case])


def test_every_error_is_a_natsbridge_error():
    names = [
        "InvalidArgumentError",
        "MalformedEnvelopeError",
        "UnsupportedVersionError",
        "InvalidBase64Error",
        "IntegrityError",
        "InvalidUtf8Error",
        "InvalidJsonError",
        "PayloadTooLargeError",
        "UrlNotAllowedError",
        "DownloadError",
        "UploadError",
        "NatsConnectionError",
        "ProtocolError",
        "AuthError",
        "NatsTimeoutError",
    ]
    for name in names:
        assert issubclass(getattr(nb, name), nb.NatsBridgeError), name
    assert issubclass(nb.AuthError, nb.ProtocolError)


LIST_CLASSES = """
out = {}
for name in dir(nb):
    cls = getattr(nb, name)
    if isinstance(cls, type) and issubclass(cls, nb.NatsBridgeError) and cls is not nb.NatsBridgeError:
        out[name] = [cls.__name__, cls.code]
result(out)
"""


@pytest.mark.parametrize("interpreter", ["micropython", "cpython"])
def test_error_classes_are_the_python_packages(script, interpreter):
    """Each exception has the class name and `code` of the natsbridge
    package's class for that kind (built from the core's error table); the
    only extra class is ProtocolError (a CONNECTION failure the core has no
    kind of its own for)."""
    import natsbridge

    package = {cls.__name__: cls.code for cls in natsbridge.ERROR_CLASSES.values()}
    got = script(interpreter, LIST_CLASSES).result()
    names = {name for name, _ in got.values()}
    assert names - set(package) == {"ProtocolError"}, names - set(package)
    for attribute, (name, code) in got.items():
        if name == "ProtocolError":
            assert code == "CONNECTION"
            continue
        assert package[name] == code, (attribute, name)
        assert attribute == name or attribute in OLD_NAMES, attribute
    for old, new in OLD_NAMES.items():
        assert got[old][0] == new, old


OLD_NAMES = {
    "InvalidArgument": "InvalidArgumentError",
    "MalformedEnvelope": "MalformedEnvelopeError",
    "UnsupportedVersion": "UnsupportedVersionError",
    "InvalidBase64": "InvalidBase64Error",
    "InvalidUtf8": "InvalidUtf8Error",
    "InvalidJson": "InvalidJsonError",
    "PayloadTooLarge": "PayloadTooLargeError",
    "UrlNotAllowed": "UrlNotAllowedError",
    "AuthorizationError": "AuthError",
    "Timeout": "NatsTimeoutError",
}


def test_str_and_memoryview_bodies_and_message_objects():
    body = envelope(payload())
    for msg in (body, bytearray(body), memoryview(body), body.decode()):
        assert nb.smartreceive(msg)["payloads"] == [("greeting", "hello", "text")]

    class Message:  # shaped like nats-py's Msg
        data = body
        reply = "_INBOX.abc"

    env = nb.smartreceive(Message())
    assert env["_nats_reply"] == "_INBOX.abc"


# Arguments checked before any connection is made: the URL points nowhere, so
# a check made too late would show up as NatsConnectionError instead.
NOWHERE = "nats://127.0.0.1:1"
BAD_SENDS = {
    "empty subject": ("", [("a", "b", "text")], {}, "InvalidArgumentError"),
    "blank subject": ("   ", [("a", "b", "text")], {}, "InvalidArgumentError"),
    "subject with a space": ("a b", [("a", "b", "text")], {}, "InvalidArgumentError"),
    "subject with a tab": ("a\tb", [("a", "b", "text")], {}, "InvalidArgumentError"),
    "unknown type": ("s", [("a", "b", "hologram")], {}, "InvalidArgumentError"),
    "text given bytes": ("s", [("a", b"b", "text")], {}, "InvalidArgumentError"),
    "binary given str": ("s", [("a", "b", "binary")], {}, "InvalidArgumentError"),
    "empty dataname": ("s", [("", "b", "text")], {}, "InvalidArgumentError"),
    "not a tuple": ("s", ["just a string"], {}, "InvalidArgumentError"),
    "data not a list": ("s", "text", {}, "InvalidArgumentError"),
    "over max_payload_limit": (
        "s",
        [("a", b"x" * 11, "binary")],
        {"max_payload_limit": 10},
        "PayloadTooLargeError",
    ),
    "dictionary with a non-string key": (
        "s",
        [("a", {1: 2}, "dictionary")],
        {},
        "InvalidArgumentError",
    ),
    "dictionary with NaN": (
        "s",
        [("a", [float("nan")], "dictionary")],
        {},
        "InvalidArgumentError",
    ),
    "dictionary with bytes": (
        "s",
        [("a", {"k": b"v"}, "dictionary")],
        {},
        "InvalidArgumentError",
    ),
    "metadata not an object": (
        "s",
        [("a", "b", "text")],
        {"metadata": [1]},
        "InvalidArgumentError",
    ),
    "payload metadata not an object": (
        "s",
        [("a", "b", "text", "meta")],
        {},
        "InvalidArgumentError",
    ),
}
# JSON cannot carry these arguments to a script: it builds them itself.
BUILT_BY_SCRIPT = (
    "text given bytes",
    "over max_payload_limit",
    "dictionary with a non-string key",
    "dictionary with NaN",
    "dictionary with bytes",
)


@pytest.mark.parametrize("case", BAD_SENDS, ids=list(BAD_SENDS))
def test_bad_send_arguments_on_cpython(case):
    subject, data, kwargs, name = BAD_SENDS[case]
    with pytest.raises(nb.NatsBridgeError) as raised:
        nb.smartsend(subject, data, nats_url=NOWHERE, **kwargs)
    assert type(raised.value).__name__ == name, raised.value


def test_bad_send_arguments_on_micropython(script):
    cases = [
        [case, subject, data, kwargs]
        for case, (subject, data, kwargs, _) in BAD_SENDS.items()
        if case not in BUILT_BY_SCRIPT
    ]
    body = """
    out = {}
    for case, subject, data, kwargs in P["cases"]:
        if type(data) is list:
            data = [tuple(x) if type(x) is list else x for x in data]
        out[case] = error_of(nb.smartsend, subject, data, nats_url=P["url"], **kwargs)
    out["text given bytes"] = error_of(
        nb.smartsend, "s", [("a", b"b", "text")], nats_url=P["url"])
    out["over max_payload_limit"] = error_of(
        nb.smartsend, "s", [("a", b"x" * 11, "binary")], nats_url=P["url"],
        max_payload_limit=10)
    for case, value in (("dictionary with a non-string key", {1: 2}),
                        ("dictionary with NaN", [float("nan")]),
                        ("dictionary with bytes", {"k": b"v"})):
        out[case] = error_of(nb.smartsend, "s", [("a", value, "dictionary")],
                             nats_url=P["url"])
    result(out)
    """
    got = script("micropython", body, cases=cases, url=NOWHERE).result()
    for case, (_, _, _, name) in BAD_SENDS.items():
        assert got[case] is not None, f"{case}: no error on MicroPython"
        assert got[case][0] == name, (case, got[case])


def test_send_to_a_closed_port_is_a_connection_error():
    with pytest.raises(nb.NatsConnectionError, match="127.0.0.1:1"):
        nb.smartsend("s", [("a", "b", "text")], nats_url=NOWHERE)


def test_direct_payload_base64_is_standard_and_padded():
    """What the module encodes, the standard library decodes strictly."""
    for n in range(7):
        raw = bytes(range(n))
        p = nb._serialize(("x", raw, "binary"), 100)
        assert p[0]["size"] == n
        encoded = nb._b64(raw).decode()
        assert base64.b64decode(encoded, validate=True) == raw
        assert encoded == base64.b64encode(raw).decode()


LONG = bytes(range(256)) * 4  # 1024 bytes: 1368 characters of base64


def escaped_slashes(body: bytes) -> bytes:
    """The same JSON with every / written as \\/ (as some encoders do)."""
    return body.replace(b"/", b"\\/")


# id -> (message body, the payloads smartreceive must return, the metadata)
GOOD = {
    "long base64": (envelope(spec_payload("blob", LONG, "binary")), LONG, {}),
    "long base64 with escaped slashes": (
        escaped_slashes(envelope(spec_payload("blob", LONG, "binary"))),
        LONG,
        {},
    ),
    "a long data string in the metadata": (
        envelope(
            spec_payload("blob", LONG, "binary"),
            metadata={"data": "x" * 2000, "note": 'a "data": "y"'},
        ),
        LONG,
        {"data": "x" * 2000, "note": 'a "data": "y"'},
    ),
    "the same in payload metadata": (
        envelope(
            {**spec_payload("blob", LONG, "binary"), "metadata": {"data": "z" * 900}}
        ),
        LONG,
        {},
    ),
}


@pytest.mark.parametrize("case", GOOD, ids=list(GOOD))
def test_long_base64_is_decoded_in_place_or_not_at_all(case):
    body, blob, metadata = GOOD[case]
    env = nb.smartreceive(body)
    assert env["payloads"] == [("blob", blob, "binary")]
    assert env["metadata"] == metadata


DECODE_ALL = """
import binascii
out = {}
for case in P["cases"]:
    env = nb.smartreceive(binascii.unhexlify(P["cases"][case]))
    out[case] = [show(env["payloads"][0][1]), env["metadata"]]
result(out)
"""


def test_long_base64_on_micropython(script):
    cases = {case: body.hex() for case, (body, _, _) in GOOD.items()}
    got = script("micropython", DECODE_ALL, cases=cases).result()
    for case, (_, blob, metadata) in GOOD.items():
        assert got[case] == [{"hex": blob.hex()}, metadata], case


def test_long_link_url_stays_a_string():
    url = "http://127.0.0.1:1/" + "a" * 1000
    body = envelope(spec_link("doc", b"abc", "binary", url))
    seen = []
    env = nb.smartreceive(
        body, fileserver_download_handler=lambda u, *rest: seen.append(u) or b"abc"
    )
    assert seen == [url]
    assert env["payloads"] == [("doc", b"abc", "binary")]


NULLS = """
import binascii
env = nb.smartreceive(binascii.unhexlify(P["message"]))
result([env["reply_to"], env["metadata"], env["payloads"]])
"""


def test_null_fields_read_as_missing(impl, script):
    """null is how many encoders write an absent value: it reads as missing."""
    body = envelope(reply_to=None, metadata=None, correlation_id=None)
    got = script(impl, NULLS, message=body.hex()).result()
    assert got == ["", {}, []]

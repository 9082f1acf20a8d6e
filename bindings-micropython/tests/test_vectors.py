"""The shared wire vectors (docs/vectors/*.json, see docs/vectors/README.md)
through ``natsbridge_micro.smartreceive`` on bytes: no server. One script per
interpreter decodes every vector (the MicroPython unix port, and CPython) and
prints what it got; each vector is then its own test. A link payload's bytes
come from the vector's ``links`` table through ``fileserver_download_handler``.

Checked: the header fields, and per payload its dataname, type and value.
This client has no Arrow reader: a ``table`` payload arrives as its IPC bytes,
compared with the vector's ``ipc_base64``, and a vector that needs an Arrow
reader to fail (``"needs": ["arrow"]``) must instead deliver those bytes raw.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

VECTORS_DIR = Path(__file__).resolve().parents[2] / "docs" / "vectors"
VECTORS = [
    json.loads(path.read_text(encoding="utf-8"))
    for path in sorted(VECTORS_DIR.glob("*.json"))
]

# This module's exception classes for the core's error codes, for as long as
# its exceptions carry no `code` attribute of their own.
CODES = {
    "MalformedEnvelope": "MALFORMED_ENVELOPE",
    "UnsupportedVersion": "UNSUPPORTED_VERSION",
    "InvalidBase64": "INVALID_BASE64",
    "IntegrityError": "INTEGRITY",
    "InvalidUtf8": "INVALID_UTF8",
    "InvalidJson": "INVALID_JSON",
    "PayloadTooLarge": "PAYLOAD_TOO_LARGE",
    "UrlNotAllowed": "URL_NOT_ALLOWED",
    "DownloadError": "DOWNLOAD",
}

DECODE_ALL = """
def b64(data):
    return binascii.b2a_base64(bytes(data)).decode().strip()


def view(dataname, value, kind):
    if kind == "text":
        shown = {"text": value}
    elif kind == "dictionary":
        shown = {"json": value}
    else:
        shown = {"base64": b64(value)}
    return {"dataname": dataname, "type": kind, "value": shown}


out = {}
for vector in P["vectors"]:
    links = vector.get("links", {})
    asked = []

    def handler(url, retries, base_delay, max_delay, links=links, asked=asked):
        asked.append(url)
        if url not in links:
            raise nb.DownloadError("the vector serves no bytes for " + url)
        return binascii.a2b_base64(links[url])

    if "envelope" in vector:
        body = vector["envelope"].encode()
    else:
        body = binascii.a2b_base64(vector["envelope_base64"])
    try:
        env = nb.smartreceive(body, handler)
    except nb.NatsBridgeError as e:
        out[vector["name"]] = {
            "error": [type(e).__name__, getattr(e, "code", None), str(e)],
        }
        continue
    header = {}
    for key in env:
        if key != "payloads" and key != "_nats_reply":
            header[key] = env[key]
    out[vector["name"]] = {
        "header": header,
        "payloads": [view(d, v, t) for d, v, t in env["payloads"]],
        "asked": asked,
    }
result(out)
"""


@pytest.fixture(scope="module", params=["micropython", "cpython"])
def decoded(request, tmp_path_factory):
    """{vector name: what the script decoded} under one interpreter."""
    from micro_runner import Script

    script = Script(
        request.param,
        DECODE_ALL,
        tmp_path_factory.mktemp("vectors"),
        vectors=VECTORS,
    )
    try:
        return script.result(timeout=120)
    finally:
        script.kill()


def expected_view(vector: dict) -> dict:
    """The vector's expect, in what this client exposes."""
    expect = vector["expect"]
    if "arrow" in vector.get("needs", []):
        # No Arrow reader: the table's bytes arrive as they are.
        env = json.loads(vector["envelope"])
        expect = {
            "header": {key: env[key] for key in env if key != "payloads"},
            "payloads": [
                {
                    "dataname": p["dataname"],
                    "type": p["type"],
                    "value": {"base64": p["data"]},
                }
                for p in env["payloads"]
            ],
        }
        return expect
    if "error" in expect:
        return expect
    payloads = []
    for p in expect["payloads"]:
        value = p["value"]
        if "table" in value:
            value = {"base64": value["table"]["ipc_base64"]}
        payloads.append({"dataname": p["dataname"], "type": p["type"], "value": value})
    return {"header": expect["header"], "payloads": payloads}


@pytest.mark.parametrize("vector", VECTORS, ids=[v["name"] for v in VECTORS])
def test_vector(decoded, vector):
    got = decoded[vector["name"]]
    want = expected_view(vector)
    since = " [since {}]".format(vector["since"]) if "since" in vector else ""
    if "error" in want:
        assert "error" in got, "{}{}: expected {}, decoded {!r}".format(
            vector["name"],
            since,
            want["error"],
            got,
        )
        name, code, message = got["error"]
        assert (code or CODES.get(name)) == want["error"], (
            "{}{}: got {} ({}): {}".format(
                vector["name"],
                since,
                name,
                code,
                message,
            )
        )
        return
    assert "error" not in got, "{}{}: expected an envelope, got {!r}".format(
        vector["name"],
        since,
        got["error"],
    )
    # Unknown fields must not break a receive; this client passes them through.
    assert {key: got["header"].get(key) for key in want["header"]} == want["header"]
    assert got["payloads"] == want["payloads"]
    links = [
        p["url"]
        for p in vector["expect"].get("payloads", [])
        if p["transport"] == "link"
    ]
    assert sorted(got["asked"]) == sorted(links)


def test_the_error_names_cover_every_error_vector():
    import natsbridge_micro as nb

    for vector in VECTORS:
        code = vector["expect"].get("error")
        if code and "arrow" not in vector.get("needs", []):
            assert code in CODES.values(), vector["name"]
    for name in CODES:
        assert issubclass(getattr(nb, name), nb.NatsBridgeError), name

"""The shared wire vectors (docs/vectors/*.json, see docs/vectors/README.md)
through ``natsbridge.smartreceive`` on bytes: no server. A link payload's
bytes come from the vector's ``links`` table through
``fileserver_download_handler``.

What a Python receive exposes is checked: the header fields, and per payload
its dataname, type and value (the original design's ``(dataname, value,
type)`` tuples carry no transport, size or sha256). A vector marked
``"since"`` runs like any other; its failure message names the issue that
brings its rule.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path

import pyarrow
import pytest

import natsbridge

VECTORS_DIR = Path(__file__).resolve().parents[2] / "docs" / "vectors"
VECTORS = [
    json.loads(path.read_text(encoding="utf-8")) for path in sorted(VECTORS_DIR.glob("*.json"))
]

# pyarrow's names for the vectors' Arrow type names.
ARROW_TYPES = {"int64": "int64", "string": "utf8", "double": "float64", "bool": "bool"}


def envelope_bytes(vector: dict) -> bytes:
    if "envelope" in vector:
        return vector["envelope"].encode("utf-8")
    return base64.b64decode(vector["envelope_base64"])


def value_view(value, expected: dict) -> dict:
    """The received value in the vectors' notation."""
    if isinstance(value, str):
        return {"text": value}
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"base64": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, pyarrow.Table):
        table = {
            "schema": [
                {"name": field.name, "type": ARROW_TYPES.get(str(field.type), str(field.type))}
                for field in value.schema
            ],
            "columns": value.to_pydict(),
            "num_rows": value.num_rows,
        }
        # The IPC bytes are not kept once pyarrow has read the table.
        return {"table": dict(table, ipc_base64=expected.get("table", {}).get("ipc_base64"))}
    return {"json": value}


def serve_links(vector: dict, requested: list[str]):
    """A download handler serving the vector's ``links``; ``requested``
    collects the URLs it is asked for."""
    links = vector.get("links", {})

    def handler(url, max_retries, base_delay, max_delay):
        requested.append(url)
        if url not in links:
            raise LookupError(f"the vector serves no bytes for {url}")
        return base64.b64decode(links[url])

    return handler


def label(vector: dict) -> str:
    """The vector's name, and for a "since" vector the issue its rule comes with."""
    since = vector.get("since")
    if since:
        return f"{vector['name']} [since {since}: a rule this core does not implement yet]"
    return vector["name"]


@pytest.mark.parametrize("vector", VECTORS, ids=[v["name"] for v in VECTORS])
def test_vector(vector):
    expect = vector["expect"]
    requested: list[str] = []
    try:
        got = natsbridge.smartreceive(envelope_bytes(vector), serve_links(vector, requested))
    except natsbridge.NatsBridgeError as err:
        assert "error" in expect, f"{label(vector)}: expected an envelope, got {err.code}: {err}"
        assert err.code == expect["error"], (
            f"{label(vector)}: expected {expect['error']}, got {err.code}: {err}"
        )
        return
    assert "error" not in expect, (
        f"{label(vector)}: expected {expect['error']}, decoded {dict(got)!r}"
    )
    header = {key: got.get(key) for key in expect["header"]}
    assert header == expect["header"]
    payloads = [
        {"dataname": dataname, "type": type_, "value": value_view(value, want["value"])}
        for (dataname, value, type_), want in zip(got["payloads"], expect["payloads"])
    ]
    wanted = [
        {"dataname": p["dataname"], "type": p["type"], "value": p["value"]}
        for p in expect["payloads"]
    ]
    assert len(got["payloads"]) == len(wanted)
    assert payloads == wanted
    # The tuples carry no URL: each link payload's URL must be one the handler was asked for.
    links = [p["url"] for p in expect["payloads"] if p["transport"] == "link"]
    assert sorted(requested) == sorted(links)


def test_the_vectors_are_what_their_generator_writes():
    done = subprocess.run(
        [sys.executable, str(VECTORS_DIR / "generate.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_vector_has_an_outcome_and_a_known_error_code():
    codes = {cls.code for cls in vars(natsbridge).values() if _is_error_class(cls)}
    assert "INTEGRITY" in codes
    for vector in VECTORS:
        expect = vector["expect"]
        assert ("error" in expect) != ("payloads" in expect), vector["name"]
        if "error" in expect:
            assert expect["error"] in codes, vector["name"]


def _is_error_class(obj) -> bool:
    return (
        isinstance(obj, type)
        and issubclass(obj, natsbridge.NatsBridgeError)
        and isinstance(getattr(obj, "code", None), str)
    )

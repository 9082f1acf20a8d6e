"""Writes the shared wire vectors (docs/vectors/*.json) from one description,
so that every size, sha256, base64 string and Arrow IPC stream in them is
computed rather than typed by hand.

    python docs/vectors/generate.py           # rewrite the files
    python docs/vectors/generate.py --check   # exit 1 if a file differs

Needs pyarrow (for the table vectors' IPC bytes); the Python package's test
requirements bring it. The format of the files is described in README.md
next to this script. Vectors are only ever added or corrected, never renamed:
other implementations refer to them by name.
"""

from __future__ import annotations

import base64
import hashlib
import json
import sys
from pathlib import Path

import pyarrow as pa

HERE = Path(__file__).resolve().parent

HEADER = {
    "version": 1,
    "correlation_id": "5b1c7a8e-2a44-4c1b-9d0e-3f6f1d2c9a01",
    "msg_id": "0e8f1c52-7d3b-4b8a-a1f4-6c2d9e7b5a10",
    "timestamp": "2026-11-25T10:00:00.123Z",
    "send_to": "/vectors/room1",
    "msg_purpose": "chat",
    "sender_name": "NATSBridge",
    "sender_id": "77c2d4e6-1b3a-4f5c-8e9d-0a1b2c3d4e5f",
    "receiver_name": "",
    "receiver_id": "",
    "reply_to": "",
    "reply_to_msg_id": "",
    "broker_url": "nats://localhost:4222",
    "metadata": {},
}

LINK_ORIGIN = "http://127.0.0.1:8080"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def compact(value) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def payload_id(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012d}"


def table_ipc(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


STUDENTS = pa.table(
    {
        "id": pa.array([1, 2, 3], pa.int64()),
        "name": pa.array(["Alice", "Bob", None], pa.string()),
        "score": pa.array([1.5, 2.0, -0.25], pa.float64()),
        "active": pa.array([True, False, None], pa.bool_()),
    }
)
STUDENTS_IPC = table_ipc(STUDENTS)
STUDENTS_VALUE = {
    "table": {
        "schema": [
            {"name": "id", "type": "int64"},
            {"name": "name", "type": "utf8"},
            {"name": "score", "type": "float64"},
            {"name": "active", "type": "bool"},
        ],
        "columns": {
            "id": [1, 2, 3],
            "name": ["Alice", "Bob", None],
            "score": [1.5, 2.0, -0.25],
            "active": [True, False, None],
        },
        "num_rows": 3,
        "ipc_base64": b64(STUDENTS_IPC),
    }
}

BINARY = bytes(range(256))  # every byte value: not UTF-8
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
)
WAV = b"RIFF$\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00D\xac\x00\x00"
MP4 = bytes.fromhex("00000018667479706d703432000000006d703432")


def direct(n, dataname, type_, raw: bytes, *, with_sha=True, metadata=None, **extra):
    """A direct payload object as a sender writes it (extra fields override)."""
    p = {
        "id": payload_id(n),
        "dataname": dataname,
        "type": type_,
        "transport": "direct",
        "encoding": "base64",
        "size": len(raw),
    }
    if with_sha:
        p["sha256"] = sha(raw)
    p["data"] = b64(raw)
    p["metadata"] = metadata if metadata is not None else {}
    p.update(extra)
    return p


def link(n, dataname, type_, raw: bytes, **extra):
    p = {
        "id": payload_id(n),
        "dataname": dataname,
        "type": type_,
        "transport": "link",
        "encoding": "url",
        "size": len(raw),
        "sha256": sha(raw),
        "data": f"{LINK_ORIGIN}/{payload_id(n)}/{dataname}",
        "metadata": {},
    }
    p.update(extra)
    return p


def envelope(payloads, **header):
    env = dict(HEADER)
    env.update(header)
    env["payloads"] = payloads
    return env


def expect_payload(p, value):
    """The decoded view of payload object p (as written above) with value."""
    out = {
        "dataname": p.get("dataname", ""),
        "type": p["type"],
        "transport": p["transport"],
        "size": p["size"],
        "sha256": p.get("sha256"),
        "metadata": p.get("metadata", {}),
        "value": value,
    }
    if p["transport"] == "link":
        out["url"] = p["data"]
    return out


def ok(env, values, header=None):
    expected_header = dict(HEADER) if header is None else header
    return {
        "header": expected_header,
        "payloads": [expect_payload(p, v) for p, v in zip(env["payloads"], values)],
    }


VECTORS: list[dict] = []


def vector(name, description, env, expect, **extra):
    record = {"name": name, "description": description}
    if isinstance(env, bytes):
        try:
            record["envelope"] = env.decode("utf-8")
        except UnicodeDecodeError:
            record["envelope_base64"] = b64(env)
    elif isinstance(env, str):
        record["envelope"] = env
    else:
        record["envelope"] = compact(env)
    record.update(extra)
    record["expect"] = expect
    VECTORS.append(record)


def error(code):
    return {"error": code}


# ------------------------------------------------------------------ valid

hello = "Hello World"
env = envelope([direct(1, "message", "text", hello.encode())])
vector(
    "text-direct",
    "A text payload, direct, with sha256.",
    env,
    ok(env, [{"text": hello}]),
)

unicode_text = 'Grüße, 世界 🌍\nline two\ttab "quoted" \\ back'
env = envelope([direct(1, "greeting", "text", unicode_text.encode(), with_sha=False)])
vector(
    "text-direct-unicode-no-sha256",
    "Non-ASCII text (2-, 3- and 4-byte UTF-8, control characters); a direct "
    "payload without sha256 is valid (sha256 is optional for direct).",
    env,
    ok(env, [{"text": unicode_text}]),
)

config = {
    "update_interval": 60,
    "name": "sensor-1",
    "ratio": 0.5,
    "on": True,
    "none": None,
    "nested": {"list": [1, "two", [3.25]], "empty": {}},
}
env = envelope([direct(1, "config", "dictionary", compact(config).encode())])
vector(
    "dictionary-direct-object",
    "A dictionary payload holding a JSON object.",
    env,
    ok(env, [{"json": config}]),
)

array = [1, "a", None, True, {"k": []}]
env = envelope([direct(1, "items", "dictionary", compact(array).encode())])
vector(
    "dictionary-direct-array",
    "A dictionary payload may hold any JSON value, here an array.",
    env,
    ok(env, [{"json": array}]),
)

env = envelope([direct(1, "students", "table", STUDENTS_IPC, metadata={"rows": 3})])
vector(
    "table-direct",
    "An Arrow IPC stream (written by pyarrow): int64, utf8, float64 and bool "
    "columns with nulls.",
    env,
    ok(env, [STUDENTS_VALUE]),
)

for n, (type_, name, raw, meta) in enumerate(
    [
        (
            "image",
            "avatar",
            PNG,
            {"content_type": "image/png", "filename": "avatar.png"},
        ),
        ("audio", "clip", WAV, {"content_type": "audio/wav"}),
        ("video", "movie", MP4, {"content_type": "video/mp4"}),
        ("binary", "blob", BINARY, {}),
    ]
):
    env = envelope([direct(1, name, type_, raw, metadata=meta)])
    vector(
        f"{type_}-direct",
        f"A {type_} payload: bytes as given.",
        env,
        ok(env, [{"base64": b64(raw)}]),
    )

raw = b"\x00\x01col1;col2\n1;2\n"
env = envelope([direct(1, "sheet", "spreadsheet", raw)])
vector(
    "unknown-type-raw",
    "A type this implementation does not know is delivered as raw bytes with "
    "its type string unchanged; not an error.",
    env,
    ok(env, [{"base64": b64(raw)}]),
)

env = envelope(
    [direct(1, "empty_text", "text", b""), direct(2, "empty_blob", "binary", b"")]
)
vector(
    "empty-values",
    'Zero-length text and binary payloads (size 0, data "").',
    env,
    ok(env, [{"text": ""}, {"base64": ""}]),
)

env = envelope(
    [
        direct(1, "message", "text", hello.encode()),
        direct(2, "config", "dictionary", compact(config).encode()),
        direct(3, "students", "table", STUDENTS_IPC),
        direct(4, "avatar", "image", PNG),
        direct(5, "blob", "binary", BINARY),
    ]
)
vector(
    "mixed-order",
    "Several payloads of different types; order is preserved.",
    env,
    ok(
        env,
        [
            {"text": hello},
            {"json": config},
            STUDENTS_VALUE,
            {"base64": b64(PNG)},
            {"base64": b64(BINARY)},
        ],
    ),
)

env = envelope([])
vector("no-payloads", "An empty payloads array is a valid envelope.", env, ok(env, []))

env = envelope([direct(1, "message", "text", hello.encode())])
del env["version"]
vector("version-missing", "A missing version means 1.", env, ok(env, [{"text": hello}]))

env = envelope(
    [
        dict(
            direct(1, "message", "text", hello.encode()),
            note="ignored",
            future={"x": 1},
        )
    ],
    future_field={"nested": [1, 2]},
)
env["x-extension"] = "ignored"
vector(
    "unknown-fields-ignored",
    "Unknown envelope and payload fields are ignored.",
    env,
    ok(env, [{"text": hello}]),
)

p = direct(1, "message", "text", hello.encode())
del p["id"], p["encoding"], p["metadata"]
env = {"payloads": [p]}
vector(
    "missing-string-fields",
    'Only payloads given: every missing envelope string field reads as "", '
    'version as 1, metadata as {}; a payload\'s missing id reads as "", its '
    "missing encoding follows the transport, its missing metadata reads as {}.",
    env,
    {
        "header": {k: ("" if isinstance(v, str) else v) for k, v in HEADER.items()},
        "payloads": [expect_payload(p, {"text": hello})],
    },
)

linked = bytes((i * 7 + 3) % 256 for i in range(300))
env = envelope(
    [direct(1, "message", "text", hello.encode()), link(2, "report", "binary", linked)]
)
vector(
    "link-http",
    "A link payload: the decoder sees transport link, the URL, size and sha256. "
    'The bytes behind the URL are in "links"; runners serve them through a '
    "download handler (or their codec's verify step), not over the network.",
    env,
    ok(env, [{"text": hello}, {"base64": b64(linked)}]),
    links={env["payloads"][1]["data"]: b64(linked)},
)

# ------------------------------------------------------------------ invalid

vector(
    "envelope-not-json",
    "The body is not JSON.",
    b"hello, not json",
    error("MALFORMED_ENVELOPE"),
)

vector(
    "envelope-not-utf8",
    "The body is not UTF-8 (an invalid byte inside a string).",
    b'{"payloads":[],"msg_purpose":"\xff\xfe"}',
    error("MALFORMED_ENVELOPE"),
)

env = envelope([direct(1, "message", "text", hello.encode())], version=2)
vector("version-2", "A version newer than 1 fails.", env, error("UNSUPPORTED_VERSION"))

env = envelope([])
del env["payloads"]
vector(
    "payloads-missing",
    "An envelope without payloads is invalid.",
    env,
    error("MALFORMED_ENVELOPE"),
)

env = envelope([])
env["payloads"] = {"message": "Hello"}
vector(
    "payloads-not-array", "payloads must be an array.", env, error("MALFORMED_ENVELOPE")
)

env = envelope(
    [
        direct(
            1,
            "message",
            "text",
            hello.encode(),
            with_sha=False,
            data="SGVsbG8gV29ybGQ*",
        )
    ]
)
vector(
    "bad-base64", "A direct payload's data is not base64.", env, error("INVALID_BASE64")
)

env = envelope([direct(1, "message", "text", hello.encode(), size=12)])
vector(
    "size-mismatch",
    "The declared size is not the decoded length.",
    env,
    error("INTEGRITY"),
)

env = envelope(
    [direct(1, "message", "text", hello.encode(), sha256=sha(b"Hello world"))]
)
vector(
    "sha256-mismatch", "The declared sha256 is not the data's.", env, error("INTEGRITY")
)

env = envelope([direct(1, "message", "text", b"caf\xe9 \xff")])
vector(
    "text-invalid-utf8",
    "A text payload whose bytes are not UTF-8.",
    env,
    error("INVALID_UTF8"),
)

env = envelope([direct(1, "config", "dictionary", b'{"update_interval": 60,')])
vector(
    "dictionary-invalid-json",
    "A dictionary payload that is not JSON.",
    env,
    error("INVALID_JSON"),
)

env = envelope([direct(1, "students", "table", b"this is not an Arrow IPC stream")])
vector(
    "table-invalid-arrow",
    "A table payload that is not an Arrow IPC stream. Implementations without "
    "an Arrow reader (MicroPython) deliver table bytes raw and cannot see this.",
    env,
    error("INVALID_TABLE"),
    needs=["arrow"],
)

env = envelope([link(1, "report", "binary", linked)])
vector(
    "link-sha256-mismatch",
    "The bytes behind a link do not match its sha256 (same length).",
    env,
    error("INTEGRITY"),
    links={env["payloads"][0]["data"]: b64(bytes(reversed(linked)))},
)

p = link(1, "report", "binary", linked)
del p["sha256"]
env = envelope([p])
vector(
    "link-no-sha256",
    "sha256 is required for a link payload.",
    env,
    error("MALFORMED_ENVELOPE"),
    links={p["data"]: b64(linked)},
)

env = envelope([direct(1, "", "text", hello.encode())])
vector(
    "empty-dataname",
    "A payload with an empty dataname makes the envelope invalid (wire-v1 "
    "section 3, added with issue 16).",
    env,
    error("MALFORMED_ENVELOPE"),
    since="issue-16",
)

p = direct(1, "x", "text", hello.encode())
del p["dataname"]
env = envelope([p])
vector(
    "missing-dataname",
    "A payload without a dataname makes the envelope invalid (wire-v1 section 3, "
    "added with issue 16).",
    env,
    error("MALFORMED_ENVELOPE"),
    since="issue-16",
)


def render(record) -> str:
    return json.dumps(record, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    check = "--check" in argv
    names = [v["name"] for v in VECTORS]
    assert len(names) == len(set(names)), "vector names must be unique"
    wanted = {HERE / ("{}.json".format(v["name"])): render(v) for v in VECTORS}
    stale = [p for p in HERE.glob("*.json") if p not in wanted]
    differ = [
        p
        for p, text in wanted.items()
        if not p.exists() or p.read_text(encoding="utf-8") != text
    ]
    if check:
        for p in differ:
            print(f"differs from the generator: {p.name}")
        for p in stale:
            print(f"not written by the generator: {p.name}")
        return 1 if differ or stale else 0
    for p, text in wanted.items():
        if p in differ:
            p.write_text(text, encoding="utf-8")
    for p in stale:
        p.unlink()
    print(f"{len(wanted)} vectors, {len(differ)} written, {len(stale)} removed")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Every payload type, both ways: the Python value sent, the wire type, the
Python value received (bridge/payload.rs and table.rs)."""

from __future__ import annotations

import base64
import hashlib
import json
import math
import os
from pathlib import Path

import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

import natsbridge

from conftest import WAIT


def roundtrip(bridge: natsbridge.Bridge, subject: str, payloads: list, **options):
    with bridge.subscribe(subject) as subscription:
        sent = bridge.send(subject, payloads, **options)
        received = subscription.next(timeout=WAIT)
    assert received is not None
    return sent, received


def test_text_is_str_both_ways(bridge, subject):
    text = "Hello World — 你好, ünïcode ✓"
    sent, received = roundtrip(bridge, subject, [("message", text, "text")], direct_sha256=True)
    assert received["payloads"] == [("message", text, "text")]
    wire = sent["payloads"][0]
    assert base64.b64decode(wire["data"]).decode() == text
    assert wire["size"] == len(text.encode())
    assert wire["sha256"] == hashlib.sha256(text.encode()).hexdigest()


def test_direct_payloads_carry_sha256_only_when_asked(bridge, subject):
    sent, _ = roundtrip(bridge, subject, [("m", "x", "text")])
    assert "sha256" not in sent["payloads"][0]  # optional for direct payloads (wire v1)


@pytest.mark.parametrize(
    "value",
    [
        {"wifi_ssid": "MyNetwork", "update_interval": 60, "nested": {"a": [1, 2.5, None, True]}},
        [1, "two", 3.0, False, None],
        65,
        -(2**63),
        2**64 - 1,
        42.5,
        "a plain string",
        True,
        None,
        {},
    ],
    ids=repr,
)
def test_dictionary_is_any_json_value(bridge, subject, value):
    sent, received = roundtrip(bridge, subject, [("config", value, "dictionary")])
    assert received["payloads"] == [("config", value, "dictionary")]
    assert json.loads(base64.b64decode(sent["payloads"][0]["data"])) == value


def test_dictionary_keys_and_tuples_follow_json_dumps(bridge, subject):
    value = {7: "int key", 2.5: "float key", True: "bool key", None: "none key", "t": (1, 2)}
    _, received = roundtrip(bridge, subject, [("d", value, "dictionary")])
    assert received["payloads"][0][1] == json.loads(json.dumps(value))


@pytest.mark.parametrize("kind", ["image", "audio", "video", "binary"])
@pytest.mark.parametrize("make", [bytes, bytearray, memoryview], ids=lambda f: f.__name__)
def test_binary_like_types_take_bytes_like_and_give_bytes(bridge, subject, kind, make):
    raw = os.urandom(4096)
    sent, received = roundtrip(bridge, subject, [("blob", make(raw), kind)])
    name, value, received_kind = received["payloads"][0]
    assert (name, received_kind) == ("blob", kind)
    assert type(value) is bytes
    assert value == raw
    assert sent["payloads"][0]["transport"] == "direct"


def test_a_memoryview_is_sent_as_its_bytes_in_order(bridge, subject):
    raw = os.urandom(4096)
    # A strided view and a read-only view of a bytearray: copied once, in C order.
    views = [
        memoryview(raw)[::2],
        memoryview(bytearray(raw)).toreadonly(),
        memoryview(raw).cast("c"),
    ]
    _, received = roundtrip(bridge, subject, [(f"v{i}", v, "binary") for i, v in enumerate(views)])
    assert [value for _, value, _ in received["payloads"]] == [raw[::2], raw, raw]


def test_a_memoryview_of_wider_items_is_refused(bridge, subject):
    import array

    with pytest.raises(BufferError, match="not compatible with u8"):
        bridge.send(subject, [("v", memoryview(array.array("i", [1, 2, 3])), "binary")])
    with pytest.raises(BufferError, match="not compatible with u8"):
        bridge.send(subject, [("v", memoryview(b"abcd").cast("b"), "binary")])


def test_a_path_is_sent_as_the_file_contents(bridge, subject, tmp_path):
    raw = os.urandom(10_000)
    path = tmp_path / "photo.png"
    path.write_bytes(raw)
    _, received = roundtrip(bridge, subject, [("photo", path, "image")])
    assert received["payloads"] == [("photo", raw, "image")]


def students() -> pa.Table:
    return pa.table(
        {"id": [1, 2, 3], "name": ["Alice", "Bob", "Charlie"], "score": [95.5, 88.0, 92.25]}
    )


@pytest.mark.parametrize(
    "make",
    [
        lambda: students(),
        lambda: students().to_batches()[0],
        lambda: pa.RecordBatchReader.from_batches(students().schema, students().to_batches()),
        lambda: students().to_pandas(),
        lambda: pl.from_arrow(students()),
        lambda: {"id": [1, 2, 3], "name": ["Alice", "Bob", "Charlie"], "score": [95.5, 88, 92.25]},
        lambda: [
            {"id": 1, "name": "Alice", "score": 95.5},
            {"id": 2, "name": "Bob", "score": 88.0},
            {"id": 3, "name": "Charlie", "score": 92.25},
        ],
        lambda: natsbridge.Table.from_ipc(ipc_of(students())),
        lambda: ipc_of(students()),
    ],
    ids=[
        "pyarrow.Table",
        "pyarrow.RecordBatch",
        "RecordBatchReader",
        "pandas",
        "polars",
        "dict of columns",
        "list of rows",
        "natsbridge.Table",
        "IPC bytes",
    ],
)
def test_table_inputs_arrive_as_pyarrow_tables(bridge, subject, make):
    _, received = roundtrip(bridge, subject, [("students", make(), "table")])
    name, table, kind = received["payloads"][0]
    assert (name, kind) == ("students", "table")
    assert isinstance(table, pa.Table)
    assert table.to_pydict() == students().to_pydict()


def ipc_of(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def test_table_types_survive_the_trip(bridge, subject):
    table = pa.table(
        {
            "i8": pa.array([1, None, -3], pa.int8()),
            "u64": pa.array([0, 2**64 - 1, 7], pa.uint64()),
            "f32": pa.array([1.5, float("inf"), None], pa.float32()),
            "s": pa.array(["a", None, "ç"], pa.large_string()),
            "b": pa.array([b"\x00", b"", None], pa.binary()),
            "ts": pa.array([0, 1_700_000_000_000_000, None], pa.timestamp("us", tz="UTC")),
            "d": pa.array([0, 19_000, None], pa.date32()),
            "l": pa.array([[1, 2], [], None], pa.list_(pa.int64())),
            "dict": pa.array(["x", "y", "x"]).dictionary_encode(),
        }
    )
    _, received = roundtrip(bridge, subject, [("t", table, "table")])
    assert received["payloads"][0][1].equals(table)
    nan = pa.table({"f": pa.array([float("nan")], pa.float64())})
    _, received = roundtrip(bridge, subject, [("t", nan, "table")])
    assert math.isnan(received["payloads"][0][1].column("f")[0].as_py())


def test_a_pandas_frame_keeps_its_columns_and_dtypes(bridge, subject):
    frame = pd.DataFrame(
        {"id": [1, 2, 3], "name": ["Alice", "Bob", "Charlie"], "ok": [1.0, 0.5, 0]}
    )
    _, received = roundtrip(bridge, subject, [("students", frame, "table")])
    back = received["payloads"][0][1].to_pandas()
    pd.testing.assert_frame_equal(back, frame, check_dtype=False)
    assert list(back.dtypes.astype(str))[:1] == ["int64"]


def test_a_table_file_is_sent_as_its_ipc(bridge, subject, tmp_path):
    path = tmp_path / "students.arrows"
    path.write_bytes(ipc_of(students()))
    _, received = roundtrip(bridge, subject, [("students", path, "table")])
    assert received["payloads"][0][1].equals(students())


def test_tables_reach_pyarrow_without_a_copy(bridge, subject):
    big = pa.table({"x": pa.array(range(100_000), pa.int64())})
    _, received = roundtrip(bridge, subject, [("t", big, "table")])
    assert received["payloads"][0][1].equals(big)
    # Through the C stream interface pyarrow wraps the Rust side's buffers:
    # nothing of the column's 800 kB is allocated by pyarrow's own pool.
    ipc = ipc_of(big)
    allocated_before = pa.total_allocated_bytes()
    imported = pa.table(natsbridge.Table.from_ipc(ipc))
    assert pa.total_allocated_bytes() - allocated_before < 100_000
    assert imported.equals(big)


def test_several_payloads_keep_their_order(bridge, subject):
    payloads = [
        ("message_text", "Hello!", "text"),
        ("config", {"a": 1}, "dictionary"),
        ("students", students(), "table"),
        ("user_avatar", b"\x89PNG\r\n", "image"),
        ("sound", b"RIFF", "audio"),
        ("clip", b"\x00\x00\x00\x18ftyp", "video"),
        ("blob", b"\x00\xff", "binary"),
    ]
    sent, received = roundtrip(bridge, subject, payloads)
    assert [p["dataname"] for p in sent["payloads"]] == [p[0] for p in payloads]
    got = received["payloads"]
    assert [(n, t) for n, _, t in got] == [(n, t) for n, _, t in payloads]
    assert got[2][1].equals(students())
    assert [v for _, v, t in got if t not in ("table",)] == [
        v for _, v, t in payloads if t not in ("table",)
    ]


def test_payload_metadata_rides_in_a_fourth_item(bridge, subject):
    sent, _ = roundtrip(
        bridge, subject, [("photo", b"\x89PNG", "image", {"content_type": "image/png"})]
    )
    assert sent["payloads"][0]["metadata"] == {"content_type": "image/png"}


def test_an_unknown_received_type_is_bytes_with_its_type_unchanged(bridge, subject):
    envelope = {
        "version": 1,
        "msg_id": "m1",
        "payloads": [
            {
                "id": "p1",
                "dataname": "h",
                "type": "hologram",
                "transport": "direct",
                "encoding": "base64",
                "size": 3,
                "data": base64.b64encode(b"\x01\x02\x03").decode(),
                "metadata": {},
            }
        ],
    }
    received = natsbridge.smartreceive(json.dumps(envelope).encode())
    assert received["payloads"] == [("h", b"\x01\x02\x03", "hologram")]
    # Missing string fields read as "", missing metadata as {}.
    assert received["sender_name"] == ""
    assert received["metadata"] == {}


def test_received_link_payloads_can_go_to_files(bridge, subject, fileserver_url, tmp_path):
    raw = os.urandom(1_500_000)
    with bridge.subscribe(subject, save_dir=str(tmp_path)) as subscription:
        bridge.send(subject, [("big", raw, "binary")], fileserver_url=fileserver_url)
        received = subscription.next(timeout=WAIT)
    _, path, _ = received["payloads"][0]
    assert isinstance(path, Path)
    assert path.parent == tmp_path
    assert path.read_bytes() == raw

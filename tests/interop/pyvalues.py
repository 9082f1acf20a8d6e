"""Spec payloads -> pyarrow/bytes values and received values -> the canonical
JSON form, shared by the Python driver and the third-party driver (neither
imports natsbridge here: only pyarrow, base64, hashlib)."""

from __future__ import annotations

import base64
import hashlib

import pyarrow

ARROW_TYPES = {
    "int64": pyarrow.int64(),
    "utf8": pyarrow.string(),
    "float64": pyarrow.float64(),
    "bool": pyarrow.bool_(),
}
CANONICAL_TYPES = {
    "int64": "int64",
    "string": "utf8",
    "large_string": "utf8",
    "double": "float64",
    "bool": "bool",
}


def spec_table(spec: dict) -> pyarrow.Table:
    """The test table of a spec payload as a pyarrow.Table."""
    columns = spec["table"]["columns"]
    return pyarrow.table(
        {
            c["name"]: pyarrow.array(c["values"], type=ARROW_TYPES[c["type"]])
            for c in columns
        },
    )


def spec_value(spec: dict):
    """The value a Python program sends for a spec payload."""
    kind = spec["type"]
    if kind == "text":
        return spec["text"]
    if kind == "dictionary":
        return spec["json"]
    if kind == "table":
        return spec_table(spec)
    if "pattern_len" in spec:  # a large generated payload: byte i is i % 251
        return pattern(spec["pattern_len"])
    return base64.b64decode(spec["b64"])


def pattern(n: int) -> bytes:
    return (bytes(range(251)) * (n // 251 + 1))[:n]


def canonical_table(table: pyarrow.Table) -> dict:
    schema = [
        [f.name, CANONICAL_TYPES.get(str(f.type), str(f.type))] for f in table.schema
    ]
    return {
        "schema": schema,
        "columns": {
            name: table.column(name).to_pylist() for name in table.column_names
        },
    }


def canonical(dataname: str, kind: str, value) -> dict:
    """The canonical JSON form of one received payload."""
    out = {"dataname": dataname, "type": kind}
    if kind == "text":
        out["text"] = value
    elif kind == "dictionary":
        out["json"] = value
    elif kind == "table":
        if not isinstance(value, pyarrow.Table):
            value = pyarrow.table(value)
        out["table"] = canonical_table(value)
    else:
        data = bytes(value)
        out["sha256"] = hashlib.sha256(data).hexdigest()
        out["len"] = len(data)
    return out


def ipc_table(data: bytes) -> pyarrow.Table:
    return pyarrow.ipc.open_stream(data).read_all()

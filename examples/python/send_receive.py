"""natsbridge from Python: one message with a text, a dictionary, a table, a
small binary and a 1.5 MB document sent, and received back.

The document is over the default ``size_threshold`` (1,000,000 bytes), so it
travels by claim-check: to the file server at ``FILESERVER_URL`` when set,
else the JetStream Object Store of the NATS server.

    pip install './bindings-python[arrow]'
    NATS_URL=nats://localhost:4222 FILESERVER_URL=http://127.0.0.1:8080 \\
        python examples/python/send_receive.py

Checks what arrives and exits non-zero on any difference; the last line is
``example ok: ...``.
"""

from __future__ import annotations

import os
import sys

import pyarrow

import natsbridge


def main() -> str:
    nats_url = os.environ.get("NATS_URL", "nats://localhost:4222")
    fileserver_url = os.environ.get("FILESERVER_URL") or None
    subject = f"/examples/python/{os.getpid()}"

    users = pyarrow.table({"id": [1, 2], "name": ["Alice", "Bob"]})
    config = {"update_interval": 60, "tags": ["a", "b"]}
    thumbnail = b"\x89PNG"
    document = bytes(i % 251 for i in range(1_500_000))

    with natsbridge.Bridge(nats_url) as bridge, bridge.subscribe(subject) as inbox:
        sent = bridge.send(
            subject,
            [
                ("message", "Hello World", "text"),
                ("config", config, "dictionary"),
                ("users", users, "table"),
                ("thumbnail", thumbnail, "image"),
                ("document", document, "binary"),
            ],
            fileserver_url=fileserver_url,
        )
        print(f"sent {sent['msg_id']} with {len(sent['payloads'])} payloads")
        transports = {p["dataname"]: p["transport"] for p in sent["payloads"]}
        received = inbox.next(timeout=30)

    assert received is not None, "the subscription ended before the message came"
    assert received["msg_id"] == sent["msg_id"]
    for dataname, value, type_ in received["payloads"]:
        size = len(value) if isinstance(value, (str, bytes)) else type(value).__name__
        print(f"  {dataname} ({type_}, {transports[dataname]}): {size}")
    values = {dataname: value for dataname, value, _ in received["payloads"]}
    assert [d for d, _, _ in received["payloads"]] == list(transports), "payload order"
    assert values["message"] == "Hello World"
    assert values["config"] == config
    assert isinstance(values["users"], pyarrow.Table)
    assert values["users"].to_pylist() == [
        {"id": 1, "name": "Alice"},
        {"id": 2, "name": "Bob"},
    ]
    assert values["thumbnail"] == thumbnail
    assert transports["document"] == "link", "the document travels by link"
    assert values["document"] == document
    store = "file server" if fileserver_url else "object store"
    return f"text dictionary table binary link({store})"


if __name__ == "__main__":
    try:
        summary = main()
    except (AssertionError, natsbridge.NatsBridgeError) as e:
        print(f"example failed: {e!r}", file=sys.stderr)
        sys.exit(1)
    print(f"example ok: {summary}")

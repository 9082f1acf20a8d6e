"""A round trip through an installed natsbridge wheel, run by the Python of a
fresh virtualenv that holds only that wheel (no pyarrow, no Rust toolchain):

    python smoke.py NATS_URL FILESERVER_URL

Sends one message with a payload of every type over one Bridge, the binary
payload big enough to go by link through the file server, receives it on a
subscription, checks every value, and prints one JSON line for the caller
to check: the version, where the extension was loaded from, the transports
and the received types. Exits non-zero (an AssertionError) on any mismatch.
"""

from __future__ import annotations

import json
import sys

import natsbridge


def main() -> None:
    nats_url, fileserver_url = sys.argv[1], sys.argv[2]
    blob = bytes(range(256)) * 1024  # 256 KiB: over the threshold below, so a link
    sent_values = {
        "text": "from the wheel: ünïcödé",
        "dictionary": {"n": 1, "list": [1.5, None, True], "nested": {"k": "v"}},
        "table": {"id": [1, 2, 3], "name": ["a", "b", "c"]},
        "image": b"\x89PNG\r\n\x1a\n" + bytes(64),
        "audio": bytearray(b"RIFF" + bytes(60)),
        "video": memoryview(b"\x00\x00\x00\x18ftypmp42" + bytes(32)),
        "binary": blob,
    }
    payloads = [(kind, value, kind) for kind, value in sent_values.items()]
    with natsbridge.Bridge(nats_url) as bridge, bridge.subscribe("package.smoke") as sub:
        sent = bridge.send(
            "package.smoke", payloads, fileserver_url=fileserver_url, size_threshold=100_000
        )
        received = sub.next(timeout=10)
    assert received is not None, "nothing received within 10 s"
    assert isinstance(received, natsbridge.ReceivedEnvelope) and isinstance(received, dict)
    assert received.subject == "package.smoke", received.subject
    assert received["msg_id"] == sent["msg_id"]
    got = {dataname: (value, kind) for dataname, value, kind in received["payloads"]}
    assert list(got) == list(sent_values), list(got)
    for kind, value in sent_values.items():
        value_back, kind_back = got[kind]
        assert kind_back == kind, (kind, kind_back)
        if kind == "table":
            # Without pyarrow, a received table is a natsbridge.Table.
            assert isinstance(value_back, natsbridge.Table), type(value_back)
            assert value_back.to_pydict() == value, value_back.to_pydict()
        elif kind in ("text", "dictionary"):
            assert value_back == value, (kind, value_back)
        else:
            assert isinstance(value_back, bytes) and value_back == bytes(value), kind
    print(
        json.dumps(
            {
                "version": natsbridge.__version__,
                "extension": natsbridge._natsbridge.__file__,
                "python": list(sys.version_info[:2]),
                "transports": {p["dataname"]: p["transport"] for p in sent["payloads"]},
            }
        )
    )


if __name__ == "__main__":
    main()

"""natsbridge from MicroPython: one message with a text, a dictionary, a
table, a small binary and a 20 KB reading log sent, and received back.

The log is over the size_threshold given here (10,000 bytes, small for a
device), so it travels by claim-check to the file server at FILESERVER_URL
(MicroPython has no Object Store client: the file server is required).
Tables are raw Arrow IPC stream bytes both ways (no Arrow on a device); this
one comes from the shared wire vectors (run from the repository root).

    MICROPYPATH=bindings-micropython NATS_URL=nats://127.0.0.1:4222 \\
        FILESERVER_URL=http://127.0.0.1:8080 micropython examples/micropython/send_receive.py

Runs unchanged on CPython (PYTHONPATH=bindings-micropython). Checks what
arrives and exits non-zero on any difference; the last line is
"example ok: ...".
"""

# MicroPython code: %-formatting works on every port and build.
# ruff: noqa: UP031

import binascii
import json
import os
import sys

import natsbridge_micro as nb


def env(name, default=None):
    try:
        return os.getenv(name) or default  # CPython, and the unix port
    except AttributeError:
        return default


def table_ipc():
    """An Arrow IPC stream made by pyarrow (the vectors' table), read from
    $VECTORS_DIR (default docs/vectors: run from the repository root)."""
    with open(env("VECTORS_DIR", "docs/vectors") + "/table-direct.json") as f:
        vector = json.load(f)
    value = vector["expect"]["payloads"][0]["value"]
    return binascii.a2b_base64(value["table"]["ipc_base64"])


def main():
    nats_url = env("NATS_URL", "nats://127.0.0.1:4222")
    fileserver_url = env("FILESERVER_URL")
    if not fileserver_url:
        raise nb.InvalidArgument("set FILESERVER_URL: the reading log travels by link")
    subject = "/examples/micropython/%d" % (id(main) % 100000)

    config = {"update_interval": 60, "tags": ["a", "b"]}
    users = table_ipc()
    thumbnail = b"\x89PNG"
    log = bytes(i % 251 for i in range(20000))

    c = nb.Client(nats_url)
    got = []
    c.subscribe(subject, got.append)
    c.flush(5)
    sent = c.smartsend(
        subject,
        [
            ("message", "Hello World", "text"),
            ("config", config, "dictionary"),
            ("users", users, "table"),
            ("thumbnail", thumbnail, "image"),
            ("log", log, "binary"),
        ],
        fileserver_url=fileserver_url,
        size_threshold=10000,
    )
    print("sent %s with %d payloads" % (sent["msg_id"], len(sent["payloads"])))
    transports = [(p["dataname"], p["transport"]) for p in sent["payloads"]]
    for _ in range(60):
        if got:
            break
        c.wait_msg(0.5)
    if not got:
        raise nb.Timeout("no message within 30 s")
    received = nb.smartreceive(got[0])
    c.close()

    check(received["msg_id"] == sent["msg_id"], "msg_id")
    values = {}
    for dataname, value, kind in received["payloads"]:
        sized = isinstance(value, (str, bytes, bytearray, dict, list))
        print("  %s (%s): %d" % (dataname, kind, len(value) if sized else 0))
        values[dataname] = value
    names = [d for d, _, _ in received["payloads"]]
    check(names == ["message", "config", "users", "thumbnail", "log"], "payload order")
    check(values["message"] == "Hello World", "text")
    check(values["config"] == config, "dictionary")
    check(bytes(values["users"]) == users, "table bytes")
    check(bytes(values["thumbnail"]) == thumbnail, "binary")
    check(("log", "link") in transports, "the log travels by link")
    check(bytes(values["log"]) == log, "linked log bytes")
    return "text dictionary table binary link(file server)"


def check(ok, what):
    if not ok:
        raise AssertionError(what + ": not what was sent")


try:
    summary = main()
except (AssertionError, nb.NatsBridgeError) as e:
    print("example failed: %r" % (e,))
    sys.exit(1)
print("example ok: " + summary)

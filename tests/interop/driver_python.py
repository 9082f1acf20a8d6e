"""The interop matrix's Python driver: natsbridge (the PyO3 package), one
connection for the whole run, speaking the runner's JSON-lines protocol on
stdin/stdout (see tests/interop/README.md)."""

from __future__ import annotations

import json
import os
import sys

import natsbridge
from pyvalues import canonical, spec_value

fileserver_url = os.environ["FILESERVER_URL"]
bridge = natsbridge.Bridge(os.environ["NATS_URL"])
subscriptions: dict[str, natsbridge.Subscription] = {}


def send_options(transport: str) -> dict:
    if transport == "link-http":
        return {"fileserver_url": fileserver_url, "size_threshold": 1}
    if transport == "link-objstore":
        return {"size_threshold": 1}
    return {}


def outgoing(specs: list[dict]) -> list[tuple]:
    return [(s["dataname"], spec_value(s), s["type"]) for s in specs]


def received(envelope) -> list[dict]:
    return [canonical(d, t, v) for d, v, t in envelope["payloads"]]


def take(op: dict):
    with subscriptions.pop(op["subject"]) as sub:
        envelope = sub.next(timeout=op["timeout_ms"] / 1000)
    if envelope is None:
        raise TimeoutError(f"nothing on {op['subject']} within {op['timeout_ms']} ms")
    return envelope


def handle(op: dict) -> dict:
    kind = op["op"]
    if kind == "subscribe":
        subscriptions[op["subject"]] = bridge.subscribe(op["subject"])
        bridge.flush()
        return {}
    if kind == "send":
        sent = bridge.send(
            op["subject"], outgoing(op["payloads"]), **send_options(op["transport"])
        )
        return {
            "transports": [p["transport"] for p in sent["payloads"]],
            "links": [p["data"] for p in sent["payloads"] if p["transport"] == "link"],
        }
    if kind == "receive":
        return {"payloads": received(take(op))}
    if kind == "request":
        reply = bridge.request(
            op["subject"],
            outgoing(op["payloads"]),
            timeout=op["timeout_ms"] / 1000,
            **send_options(op["transport"]),
        )
        return {"payloads": received(reply)}
    if kind == "answer":
        request = take(op)
        bridge.reply(
            request,
            [(d, v, t) for d, v, t in request["payloads"]],
            **send_options(op["transport"]),
        )
        return {"payloads": received(request)}
    raise ValueError(f"unknown op {kind!r}")


def main() -> None:
    print(json.dumps({"ready": "python"}), flush=True)
    for line in sys.stdin:
        op = json.loads(line)
        if op["op"] == "quit":
            break
        try:
            result = {"ok": True, **handle(op)}
        # Every failure goes back to the runner as the cell's reason.
        except Exception as e:  # noqa: BLE001
            result = {"ok": False, "error": f"{type(e).__name__}: {e}"}
        print(json.dumps(result), flush=True)
    bridge.close()


main()

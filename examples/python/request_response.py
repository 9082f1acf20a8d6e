"""Example 4 of the original design, request-response: a responder answers
{"action": "read_sensor"} on /device/command with a sensor reading; the
requester sends the command with reply_to and waits for the answer.

    NATS_URL=nats://localhost:4222 python examples/python/request_response.py

The responder runs in a thread here; in the field it is another program
(or another language: tests/interop/ runs every pair)."""

import os
import threading

import natsbridge

nats_url = os.environ.get("NATS_URL", "nats://localhost:4222")
subject = f"/device/command/python-{os.getpid()}"

with natsbridge.Bridge(nats_url) as bridge, bridge.subscribe(subject) as commands:

    def responder() -> None:
        envelope = commands.next(timeout=30)
        for dataname, data, _ in envelope["payloads"]:
            if dataname == "command" and data.get("action") == "read_sensor":
                response = {"sensor_id": "sensor-001", "value": 42.5}
                bridge.reply(envelope, [("data", response, "dictionary")])

    threading.Thread(target=responder, daemon=True).start()
    reply = bridge.request(
        subject, [("command", {"action": "read_sensor"}, "dictionary")], timeout=30
    )

(dataname, data, _), *_ = reply["payloads"]
print(f"reply to {reply['reply_to_msg_id']}: {dataname} = {data}")
assert data == {"sensor_id": "sensor-001", "value": 42.5}
print("example ok: request-response")

"""Example 2 of the original design, dictionary exchange: a configuration
sent on /device/config as a dictionary and received as a dict.

    NATS_URL=nats://localhost:4222 python examples/python/dictionary.py"""

import os

import natsbridge

nats_url = os.environ.get("NATS_URL", "nats://localhost:4222")
subject = f"/device/config/python-{os.getpid()}"
config = {"wifi_ssid": "MyNetwork", "wifi_password": "password123", "update_interval": 60}

with natsbridge.Bridge(nats_url) as bridge, bridge.subscribe(subject) as inbox:
    bridge.send(subject, [("config", config, "dictionary")])
    envelope = inbox.next(timeout=30)

assert envelope is not None, "no message within 30 s"
(dataname, data, kind), *_ = envelope["payloads"]
print(f"{dataname} ({kind}): {data}")
assert (dataname, data, kind) == ("config", config, "dictionary")
print("example ok: dictionary")

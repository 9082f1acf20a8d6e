"""Example 5 of the original design, the MicroPython IoT device: sends its
sensor readings on /device/sensors (a text and a dictionary) and waits for a
command on /device/commands; a "reboot" command is executed (simulated).
Its receivers are examples/node/iot_receiver.mjs (which also sends the
command) and examples/julia/iot_receiver.jl.

    MICROPYPATH=bindings-micropython NATS_URL=nats://127.0.0.1:4222 IOT_ID=1 \\
        micropython examples/micropython/iot_device.py
"""

# MicroPython code: %-formatting works on every port and build.
# ruff: noqa: UP031

import os
import sys

import natsbridge_micro as nb

device = os.getenv("IOT_ID") or "1"
client = nb.Client(os.getenv("NATS_URL") or "nats://127.0.0.1:4222")
commands = []
client.subscribe("/device/commands/%s" % device, commands.append)

# Send sensor data
data = [("temperature", "25.5", "text"), ("humidity", 65, "dictionary")]
sent = client.smartsend("/device/sensors/%s" % device, data, msg_purpose="telemetry")
print("sent telemetry %s" % sent["msg_id"])

# Receive commands
for _ in range(300):
    if commands:
        break
    client.wait_msg(0.1)
if not commands:
    print("example failed: no command within 30 s")
    sys.exit(1)
envelope = nb.smartreceive(commands[0])
client.close()
for dataname, value, kind in envelope["payloads"]:
    if kind == "dictionary" and value.get("action") == "reboot":
        print("command %s: rebooting (simulated)" % dataname)
        print("example ok: iot device")
        sys.exit(0)
print("example failed: no reboot command in %r" % (envelope["payloads"],))
sys.exit(1)

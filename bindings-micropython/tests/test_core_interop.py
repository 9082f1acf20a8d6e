"""MicroPython <-> the Rust core, through the `natsbridge` CLI (which runs the
core's smartsend / smartreceive): every type MicroPython supports, both
directions, direct and link, and request/reply across the two."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import threading
import time
from pathlib import Path

import pytest

from micro_runner import RECEIVE_ONE

REPO_ROOT = Path(__file__).resolve().parents[2]
# A 3-row table (id int64, name utf8) as an Arrow IPC stream, written by the
# core's TableBuilder: MicroPython has no Arrow, so tables travel as these bytes.
STUDENTS_IPC = bytes.fromhex(
    "ffffffffb80000001000000000000a000c000a00090004000a000000100000000001040008000800000004000800000004000000020000004400000004000000d4ffffff180000000c0000000000010510000000000000000400040004000000040000006e616d65000000001000140010000e000f00040000000800100000001800000020000000000001021c00000008000c0004000b0008000000400000000000000100000000020000006964000000000000000000000000000000000000fffffffff8000000100000000c001a0018001700040008000c00000020000000c000000000000000000000000000000304000a0018000c00080004000a0000003c0000001000000003000000000000000000000002000000030000000000000000000000000000000300000000000000000000000000000000000000050000000000000000000000000000000000000000000000000000001800000000000000400000000000000000000000000000004000000000000000100000000000000080000000000000000f00000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000010000000000000002000000000000000300000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000005000000080000000f000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000416c696365426f62436861726c696500000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000ffffffff00000000"
)
BLOB = bytes(range(256)) * 40  # 10,240 bytes


def cli_path() -> Path:
    override = os.environ.get("NATSBRIDGE_CLI")
    path = (
        Path(override) if override else REPO_ROOT / "target" / "release" / "natsbridge"
    )
    if not path.is_file():
        pytest.fail(
            f"the natsbridge CLI is missing at {path}: build it with "
            "`cargo build --release -p natsbridge-cli` or set NATSBRIDGE_CLI"
        )
    return path


class Listener:
    """`natsbridge listen --json` in the background; ready once it subscribed."""

    def __init__(self, nats_url: str, subject: str, count: int = 1) -> None:
        self.process = subprocess.Popen(
            [
                str(cli_path()),
                "listen",
                subject,
                "-s",
                nats_url,
                "--count",
                str(count),
                "--json",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.stderr: list[str] = []
        ready = threading.Event()

        def pump() -> None:
            for line in self.process.stderr:
                self.stderr.append(line)
                if "listening on" in line:
                    ready.set()

        threading.Thread(target=pump, daemon=True).start()
        assert ready.wait(15), "natsbridge listen did not start: " + "".join(
            self.stderr
        )

    def envelopes(self, timeout: float = 30.0) -> list[dict]:
        try:
            out, _ = self.process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise AssertionError(
                "natsbridge listen got nothing: " + "".join(self.stderr)
            ) from None
        assert self.process.returncode == 0, "".join(self.stderr)
        return [json.loads(line) for line in out.splitlines() if line.strip()]


def run_cli(*args: str) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [str(cli_path()), *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done


SEND_ALL = """
import binascii
env = nb.smartsend(P["subject"], [
    ("message", P["text"], "text"),
    ("config", P["dict"], "dictionary"),
    ("students", binascii.unhexlify(P["ipc"]), "table"),
    ("avatar", binascii.unhexlify(P["blob"]), "image"),
    ("clip", binascii.unhexlify(P["blob"])[:100], "audio"),
    ("movie", binascii.unhexlify(P["blob"])[:200], "video"),
    ("large_document", binascii.unhexlify(P["blob"]) * 20, "binary"),
], nats_url=P["nats_url"], fileserver_url=P["fileserver_url"], size_threshold=100000,
   correlation_id="micro-1")
result({"msg_id": env["msg_id"]})
"""


def test_micropython_to_core_every_type_direct_and_link(
    nb_env, fileserver_url, script, impl
):
    listener = Listener(nb_env.nats_url, "/device/sensors")
    sent = script(
        impl,
        SEND_ALL,
        subject="/device/sensors",
        nats_url=nb_env.nats_url,
        fileserver_url=fileserver_url,
        text="25.5 °C ☃",
        dict={"humidity": 65, "ok": True, "list": [1, None]},
        ipc=STUDENTS_IPC.hex(),
        blob=BLOB.hex(),
    ).result()
    [envelope] = listener.envelopes()
    assert envelope["msg_id"] == sent["msg_id"]
    assert envelope["correlation_id"] == "micro-1"
    payloads = {p["dataname"]: p for p in envelope["payloads"]}
    assert payloads["message"]["value"] == "25.5 °C ☃"
    assert payloads["config"]["value"] == {
        "humidity": 65,
        "ok": True,
        "list": [1, None],
    }
    # The core validated the table as Arrow IPC and hands back the same bytes.
    assert base64.b64decode(payloads["students"]["value"]) == STUDENTS_IPC
    assert base64.b64decode(payloads["avatar"]["value"]) == BLOB
    assert base64.b64decode(payloads["clip"]["value"]) == BLOB[:100]
    assert base64.b64decode(payloads["movie"]["value"]) == BLOB[:200]
    large = payloads["large_document"]
    assert large["transport"] == "link"
    assert base64.b64decode(large["value"]) == BLOB * 20


def test_core_to_micropython_every_type_direct_and_link(
    nb_env, fileserver_url, script, impl, tmp_path
):
    receiver = script(
        impl, RECEIVE_ONE, subject="/device/config", nats_url=nb_env.nats_url
    )
    receiver.wait_for("READY")
    table = tmp_path / "students.arrows"
    table.write_bytes(STUDENTS_IPC)
    image = tmp_path / "avatar.png"
    image.write_bytes(BLOB)
    large = tmp_path / "large.bin"
    large.write_bytes(BLOB * 20)
    run_cli(
        "send",
        "/device/config",
        "-s",
        nb_env.nats_url,
        "--text",
        "greeting=Hello from Rust ✓",
        "--json-payload",
        'config={"action": "reboot", "delay": 5}',
        "--file",
        str(table),
        "--file",
        str(image),
        "--file",
        f"{large}:binary",
        "--fileserver-url",
        fileserver_url,
        "--size-threshold",
        "100000",
    )
    got = receiver.result()["env"]
    payloads = {name: [value, kind] for name, value, kind in got["payloads"]}
    assert payloads["greeting"] == ["Hello from Rust ✓", "text"]
    assert payloads["config"] == [{"action": "reboot", "delay": 5}, "dictionary"]
    assert payloads["students.arrows"] == [{"hex": STUDENTS_IPC.hex()}, "table"]
    assert payloads["avatar.png"] == [{"hex": BLOB.hex()}, "image"]
    assert payloads["large.bin"] == [{"hex": (BLOB * 20).hex()}, "binary"]


MICRO_RESPONDER = """
c = nb.Client(P["nats_url"])
done = []
def on_request(msg):
    env = nb.smartreceive(msg)
    command = env["payloads"][0][1]
    c.reply(env, [("data", {"sensor_id": "sensor-001", "echo": command["action"]}, "dictionary")])
    done.append(env["msg_id"])
c.subscribe(P["subject"], on_request)
c.flush(5)
print("READY")
for _ in range(40):
    if done:
        break
    c.wait_msg(0.5)
result({"answered": done})
"""


def test_core_requests_and_micropython_replies(nb_env, script, impl):
    responder = script(
        impl, MICRO_RESPONDER, subject="/device/command", nats_url=nb_env.nats_url
    )
    responder.wait_for("READY")
    done = run_cli(
        "request",
        "/device/command",
        "-s",
        nb_env.nats_url,
        "--json-payload",
        'command={"action": "read_sensor"}',
        "--json",
        "--timeout",
        "15",
    )
    reply = json.loads(done.stdout)
    answered = responder.result()["answered"]
    assert reply["reply_to_msg_id"] == answered[0]
    assert reply["payloads"][0]["value"] == {
        "sensor_id": "sensor-001",
        "echo": "read_sensor",
    }


MICRO_REQUESTER = """
c = nb.Client(P["nats_url"])
reply = c.request(P["subject"], [("command", {"action": "read_sensor"}, "dictionary")], timeout=15)
result({"reply": show_env(reply)})
"""


def test_micropython_requests_and_core_replies(nb_env, script, impl):
    responder = subprocess.Popen(
        [
            str(cli_path()),
            "respond",
            "/device/command2",
            "-s",
            nb_env.nats_url,
            "--count",
            "1",
            "--json-payload",
            'data={"sensor_id": "sensor-001", "value": 42.5}',
        ],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 15
        for line in responder.stderr:
            if "answering requests" in line or time.monotonic() > deadline:
                break
        got = script(
            impl, MICRO_REQUESTER, subject="/device/command2", nats_url=nb_env.nats_url
        ).result()
        reply = got["reply"]
        assert reply["msg_purpose"] == "response"
        assert reply["payloads"] == [
            ["data", {"sensor_id": "sensor-001", "value": 42.5}, "dictionary"]
        ]
        assert responder.wait(15) == 0
    finally:
        responder.kill()

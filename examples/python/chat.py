"""Example 1 of the original design, chat with mixed content: a text, a small
image and a 1.5 MB document in one message on /chat/room1 (the document
travels by link: to FILESERVER_URL when set, else the JetStream Object Store).

    NATS_URL=nats://localhost:4222 python examples/python/chat.py

Ends with "example ok: chat ..." after checking what arrived."""

import os

import natsbridge

nats_url = os.environ.get("NATS_URL", "nats://localhost:4222")
fileserver_url = os.environ.get("FILESERVER_URL") or None
subject = f"/chat/room1/python-{os.getpid()}"
image_data = bytes([0x89, 0x50, 0x4E, 0x47]) + bytes(range(256))
large_file_data = bytes(i % 251 for i in range(1_500_000))

with natsbridge.Bridge(nats_url) as bridge, bridge.subscribe(subject) as room:
    bridge.send(
        subject,
        [
            ("message_text", "Hello!", "text"),
            ("user_avatar", image_data, "image"),
            ("large_document", large_file_data, "binary"),
        ],
        fileserver_url=fileserver_url,
    )
    envelope = room.next(timeout=30)

assert envelope is not None, "no message within 30 s"
for dataname, data, kind in envelope["payloads"]:
    print(f"{dataname} ({kind}): {data if kind == 'text' else f'{len(data)} bytes'}")
got = {dataname: data for dataname, data, _ in envelope["payloads"]}
assert got == {
    "message_text": "Hello!",
    "user_avatar": image_data,
    "large_document": large_file_data,
}
print("example ok: chat (text, image, 1.5 MB document by link)")

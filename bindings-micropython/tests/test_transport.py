"""Transport choice, spec section 5: the size threshold (size == threshold goes
by link), the server's max_payload fit rule, and no publish at all when a link
is needed but there is no file server."""

from __future__ import annotations

import json
import uuid

import pytest

import natsbridge_micro as nb
from micro_runner import RECEIVE_ONE, receive_while
from spec_envelopes import hexed

THRESHOLD = 1000

SEND_AROUND_THRESHOLD = """
T = P["threshold"]
data = [
    ("below", b"b" * (T - 1), "binary"),
    ("at", b"a" * T, "binary"),
    ("above", "x" * (T + 1), "text"),
]
env = nb.smartsend(P["subject"], data, nats_url=P["nats_url"],
                   fileserver_url=P["fileserver_url"], size_threshold=T)
result([[p["dataname"], p["transport"], p["encoding"], p.get("data")]
        for p in env["payloads"]])
"""


def test_size_threshold(nb_env, fileserver_url, script, impl):
    subject = f"/threshold/{uuid.uuid4().hex}"
    receiving = script(
        "micropython", RECEIVE_ONE, nats_url=nb_env.nats_url, subject=subject
    )
    receiving.wait_for("READY")
    sent = script(
        impl,
        SEND_AROUND_THRESHOLD,
        subject=subject,
        nats_url=nb_env.nats_url,
        fileserver_url=fileserver_url,
        threshold=THRESHOLD,
    ).result()
    assert [p[:3] for p in sent] == [
        ["below", "direct", "base64"],
        ["at", "link", "url"],
        ["above", "link", "url"],
    ]
    assert sent[0][3] is None  # base64 is left out of the result by default
    assert sent[1][3].startswith("http://") and sent[2][3].startswith("http://")
    got = receiving.result()["env"]["payloads"]
    assert got == [
        ["below", hexed(b"b" * (THRESHOLD - 1)), "binary"],
        ["at", hexed(b"a" * THRESHOLD), "binary"],
        ["above", "x" * (THRESHOLD + 1), "text"],
    ]


def test_default_threshold_is_one_million_bytes(nb_env, fileserver_url):
    client = nb.Client(nb_env.nats_url)
    try:
        env = nb.smartsend(
            "/threshold/default",
            [("exactly", bytes(1_000_000), "binary")],
            client=client,
            fileserver_url=fileserver_url,
        )
    finally:
        client.close()
    assert env["payloads"][0]["transport"] == "link"


NO_ROOM = """
c = nb.Client(P["nats_url"])
err = error_of(c.smartsend, P["subject"], [("big", b"z" * 15000, "binary")])
c.smartsend(P["subject"], [("marker", "after", "text")])
result(err)
"""


def test_payload_that_does_not_fit_fails_and_publishes_nothing(small_env, script, impl):
    """15000 bytes are 20000 in base64: over max_payload 20000 with the rest of
    the envelope, so the payload needs a link, and there is no file server."""
    subject = f"/fit/{uuid.uuid4().hex}"
    err = []

    def send():
        err.append(
            script(impl, NO_ROOM, nats_url=small_env.nats_url, subject=subject).result()
        )

    (first,) = receive_while(small_env.nats_url, subject, send)
    # The failed send came first on the same connection: had it published
    # anything, that would have arrived before the marker.
    assert nb.smartreceive(first)["payloads"] == [("marker", "after", "text")]
    name, message = err[0]
    assert name == "PayloadTooLargeError"
    assert "'big'" in message and "20000" in message and "fileserver_url" in message


MOVE_LARGEST = """
data = [
    ("note", "small text", "text"),
    ("big", b"B" * 9000, "binary"),
    ("medium", b"M" * 8000, "binary"),
    ("small", b"S" * 3000, "binary"),
]
env = nb.smartsend(P["subject"], data, nats_url=P["nats_url"],
                   fileserver_url=P["fileserver_url"])
result([[p["dataname"], p["transport"]] for p in env["payloads"]])
"""


def test_largest_direct_payload_moves_to_link_until_it_fits(
    small_env, small_fileserver_url, script, impl
):
    """In base64 the payloads take 12000 + 10668 + 4000 bytes: only moving
    `big` is needed to fit max_payload 20000."""
    subject = f"/fit/{uuid.uuid4().hex}"
    receiving = script(
        "micropython", RECEIVE_ONE, nats_url=small_env.nats_url, subject=subject
    )
    receiving.wait_for("READY")
    sent = script(
        impl,
        MOVE_LARGEST,
        subject=subject,
        nats_url=small_env.nats_url,
        fileserver_url=small_fileserver_url,
    ).result()
    assert sent == [
        ["note", "direct"],
        ["big", "link"],
        ["medium", "direct"],
        ["small", "direct"],
    ]
    assert receiving.result()["env"]["payloads"] == [
        ["note", "small text", "text"],
        ["big", hexed(b"B" * 9000), "binary"],
        ["medium", hexed(b"M" * 8000), "binary"],
        ["small", hexed(b"S" * 3000), "binary"],
    ]


def b64len(n: int) -> int:
    return (n + 2) // 3 * 4


def test_fit_rule_counts_headers_and_stops_exactly_at_max_payload(small_env):
    """The largest direct payload that fits is published (the server accepts
    headers + body up to max_payload); 1 byte more needs a link."""
    subject = f"/fit/{uuid.uuid4().hex}"
    client = nb.Client(small_env.nats_url)
    try:
        assert client.max_payload == 20000
        sent = {}

        def send(n: int):
            def action():
                sent[n] = client.smartsend(subject, [("p", bytes(n), "binary")])

            return action

        # Measure the envelope's overhead with a payload whose size has as
        # many digits as the one that will fill it.
        (reference,) = receive_while(small_env.nats_url, subject, send(10002))
        header = (
            f"NATS/1.0\r\nNats-Msg-Id: {sent[10002]['msg_id']}\r\n"
            "Content-Type: application/vnd.natsbridge.envelope+json\r\n\r\n"
        ).encode()
        assert reference.headers == {
            "Nats-Msg-Id": sent[10002]["msg_id"],
            "Content-Type": "application/vnd.natsbridge.envelope+json",
        }
        overhead = len(reference.data) - b64len(10002) + len(header)
        n = (20000 - overhead) // 4 * 3  # the largest multiple of 3 that fits
        assert overhead + b64len(n) <= 20000 < overhead + b64len(n + 1)

        (fitting,) = receive_while(small_env.nats_url, subject, send(n))
        assert sent[n]["payloads"][0]["transport"] == "direct"
        assert len(fitting.data) + len(header) == overhead + b64len(n)
        assert json.loads(fitting.data)["payloads"][0]["size"] == n

        with pytest.raises(nb.PayloadTooLargeError, match="max_payload 20000"):
            client.smartsend(subject, [("p", bytes(n + 1), "binary")])
        assert not client.closed  # refused before anything reached the server
    finally:
        client.close()

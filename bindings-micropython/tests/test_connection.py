"""The NATS connection: the protocol walked through against a scripted server,
servers that close or go silent, token auth, -ERR, the receive size bound,
and one cached connection per URL."""

from __future__ import annotations

import json
import socket
import threading
import uuid

import pytest

import natsbridge_micro as nb
from micro_runner import publish, receive_while

INFO = (
    b"INFO "
    + json.dumps(
        {
            "server_id": "scripted",
            "version": "2.9.10",
            "proto": 1,
            "headers": True,
            "max_payload": 1048576,
            "auth_required": True,
        }
    ).encode()
    + b"\r\n"
)


class ScriptedNats:
    """A NATS server for one connection, played by `play(conn, lines, self)`
    in a thread; `lines.readline()` reads what the client sent."""

    def __init__(self, play) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(20)
        self.port = self.listener.getsockname()[1]
        self.seen: dict = {}
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._serve, args=(play,), daemon=True)
        self.thread.start()

    def url(self, credentials: str = "") -> str:
        return f"nats://{credentials}127.0.0.1:{self.port}"

    def _serve(self, play) -> None:
        try:
            conn, _ = self.listener.accept()
            with conn:
                conn.settimeout(20)
                with conn.makefile("rb") as lines:
                    play(conn, lines, self)
        except (OSError, AssertionError, ValueError) as e:  # raised by finish()
            self.error = e
        finally:
            self.listener.close()

    def finish(self) -> None:
        self.thread.join(20)
        assert not self.thread.is_alive(), "the scripted server is still running"
        if self.error:
            raise self.error


def expect(lines, wanted: bytes) -> bytes:
    line = lines.readline()
    assert line.startswith(wanted), (wanted, line)
    return line


def walkthrough(conn, lines, server) -> None:
    conn.sendall(INFO)
    server.seen["connect"] = json.loads(expect(lines, b"CONNECT ")[8:])
    expect(lines, b"PING")
    conn.sendall(b"PONG\r\n")
    server.seen["sub"] = expect(lines, b"SUB ").strip().decode()
    expect(lines, b"PING")
    conn.sendall(b"PONG\r\n")
    conn.sendall(b"PING\r\n")  # the client must answer while it waits
    server.seen["pong"] = expect(lines, b"PONG").strip().decode()
    headers = b"NATS/1.0\r\nX-Test: yes\r\n\r\n"
    body = b"with headers"
    message = b"HMSG updates 1 %d %d\r\n%s%s\r\n" % (
        len(headers),
        len(headers) + len(body),
        headers,
        body,
    )
    conn.sendall(message[:20])  # split inside the headers
    conn.sendall(message[20:] + b"+OK\r\nMSG updates 1 _INBOX.r1 5\r\nhello\r\n")
    conn.sendall(INFO.replace(b'"proto"', b'"nonce": "x", "proto"'))
    conn.sendall(b"MSG updates 1 0\r\n\r\n")
    while lines.readline():  # until the client hangs up
        pass


WALKTHROUGH = """
c = nb.Client(P["url"])
got = []
c.subscribe("updates", got.append)
for _ in range(20):
    if len(got) == 3:
        break
    c.wait_msg(1)
result({
    "messages": [[m.subject, m.reply, m.sid, m.headers, bytes(m.data).decode()] for m in got],
    "max_payload": c.max_payload,
    "broker_url": c.broker_url,
})
"""


def test_protocol_walkthrough(script, impl):
    """CONNECT with credentials from the URL, SUB, answering a server PING,
    HMSG split across reads, MSG with a reply subject, +OK, INFO updates and
    an empty message."""
    server = ScriptedNats(walkthrough)
    got = script(impl, WALKTHROUGH, url=server.url("us%40er:p%3Ass@")).result()
    server.finish()
    connect = server.seen["connect"]
    assert (connect["user"], connect["pass"]) == ("us@er", "p:ss")
    assert connect["verbose"] is False and connect["pedantic"] is False
    assert connect["headers"] is True
    assert server.seen["sub"] == "SUB updates 1"
    assert server.seen["pong"] == "PONG"
    assert got["messages"] == [
        ["updates", "", 1, {"X-Test": "yes"}, "with headers"],
        ["updates", "_INBOX.r1", 1, None, "hello"],
        ["updates", "", 1, None, ""],
    ]
    assert got["max_payload"] == 1048576
    assert got["broker_url"] == server.url()  # no credentials


def without_headers(conn, lines, server) -> None:
    conn.sendall(INFO.replace(b'"headers": true', b'"headers": false'))
    server.seen["connect"] = json.loads(expect(lines, b"CONNECT ")[8:])
    expect(lines, b"PING")
    conn.sendall(b"PONG\r\n")
    pub = expect(lines, b"PUB ").split()
    server.seen["pub"] = [part.decode() for part in pub]
    server.seen["body"] = lines.read(int(pub[-1]) + 2)
    expect(lines, b"PING")
    conn.sendall(b"PONG\r\n")
    while lines.readline():
        pass


SEND_BARE = """
c = nb.Client(P["url"])
env = c.smartsend("/chat/room1", [("m", "hi", "text")], keep_data=True)
c.close()
result(env)
"""


def test_bare_pub_when_the_server_has_no_headers(script, impl):
    server = ScriptedNats(without_headers)
    sent = script(impl, SEND_BARE, url=server.url()).result()
    server.finish()
    assert server.seen["connect"]["headers"] is False
    body = server.seen["body"]
    assert server.seen["pub"] == ["PUB", "/chat/room1", str(len(body) - 2)]
    assert body.endswith(b"\r\n")
    assert json.loads(body[:-2]) == sent


CONNECT_FAILS = """
t0 = nb._ticks_ms()
err = error_of(nb.Client, P["url"], timeout=1.0)
result({"err": err, "ms": nb._ticks_diff(nb._ticks_ms(), t0)})
"""


def info_then_close(conn, lines, server) -> None:
    conn.sendall(INFO)


def silent(conn, lines, server) -> None:
    while lines.readline():
        pass


def refuse_connect(conn, lines, server) -> None:
    conn.sendall(INFO)
    expect(lines, b"CONNECT ")
    expect(lines, b"PING")
    conn.sendall(b"-ERR 'Unknown Protocol Operation'\r\n")


def test_server_that_closes_after_info(script, impl):
    server = ScriptedNats(info_then_close)
    got = script(impl, CONNECT_FAILS, url=server.url()).result()
    server.finish()
    name, message = got["err"]
    assert name == "NatsConnectionError"
    assert "closed the connection" in message
    assert got["ms"] < 900  # an EOF, not the 1 s timeout


def test_silent_server_times_out(script, impl):
    server = ScriptedNats(silent)
    got = script(impl, CONNECT_FAILS, url=server.url()).result()
    server.finish()
    assert got["err"][0] == "NatsTimeoutError"
    assert 900 <= got["ms"] < 5000


def test_err_reply_raises_protocol_error(script, impl):
    server = ScriptedNats(refuse_connect)
    got = script(impl, CONNECT_FAILS, url=server.url()).result()
    server.finish()
    assert got["err"][0] == "ProtocolError"
    assert "Unknown Protocol Operation" in got["err"][1]


def test_connection_refused(script, impl):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    got = script(impl, CONNECT_FAILS, url=f"nats://127.0.0.1:{port}").result()
    assert got["err"][0] == "NatsConnectionError"
    assert f"127.0.0.1:{port}" in got["err"][1]


KILLED = """
c = nb.Client(P["nats_url"])
c.subscribe("never", lambda m: None)
print("READY")
t0 = nb._ticks_ms()
err = error_of(c.wait_msg)  # no timeout: only the server's end can stop it
result({
    "err": err,
    "ms": nb._ticks_diff(nb._ticks_ms(), t0),
    "closed": c.closed,
    "send_after": error_of(c.smartsend, "x", [("a", "b", "text")]),
    "module_send": error_of(nb.smartsend, "x", [("a", "b", "text")], nats_url=P["nats_url"]),
})
"""


def test_server_killed_mid_session(start_env, script, impl):
    env = start_env()
    waiting = script(impl, KILLED, nats_url=env.nats_url)
    waiting.wait_for("READY")
    env.stop()
    got = waiting.result(timeout=15)
    assert got["err"][0] == "NatsConnectionError"
    assert "closed the connection" in got["err"][1]
    assert got["closed"] is True
    assert got["send_after"][0] == "NatsConnectionError"
    assert got["module_send"][0] == "NatsConnectionError"


TOKEN = """
def round_trip(url, **kwargs):
    c = nb.Client(url, **kwargs)
    got = []
    c.subscribe(P["subject"], got.append)
    c.smartsend(P["subject"], [("a", "token ok", "text")])
    c.wait_msg(5)
    c.close()
    return nb.smartreceive(got[0])["payloads"][0][1]

host = P["nats_url"][len("nats://"):]
result({
    "in url": round_trip("nats://s3cret-T@" + host),
    "keyword": round_trip(P["nats_url"], token="s3cret-T"),
    "wrong": error_of(nb.Client, "nats://wrong@" + host),
    "none": error_of(nb.Client, P["nats_url"]),
})
"""


def test_token_auth(token_env, script, impl):
    subject = f"auth.{uuid.uuid4().hex}"
    got = script(impl, TOKEN, nats_url=token_env.nats_url, subject=subject).result()
    assert got["in url"] == "token ok"
    assert got["keyword"] == "token ok"
    for case in ("wrong", "none"):
        name, message = got[case]
        assert name == "AuthError", case
        assert "Authorization Violation" in message and "wrong" not in message


LIMITED = """
c = nb.Client(P["nats_url"], max_payload_limit=1000)
got = []
c.subscribe(P["subject"], got.append)
print("READY")
first = error_of(c.wait_msg, 10)
c.wait_msg(10)
result({"first": first, "got": [bytes(m.data).decode() for m in got]})
"""


def test_message_over_the_receive_limit_is_skipped(nb_env, script, impl):
    subject = f"limit.{uuid.uuid4().hex}"
    receiving = script(impl, LIMITED, nats_url=nb_env.nats_url, subject=subject)
    receiving.wait_for("READY")
    publish(nb_env.nats_url, subject, b"x" * 5000)
    publish(nb_env.nats_url, subject, b"small")
    got = receiving.result()
    assert got["first"][0] == "PayloadTooLargeError"
    assert "5000" in got["first"][1] and "1000" in got["first"][1]
    assert got["got"] == ["small"]  # the connection survived the skip


def test_oversized_message_during_a_send_is_reported_by_wait_msg(nb_env):
    """smartsend waits for a PONG; a message too large for the client that
    arrives meanwhile must not fail that send."""
    subject = f"limit.{uuid.uuid4().hex}"
    client = nb.Client(nb_env.nats_url, max_payload_limit=1000)
    try:
        client.subscribe(subject, lambda msg: None)
        publish(nb_env.nats_url, subject, b"x" * 5000)
        client.smartsend(f"elsewhere.{subject}", [("a", "b", "text")])
        with pytest.raises(nb.PayloadTooLargeError, match="5000"):
            client.wait_msg(5)
        assert not client.closed
    finally:
        client.close()


CACHED = """
nb.smartsend(P["subject"], [("n", "1", "text")], nats_url=P["nats_url"])
first = nb._client(P["nats_url"])
nb.smartsend(P["subject"], [("n", "2", "text")], nats_url=P["nats_url"])
result({"same": first is nb._client(P["nats_url"]), "count": len(nb._clients)})
"""


def test_module_functions_reuse_one_connection(nb_env, script, impl):
    subject = f"cached.{uuid.uuid4().hex}"
    got = {}

    def send():
        got.update(
            script(impl, CACHED, nats_url=nb_env.nats_url, subject=subject).result()
        )

    messages = receive_while(nb_env.nats_url, subject, send, count=2)
    assert got == {"same": True, "count": 1}
    assert [nb.smartreceive(m)["payloads"][0][1] for m in messages] == ["1", "2"]


def test_credentials_never_reach_broker_url():
    assert nb._strip_credentials("nats://u:p@h:4222") == "nats://h:4222"
    assert nb._strip_credentials("nats://tok@h") == "nats://h"
    # Issue 16 item 14: a password holding "/" or "?" is never echoed, and
    # still read as the password of a nats:// URL.
    assert nb._strip_credentials("nats://u:pa/ss?w@h:4222") == "nats://h:4222"
    assert nb._split_url("nats://u:pa/ss?w@h:4222") == (
        "nats",
        "u:pa/ss?w",
        "h",
        4222,
        "/",
    )
    assert nb._split_url("http://h/x@y") == ("http", "", "h", 80, "/x@y")
    assert nb._split_url("nats://[::1]:4223") == ("nats", "", "::1", 4223, "/")
    assert nb._split_url("http://h/a/b?c") == ("http", "", "h", 80, "/a/b?c")

"""Link payloads: upload by HTTP PUT, download by GET checked against size and
sha256, custom handlers, and the download retries (which statuses, how many
tries, how long)."""

from __future__ import annotations

import hashlib
import json
import random
import socket
import ssl
import subprocess
import threading
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

import natsbridge_micro as nb
from micro_runner import RECEIVE_ONE, receive_while
from spec_envelopes import hexed, spec_envelope, spec_link, spec_payload

_rng = random.Random(11)
DOCUMENT = _rng.randbytes(50_000)
NOTES = "lines of notes ☃\n" * 800  # text by link: 13,600 bytes of UTF-8
AVATAR = _rng.randbytes(700)

SEND_MIXED = """
import binascii
data = [
    ("message_text", "Hello!", "text"),
    ("config", {"update_interval": 60}, "dictionary"),
    ("user_avatar", binascii.unhexlify(P["avatar"]), "image"),
    ("large document.bin", binascii.unhexlify(P["document"]), "binary"),
    ("notes", P["notes"], "text"),
]
env = nb.smartsend(P["subject"], data, nats_url=P["nats_url"],
                   fileserver_url=P["fileserver_url"], size_threshold=10000)
result(env)
"""


def test_mixed_message_with_links(nb_env, fileserver_url, script, impl):
    """Direct and link payloads in one envelope, received by MicroPython and
    by nats-py + the module under CPython; the links serve the exact bytes."""
    subject = f"/chat/{uuid.uuid4().hex}"
    receiving = script(
        "micropython", RECEIVE_ONE, nats_url=nb_env.nats_url, subject=subject
    )
    receiving.wait_for("READY")
    sent = {}

    def send():
        sent.update(
            script(
                impl,
                SEND_MIXED,
                subject=subject,
                nats_url=nb_env.nats_url,
                fileserver_url=fileserver_url,
                avatar=AVATAR.hex(),
                document=DOCUMENT.hex(),
                notes=NOTES,
            ).result()
        )

    (msg,) = receive_while(nb_env.nats_url, subject, send)
    transports = [(p["dataname"], p["transport"]) for p in sent["payloads"]]
    assert transports == [
        ("message_text", "direct"),
        ("config", "direct"),
        ("user_avatar", "direct"),
        ("large document.bin", "link"),
        ("notes", "link"),
    ]
    expected = [
        ["message_text", "Hello!", "text"],
        ["config", {"update_interval": 60}, "dictionary"],
        ["user_avatar", hexed(AVATAR), "image"],
        ["large document.bin", hexed(DOCUMENT), "binary"],
        ["notes", NOTES, "text"],
    ]
    assert receiving.result()["env"]["payloads"] == expected

    env = nb.smartreceive(msg)
    assert [
        [d, hexed(bytes(v)) if isinstance(v, bytes | bytearray) else v, t]
        for d, v, t in env["payloads"]
    ] == expected

    wire = json.loads(msg.data)
    for p, original in (
        (wire["payloads"][3], DOCUMENT),
        (wire["payloads"][4], NOTES.encode()),
    ):
        assert p["data"].startswith("http://")
        assert (p["size"], p["sha256"]) == (
            len(original),
            hashlib.sha256(original).hexdigest(),
        )
        with urllib.request.urlopen(p["data"], timeout=10) as response:
            assert response.read() == original


@pytest.fixture
def uploaded(nb_env, fileserver_url):
    """The URL at which the module's own upload put DOCUMENT."""
    client = nb.Client(nb_env.nats_url)
    try:
        env = client.smartsend(
            "/links/upload",
            [("doc", DOCUMENT, "binary")],
            fileserver_url=fileserver_url,
            size_threshold=1,
        )
    finally:
        client.close()
    return env["payloads"][0]["data"]


def link_cases(url: str) -> dict:
    good = spec_link("doc", DOCUMENT, "binary", url)
    return {
        "good": {**good},
        "wrong sha256": {**good, "sha256": hashlib.sha256(b"other").hexdigest()},
        "wrong size": {**good, "size": len(DOCUMENT) + 1},
        "missing object": {**good, "data": url + "-missing"},
    }


CHECK_LINKS = """
out = {}
for case in P["cases"]:
    body = P["cases"][case]
    try:
        env = nb.smartreceive(body, max_retries=3, base_delay=1, max_delay=2)
        out[case] = ["ok", hashlib_hex(env["payloads"][0][1])]
    except nb.NatsBridgeError as e:
        out[case] = [type(e).__name__, str(e), getattr(e, "attempts", None)]
result(out)
"""
HASH_HELPER = """
import hashlib
def hashlib_hex(data):
    return binascii.hexlify(hashlib.sha256(data).digest()).decode()
"""


def test_download_checks_size_and_sha256(uploaded, script, impl):
    cases = {
        case: json.dumps(spec_envelope("/links", [p]))
        for case, p in link_cases(uploaded).items()
    }
    got = script(impl, HASH_HELPER + CHECK_LINKS, cases=cases).result()
    assert got["good"] == ["ok", hashlib.sha256(DOCUMENT).hexdigest()]
    assert got["wrong sha256"][:1] == ["IntegrityError"]
    assert "sha256" in got["wrong sha256"][1]
    assert got["wrong size"][:1] == ["IntegrityError"]
    assert "size" in got["wrong size"][1]
    # 4xx is final: one attempt, no retries.
    assert got["missing object"][0] == "DownloadError"
    assert got["missing object"][2] == 1


def test_custom_upload_and_download_handlers(nb_env, fileserver_url):
    uploads, downloads = [], []

    def upload(base_url, dataname, data):
        uploads.append((base_url, dataname, bytes(data)))
        url = f"{base_url}/{uuid.uuid4()}/custom"
        request = urllib.request.Request(url, data=bytes(data), method="PUT")
        with urllib.request.urlopen(request, timeout=10):
            pass
        return {"url": url}

    def download(url, max_retries, base_delay, max_delay):
        downloads.append((url, max_retries, base_delay, max_delay))
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.read()

    subject = f"/links/{uuid.uuid4().hex}"
    client = nb.Client(nb_env.nats_url)
    try:
        sent = {}

        def send():
            sent.update(
                client.smartsend(
                    subject,
                    [("doc", DOCUMENT, "binary"), ("hi", "hello", "text")],
                    fileserver_url=fileserver_url,
                    fileserver_upload_handler=upload,
                    size_threshold=1000,
                    correlation_id="corr-1",
                )
            )

        (msg,) = receive_while(nb_env.nats_url, subject, send)
    finally:
        client.close()
    assert uploads == [(fileserver_url, "doc", DOCUMENT)]
    env = nb.smartreceive(
        msg, fileserver_download_handler=download, max_retries=2, base_delay=7
    )
    assert env["payloads"] == [("doc", DOCUMENT, "binary"), ("hi", "hello", "text")]
    assert downloads == [(sent["payloads"][0]["data"], 2, 7, 5000)]
    assert env["correlation_id"] == "corr-1"


UPLOAD_WITH_TOKEN = """
def send(**kwargs):
    return nb.smartsend(P["subject"], [("doc", b"d" * 100, "binary")],
                        nats_url=P["nats_url"], fileserver_url=P["fileserver_url"],
                        size_threshold=10, **kwargs)["payloads"][0]["data"]
result({"with": send(fileserver_token="up-T"), "without": error_of(send)})
"""


def test_upload_sends_the_file_server_token(start_env, script, impl):
    env = start_env("--fileserver-token", "up-T")
    got = script(
        impl,
        UPLOAD_WITH_TOKEN,
        nats_url=env.nats_url,
        fileserver_url=env.require_fileserver(),
        subject="/links/token",
    ).result()
    with urllib.request.urlopen(got["with"], timeout=10) as response:
        assert response.read() == b"d" * 100  # GET needs no token
    name, message = got["without"]
    assert name == "UploadError"
    assert "401" in message and "Bearer" in message


def test_link_needs_a_file_server(nb_env):
    client = nb.Client(nb_env.nats_url)
    try:
        with pytest.raises(nb.PayloadTooLargeError, match="size_threshold 10"):
            client.smartsend("s", [("doc", b"x" * 10, "binary")], size_threshold=10)
    finally:
        client.close()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


BACKOFF = """
t0 = nb._ticks_ms()
try:
    nb.fetch_with_backoff(P["url"], max_retries=3, base_delay=50, max_delay=100)
    out = None
except nb.DownloadError as e:
    out = {"attempts": e.attempts, "message": str(e)}
out["ms"] = nb._ticks_diff(nb._ticks_ms(), t0)
result(out)
"""


def test_backoff_against_a_closed_port(script, impl):
    """3 retries, so 4 attempts, with sleeps of at most 50, 100 (doubled) and
    100 (capped) ms between them, and at least half of each (jitter)."""
    got = script(impl, BACKOFF, url=f"http://127.0.0.1:{closed_port()}/x").result()
    assert got["attempts"] == 4
    assert "after 4 attempt(s)" in got["message"]
    assert 125 <= got["ms"] < 250 + 2000, got


class ScriptedHttp:
    """An HTTP server whose path /<case> answers with that case's scripted
    responses in turn (the last one repeats), counting requests per case."""

    BODY = b"hello world"

    def __init__(self, cases: dict[str, list[str]]) -> None:
        self.cases = cases
        self.requests = {case: 0 for case in cases}
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                case = self.path.strip("/")
                n = owner.requests[case]
                owner.requests[case] += 1
                steps = owner.cases[case]
                owner.respond(self, steps[min(n, len(steps) - 1)])

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def respond(self, handler: BaseHTTPRequestHandler, step: str) -> None:
        body = self.BODY
        if step.isdigit():
            handler.send_response(int(step))
            handler.send_header("Content-Length", "0")
            handler.end_headers()
            return
        handler.send_response(200)
        if step == "ok":
            handler.send_header("Content-Length", str(len(body)))
            handler.end_headers()
            handler.wfile.write(body)
        elif step in ("chunked", "chunked-too-long"):
            if step == "chunked-too-long":
                body += b"!"
            handler.send_header("Transfer-Encoding", "chunked")
            handler.end_headers()
            for part in (body[:4], body[4:]):
                handler.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
            handler.wfile.write(b"0\r\n\r\n")
        elif step == "until-eof":
            handler.send_header("Connection", "close")
            handler.end_headers()
            handler.wfile.write(body)
            handler.close_connection = True
        elif step == "truncated":
            handler.send_header("Content-Length", str(len(body)))
            handler.end_headers()
            handler.wfile.write(body[:5])
            handler.close_connection = True
        elif step == "too-short":
            handler.send_header("Content-Length", str(len(body) - 1))
            handler.end_headers()
            handler.wfile.write(body[:-1])

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


STATUS_CASES = {
    # case: (responses in turn, expected outcome, expected requests)
    "always-503": (["503"], ["DownloadError", 3], 3),
    "404": (["404"], ["DownloadError", 1], 1),
    "403": (["403"], ["DownloadError", 1], 1),
    "429-500-ok": (["429", "500", "ok"], ["ok"], 3),
    "chunked": (["chunked"], ["ok"], 1),
    "until-eof": (["until-eof"], ["ok"], 1),
    "truncated-then-ok": (["truncated", "ok"], ["ok"], 2),
    "content-length-too-short": (["too-short"], ["IntegrityError", None], 1),
    "chunked-too-long": (["chunked-too-long"], ["IntegrityError", None], 1),
}

FETCH_ALL = """
out = {}
for case in P["cases"]:
    try:
        data = nb.fetch_with_backoff(P["url"] + "/" + case, max_retries=2,
                                     base_delay=1, max_delay=2, size=11)
        out[case] = ["ok"] if bytes(data) == b"hello world" else ["wrong", show(data)]
    except nb.NatsBridgeError as e:
        out[case] = [type(e).__name__, getattr(e, "attempts", None)]
result(out)
"""


def test_download_retries_only_connection_errors_5xx_and_429(script, impl):
    server = ScriptedHttp({case: steps for case, (steps, _, _) in STATUS_CASES.items()})
    try:
        got = script(impl, FETCH_ALL, url=server.url, cases=list(STATUS_CASES)).result()
    finally:
        server.close()
    for case, (_, outcome, requests) in STATUS_CASES.items():
        assert got[case] == outcome, case
        assert server.requests[case] == requests, case


def test_link_schemes_refused_before_any_download():
    for url, words in (
        ("file:///etc/passwd", "only http"),
        ("ftp://127.0.0.1/x", "only http"),
        ("nats-object://bucket/doc", "full natsbridge client"),
    ):
        with pytest.raises(nb.UrlNotAllowedError, match=words):
            nb.fetch_with_backoff(url)


def test_custom_download_handler_may_take_nats_object_links():
    """Only the built-in downloader refuses nats-object://; a handler that
    can read the Object Store gets the URL."""
    p = spec_link("doc", b"abc", "binary", "nats-object://bucket/doc")
    body = json.dumps(spec_envelope("s", [p, spec_payload("t", b"x", "text")]))
    env = nb.smartreceive(body, fileserver_download_handler=lambda *args: b"abc")
    assert env["payloads"] == [("doc", b"abc", "binary"), ("t", "x", "text")]


@pytest.fixture(scope="module")
def https_url(tmp_path_factory):
    """An HTTPS server with a fresh self-signed certificate for 127.0.0.1,
    answering every GET with HTTPS_BODY; yields (url, certificate path)."""
    workdir = tmp_path_factory.mktemp("tls")
    cert, key = workdir / "cert.pem", workdir / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
            "-keyout", str(key), "-out", str(cert), "-days", "1",
            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", str(len(HTTPS_BODY)))
            self.end_headers()
            self.wfile.write(HTTPS_BODY)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"https://127.0.0.1:{server.server_address[1]}/doc", str(cert)
    server.shutdown()
    server.server_close()


HTTPS_BODY = _rng.randbytes(20_000)

FETCH_HTTPS = """
if not nb.MICRO:  # MicroPython has no CA store and does not verify
    import ssl
    nb.ssl_context = ssl.create_default_context(cafile=P["cafile"])
data = nb.fetch_with_backoff(P["url"], max_retries=0, size=P["size"])
result(show(data))
"""


def test_https_links(https_url, script, impl):
    url, cafile = https_url
    got = script(impl, FETCH_HTTPS, url=url, cafile=cafile, size=len(HTTPS_BODY))
    assert got.result() == hexed(HTTPS_BODY)


def test_https_certificate_is_verified_on_cpython(https_url):
    url, _ = https_url
    with pytest.raises(nb.DownloadError, match="CERTIFICATE_VERIFY_FAILED"):
        nb.fetch_with_backoff(url, max_retries=0, size=len(HTTPS_BODY))

"""Link payloads through both claim-check stores, custom handler callables
and the plik handlers (store.rs)."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import threading
import urllib.request

import pyarrow as pa
import pytest

import natsbridge

from conftest import WAIT
from plik_server import PlikServer

BIG = 1_200_000  # above the default size_threshold of 1,000,000


def big_bytes(size: int = BIG) -> bytes:
    return os.urandom(size)


def test_link_through_the_file_server(bridge, subject, fileserver_url):
    raw = big_bytes()
    with bridge.subscribe(subject) as subscription:
        sent = bridge.send(
            subject, [("large_document", raw, "binary")], fileserver_url=fileserver_url
        )
        received = subscription.next(timeout=WAIT)
    wire = sent["payloads"][0]
    assert (wire["transport"], wire["encoding"]) == ("link", "url")
    assert wire["data"].startswith(fileserver_url + "/")
    assert wire["sha256"] == hashlib.sha256(raw).hexdigest()
    # Any plain HTTP GET reads it back.
    with urllib.request.urlopen(wire["data"], timeout=WAIT) as response:
        assert response.read() == raw
    assert received["payloads"] == [("large_document", raw, "binary")]


def test_link_through_the_object_store_by_default(nats_url, subject, monkeypatch):
    raw = big_bytes()
    sent = natsbridge.smartsend(subject, [("blob", raw, "binary")], nats_url=nats_url)
    wire = sent["payloads"][0]
    assert wire["transport"] == "link"
    assert wire["data"].startswith("nats-object://natsbridge/")
    body = json.dumps(sent).encode()
    # Explicit server, and $NATS_URL when none is given.
    assert natsbridge.smartreceive(body, nats_url=nats_url)["payloads"][0][1] == raw
    monkeypatch.setenv("NATS_URL", nats_url)
    assert natsbridge.smartreceive(body)["payloads"][0][1] == raw
    # Never the envelope's broker_url: a connection is not made where a sender says.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead = f"nats://127.0.0.1:{probe.getsockname()[1]}"
    monkeypatch.setenv("NATS_URL", dead)
    assert sent["broker_url"] != dead
    with pytest.raises(natsbridge.NatsConnectionError):
        natsbridge.smartreceive(body)


def test_a_table_above_the_threshold_goes_by_link(bridge, subject):
    table = pa.table({"x": pa.array(range(200_000), pa.int64())})
    with bridge.subscribe(subject) as subscription:
        sent = bridge.send(subject, [("t", table, "table")])
        received = subscription.next(timeout=WAIT)
    assert sent["payloads"][0]["transport"] == "link"
    assert received["payloads"][0][1].equals(table)


def test_size_threshold_moves_small_payloads_to_the_store(bridge, subject, fileserver_url):
    with bridge.subscribe(subject) as subscription:
        sent = bridge.send(
            subject,
            [("small", b"x" * 100, "binary"), ("tiny", "hi", "text")],
            fileserver_url=fileserver_url,
            size_threshold=50,
        )
        received = subscription.next(timeout=WAIT)
    assert [p["transport"] for p in sent["payloads"]] == ["link", "direct"]
    assert received["payloads"] == [("small", b"x" * 100, "binary"), ("tiny", "hi", "text")]


def test_a_file_path_is_streamed_to_the_store(bridge, subject, fileserver_url, tmp_path):
    raw = big_bytes(3_000_000)
    path = tmp_path / "video.mp4"
    path.write_bytes(raw)
    with bridge.subscribe(subject) as subscription:
        sent = bridge.send(subject, [("clip", path, "video")], fileserver_url=fileserver_url)
        received = subscription.next(timeout=WAIT)
    assert sent["payloads"][0]["transport"] == "link"
    assert sent["payloads"][0]["sha256"] == hashlib.sha256(raw).hexdigest()
    assert received["payloads"] == [("clip", raw, "video")]


class MemoryStore:
    """A claim-check store made of the two original handler callables."""

    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}
        self.uploads: list[tuple] = []
        self.downloads: list[tuple] = []
        self.lock = threading.Lock()

    def upload(self, fileserver_url, dataname, data):
        with self.lock:
            self.uploads.append((fileserver_url, dataname, type(data), len(data)))
            url = f"memory://{len(self.objects)}/{dataname}"
            self.objects[url] = data
        return url

    def download(self, url, max_retries, base_delay, max_delay):
        with self.lock:
            self.downloads.append((url, max_retries, base_delay, max_delay))
            return self.objects[url]


def test_handlers_are_plain_callables_with_the_original_signatures(nats_url, subject):
    store = MemoryStore()
    raw = big_bytes()
    sent = natsbridge.smartsend(
        subject,
        [("doc", raw, "binary"), ("note", "small", "text")],
        nats_url=nats_url,
        fileserver_url="http://files.example",
        fileserver_upload_handler=store.upload,
    )
    assert store.uploads == [("http://files.example", "doc", bytes, BIG)]
    assert sent["payloads"][0]["data"] == "memory://0/doc"
    received = natsbridge.smartreceive(json.dumps(sent), fileserver_download_handler=store.download)
    assert received["payloads"] == [("doc", raw, "binary"), ("note", "small", "text")]
    # The original design's defaults: 5 retries, 100 ms, 5000 ms.
    assert store.downloads == [("memory://0/doc", 5, 100, 5000)]
    natsbridge.smartreceive(
        json.dumps(sent),
        fileserver_download_handler=store.download,
        max_retries=2,
        base_delay=10,
        max_delay=50,
    )
    assert store.downloads[-1] == ("memory://0/doc", 2, 10, 50)


def test_an_upload_handler_without_fileserver_url_gets_none(nats_url, subject):
    store = MemoryStore()
    natsbridge.smartsend(
        subject,
        [("doc", big_bytes(), "binary")],
        nats_url=nats_url,
        fileserver_upload_handler=store.upload,
    )
    assert store.uploads[0][0] is None


def test_a_raising_upload_handler_is_the_cause_and_nothing_is_published(bridge, subject):
    def broken(fileserver_url, dataname, data):
        raise PermissionError("the store said no")

    with bridge.subscribe(subject) as subscription:
        with pytest.raises(natsbridge.HandlerError) as caught:
            bridge.send(
                subject,
                [("doc", big_bytes(), "binary")],
                fileserver_upload_handler=broken,
            )
        with pytest.raises(natsbridge.TimeoutError):
            subscription.next(timeout=0.5)
    error = caught.value
    assert isinstance(error.__cause__, PermissionError)
    assert str(error.__cause__) == "the store said no"
    assert error.dataname == "doc"
    assert "doc" in str(error) and "the store said no" in str(error)


def test_a_raising_download_handler_is_the_cause(nats_url, subject):
    store = MemoryStore()
    sent = natsbridge.smartsend(
        subject,
        [("doc", big_bytes(), "binary")],
        nats_url=nats_url,
        fileserver_upload_handler=store.upload,
    )

    def broken(url, max_retries, base_delay, max_delay):
        raise KeyError(url)

    with pytest.raises(natsbridge.HandlerError) as caught:
        natsbridge.smartreceive(json.dumps(sent), fileserver_download_handler=broken)
    assert isinstance(caught.value.__cause__, KeyError)
    assert caught.value.dataname == "doc"


def test_a_download_handler_returning_other_bytes_fails_integrity(nats_url, subject):
    store = MemoryStore()
    sent = natsbridge.smartsend(
        subject,
        [("doc", big_bytes(), "binary")],
        nats_url=nats_url,
        fileserver_upload_handler=store.upload,
    )
    with pytest.raises(natsbridge.IntegrityError):
        natsbridge.smartreceive(
            json.dumps(sent), fileserver_download_handler=lambda *args: b"\x00" * BIG
        )


def test_handlers_returning_the_wrong_type_say_so(nats_url, subject):
    with pytest.raises(natsbridge.HandlerError) as caught:
        natsbridge.smartsend(
            subject,
            [("doc", big_bytes(), "binary")],
            nats_url=nats_url,
            fileserver_upload_handler=lambda *args: 42,
        )
    assert isinstance(caught.value.__cause__, TypeError)
    assert "URL" in str(caught.value.__cause__)


def test_plik_handlers_upload_natively(nats_url, subject):
    raw = big_bytes()
    with PlikServer() as plik:
        sent = natsbridge.smartsend(
            subject,
            [("doc", raw, "binary")],
            nats_url=nats_url,
            fileserver_url=plik.url,
            fileserver_upload_handler=natsbridge.plik_upload,
        )
        url = sent["payloads"][0]["data"]
        assert url.startswith(plik.url + "/file/") and url.endswith("/doc")
        upload = next(iter(plik.uploads.values()))
        assert upload["ttl"] == 86_400 and upload["oneShot"] is False
        body = json.dumps(sent)
        assert natsbridge.smartreceive(body)["payloads"][0][1] == raw
        assert natsbridge.smartreceive(body)["payloads"][0][1] == raw  # kept for its TTL


def test_plik_oneshot_files_are_gone_after_one_download(nats_url, subject):
    raw = big_bytes()
    with PlikServer() as plik:
        sent = natsbridge.smartsend(
            subject,
            [("doc", raw, "binary")],
            nats_url=nats_url,
            fileserver_url=plik.url,
            fileserver_upload_handler=natsbridge.plik_oneshot_upload,
        )
        assert next(iter(plik.uploads.values()))["oneShot"] is True
        body = json.dumps(sent)
        assert natsbridge.smartreceive(body)["payloads"][0][1] == raw
        with pytest.raises(natsbridge.DownloadError):
            natsbridge.smartreceive(body, max_retries=0)


def test_plik_handlers_can_be_called_directly_and_configured():
    handler = natsbridge.PlikUploadHandler(ttl=3600, token="user-token")
    assert handler.ttl == 3600 and not handler.oneshot
    with PlikServer(token="user-token") as plik:
        url = handler(plik.url, "report.pdf", b"%PDF-1.7")
        with urllib.request.urlopen(url, timeout=WAIT) as response:
            assert response.read() == b"%PDF-1.7"
        assert next(iter(plik.uploads.values()))["ttl"] == 3600
        with pytest.raises(natsbridge.UploadError):
            natsbridge.plik_upload(plik.url, "x", b"no token")


def test_a_plik_handler_needs_the_server_address(nats_url, subject):
    with pytest.raises(natsbridge.InvalidArgumentError, match="fileserver_url"):
        natsbridge.smartsend(
            subject,
            [("doc", b"x", "binary")],
            nats_url=nats_url,
            fileserver_upload_handler=natsbridge.plik_oneshot_upload,
        )


def test_a_bridge_reads_object_store_links_over_its_own_connection(bridge, subject):
    raw = big_bytes()
    sent = bridge.send(subject, [("blob", raw, "binary")])
    assert sent["payloads"][0]["data"].startswith("nats-object://")
    assert bridge.receive(json.dumps(sent).encode())["payloads"] == [("blob", raw, "binary")]

"""What a hostile link URL cannot make the MicroPython client do (issue 16
item 8): smuggle a second HTTP request through CR/LF, reach link-local,
metadata or (in strict mode) private addresses, or download past the cap.
Each runs on the real MicroPython unix port and on CPython."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid

import pytest

import natsbridge_micro as nb
from spec_envelopes import spec_envelope, spec_link, spec_payload

VICTIM = b"a payload another sender published"

FETCH = """
out = {}
for case in P["cases"]:
    args = P["cases"][case]
    out[case] = error_of(nb.fetch_with_backoff, args["url"], 0, 1, 2, None, 3.0,
                         args.get("allow_private", True), args.get("max_size"))
result(out)
"""

RECEIVE = """
out = {}
for case in P["cases"]:
    args = P["cases"][case]
    out[case] = error_of(nb.smartreceive, args["body"], max_retries=0,
                         allow_private_addresses=args.get("allow_private", True),
                         max_payload_limit=args.get("limit"))
result(out)
"""


def _put(url: str, body: bytes) -> None:
    request = urllib.request.Request(url, data=body, method="PUT")
    with urllib.request.urlopen(request, timeout=10):
        pass


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as e:
        return e.code


def test_crlf_in_a_link_cannot_smuggle_a_delete(fileserver_url, script, impl):
    """A link whose path carries CR/LF would end the GET early and send a
    DELETE for another sender's payload on the same connection; it is
    refused before any byte is sent, and the payload stays."""
    victim = f"{fileserver_url}/{uuid.uuid4()}/victim.bin"
    _put(victim, VICTIM)
    victim_path = victim[len(fileserver_url) :]
    smuggling = (
        f"{fileserver_url}/x HTTP/1.1\r\nHost: a\r\n\r\n"
        f"DELETE {victim_path} HTTP/1.1\r\nX-Ignore: "
    )
    body = json.dumps(
        spec_envelope("/s", [spec_link("doc", b"x", "binary", smuggling)])
    )
    # Only arguments the client has always taken, so this shows the DELETE
    # arriving on the code before the fix.
    got = script(
        impl,
        "result([error_of(nb.fetch_with_backoff, P['url'], 0, 1, 2),"
        " error_of(nb.smartreceive, P['envelope'], max_retries=0)])",
        url=smuggling,
        envelope=body,
    ).result()
    assert _status(victim) == 200, "the smuggled DELETE reached the file server"
    assert [e and e[0] for e in got] == ["UrlNotAllowedError", "UrlNotAllowedError"], (
        got
    )


def test_unprintable_urls_and_userinfo_are_refused(fileserver_url, script, impl):
    base = f"{fileserver_url}/{uuid.uuid4()}"
    host = fileserver_url.split("://", 1)[1]
    cases = {
        "lf": {"url": base + "/a\nb"},
        "cr": {"url": base + "/a\rb"},
        "tab": {"url": base + "/a\tb"},
        "nul": {"url": base + "/a\x00b"},
        "space": {"url": base + "/a b"},
        "del": {"url": base + "/a\x7fb"},
        "non-ascii": {"url": base + "/caf\u00e9"},
        "backslash": {"url": base + "\\..\\x"},
        "userinfo": {"url": f"http://user:pw@{host}/x"},
    }
    got = script(impl, FETCH, cases=cases).result()
    for case in cases:
        assert got[case] and got[case][0] == "UrlNotAllowedError", (case, got[case])
    assert "pw" not in got["userinfo"][1]


def test_link_local_and_metadata_addresses_are_refused(fileserver_url, script, impl):
    """Checked on the address getaddrinfo gives, the one connected to:
    0.0.0.0 reaches this machine's loopback on Linux, which is why
    0.0.0.0/8 is refused along with link-local and metadata addresses."""
    port = fileserver_url.rsplit(":", 1)[1]
    cases = {
        "metadata": {"url": "http://169.254.169.254/latest/meta-data/"},
        "alibaba metadata": {"url": "http://100.100.100.200/x"},
        "zero": {"url": f"http://0.0.0.0:{port}/x"},
        "mapped metadata": {"url": "http://[::ffff:169.254.169.254]/x"},
        "nat64 metadata": {"url": "http://[64:ff9b::a9fe:a9fe]/x"},
        "v6 link-local": {"url": "http://[fe80::1]/x"},
    }
    got = script(impl, FETCH, cases=cases).result()
    for case in cases:
        assert got[case] and got[case][0] == "UrlNotAllowedError", (case, got[case])
    assert "this network" in got["zero"][1]


def test_strict_mode_refuses_loopback_and_private(fileserver_url, script, impl):
    document = b"on the local file server" * 10
    url = f"{fileserver_url}/{uuid.uuid4()}/doc"
    _put(url, document)
    local = fileserver_url.replace("127.0.0.1", "localhost")
    body = json.dumps(spec_envelope("/s", [spec_link("doc", document, "binary", url)]))
    cases = {
        "strict literal": {"body": body, "allow_private": False},
        "default": {"body": body},
    }
    got = script(impl, RECEIVE, cases=cases).result()
    assert got["default"] is None, got["default"]
    assert got["strict literal"][0] == "UrlNotAllowedError", got
    assert "public addresses" in got["strict literal"][1]
    cases = {
        "strict name": {
            "url": local + url[len(fileserver_url) :],
            "allow_private": False,
        }
    }
    got = script(impl, FETCH, cases=cases).result()
    assert got["strict name"][0] == "UrlNotAllowedError", got


def test_downloads_are_capped(fileserver_url, script, impl):
    """A link declaring more than max_payload_limit is refused before it is
    fetched; fetch_with_backoff takes the cap as max_size."""
    document = bytes(range(256)) * 40
    url = f"{fileserver_url}/{uuid.uuid4()}/doc"
    _put(url, document)
    body = json.dumps(spec_envelope("/s", [spec_link("doc", document, "binary", url)]))
    got = script(
        impl, RECEIVE, cases={"over": {"body": body, "limit": len(document) - 1}}
    ).result()
    assert got["over"][0] == "PayloadTooLargeError", got
    got = script(
        impl,
        FETCH,
        cases={
            "no size": {"url": url, "max_size": 100},
            "fits": {"url": url, "max_size": len(document)},
        },
    ).result()
    assert got["no size"][0] == "PayloadTooLargeError", got
    assert got["fits"] is None, got


def test_empty_dataname_is_malformed():
    """Spec section 3 (issue 16 item 16), as the core's codec now says."""
    for name in ("", None):
        p = spec_payload("x", b"abc", "binary")
        if name is None:
            del p["dataname"]
        else:
            p["dataname"] = name
        with pytest.raises(nb.MalformedEnvelope, match="dataname"):
            nb.smartreceive(json.dumps(spec_envelope("/s", [p])))

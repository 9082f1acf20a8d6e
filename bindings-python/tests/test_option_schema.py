"""Parity with the option schema (core/src/schema.rs, published as
docs/options.json, read here at run time: a row added to the schema is
checked with no edit of this file).

For every call of the Python API and every option of the schema that applies
to it: the call accepts the option under its snake_case name (exercised
against the test's nats-server), routes it by kind (a value of another kind
is the core's ``InvalidArgumentError`` naming the option), the ``.pyi``
declares it with the schema's default (``None`` for unset and derived
defaults) and unit, and the call's docstring lists it with its default and
unit. The binding accepts no keyword the schema lacks. Options that cannot
apply to a call are listed below, each with its reason.

The ``.pyi``'s option parameters are generated from the schema between
``# options: <call>`` and ``# end options`` lines:
``NB_BLESS=1 python -m pytest tests/test_option_schema.py`` rewrites them.

The drift tests at the end would each have caught one of the drifts of
issue 15 (durations in seconds, ``$NATS_URL`` ignored, ``user`` without
``password``, the ``smartsend`` docstring listing 11 of 16 keywords).
"""

from __future__ import annotations

import asyncio
import inspect
import json
import os
import re
import socket
import threading
import time
import uuid
from pathlib import Path

import pytest

import natsbridge
from natsbridge import _natsbridge

from conftest import WAIT

REPO = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((REPO / "docs" / "options.json").read_text(encoding="utf-8"))
OPTIONS = SCHEMA["options"]
STUB = REPO / "bindings-python" / "python" / "natsbridge" / "_natsbridge.pyi"


def of(scope: str) -> list[dict]:
    return [o for o in OPTIONS if o["scope"] == scope]


def option(scope: str, name: str) -> dict:
    return next(o for o in of(scope) if o["name"] == name)


# Each call: the scopes whose options it takes as **keywords, the options it
# takes as named parameters of its own (positional or keyword), and the
# options of other scopes it also takes as keywords.
CALLS: dict[str, dict] = {
    "smartsend": {"keywords": ["send"], "parameters": [("connect", "nats_url")]},
    "asmartsend": {"keywords": ["send"], "parameters": [("connect", "nats_url")]},
    "smartreceive": {
        "keywords": ["receive"],
        "parameters": [("receive", "fileserver_download_handler")],
        "extra": [("connect", "nats_url")],
    },
    "asmartreceive": {
        "keywords": ["receive"],
        "parameters": [("receive", "fileserver_download_handler")],
        "extra": [("connect", "nats_url")],
    },
    "Bridge.__init__": {"keywords": ["connect"], "parameters": [("connect", "nats_url")]},
    "Bridge.aconnect": {"keywords": ["connect"], "parameters": [("connect", "nats_url")]},
    "Bridge.send": {"keywords": ["send"]},
    "Bridge.asend": {"keywords": ["send"]},
    "Bridge.reply": {"keywords": ["send"]},
    "Bridge.areply": {"keywords": ["send"]},
    # The reply's receive options go in the dict `receive_options`
    # (typed by `_ReceiveOptions` in the stub).
    "Bridge.request": {"keywords": ["send"], "dict": "receive"},
    "Bridge.arequest": {"keywords": ["send"], "dict": "receive"},
    "Bridge.receive": {"keywords": ["receive"]},
    "Bridge.subscribe": {
        "keywords": ["receive"],
        "parameters": [("subscribe", "queue"), ("subscribe", "concurrent_receives")],
    },
    "Bridge.asubscribe": {
        "keywords": ["receive"],
        "parameters": [("subscribe", "queue"), ("subscribe", "concurrent_receives")],
    },
    "Bridge.durable_subscribe": {
        "keywords": ["receive"],
        "parameters": [
            ("consume", "stream"),
            ("consume", "durable"),
            ("consume", "deliver"),
            ("consume", "ack_wait"),
            ("consume", "max_deliver"),
        ],
        # consume's filter_subject is the positional `subject` argument.
    },
    "Bridge.adurable_subscribe": {
        "keywords": ["receive"],
        "parameters": [
            ("consume", "stream"),
            ("consume", "durable"),
            ("consume", "deliver"),
            ("consume", "ack_wait"),
            ("consume", "max_deliver"),
        ],
    },
    "_ReceiveOptions": {"keywords": ["receive"]},
}

# Options of a scope that a call of that scope's kind does not take, and why.
NOT_APPLICABLE = {
    ("smartsend", "connect"): "the pooled connection is shared by every call to its URL; "
    "per-connection options (credentials, TLS, timeouts) need a Bridge(...)",
    ("asmartsend", "connect"): "as smartsend",
    ("smartreceive", "connect"): "as smartsend",
    ("asmartreceive", "connect"): "as smartsend",
}

# Where each scope's options are documented one per line (with default and
# unit); the other calls say "keywords as for ...".
HOME_DOC = {
    "send": "smartsend",
    "receive": "smartreceive",
    "connect": "Bridge",
    "subscribe": "Bridge.subscribe",
    "consume": "Bridge.durable_subscribe",
}

# Python types of the schema's kinds, for the stub.
KIND_TYPE = {
    "bool": "bool",
    "count": "int",
    "bytes": "int",
    "milliseconds": "int",
    "string": "str",
    "secret": "str",
    "url": "str",
    "path": "str | os.PathLike[str]",
    "strings": "str | Sequence[str]",
    "token_map": "Mapping[str, str] | Sequence[tuple[str, str]]",
    "object": "Mapping[str, Any]",
}
CALLBACK_TYPE = {
    "fileserver_upload_handler": "UploadHandler | PlikUploadHandler",
    "fileserver_download_handler": "DownloadHandler",
}


def py_type(o: dict) -> str:
    if o["kind"] == "callback":
        return CALLBACK_TYPE.get(o["name"], "Callable[..., Any]")
    return KIND_TYPE[o["kind"]]


def fixed_default(o: dict) -> bool:
    return o["default"] is not None and not isinstance(o["default"], dict)


def py_default(o: dict) -> str:
    """The default as Python source: the schema's value, or None."""
    if not fixed_default(o):
        return "None"
    if isinstance(o["default"], str):
        return json.dumps(o["default"])  # as ruff formats a str
    return repr(o["default"])


def keyword_options(call: str) -> list[dict]:
    """The options `call` takes as keywords (in **options)."""
    spec = CALLS[call]
    own = {name for _, name in spec.get("parameters", [])}
    found = [option(scope, name) for scope, name in spec.get("extra", [])]
    for scope in spec["keywords"]:
        found += [o for o in of(scope) if o["name"] not in own]
    return found


def stub_lines(call: str, indent: str) -> list[str]:
    """The generated option lines of `call` in the stub."""
    lines = []
    for o in keyword_options(call):
        kind_type = py_type(o)
        unit = f"  # {o['unit']}" if o["unit"] else ""
        if call == "_ReceiveOptions":  # a TypedDict: no defaults in the syntax
            default = py_default(o) if fixed_default(o) else "derived"
            default = "unset" if o["default"] is None else default
            unit = f", {o['unit']}" if o["unit"] else ""
            lines.append(f"{indent}{o['name']}: {kind_type}  # default {default}{unit}")
        elif fixed_default(o):
            lines.append(f"{indent}{o['name']}: {kind_type} = {py_default(o)},{unit}")
        else:
            lines.append(f"{indent}{o['name']}: {kind_type} | None = None,{unit}")
    return lines


MARKER = re.compile(r"^(\s*)# options: (\S+)\s*$")


def generated_stub(text: str) -> str:
    """`text` with every `# options: <call>` region regenerated."""
    out: list[str] = []
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        line = lines[index]
        out.append(line)
        index += 1
        found = MARKER.match(line)
        if not found:
            continue
        indent, call = found.groups()
        assert call in CALLS, f"stub marker for an unknown call {call}"
        out += stub_lines(call, indent)
        while index < len(lines) and lines[index].strip() != "# end options":
            index += 1
        assert index < len(lines), f"no '# end options' after '# options: {call}'"
    return "\n".join(out) + "\n"


def test_the_stub_is_generated_from_the_schema():
    text = STUB.read_text(encoding="utf-8")
    expected = generated_stub(text)
    if os.environ.get("NB_BLESS"):
        STUB.write_text(expected, encoding="utf-8")
        return
    assert text == expected, (
        "the option parameters of _natsbridge.pyi differ from docs/options.json: run "
        "`NB_BLESS=1 python -m pytest tests/test_option_schema.py` in bindings-python"
    )
    regions = {m.group(2) for m in map(MARKER.match, text.splitlines()) if m}
    assert regions == set(CALLS), "every call has its generated region"


# ---------------------------------------------------------------- the stub, read back


def stub_function(call: str):
    import ast

    tree = ast.parse(STUB.read_text(encoding="utf-8"))
    scope = tree.body
    *owner, name = call.split(".")
    if owner:
        scope = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == owner[0])
        scope = scope.body
    return next(
        n for n in scope if isinstance(n, (ast.FunctionDef, ast.ClassDef)) and n.name == name
    )


@pytest.mark.parametrize("call", [c for c in CALLS if c != "_ReceiveOptions"])
def test_the_stub_declares_each_option_with_its_default(call):
    import ast

    fn = stub_function(call)
    args = fn.args
    kwonly = {a.arg: d for a, d in zip(args.kwonlyargs, args.kw_defaults)}
    positional = dict(
        zip(
            [a.arg for a in args.args][-len(args.defaults) :] if args.defaults else [],
            args.defaults,
        )
    )
    declared = {**positional, **kwonly}
    expected = keyword_options(call) + [
        option(scope, name) for scope, name in CALLS[call].get("parameters", [])
    ]
    for o in expected:
        assert o["name"] in declared, f"{call}: the stub lacks {o['name']}"
        default = declared[o["name"]]
        assert default is not None, f"{call}: {o['name']} has no default in the stub"
        assert ast.literal_eval(default) == (o["default"] if fixed_default(o) else None), (
            f"{call}: {o['name']}"
        )
    # Keyword-only parameters of the stub are options of the schema, nothing else.
    names = {o["name"] for o in expected}
    assert sorted(set(kwonly) - names) == [], f"{call}: keywords the schema lacks"


def test_the_stub_states_each_unit():
    text = STUB.read_text(encoding="utf-8")
    for o in OPTIONS:
        if not o["unit"]:
            continue
        lines = [line for line in text.splitlines() if re.match(rf"\s*{o['name']}:", line)]
        assert lines, o["name"]
        for line in lines:
            assert line.rstrip().endswith(o["unit"]), line


# ---------------------------------------------------------------- docstrings


def runtime_object(call: str):
    obj = _natsbridge
    for part in call.split("."):
        obj = getattr(obj, part)
    return obj


def doc_default(o: dict) -> str:
    if not fixed_default(o):
        return "unset" if o["default"] is None else o["default"]["derived"]
    return "''" if o["default"] == "" else repr(o["default"])


@pytest.mark.parametrize("scope", sorted(HOME_DOC))
def test_each_option_is_documented_with_its_default_and_unit(scope):
    doc = runtime_object(HOME_DOC[scope]).__doc__ or ""
    for o in of(scope):
        if scope == "connect" and o["name"] == "nats_url":
            assert "$NATS_URL" in doc and "nats://localhost:4222" in doc
            continue
        lines = [line for line in doc.splitlines() if f"`{o['name']}`" in line]
        assert lines, f"{HOME_DOC[scope]}.__doc__ does not list {o['name']}"
        head = lines[0].split("):")[0]
        assert f"default {doc_default(o)}" in head, f"{o['name']}: {lines[0]}"
        if o["unit"]:
            assert o["unit"] in head, f"{o['name']}: {lines[0]}"


def test_timeout_arguments_state_their_unit():
    # Not options: call arguments in seconds, as before.
    for call in ("Bridge.request", "Subscription.next"):
        assert "seconds" in runtime_object(call).__doc__, call


# ---------------------------------------------------------------- acceptance


def sample(o: dict, tmp_path: Path, token: str):
    """A valid value of the option's kind (no knowledge of particular
    options: a new row gets one too)."""
    return {
        "bool": True,
        "count": 1000,
        "bytes": 1_000_000,
        "milliseconds": 5000,
        "string": f"parity-{o['name']}-{token}",
        "secret": "secret",
        "url": "http://127.0.0.1:1",
        "path": tmp_path,
        "strings": ["http://127.0.0.1:1"],
        "token_map": {"http://127.0.0.1:1": "t"},
        "object": {"parity": o["name"]},
        "callback": lambda *args: b"",
    }[o["kind"]]


def wrong(o: dict):
    """A value of another kind."""
    return 1 if o["kind"] == "bool" else True


def samples(call: str, tmp_path: Path, skip=()) -> dict:
    token = uuid.uuid4().hex
    return {
        o["name"]: sample(o, tmp_path, token)
        for o in keyword_options(call)
        if o["name"] not in skip and o["scope"] != "connect"
    }


@pytest.fixture
def stream_subject(bridge, subject):
    """A subject a JetStream stream captures (for `jetstream=True`)."""
    bridge.ensure_stream("PARITY_" + uuid.uuid4().hex[:12].upper(), [subject + ".>"])
    return subject + ".parity"


def data():
    return [("m", "hello", "text")]


def responder(bridge, subject):
    subscription = bridge.subscribe(subject)

    def run():
        request = subscription.next(timeout=WAIT)
        if request is not None:
            bridge.reply(request, [("answer", "pong", "text")])
        subscription.unsubscribe()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def run(function, *args, **kwargs):
    """Awaits `function(*args, **kwargs)` on a new event loop."""

    async def main():
        return await function(*args, **kwargs)

    return asyncio.run(main())


def check_sent(sent: dict, given: dict, taken=()):
    """The envelope as sent shows each header option given (but those in
    `taken`, which the call sets itself)."""
    for name, value in given.items():
        if name in sent and name not in taken and isinstance(value, (str, dict)):
            assert sent[name] == value, name
    if given.get("direct_sha256"):
        assert all(p.get("sha256") for p in sent["payloads"]), sent["payloads"]


# Options a request does not take a sample value of: its answer comes back
# to its inbox (`reply_to` would send it elsewhere), and a request is not a
# JetStream publish. (The routing test below still passes each to it.)
REQUEST_SKIP = ("reply_to", "jetstream")
# What a reply sets itself from the request (wire-v1 section 6).
REPLY_TAKES = ("reply_to_msg_id", "correlation_id")


def test_send_calls_take_every_send_option(bridge, nats_url, stream_subject, tmp_path):
    given = samples("smartsend", tmp_path)
    check_sent(natsbridge.smartsend(stream_subject, data(), nats_url, **given), given)
    given = samples("Bridge.send", tmp_path)
    check_sent(bridge.send(stream_subject, data(), **given), given)

    async def run():
        given = samples("asmartsend", tmp_path)
        check_sent(await natsbridge.asmartsend(stream_subject, data(), nats_url, **given), given)
        given = samples("Bridge.asend", tmp_path)
        check_sent(await bridge.asend(stream_subject, data(), **given), given)

    asyncio.run(run())


def test_request_and_reply_take_every_send_option(bridge, subject, stream_subject, tmp_path):
    for call in ("request", "arequest"):
        thread = responder(bridge, subject)
        given = samples(f"Bridge.{call}", tmp_path, skip=REQUEST_SKIP)
        receive = samples("_ReceiveOptions", tmp_path)
        if call == "request":
            answer = bridge.request(subject, data(), timeout=WAIT, receive_options=receive, **given)
        else:
            answer = run(
                bridge.arequest, subject, data(), timeout=WAIT, receive_options=receive, **given
            )
        thread.join(WAIT)
        assert answer["payloads"] == [("answer", "pong", "text")]
    # The answer goes to a subject a stream captures (for jetstream=True).
    with bridge.subscribe(subject) as requests:
        bridge.send(subject, data(), reply_to=stream_subject)
        request = requests.next(timeout=WAIT)
    given = samples("Bridge.reply", tmp_path)
    check_sent(bridge.reply(request, data(), **given), given, REPLY_TAKES)
    given = samples("Bridge.areply", tmp_path)
    check_sent(run(bridge.areply, request, data(), **given), given, REPLY_TAKES)


def test_receive_calls_take_every_receive_option(bridge, nats_url, subject, tmp_path):
    sent = bridge.send(subject, data())
    body = json.dumps(sent)
    expect = [("m", "hello", "text")]
    given = samples("smartreceive", tmp_path)
    handler = given.pop("fileserver_download_handler", None)
    assert natsbridge.smartreceive(body, handler, **given)["payloads"] == expect
    given = samples("Bridge.receive", tmp_path)
    assert bridge.receive(body, **given)["payloads"] == expect

    async def run():
        given = samples("asmartreceive", tmp_path)
        handler = given.pop("fileserver_download_handler", None)
        assert (await natsbridge.asmartreceive(body, handler, **given))["payloads"] == expect

    asyncio.run(run())


def test_subscribe_takes_every_receive_and_subscribe_option(bridge, subject, tmp_path):
    queue = option("subscribe", "queue")
    concurrent = option("subscribe", "concurrent_receives")
    given = samples("Bridge.subscribe", tmp_path)
    with bridge.subscribe(
        subject, queue=sample(queue, tmp_path, "q"), concurrent_receives=2, **given
    ) as subscription:
        bridge.send(subject, data())
        assert subscription.next(timeout=WAIT)["payloads"] == [("m", "hello", "text")]

    async def run():
        given = samples("Bridge.asubscribe", tmp_path)
        subscription = await bridge.asubscribe(
            subject + ".a", sample(queue, tmp_path, "q"), sample(concurrent, tmp_path, ""), **given
        )
        bridge.send(subject + ".a", data())
        got = await asyncio.wait_for(subscription.__anext__(), WAIT)
        subscription.unsubscribe()
        return got

    assert asyncio.run(run())["payloads"] == [("m", "hello", "text")]


# Connect options the test's plain nats-server (no auth, no TLS) cannot
# accept with a sample value; the wrong-kind test below shows each is routed
# to the core, and the drift tests check the pairs.
CONNECT_NEEDS_A_CONFIGURED_SERVER = {
    "token": "the server has no auth configured",
    "user": "the server has no auth configured",
    "password": "the server has no auth configured",
    "credentials_file": "needs a .creds file the server trusts",
    "nkey": "needs an nkey the server trusts",
    "tls_ca_file": "the server speaks plain TCP",
    "tls_client_cert": "the server speaks plain TCP",
    "tls_client_key": "the server speaks plain TCP",
    "require_tls": "the server speaks plain TCP (see test_require_tls_is_applied)",
}


def connect_samples(tmp_path: Path) -> dict:
    return {
        o["name"]: sample(o, tmp_path, "c")
        for o in keyword_options("Bridge.__init__")
        if o["name"] not in CONNECT_NEEDS_A_CONFIGURED_SERVER
    }


def test_bridge_takes_every_connect_option(nats_url, tmp_path):
    given = connect_samples(tmp_path)
    with natsbridge.Bridge(nats_url, **given) as bridge:
        assert bridge.broker_url == nats_url

    async def run():
        bridge = await natsbridge.Bridge.aconnect(nats_url, **given)
        await bridge.aclose()

    asyncio.run(run())


def test_require_tls_is_applied(nats_url):
    with pytest.raises(natsbridge.NatsBridgeError):
        natsbridge.Bridge(nats_url, require_tls=True, connect_timeout=2000)


def call_with(call: str, bridge, subject: str, **options):
    """Calls `call` with `options` (keywords, or the receive dict)."""
    body = json.dumps({"version": 1})  # never decoded: options are read first
    options.setdefault("nats_url", "nats://127.0.0.1:1")  # never connected to
    if call == "smartsend":
        return natsbridge.smartsend(subject, data(), **options)
    if call == "asmartsend":
        return natsbridge.asmartsend(subject, data(), **options)
    if call == "smartreceive":
        return natsbridge.smartreceive(body, **options)
    if call == "asmartreceive":
        return natsbridge.asmartreceive(body, **options)
    if call == "Bridge.__init__":
        return natsbridge.Bridge(**options)
    if call == "Bridge.aconnect":
        return natsbridge.Bridge.aconnect(**options)
    del options["nats_url"]  # a connect option of the calls above only
    if call in ("Bridge.reply", "Bridge.areply"):
        request = {"send_to": subject, "reply_to": subject, "msg_id": "x"}
        return getattr(bridge, call.split(".")[1])(request, data(), **options)
    if call == "Bridge.receive":
        return bridge.receive(body, **options)
    if call in (
        "Bridge.subscribe",
        "Bridge.asubscribe",
        "Bridge.durable_subscribe",
        "Bridge.adurable_subscribe",
    ):
        return getattr(bridge, call.split(".")[1])(subject, **options)
    if call == "_ReceiveOptions":
        return bridge.request(subject, data(), timeout=0.01, receive_options=options)
    return getattr(bridge, call.split(".")[1])(subject, data(), **options)


CHECKED_CALLS = list(CALLS)


@pytest.mark.parametrize("call", CHECKED_CALLS)
def test_each_option_is_routed_by_its_kind(bridge, subject, call):
    """A value of another kind is the core's InvalidArgumentError naming the
    option: the call took the keyword as that option, before any I/O."""
    options = keyword_options(call) + [
        option(scope, name) for scope, name in CALLS[call].get("parameters", [])
    ]
    for o in options:
        with pytest.raises(natsbridge.InvalidArgumentError) as caught:
            call_with(call, bridge, subject, **{o["name"]: wrong(o)})
        assert o["name"] in str(caught.value), (call, o["name"], str(caught.value))


@pytest.mark.parametrize("call", CHECKED_CALLS)
def test_keywords_the_schema_lacks_are_type_errors(bridge, subject, call):
    if call == "_ReceiveOptions":
        names = ["retries", "baseDelay"]
    else:
        names = ["size_treshold", "fileserverUrl", "download_timeout_ms"]
    for name in names:
        with pytest.raises(TypeError, match=f"unexpected keyword argument '{name}'"):
            call_with(call, bridge, subject, **{name: 1})


def test_the_binding_has_no_parameter_the_schema_lacks():
    """Named parameters of the extension are options of the schema or one of
    these call arguments (listed here, with what they are)."""
    arguments = {
        "subject": "the subject",
        "data": "the payloads",
        "msg": "the received message",
        "request": "the envelope being answered",
        "timeout": "a wait in seconds (request), not an option",
        "receive_options": "the reply's receive options as a dict",
        "options": "the **keywords, checked against the schema by name",
    }
    names = {o["name"] for o in OPTIONS}
    for call in CALLS:
        if call == "_ReceiveOptions":
            continue
        obj = natsbridge.Bridge if call == "Bridge.__init__" else runtime_object(call)
        for parameter in inspect.signature(obj).parameters:
            if parameter in ("self", "$self", "cls"):
                continue
            assert parameter in names or parameter in arguments, f"{call}: {parameter}"


def test_none_is_the_default(bridge, subject):
    sent = bridge.send(subject, data(), msg_purpose=None, size_threshold=None, metadata=None)
    assert sent["msg_purpose"] == option("send", "msg_purpose")["default"]


def test_values_are_checked_strictly(bridge, subject):
    body = json.dumps(bridge.send(subject, data()))
    for bad in (1.5, -1, "5", True):
        with pytest.raises(natsbridge.InvalidArgumentError, match="base_delay"):
            bridge.receive(body, base_delay=bad)
    with pytest.raises(natsbridge.InvalidArgumentError, match="direct_sha256"):
        bridge.send(subject, data(), direct_sha256=1)
    with pytest.raises(natsbridge.InvalidArgumentError, match="allowed_origins"):
        bridge.receive(body, allowed_origins={"http://a"})
    # One string, a tuple, a list of pairs: the forms each kind also takes.
    assert bridge.receive(body, allowed_origins="http://127.0.0.1:1")["payloads"]
    assert bridge.receive(body, allowed_origins=("http://127.0.0.1:1",))["payloads"]
    assert bridge.receive(body, store_tokens=[("http://127.0.0.1:1", "t")])["payloads"]
    assert bridge.receive(body, save_dir=str(Path.cwd()))["payloads"]


# ---------------------------------------------------------------- drift tests


class Silent:
    """A TCP server that accepts connections and never answers."""

    def __enter__(self) -> str:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.conns: list[socket.socket] = []
        self.stop = False
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()
        return f"127.0.0.1:{self.sock.getsockname()[1]}"

    def _accept(self):
        self.sock.settimeout(0.1)
        while not self.stop:
            try:
                self.conns.append(self.sock.accept()[0])
            except OSError:
                continue

    def __exit__(self, *exc):
        self.stop = True
        self.thread.join(5)
        for conn in self.conns:
            conn.close()
        self.sock.close()


def test_download_timeout_is_milliseconds(bridge, subject):
    # Was seconds: 300 would have waited five minutes.
    with Silent() as address:
        url = f"http://{address}/never"
        sent = bridge.send(
            subject,
            [("blob", b"x" * 64, "binary")],
            size_threshold=1,
            fileserver_upload_handler=lambda _url, _name, _data: url,
        )
        assert sent["payloads"][0]["transport"] == "link"
        started = time.monotonic()
        with pytest.raises(natsbridge.NatsBridgeError):
            bridge.receive(json.dumps(sent), download_timeout=300, max_retries=0)
        assert time.monotonic() - started < 3


def test_connect_timeout_is_milliseconds():
    # Was seconds. A server that never sends INFO: the connect times out.
    with Silent() as address:
        started = time.monotonic()
        with pytest.raises(natsbridge.NatsBridgeError):
            natsbridge.Bridge(f"nats://{address}", connect_timeout=300)
        assert time.monotonic() - started < 3


def test_nats_url_comes_from_the_environment(monkeypatch, nats_url, subject):
    monkeypatch.setenv("NATS_URL", nats_url)
    with natsbridge.Bridge() as bridge, bridge.subscribe(subject) as subscription:
        assert bridge.broker_url == nats_url
        natsbridge.smartsend(subject, data())
        assert subscription.next(timeout=WAIT)["payloads"] == [("m", "hello", "text")]
    # And it is really read: a dead $NATS_URL is a connection error naming it.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead = f"nats://127.0.0.1:{probe.getsockname()[1]}"
    monkeypatch.setenv("NATS_URL", dead)
    with pytest.raises(natsbridge.NatsConnectionError, match=dead.split("//")[1]):
        natsbridge.Bridge(connect_timeout=2000)


def test_options_that_go_together(nats_url):
    for alone in ({"user": "alice"}, {"password": "pw"}):
        with pytest.raises(natsbridge.InvalidArgumentError, match="go together"):
            natsbridge.Bridge(nats_url, **alone)
    with pytest.raises(natsbridge.InvalidArgumentError, match="go together"):
        natsbridge.Bridge(nats_url, tls_client_cert="cert.pem")


def test_smartsend_documents_every_keyword_it_takes():
    # It listed 11 of the 16 keywords.
    doc = natsbridge.smartsend.__doc__
    for o in of("send"):
        assert f"`{o['name']}`" in doc, o["name"]

"""Type stubs of natsbridge's native module (bindings-python/src)."""

from __future__ import annotations

import builtins
import datetime
import os
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from typing import Any, Literal, Protocol, TypedDict

__version__: str
__all__: list[str]
ERROR_KINDS: list[str]
"""The core's error kinds (CamelCase), in table order; each has a class
``<kind>Error``, or ``Nats<kind>Error`` where ``<kind>Error`` is a built-in."""
ERROR_CLASSES: dict[str, type[NatsBridgeError]]
"""The exception class of each kind of ``ERROR_KINDS``."""

PayloadType = Literal["text", "dictionary", "table", "image", "audio", "video", "binary"]

class _ArrowStream(Protocol):
    def __arrow_c_stream__(self, requested_schema: object | None = ...) -> object: ...

class _ArrowArray(Protocol):
    def __arrow_c_array__(self, requested_schema: object | None = ...) -> tuple[object, object]: ...

BytesLike = bytes | bytearray | memoryview
JsonValue = dict[str, Any] | list[Any] | tuple[Any, ...] | str | int | float | bool | None
TableInput = (
    _ArrowStream  # pyarrow Table / RecordBatchReader, polars DataFrame, natsbridge.Table, ...
    | _ArrowArray  # pyarrow RecordBatch
    | Mapping[str, list[Any]]  # columns
    | list[Mapping[str, Any]]  # rows
    | BytesLike  # Arrow IPC stream
    | os.PathLike[str]  # a file holding an Arrow IPC stream
    | Any  # pandas DataFrame
)
PayloadValue = str | JsonValue | TableInput | BytesLike | os.PathLike[str]
SendPayload = (
    tuple[str, PayloadValue, str]
    | tuple[str, PayloadValue, str, Mapping[str, Any]]  # with the payload's metadata
)
ReceivedPayload = tuple[str, Any, str]
"""(dataname, value, type): str for text, the JSON value for dictionary, a
pyarrow.Table (natsbridge.Table without pyarrow) for table, bytes for the
binary-like and unknown types, a pathlib.Path with ``save_dir``."""

UploadHandler = Callable[[str | None, str, bytes], str | Mapping[str, Any]]
"""(fileserver_url, dataname, data) -> the URL receivers fetch."""
DownloadHandler = Callable[[str, int, int, int], BytesLike]
"""(url, max_retries, base_delay_ms, max_delay_ms) -> the payload's bytes."""

Message = bytes | bytearray | memoryview | str | Any
"""A message body, or an object with ``.data`` (a nats-py Msg)."""

# ---------------------------------------------------------------- errors

class NatsBridgeError(Exception):
    """Base class of every natsbridge error."""

    kind: str | None
    """The core's error kind, CamelCase (``"Integrity"``)."""
    code: str | None
    """Stable upper-snake-case code (``"INTEGRITY"``), as Node's err.code."""
    c_code: int
    """The C ABI's number for the kind."""
    transient: bool
    """True when trying again later may succeed (network, stores, timeouts)."""
    message: str
    """The message without its chain of causes."""
    dataname: str | None
    """The payload the error concerns, if any."""

class InvalidArgumentError(NatsBridgeError, ValueError): ...
class UnknownTypeError(NatsBridgeError, ValueError): ...
class SerializationError(NatsBridgeError): ...
class MalformedEnvelopeError(NatsBridgeError): ...
class UnsupportedVersionError(NatsBridgeError): ...
class InvalidBase64Error(NatsBridgeError): ...
class IntegrityError(NatsBridgeError): ...
class InvalidUtf8Error(NatsBridgeError): ...
class InvalidJsonError(NatsBridgeError): ...
class InvalidTableError(NatsBridgeError): ...
class PayloadTooLargeError(NatsBridgeError): ...
class NatsConnectionError(NatsBridgeError, builtins.ConnectionError): ...

ConnectionError = NatsConnectionError
"""Alias of ``NatsConnectionError``, kept for old code; not in ``__all__``
(so ``from natsbridge import *`` leaves the built-in alone)."""

class AuthError(NatsBridgeError): ...
class PublishError(NatsBridgeError): ...
class NatsTimeoutError(NatsBridgeError, builtins.TimeoutError): ...

TimeoutError = NatsTimeoutError
"""Alias of ``NatsTimeoutError``, kept for old code; not in ``__all__``."""

class NoRespondersError(NatsBridgeError): ...
class JetStreamError(NatsBridgeError): ...
class UrlNotAllowedError(NatsBridgeError): ...
class DownloadError(NatsBridgeError): ...
class UploadError(NatsBridgeError): ...

class HandlerError(NatsBridgeError):
    """A handler callable failed; its exception is ``__cause__``."""

class IoError(NatsBridgeError): ...
class ClosedError(NatsBridgeError): ...

class InternalError(NatsBridgeError):
    """A bug inside natsbridge (a panicked task, a broken invariant); please report it."""

# ---------------------------------------------------------------- values

class ReceivedEnvelope(dict[str, Any]):
    """A received envelope: the envelope's fields, ``"payloads"`` a list of
    (dataname, value, type) tuples. (A pure-Python class, ``natsbridge/_envelope.py``,
    that the extension exports and instantiates.)"""

    def __init__(
        self,
        *args: Any,
        subject: str | None = None,
        nats_reply: str | None = None,
        **kwargs: Any,
    ) -> None: ...
    @property
    def subject(self) -> str | None:
        """The NATS subject the message arrived on, if known."""
    @property
    def nats_reply(self) -> str | None:
        """The NATS reply subject of the message (a request's inbox), if any."""

class Table:
    """A received table when pyarrow is not installed (Arrow PyCapsule protocol)."""

    @staticmethod
    def from_ipc(data: BytesLike) -> Table: ...
    @property
    def num_rows(self) -> int: ...
    @property
    def num_columns(self) -> int: ...
    @property
    def column_names(self) -> list[str]: ...
    @property
    def schema(self) -> str: ...
    def to_pylist(self) -> list[dict[str, Any]]: ...
    def to_pydict(self) -> dict[str, list[Any]]: ...
    def to_ipc(self) -> bytes: ...
    def to_pyarrow(self) -> Any:
        """A pyarrow.Table (needs pyarrow)."""
    def __arrow_c_stream__(self, requested_schema: object | None = None) -> object: ...
    def __arrow_c_schema__(self) -> object: ...
    def __len__(self) -> int: ...

class PlikUploadHandler:
    """An upload handler for a plik server (native, streaming)."""

    def __init__(
        self, ttl: float = 86_400.0, token: str | None = None, oneshot: bool = False
    ) -> None: ...
    def __call__(self, fileserver_url: str, dataname: str, data: BytesLike) -> str: ...
    @property
    def ttl(self) -> float: ...
    @property
    def oneshot(self) -> bool: ...

plik_upload: PlikUploadHandler
"""Uploads to plik, files kept for a day."""
plik_oneshot_upload: PlikUploadHandler
"""The original design's default: plik deletes the file after its first download."""

# ---------------------------------------------------------------- functions
#
# Option parameters come from the option schema (docs/options.json, docs/options.md):
# the lines between "# options: <call>" and "# end options" are generated by
# tests/test_option_schema.py (NB_BLESS=1 rewrites them). Durations are whole
# milliseconds and sizes bytes; None means the default (the core's).

class _ReceiveOptions(TypedDict, total=False):
    """Receive options as a dict (``Bridge.request(..., receive_options=...)``);
    what each does: ``help(natsbridge.smartreceive)``."""

    # options: _ReceiveOptions
    max_retries: int  # default 5
    base_delay: int  # default 100, ms
    max_delay: int  # default 5000, ms
    download_timeout: int  # default 30000, ms
    download_connect_timeout: int  # default 5000, ms
    envelope_timeout: int  # default 60000, ms
    max_download_size: int  # default 1073741824, bytes
    max_envelope_download_size: int  # default derived, bytes
    max_link_payloads: int  # default 256
    max_concurrent_downloads: int  # default 4
    max_table_rows: int  # default 16777216
    allowed_origins: str | Sequence[str]  # default unset
    allow_private_addresses: bool  # default True
    store_tokens: Mapping[str, str] | Sequence[tuple[str, str]]  # default unset
    save_dir: str | os.PathLike[str]  # default unset
    proxy: str  # default unset
    handler_timeout: int  # default derived, ms
    fileserver_download_handler: DownloadHandler  # default unset
    # end options

def smartsend(
    subject: str,
    data: Iterable[SendPayload],
    nats_url: str | None = None,
    *,
    # options: smartsend
    size_threshold: int = 1000000,  # bytes
    correlation_id: str | None = None,
    msg_id: str | None = None,
    msg_purpose: str = "chat",
    sender_name: str = "NATSBridge",
    sender_id: str | None = None,
    receiver_name: str = "",
    receiver_id: str = "",
    reply_to: str = "",
    reply_to_msg_id: str = "",
    metadata: Mapping[str, Any] | None = None,
    jetstream: bool = False,
    direct_sha256: bool = False,
    fileserver_url: str | None = None,
    fileserver_token: str | None = None,
    fileserver_upload_handler: UploadHandler | PlikUploadHandler | None = None,
    # end options
) -> dict[str, Any]:
    """Sends (dataname, data, type) payloads as one envelope on ``subject``
    over a pooled connection to ``nats_url`` (default ``$NATS_URL``, else
    ``nats://localhost:4222``); returns the envelope as sent. Every keyword,
    its default and unit: ``help(natsbridge.smartsend)`` or docs/options.md."""

def asmartsend(
    subject: str,
    data: Iterable[SendPayload],
    nats_url: str | None = None,
    *,
    # options: asmartsend
    size_threshold: int = 1000000,  # bytes
    correlation_id: str | None = None,
    msg_id: str | None = None,
    msg_purpose: str = "chat",
    sender_name: str = "NATSBridge",
    sender_id: str | None = None,
    receiver_name: str = "",
    receiver_id: str = "",
    reply_to: str = "",
    reply_to_msg_id: str = "",
    metadata: Mapping[str, Any] | None = None,
    jetstream: bool = False,
    direct_sha256: bool = False,
    fileserver_url: str | None = None,
    fileserver_token: str | None = None,
    fileserver_upload_handler: UploadHandler | PlikUploadHandler | None = None,
    # end options
) -> Awaitable[dict[str, Any]]:
    """``smartsend`` as an awaitable."""

def smartreceive(
    msg: Message,
    fileserver_download_handler: DownloadHandler | None = None,
    *,
    # options: smartreceive
    nats_url: str | None = None,
    max_retries: int = 5,
    base_delay: int = 100,  # ms
    max_delay: int = 5000,  # ms
    download_timeout: int = 30000,  # ms
    download_connect_timeout: int = 5000,  # ms
    envelope_timeout: int = 60000,  # ms
    max_download_size: int = 1073741824,  # bytes
    max_envelope_download_size: int | None = None,  # bytes
    max_link_payloads: int = 256,
    max_concurrent_downloads: int = 4,
    max_table_rows: int = 16777216,
    allowed_origins: str | Sequence[str] | None = None,
    allow_private_addresses: bool = True,
    store_tokens: Mapping[str, str] | Sequence[tuple[str, str]] | None = None,
    save_dir: str | os.PathLike[str] | None = None,
    proxy: str | None = None,
    handler_timeout: int | None = None,  # ms
    # end options
) -> ReceivedEnvelope:
    """Decodes a message; link payloads are downloaded (``nats-object://`` ones
    over the pooled connection to ``nats_url``, default ``$NATS_URL``, else
    ``nats://localhost:4222``; never the envelope's broker_url). Every
    keyword, its default and unit: ``help(natsbridge.smartreceive)``."""

def asmartreceive(
    msg: Message,
    fileserver_download_handler: DownloadHandler | None = None,
    *,
    # options: asmartreceive
    nats_url: str | None = None,
    max_retries: int = 5,
    base_delay: int = 100,  # ms
    max_delay: int = 5000,  # ms
    download_timeout: int = 30000,  # ms
    download_connect_timeout: int = 5000,  # ms
    envelope_timeout: int = 60000,  # ms
    max_download_size: int = 1073741824,  # bytes
    max_envelope_download_size: int | None = None,  # bytes
    max_link_payloads: int = 256,
    max_concurrent_downloads: int = 4,
    max_table_rows: int = 16777216,
    allowed_origins: str | Sequence[str] | None = None,
    allow_private_addresses: bool = True,
    store_tokens: Mapping[str, str] | Sequence[tuple[str, str]] | None = None,
    save_dir: str | os.PathLike[str] | None = None,
    proxy: str | None = None,
    handler_timeout: int | None = None,  # ms
    # end options
) -> Awaitable[ReceivedEnvelope]:
    """``smartreceive`` as an awaitable."""

# ---------------------------------------------------------------- Bridge

class Subscription:
    """Envelopes arriving on a subject; iterate it, or ``async for``.

    A wait that times out or is cancelled (``asyncio.wait_for``) loses no
    message: the next wait gets it, in order. ``unsubscribe`` ends at once,
    also a wait under way in another thread or task, and drops what had
    arrived; ``drain`` delivers what had arrived, then ends.
    """

    def next(self, timeout: float | None = None) -> ReceivedEnvelope | None:
        """The next envelope; None once ended; NatsTimeoutError after ``timeout``
        seconds (a float; not an option of the schema)."""
    def unsubscribe(self) -> None:
        """Ends at once: a waiting and every later step ends; what had arrived is dropped."""
    def drain(self) -> None:
        """Unsubscribes at the server, delivers what had arrived, then ends."""
    def unsubscribe_after(self, messages: int) -> None: ...
    def __iter__(self) -> Iterator[ReceivedEnvelope]: ...
    def __next__(self) -> ReceivedEnvelope: ...
    def __aiter__(self) -> AsyncIterator[ReceivedEnvelope]: ...
    def __anext__(self) -> Awaitable[ReceivedEnvelope]: ...
    def __enter__(self) -> Subscription: ...
    def __exit__(self, *exc: object) -> bool: ...

class JetStreamMessage:
    """One message of a JetStream consumer: the decoded ``envelope``, its
    ``stream_sequence`` and ``delivery_count`` (1 the first time), and how to
    settle it. Neither acknowledged nor terminated, it comes again after
    ``ack_wait``."""

    envelope: ReceivedEnvelope
    stream_sequence: int
    delivery_count: int
    def ack(self) -> None:
        """Done: never delivered again (waits for the server's confirmation)."""
    def nak(self, delay_ms: int | None = None) -> None:
        """Deliver it again, after ``delay_ms`` milliseconds if given."""
    def term(self) -> None:
        """Never deliver it again, without processing it."""
    def aack(self) -> Awaitable[None]: ...
    def anak(self, delay_ms: int | None = None) -> Awaitable[None]: ...
    def aterm(self) -> Awaitable[None]: ...

class DurableSubscription:
    """A JetStream consumer's messages (``Bridge.durable_subscribe``); iterate
    it, or ``async for``. A message that cannot be decoded raises its error
    from that step (the core has settled it); iterating again continues."""

    def next(self, timeout: float | None = None) -> JetStreamMessage | None:
        """The next message; None once ended; NatsTimeoutError after ``timeout``
        seconds (a float; not an option of the schema)."""
    def anext(self, timeout: float | None = None) -> Awaitable[JetStreamMessage | None]: ...
    def __iter__(self) -> Iterator[JetStreamMessage]: ...
    def __next__(self) -> JetStreamMessage: ...
    def __aiter__(self) -> AsyncIterator[JetStreamMessage]: ...
    def __anext__(self) -> Awaitable[JetStreamMessage]: ...

class Bridge:
    """A long-lived, thread-safe connection to NATS. Every connect keyword,
    its default and unit: ``help(natsbridge.Bridge)`` or docs/options.md."""

    def __init__(
        self,
        nats_url: str | None = None,
        *,
        # options: Bridge.__init__
        name: str | None = None,
        token: str | None = None,
        user: str | None = None,
        password: str | None = None,
        credentials_file: str | os.PathLike[str] | None = None,
        nkey: str | None = None,
        tls_ca_file: str | os.PathLike[str] | None = None,
        tls_client_cert: str | os.PathLike[str] | None = None,
        tls_client_key: str | os.PathLike[str] | None = None,
        require_tls: bool = False,
        connect_timeout: int = 5000,  # ms
        request_timeout: int = 10000,  # ms
        subscription_capacity: int | None = None,
        fileserver_url: str | None = None,
        fileserver_token: str | None = None,
        object_store_bucket: str = "natsbridge",
        object_store_ttl: int = 86400000,  # ms
        jetstream_replicas: int = 1,
        reply_subject_prefixes: str | Sequence[str] | None = None,
        # end options
    ) -> None: ...
    @staticmethod
    def aconnect(
        nats_url: str | None = None,
        *,
        # options: Bridge.aconnect
        name: str | None = None,
        token: str | None = None,
        user: str | None = None,
        password: str | None = None,
        credentials_file: str | os.PathLike[str] | None = None,
        nkey: str | None = None,
        tls_ca_file: str | os.PathLike[str] | None = None,
        tls_client_cert: str | os.PathLike[str] | None = None,
        tls_client_key: str | os.PathLike[str] | None = None,
        require_tls: bool = False,
        connect_timeout: int = 5000,  # ms
        request_timeout: int = 10000,  # ms
        subscription_capacity: int | None = None,
        fileserver_url: str | None = None,
        fileserver_token: str | None = None,
        object_store_bucket: str = "natsbridge",
        object_store_ttl: int = 86400000,  # ms
        jetstream_replicas: int = 1,
        reply_subject_prefixes: str | Sequence[str] | None = None,
        # end options
    ) -> Awaitable[Bridge]: ...
    @property
    def broker_url(self) -> str: ...
    @property
    def max_payload(self) -> int: ...
    @property
    def closed(self) -> bool: ...
    def send(
        self,
        subject: str,
        data: Iterable[SendPayload],
        *,
        # options: Bridge.send
        size_threshold: int = 1000000,  # bytes
        correlation_id: str | None = None,
        msg_id: str | None = None,
        msg_purpose: str = "chat",
        sender_name: str = "NATSBridge",
        sender_id: str | None = None,
        receiver_name: str = "",
        receiver_id: str = "",
        reply_to: str = "",
        reply_to_msg_id: str = "",
        metadata: Mapping[str, Any] | None = None,
        jetstream: bool = False,
        direct_sha256: bool = False,
        fileserver_url: str | None = None,
        fileserver_token: str | None = None,
        fileserver_upload_handler: UploadHandler | PlikUploadHandler | None = None,
        # end options
    ) -> dict[str, Any]:
        """Keywords as for ``smartsend``."""
    def asend(
        self,
        subject: str,
        data: Iterable[SendPayload],
        *,
        # options: Bridge.asend
        size_threshold: int = 1000000,  # bytes
        correlation_id: str | None = None,
        msg_id: str | None = None,
        msg_purpose: str = "chat",
        sender_name: str = "NATSBridge",
        sender_id: str | None = None,
        receiver_name: str = "",
        receiver_id: str = "",
        reply_to: str = "",
        reply_to_msg_id: str = "",
        metadata: Mapping[str, Any] | None = None,
        jetstream: bool = False,
        direct_sha256: bool = False,
        fileserver_url: str | None = None,
        fileserver_token: str | None = None,
        fileserver_upload_handler: UploadHandler | PlikUploadHandler | None = None,
        # end options
    ) -> Awaitable[dict[str, Any]]: ...
    def receive(
        self,
        msg: Message,
        *,
        # options: Bridge.receive
        max_retries: int = 5,
        base_delay: int = 100,  # ms
        max_delay: int = 5000,  # ms
        download_timeout: int = 30000,  # ms
        download_connect_timeout: int = 5000,  # ms
        envelope_timeout: int = 60000,  # ms
        max_download_size: int = 1073741824,  # bytes
        max_envelope_download_size: int | None = None,  # bytes
        max_link_payloads: int = 256,
        max_concurrent_downloads: int = 4,
        max_table_rows: int = 16777216,
        allowed_origins: str | Sequence[str] | None = None,
        allow_private_addresses: bool = True,
        store_tokens: Mapping[str, str] | Sequence[tuple[str, str]] | None = None,
        save_dir: str | os.PathLike[str] | None = None,
        proxy: str | None = None,
        handler_timeout: int | None = None,  # ms
        fileserver_download_handler: DownloadHandler | None = None,
        # end options
    ) -> ReceivedEnvelope:
        """Keywords as for ``smartreceive``."""
    def subscribe(
        self,
        subject: str,
        queue: str | None = None,
        concurrent_receives: int = 1,
        *,
        # options: Bridge.subscribe
        max_retries: int = 5,
        base_delay: int = 100,  # ms
        max_delay: int = 5000,  # ms
        download_timeout: int = 30000,  # ms
        download_connect_timeout: int = 5000,  # ms
        envelope_timeout: int = 60000,  # ms
        max_download_size: int = 1073741824,  # bytes
        max_envelope_download_size: int | None = None,  # bytes
        max_link_payloads: int = 256,
        max_concurrent_downloads: int = 4,
        max_table_rows: int = 16777216,
        allowed_origins: str | Sequence[str] | None = None,
        allow_private_addresses: bool = True,
        store_tokens: Mapping[str, str] | Sequence[tuple[str, str]] | None = None,
        save_dir: str | os.PathLike[str] | None = None,
        proxy: str | None = None,
        handler_timeout: int | None = None,  # ms
        fileserver_download_handler: DownloadHandler | None = None,
        # end options
    ) -> Subscription:
        """Receive keywords as for ``smartreceive``."""
    def asubscribe(
        self,
        subject: str,
        queue: str | None = None,
        concurrent_receives: int = 1,
        *,
        # options: Bridge.asubscribe
        max_retries: int = 5,
        base_delay: int = 100,  # ms
        max_delay: int = 5000,  # ms
        download_timeout: int = 30000,  # ms
        download_connect_timeout: int = 5000,  # ms
        envelope_timeout: int = 60000,  # ms
        max_download_size: int = 1073741824,  # bytes
        max_envelope_download_size: int | None = None,  # bytes
        max_link_payloads: int = 256,
        max_concurrent_downloads: int = 4,
        max_table_rows: int = 16777216,
        allowed_origins: str | Sequence[str] | None = None,
        allow_private_addresses: bool = True,
        store_tokens: Mapping[str, str] | Sequence[tuple[str, str]] | None = None,
        save_dir: str | os.PathLike[str] | None = None,
        proxy: str | None = None,
        handler_timeout: int | None = None,  # ms
        fileserver_download_handler: DownloadHandler | None = None,
        # end options
    ) -> Awaitable[Subscription]: ...
    def request(
        self,
        subject: str,
        data: Iterable[SendPayload],
        timeout: float | None = None,
        receive_options: _ReceiveOptions | None = None,
        *,
        # options: Bridge.request
        size_threshold: int = 1000000,  # bytes
        correlation_id: str | None = None,
        msg_id: str | None = None,
        msg_purpose: str = "chat",
        sender_name: str = "NATSBridge",
        sender_id: str | None = None,
        receiver_name: str = "",
        receiver_id: str = "",
        reply_to: str = "",
        reply_to_msg_id: str = "",
        metadata: Mapping[str, Any] | None = None,
        jetstream: bool = False,
        direct_sha256: bool = False,
        fileserver_url: str | None = None,
        fileserver_token: str | None = None,
        fileserver_upload_handler: UploadHandler | PlikUploadHandler | None = None,
        # end options
    ) -> ReceivedEnvelope:
        """Waits up to ``timeout`` seconds (not an option; default: the
        connection's ``request_timeout``, in ms) for the reply."""
    def arequest(
        self,
        subject: str,
        data: Iterable[SendPayload],
        timeout: float | None = None,
        receive_options: _ReceiveOptions | None = None,
        *,
        # options: Bridge.arequest
        size_threshold: int = 1000000,  # bytes
        correlation_id: str | None = None,
        msg_id: str | None = None,
        msg_purpose: str = "chat",
        sender_name: str = "NATSBridge",
        sender_id: str | None = None,
        receiver_name: str = "",
        receiver_id: str = "",
        reply_to: str = "",
        reply_to_msg_id: str = "",
        metadata: Mapping[str, Any] | None = None,
        jetstream: bool = False,
        direct_sha256: bool = False,
        fileserver_url: str | None = None,
        fileserver_token: str | None = None,
        fileserver_upload_handler: UploadHandler | PlikUploadHandler | None = None,
        # end options
    ) -> Awaitable[ReceivedEnvelope]: ...
    def reply(
        self,
        request: Mapping[str, Any],
        data: Iterable[SendPayload],
        *,
        # options: Bridge.reply
        size_threshold: int = 1000000,  # bytes
        correlation_id: str | None = None,
        msg_id: str | None = None,
        msg_purpose: str = "chat",
        sender_name: str = "NATSBridge",
        sender_id: str | None = None,
        receiver_name: str = "",
        receiver_id: str = "",
        reply_to: str = "",
        reply_to_msg_id: str = "",
        metadata: Mapping[str, Any] | None = None,
        jetstream: bool = False,
        direct_sha256: bool = False,
        fileserver_url: str | None = None,
        fileserver_token: str | None = None,
        fileserver_upload_handler: UploadHandler | PlikUploadHandler | None = None,
        # end options
    ) -> dict[str, Any]: ...
    def areply(
        self,
        request: Mapping[str, Any],
        data: Iterable[SendPayload],
        *,
        # options: Bridge.areply
        size_threshold: int = 1000000,  # bytes
        correlation_id: str | None = None,
        msg_id: str | None = None,
        msg_purpose: str = "chat",
        sender_name: str = "NATSBridge",
        sender_id: str | None = None,
        receiver_name: str = "",
        receiver_id: str = "",
        reply_to: str = "",
        reply_to_msg_id: str = "",
        metadata: Mapping[str, Any] | None = None,
        jetstream: bool = False,
        direct_sha256: bool = False,
        fileserver_url: str | None = None,
        fileserver_token: str | None = None,
        fileserver_upload_handler: UploadHandler | PlikUploadHandler | None = None,
        # end options
    ) -> Awaitable[dict[str, Any]]: ...
    def ensure_stream(
        self, name: str, subjects: str | Sequence[str], replicas: int | None = None
    ) -> None:
        """Creates the stream unless it exists; ``replicas`` defaults to the
        connection's ``jetstream_replicas``."""
    def aensure_stream(
        self, name: str, subjects: str | Sequence[str], replicas: int | None = None
    ) -> Awaitable[None]: ...
    def durable_subscribe(
        self,
        subject: str | None = None,
        stream: str | None = None,
        durable: str | None = None,
        deliver: str | int | datetime.datetime = "all",
        ack_wait: int = 30000,  # ms
        max_deliver: int = 10,
        *,
        # options: Bridge.durable_subscribe
        max_retries: int = 5,
        base_delay: int = 100,  # ms
        max_delay: int = 5000,  # ms
        download_timeout: int = 30000,  # ms
        download_connect_timeout: int = 5000,  # ms
        envelope_timeout: int = 60000,  # ms
        max_download_size: int = 1073741824,  # bytes
        max_envelope_download_size: int | None = None,  # bytes
        max_link_payloads: int = 256,
        max_concurrent_downloads: int = 4,
        max_table_rows: int = 16777216,
        allowed_origins: str | Sequence[str] | None = None,
        allow_private_addresses: bool = True,
        store_tokens: Mapping[str, str] | Sequence[tuple[str, str]] | None = None,
        save_dir: str | os.PathLike[str] | None = None,
        proxy: str | None = None,
        handler_timeout: int | None = None,  # ms
        fileserver_download_handler: DownloadHandler | None = None,
        # end options
    ) -> DurableSubscription:
        """Consume options: ``help(natsbridge.Bridge.durable_subscribe)``;
        receive keywords as for ``smartreceive``."""
    def adurable_subscribe(
        self,
        subject: str | None = None,
        stream: str | None = None,
        durable: str | None = None,
        deliver: str | int | datetime.datetime = "all",
        ack_wait: int = 30000,  # ms
        max_deliver: int = 10,
        *,
        # options: Bridge.adurable_subscribe
        max_retries: int = 5,
        base_delay: int = 100,  # ms
        max_delay: int = 5000,  # ms
        download_timeout: int = 30000,  # ms
        download_connect_timeout: int = 5000,  # ms
        envelope_timeout: int = 60000,  # ms
        max_download_size: int = 1073741824,  # bytes
        max_envelope_download_size: int | None = None,  # bytes
        max_link_payloads: int = 256,
        max_concurrent_downloads: int = 4,
        max_table_rows: int = 16777216,
        allowed_origins: str | Sequence[str] | None = None,
        allow_private_addresses: bool = True,
        store_tokens: Mapping[str, str] | Sequence[tuple[str, str]] | None = None,
        save_dir: str | os.PathLike[str] | None = None,
        proxy: str | None = None,
        handler_timeout: int | None = None,  # ms
        fileserver_download_handler: DownloadHandler | None = None,
        # end options
    ) -> Awaitable[DurableSubscription]: ...
    def flush(self) -> None: ...
    def close(self) -> None: ...
    def aclose(self) -> Awaitable[None]: ...
    def __enter__(self) -> Bridge: ...
    def __exit__(self, *exc: object) -> bool: ...
    def __aenter__(self) -> Awaitable[Bridge]: ...
    def __aexit__(self, *exc: object) -> Awaitable[bool]: ...

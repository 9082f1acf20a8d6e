"""The received envelope's class, in Python so that the extension can be built
against CPython's limited API (one ``abi3`` wheel for CPython 3.9+): a native
class cannot subclass ``dict`` under the limited API before 3.12.

The extension (``src/envelope.rs``) imports this module once, makes each
received envelope with ``dict.__new__(ReceivedEnvelope)`` (no ``__init__``
call on the receive path), fills it as a dict and sets the two slots below.
"""

from __future__ import annotations

from typing import Any


class ReceivedEnvelope(dict):  # type: ignore[type-arg]
    """A received envelope: a ``dict`` of the envelope's fields (wire-v1
    section 2) with ``"payloads"`` as a list of ``(dataname, value, type)``
    tuples. Two attributes say where the NATS message came from: ``subject``
    and ``nats_reply`` (its reply inbox), both ``None`` when unknown (decoded
    from bare bytes)."""

    # The extension sets these two slots directly: keep their names in step
    # with src/envelope.rs.
    __slots__ = ("_nats_reply", "_subject")

    def __init__(
        self,
        *args: Any,
        subject: str | None = None,
        nats_reply: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self._subject = subject
        self._nats_reply = nats_reply

    @property
    def subject(self) -> str | None:
        """The NATS subject the message arrived on, if known."""
        return self._subject

    @property
    def nats_reply(self) -> str | None:
        """The NATS reply subject of the message (a request's inbox), if any."""
        return self._nats_reply


ReceivedEnvelope.__module__ = "natsbridge"

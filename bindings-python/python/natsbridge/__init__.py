"""natsbridge: multi-payload messages over NATS, with large payloads sent by
claim-check (an HTTP file server or the JetStream Object Store).

The original NATSBridge API::

    from natsbridge import smartsend, smartreceive

    env = smartsend("/chat/room1", [("message", "Hello World", "text")],
                    nats_url="nats://localhost:4222")
    envelope = smartreceive(msg)          # msg: bytes, or a nats-py Msg
    for dataname, data, type in envelope["payloads"]:
        print(dataname, data)

A long-lived connection: ``Bridge(nats_url)`` with ``send``, ``subscribe``,
``request``, ``reply`` and their asyncio forms (``asend``, ``arequest``, ...,
``async for`` on subscriptions).

Everything is implemented by the Rust core (``natsbridge._natsbridge``); this
file only re-exports it and holds the conversions that need Python-side
knowledge of other libraries (pandas).
"""

from __future__ import annotations

from typing import Any

from . import _natsbridge
from ._natsbridge import *  # noqa: F403  (the names are listed in _natsbridge.__all__)

__version__: str = _natsbridge.__version__
__all__ = list(_natsbridge.__all__)

# A kind whose plain class name is a built-in (TimeoutError, ConnectionError)
# has its class named Nats<Name>Error; the plain name stays importable from
# here as an alias, but is not in __all__, so `from natsbridge import *`
# never replaces the built-in.
for _kind, _cls in _natsbridge.ERROR_CLASSES.items():
    if _cls.__name__ != f"{_kind}Error":
        globals()[f"{_kind}Error"] = _cls
del _kind, _cls


def _table_source(value: Any) -> Any:
    """What the extension should read a ``table`` payload from, for values it
    does not recognise itself: a pandas DataFrame becomes a ``pyarrow.Table``
    (index kept as pandas keeps it), or a dict of column lists when pyarrow is
    not installed. Anything else is returned as is. Called by the extension.
    """
    if type(value).__module__.partition(".")[0] != "pandas":
        return value
    try:
        import pyarrow
    except ImportError:
        if hasattr(value, "to_dict"):
            return value.to_dict(orient="list")
        return value
    if hasattr(value, "to_frame"):  # a Series: one column
        value = value.to_frame()
    return pyarrow.Table.from_pandas(value)

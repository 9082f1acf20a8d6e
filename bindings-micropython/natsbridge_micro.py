"""natsbridge for MicroPython: wire format v1 in one dependency-free file.

Copy this file to the device, or precompile it (`mpy-cross natsbridge_micro.py`)
and copy the .mpy: compiling this source on a device takes far more heap than
running it. It runs unchanged on the MicroPython unix port and on CPython 3.11
and uses only socket, select, json, binascii, hashlib, os, time and errno
(MicroPython >= 1.20 names). It implements shared/spec/wire-v1.md itself,
since MicroPython cannot load the Rust core.

Size and memory, measured by tests/test_memory.py on the MicroPython 1.29 unix
port (64-bit; a 32-bit board needs less for the same objects):
- this file: 67808 bytes; mpy-cross makes a 23 KiB .mpy of it.
- importing the .mpy takes 47 KiB of heap, a connected Client 6 KiB
  more (gc.mem_alloc() differences after gc.collect()).
- a 1 KiB text round trip (smartsend to a subject the same Client subscribes
  to, wait_msg, smartreceive) needs 15 KiB of free heap: the least
  gc.mem_free() it still runs with, found by bisecting the size of a ballast
  bytearray that fills the rest of a 256 KiB heap. It allocates 20 KiB in
  all (gc.mem_alloc() difference with the GC disabled).

Sending::

    import natsbridge_micro as nb
    env = nb.smartsend("/chat/room1", [("message", "Hello World", "text")],
                       nats_url="nats://localhost:4222")

Receiving and replying::

    c = nb.Client("nats://user:secret@10.0.0.2:4222")

    def on_command(msg):
        env = nb.smartreceive(msg)
        for dataname, data, kind in env["payloads"]:
            print(dataname, kind, data)
        c.reply(env, [("ack", {"ok": True}, "dictionary")])

    c.subscribe("/device/commands", on_command)
    while True:
        c.wait_msg(1.0)

Types: "text" (str), "dictionary" (any JSON value), "image", "audio", "video"
and "binary" (bytes, bytearray or memoryview). "table" travels as raw Arrow
IPC stream bytes both ways: there is no Arrow on a microcontroller, so make
and read those bytes elsewhere (pyarrow's ipc.new_stream / open_stream). A
received type this module does not know arrives as bytes with its type
string. Received bytes are the buffer they were decoded or downloaded into:
bytes for direct payloads, bytearray for links.

Copies of a payload's bytes: smartsend sends bytes-like data from the
caller's buffer (hashed in place, base64-encoded 768 bytes at a time straight
to the socket, or uploaded with one sendall: no copy); text is sent from the
str itself on MicroPython, which stores it as UTF-8 (one encoded copy on
CPython); a dictionary is serialized to JSON once. keep_data=True adds the
whole base64 text to the returned envelope. smartreceive reads the message
into one buffer of its exact size and decodes base64 of 512 characters or
more straight from it (json.loads would need twice its size on MicroPython);
a link is downloaded into one buffer of its size. So at its peak a direct
payload of n bytes is held as its base64 in the message (4n/3), its decoded
bytes (n) and, for text, the str (n): send large payloads by link.

Errors: everything this module raises on purpose derives from NatsBridgeError.
"""

# ruff: noqa: UP031
# %-formatting on purpose: f-strings are missing from smaller MicroPython
# builds (MICROPY_PY_FSTRINGS), and bytes need % anyway.

import binascii
import errno
import gc
import hashlib
import json
import os
import select
import socket
import sys
import time

__version__ = "0.1.0"

DEFAULT_NATS_URL = "nats://localhost:4222"
CONTENT_TYPE = "application/vnd.natsbridge.envelope+json"
BYTES_TYPES = ("image", "audio", "video", "binary", "table")
MICRO = sys.implementation.name == "micropython"

# The largest payload or message body held in memory at once. On MicroPython
# a quarter of the heap: decoding needs the body, its base64 string and the
# decoded bytes side by side. Pass max_payload_limit to choose another bound.
DEFAULT_MAX_PAYLOAD_LIMIT = (
    (gc.mem_free() + gc.mem_alloc()) // 4 if MICRO else 256 * 1024 * 1024
)

# Set to an ssl.SSLContext to control https downloads and uploads. When None,
# CPython verifies certificates with its default context; MicroPython cannot
# (it ships no CA store) and connects without verification.
ssl_context = None

_SEP = (",", ":")
_B64_CHUNK = 768  # a multiple of 3, so chunks encode without inner padding
_BUF = 1024
_INLINE = 512  # longer base64 strings are decoded in place (_parse_envelope)
_MAX_LINE = 65536
_TIMEOUT_ERRNOS = (errno.EAGAIN, errno.ETIMEDOUT)
_CLOSED_ERRNOS = (errno.ECONNRESET, errno.ECONNABORTED, getattr(errno, "EPIPE", 32))
_SOCKET_TIMEOUT = getattr(socket, "timeout", None)
_STR_FIELDS = (
    "correlation_id",
    "msg_id",
    "timestamp",
    "send_to",
    "msg_purpose",
    "sender_name",
    "sender_id",
    "receiver_name",
    "receiver_id",
    "reply_to",
    "reply_to_msg_id",
    "broker_url",
)


# The exceptions carry the class names and `code` strings of the natsbridge
# Python package (which takes them from the core's one error table), so code
# written against either catches the same names; tests/test_envelope.py checks
# them against that table. The names this module used before stay as aliases.


class NatsBridgeError(Exception):
    """Base class of every error this module raises on purpose. `code` is the
    stable upper-snake-case code of the core's error kind (as the Python
    package's and Node's `code`)."""

    code = None


class InvalidArgumentError(NatsBridgeError):
    """A caller passed something unusable (empty subject, unknown type, ...)."""

    code = "INVALID_ARGUMENT"


class MalformedEnvelopeError(NatsBridgeError):
    """The message is not a valid v1 envelope (not JSON, no payloads array, ...)."""

    code = "MALFORMED_ENVELOPE"


class UnsupportedVersionError(NatsBridgeError):
    """The envelope's version is greater than 1."""

    code = "UNSUPPORTED_VERSION"


class InvalidBase64Error(NatsBridgeError):
    """A direct payload's data is not standard, padded base64."""

    code = "INVALID_BASE64"


class IntegrityError(NatsBridgeError):
    """A payload's bytes do not match its size or sha256."""

    code = "INTEGRITY"


class InvalidUtf8Error(NatsBridgeError):
    """A text or dictionary payload is not valid UTF-8."""

    code = "INVALID_UTF8"


class InvalidJsonError(NatsBridgeError):
    """A dictionary payload is not JSON."""

    code = "INVALID_JSON"


class PayloadTooLargeError(NatsBridgeError):
    """A payload cannot be sent or held: over max_payload_limit, or it must go
    by link and no file server was given."""

    code = "PAYLOAD_TOO_LARGE"


class UrlNotAllowedError(NatsBridgeError):
    """A link payload's URL has a scheme this client refuses."""

    code = "URL_NOT_ALLOWED"


class DownloadError(NatsBridgeError):
    """A link payload could not be downloaded; `attempts` says how often it was tried."""

    code = "DOWNLOAD"


class UploadError(NatsBridgeError):
    """A link payload could not be uploaded to the file server."""

    code = "UPLOAD"


class NatsConnectionError(NatsBridgeError):
    """The connection could not be made, or the server closed or broke it."""

    code = "CONNECTION"


class ProtocolError(NatsBridgeError):
    """The server answered -ERR or something that is not the NATS protocol.
    MicroPython only (the core reports these as CONNECTION), hence its code."""

    code = "CONNECTION"


class AuthError(ProtocolError):
    """The server refused the credentials (token, user/password)."""

    code = "AUTH"


class NatsTimeoutError(NatsBridgeError):
    """The peer sent nothing within the timeout while an answer was due."""

    code = "TIMEOUT"


# The names of earlier versions.
InvalidArgument = InvalidArgumentError
MalformedEnvelope = MalformedEnvelopeError
UnsupportedVersion = UnsupportedVersionError
InvalidBase64 = InvalidBase64Error
InvalidUtf8 = InvalidUtf8Error
InvalidJson = InvalidJsonError
PayloadTooLarge = PayloadTooLargeError
UrlNotAllowed = UrlNotAllowedError
AuthorizationError = AuthError
Timeout = NatsTimeoutError


try:
    _ticks_ms = time.ticks_ms
    _ticks_diff = time.ticks_diff
except AttributeError:

    def _ticks_ms():
        return int(time.monotonic() * 1000)

    def _ticks_diff(a, b):
        return a - b


try:
    binascii.b2a_base64(b"", newline=False)

    def _b64(data):
        return binascii.b2a_base64(data, newline=False)

except TypeError:  # older ports always append a newline

    def _b64(data):
        return binascii.b2a_base64(data)[:-1]


def _b64len(n):
    return (n + 2) // 3 * 4


if MICRO:

    def _utf8(text):
        # MicroPython keeps a str as UTF-8 and lends it as a buffer: no copy.
        return memoryview(text)

else:

    def _utf8(text):
        return text.encode()


def _jb(value):
    return _utf8(json.dumps(value, separators=_SEP))


def _json(value):
    """A caller's value as JSON text; TypeError or ValueError if it is none."""
    _check_json(value)
    return _jb(value)


_INF = float("inf")


def _check_json(value):
    # MicroPython's json.dumps writes what it cannot encode as its repr, NaN
    # as nan and non-str keys bare; CPython's writes NaN and turns keys into
    # strings. Both ports refuse the same values here instead.
    t = type(value)
    if t is dict:
        for k in value:
            if type(k) is not str:
                raise TypeError("object keys must be strings, not %r" % (k,))
            _check_json(value[k])
    elif t is list or t is tuple:
        for v in value:
            _check_json(v)
    elif t is float:
        if not -_INF < value < _INF:  # also true for NaN
            raise ValueError("NaN and Infinity are not JSON")
    elif value is not None and t not in (str, int, bool):
        raise TypeError("%s is not JSON" % t.__name__)


def _loads(text):
    """json.loads, except that on MicroPython an escaped surrogate pair (how
    CPython's json.dumps writes a character beyond U+FFFF, such as an emoji)
    becomes that character, not two invalid halves."""
    if MICRO:
        s = type(text) is str
        esc = ("\\ud", "\\uD") if s else (b"\\ud", b"\\uD")
        if esc[0] in text or esc[1] in text:
            text = _join_surrogates(text.encode() if s else bytes(text))
    return json.loads(text)


def _join_surrogates(b):
    out = bytearray()
    i = 0
    while True:
        j = b.find(b"\\u", i)
        if j < 0:
            break
        k = j
        while k > 0 and b[k - 1] == 92:  # an escaped backslash is no escape
            k -= 1
        if (j - k) % 2 == 0 and b[j + 6 : j + 8] == b"\\u" and len(b) >= j + 12:
            hi, lo = int(b[j + 2 : j + 6], 16), int(b[j + 8 : j + 12], 16)
            if 0xD800 <= hi < 0xDC00 <= lo < 0xE000:
                out += b[i:j]
                out += chr(0x10000 + (hi - 0xD800) * 1024 + lo - 0xDC00).encode()
                i = j + 12
                continue
        out += b[i : j + 2]
        i = j + 2
    return out + b[i:]


def _hex_sha256(data):
    return binascii.hexlify(hashlib.sha256(data).digest()).decode()


def _uuid4():
    b = bytearray(os.urandom(16))
    b[6] = b[6] & 0x0F | 0x40
    b[8] = b[8] & 0x3F | 0x80
    h = binascii.hexlify(b).decode()
    return "%s-%s-%s-%s-%s" % (h[:8], h[8:12], h[12:16], h[16:20], h[20:])


def _timestamp():
    """Now as RFC 3339 UTC with milliseconds.

    time.time_ns() and time.gmtime() count from the same port-specific epoch
    (1970 on unix and CPython, 2000 on some bare-metal ports), so no offset is
    applied. A board whose clock was never set (ntptime.settime()) reports
    its power-on date.
    """
    try:
        ns = time.time_ns()
        secs, ms = ns // 1000000000, ns // 1000000 % 1000
    except AttributeError:
        t = time.time()
        secs = int(t)
        ms = int((t - secs) * 1000)
    t = getattr(time, "gmtime", time.localtime)(secs)
    return "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ" % (t[:6] + (ms,))


_SENDER_ID = _uuid4()
_UNRESERVED = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"


def _quote(text):
    """Percent-encodes everything but RFC 3986 unreserved characters."""
    out = []
    for b in text.encode():
        c = chr(b)
        out.append(c if c in _UNRESERVED else "%%%02X" % b)
    return "".join(out)


def _unquote(text):
    if "%" not in text:
        return text
    parts = text.split("%")
    out = bytearray(parts[0].encode())
    for p in parts[1:]:
        out.append(int(p[:2], 16))
        out.extend(p[2:].encode())
    return str(out, "utf-8")


def _split_url(url):
    """Splits `scheme://[userinfo@]host[:port][/path]`; returns
    (scheme, userinfo, host, port, path) with the scheme's default port."""
    i = url.find("://") if type(url) is str else -1
    if i <= 0:
        raise InvalidArgumentError("not an absolute URL: %r" % (url,))
    scheme = url[:i].lower()
    rest = url[i + 3 :].split("#")[0]
    userinfo = ""
    if scheme == "nats":
        # A password may hold "/" or "?" typed without percent-encoding:
        # everything before the last "@" is the userinfo (NATS URLs have no
        # path), as in _strip_credentials.
        k = rest.rfind("@")
        userinfo, rest = ("", rest) if k < 0 else (rest[:k], rest[k + 1 :])
    j = rest.find("/")
    netloc, path = (rest, "/") if j < 0 else (rest[:j], rest[j:])
    k = netloc.rfind("@")
    if k >= 0:
        userinfo, netloc = netloc[:k], netloc[k + 1 :]
    port = {"nats": 4222, "http": 80, "https": 443}.get(scheme, 0)
    if netloc.startswith("["):  # IPv6 literal
        k = netloc.find("]")
        host, tail = netloc[1:k], netloc[k + 1 :]
    else:
        k = netloc.rfind(":")
        host, tail = (netloc, "") if k < 0 else (netloc[:k], netloc[k:])
    try:
        port = int(tail[1:]) if tail[:1] == ":" else port
        userinfo = _unquote(userinfo)
    except ValueError:  # UnicodeError is one
        host = ""
    if not host:
        raise InvalidArgumentError("not a usable URL: %r" % _strip_credentials(url))
    return scheme, userinfo, host, port, path


def _strip_credentials(url):
    """The URL without `userinfo@`; everything up to the last "@" counts, so
    a password holding "/" or "?" is never echoed."""
    i = url.find("://") + 3
    k = url.rfind("@", i)
    return url if k < 0 else url[:i] + url[k + 1 :]


def _is_timeout(e):
    # CPython: socket.timeout, or SSLWantReadError from a non-blocking TLS read.
    if _SOCKET_TIMEOUT is not None and isinstance(e, _SOCKET_TIMEOUT):
        return True
    return type(e).__name__ == "SSLWantReadError" or (
        bool(e.args) and e.args[0] in _TIMEOUT_ERRNOS
    )


def _check_subject(subject):
    if type(subject) is not str or not subject.strip():
        raise InvalidArgumentError(
            "the subject must be a non-empty string, got %r" % (subject,)
        )
    for ch in " \t\r\n":
        if ch in subject:
            raise InvalidArgumentError(
                "a NATS subject cannot contain whitespace: %r" % subject
            )


class _Stream:
    """A socket with a timeout on every read and write, a small read buffer for
    protocol lines, and exact-size reads straight into the caller's buffer."""

    def __init__(self, sock, timeout, name, raw):
        self.sock = sock
        # MicroPython's TLS socket has no settimeout: its TCP socket's applies.
        self.raw = raw
        self.timeout = timeout
        self.name = name
        self.buf = bytearray(_BUF)
        self.mv = memoryview(self.buf)
        self.start = self.end = 0
        self.wbuf = bytearray(_BUF)
        self.wmv = memoryview(self.wbuf)
        self.wlen = 0
        self._poll = None
        if MICRO:
            # MicroPython's readinto and recv_into wait until the buffer is
            # full, so a "whatever has arrived" read polls, then reads
            # non-blocking.
            self._poll = select.poll()
            self._poll.register(sock, select.POLLIN)
        raw.settimeout(timeout)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def _lost(self, e):
        if _is_timeout(e):
            return NatsTimeoutError(
                "%s sent nothing for %s s" % (self.name, self.timeout)
            )
        if e.args and e.args[0] in _CLOSED_ERRNOS:
            return NatsConnectionError("%s closed the connection (%r)" % (self.name, e))
        return NatsConnectionError("connection to %s lost: %r" % (self.name, e))

    def _fill(self, wait_ms):
        """Reads what has arrived into the line buffer; False when nothing
        came within wait_ms."""
        if self.start == self.end:
            self.start = self.end = 0
        elif self.end == len(self.buf):
            if self.start:
                n = self.end - self.start
                self.mv[:n] = self.mv[self.start : self.end]
                self.start, self.end = 0, n
            elif len(self.buf) >= _MAX_LINE:
                raise ProtocolError(
                    "%s sent a line longer than %d bytes" % (self.name, _MAX_LINE)
                )
            else:
                self.buf = self.buf + bytearray(len(self.buf))
                self.mv = memoryview(self.buf)
        space = self.mv[self.end :]
        try:
            if self._poll is None:
                self.raw.settimeout(wait_ms / 1000)
                try:
                    n = self.sock.recv_into(space)
                finally:
                    self.raw.settimeout(self.timeout)
            else:
                if not self._poll.poll(wait_ms):
                    return False
                self.sock.setblocking(False)
                try:
                    n = self.sock.readinto(space)
                finally:
                    self.raw.settimeout(self.timeout)
                if n is None:
                    return False
        except OSError as e:
            if _is_timeout(e):
                return False
            raise self._lost(e)
        if not n:
            raise NatsConnectionError("%s closed the connection" % self.name)
        self.end += n
        return True

    def readline(self, wait_ms=None, soft=False):
        """Returns the next line without its line end. When nothing completes
        a line within wait_ms (default: the stream's timeout) returns None if
        soft, else raises NatsTimeoutError."""
        if wait_ms is None:
            wait_ms = int(self.timeout * 1000)
        t0 = _ticks_ms()
        while True:
            i = self.buf.find(b"\n", self.start, self.end)
            if i >= 0:
                j = i - 1 if i > self.start and self.buf[i - 1] == 13 else i
                line = bytes(self.mv[self.start : j])
                self.start = i + 1
                return line
            left = wait_ms - _ticks_diff(_ticks_ms(), t0)
            if not self._fill(max(0, left)) and left <= 0:
                if soft:
                    return None
                raise NatsTimeoutError(
                    "%s sent nothing for %s s" % (self.name, wait_ms / 1000)
                )

    def readinto(self, mv, eof_ok=False):
        """Fills mv exactly, from the line buffer first, then with socket reads
        straight into mv. Returns the count, short only at EOF when eof_ok."""
        n = len(mv)
        got = min(self.end - self.start, n)
        if got:
            mv[:got] = self.mv[self.start : self.start + got]
            self.start += got
        try:
            if self._poll is not None:
                if got < n:
                    got += self.sock.readinto(mv[got:]) or 0
            else:
                while got < n:
                    k = self.sock.recv_into(mv[got:])
                    if not k:
                        break
                    got += k
        except OSError as e:
            raise self._lost(e)
        if got < n and not eof_ok:
            raise NatsConnectionError(
                "%s closed the connection mid-message" % self.name
            )
        return got

    def skip(self, n):
        """Discards n bytes (n < 0: until EOF); returns how many it discarded."""
        done = min(self.end - self.start, n) if n >= 0 else self.end - self.start
        self.start += done
        while n < 0 or done < n:
            want = len(self.mv) if n < 0 else min(len(self.mv), n - done)
            self.start = self.end = 0
            k = self.readinto(self.mv[:want], n < 0)
            done += k
            if k < want:
                break
        return done

    def write(self, data):
        """Buffers small writes; sends large ones straight from data."""
        n = len(data)
        if self.wlen + n > len(self.wbuf):
            self.flush()
            if n >= len(self.wbuf):
                self._send(data)
                return
        self.wmv[self.wlen : self.wlen + n] = data
        self.wlen += n

    def flush(self):
        if self.wlen:
            n, self.wlen = self.wlen, 0
            self._send(self.wmv[:n])

    def _send(self, data):
        try:
            self.sock.sendall(data)
        except OSError as e:
            raise self._lost(e)


# Addresses a link is never fetched from, then those only a receiver with
# allow_private_addresses=False refuses: (network, prefix bits, what), the
# network padded to 4 or 16 bytes. The same ranges as the core's
# core/src/store/policy.rs.
def _net(prefix, size):
    return prefix + bytes(size - len(prefix))


_RANGES = None


def _ranges():
    """The two tables, built on the first link download: a device that
    never fetches a link does not hold them."""
    global _RANGES
    if _RANGES is None:
        never = (
            (_net(b"", 4), 8, "'this network' (0.0.0.0/8)"),
            (_net(b"\xa9\xfe", 4), 16, "link-local"),
            (_net(b"\xe0", 4), 4, "multicast"),
            (b"\xff\xff\xff\xff", 32, "broadcast"),
            (b"\x64\x64\x64\xc8", 32, "a cloud metadata service"),
            (_net(b"", 16), 128, "unspecified"),
            (_net(b"\xfe\x80", 16), 10, "link-local"),
            (_net(b"\xff", 16), 8, "multicast"),
            (
                b"\xfd\x00\x0e\xc2" + bytes(10) + b"\x02\x54",
                128,
                "a cloud metadata service",
            ),
        )
        private = (
            (_net(b"\x0a", 4), 8, "private"),
            (_net(b"\xac\x10", 4), 12, "private"),
            (_net(b"\xc0\xa8", 4), 16, "private"),
            (_net(b"\x7f", 4), 8, "loopback"),
            (_net(b"\x64\x40", 4), 10, "shared address space (CGNAT)"),
            (_net(b"\xc0\0\0", 4), 24, "IETF protocol assignments"),
            (_net(b"\xc0\0\x02", 4), 24, "documentation"),
            (_net(b"\xc6\x33\x64", 4), 24, "documentation"),
            (_net(b"\xcb\0\x71", 4), 24, "documentation"),
            (_net(b"\xc0\x58\x63", 4), 24, "6to4 relay anycast"),
            (_net(b"\xc6\x12", 4), 15, "benchmarking"),
            (_net(b"\xf0", 4), 4, "reserved"),
            (bytes(15) + b"\x01", 128, "loopback"),
            (_net(b"\xfc", 16), 7, "unique local (private)"),
            (_net(b"\xfe\xc0", 16), 10, "site-local"),
            (_net(b"\x01\0", 16), 64, "discard-only"),
            (_net(b"\0\x64\xff\x9b\0\x01", 16), 48, "local-use NAT64"),
            (_net(b"\x20\x01", 16), 23, "IETF protocol assignments"),
            (_net(b"\x20\x01\x0d\xb8", 16), 32, "documentation"),
            (_net(b"\x3f\xff", 16), 20, "documentation"),
            (_net(b"\x5f\0", 16), 16, "segment routing (SRv6)"),
        )
        _RANGES = (never, private)
    return _RANGES


def _in_net(addr, net, bits):
    if len(addr) != len(net):
        return False
    whole, rest = bits // 8, bits % 8
    if addr[:whole] != net[:whole]:
        return False
    mask = (0xFF << (8 - rest)) & 0xFF
    return not rest or addr[whole] & mask == net[whole] & mask


def _embedded_ipv4(a):
    """The IPv4 address an IPv6 one stands for: IPv4-mapped ::ffff:0:0/96,
    IPv4-translated ::ffff:0:0:0/96, IPv4-compatible ::/96, NAT64
    64:ff9b::/96 and 6to4 2002::/16 reach that IPv4 address."""
    if a[:12] in (
        bytes(10) + b"\xff\xff",
        bytes(8) + b"\xff\xff\0\0",
        b"\0\x64\xff\x9b" + bytes(8),
    ) or (a[:12] == bytes(12) and a[12:] not in (bytes(4), b"\0\0\0\x01")):
        return a[12:]
    if a[:2] == b"\x20\x02":
        return a[2:6]
    return None


def _address_refusal(addr, allow_private):
    """Why a receiver must not connect to addr (4 or 16 bytes), or None."""
    if len(addr) == 16:
        addr = _embedded_ipv4(addr) or addr
    never, private = _ranges()
    for table, refused in ((never, True), (private, not allow_private)):
        for net, bits, what in table:
            if refused and _in_net(addr, net, bits):
                return what
    return None


def _ip_bytes(ai):
    """The address of a getaddrinfo entry as 4 or 16 bytes: CPython gives
    ("text", port, ...), the MicroPython unix port a raw struct sockaddr."""
    family, addr = ai[0], ai[-1]
    if type(addr) in (tuple, list):
        text = addr[0].split("%")[0]
        if ":" not in text:
            return bytes(int(x) for x in text.split("."))
        return socket.inet_pton(socket.AF_INET6, text)
    if family == socket.AF_INET:
        return bytes(addr[4:8])
    return bytes(addr[8:24])


def _open(host, port, timeout, tls=False, allow_private=None):
    """Connects to the first address host resolves to; with allow_private
    set (True or False: a link download), that address must pass the
    receiver's address rules, so the check and the connection see one
    address."""
    sock = tcp = None
    name = "%s:%d" % (host, port)
    try:
        ai = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)[0]
        if allow_private is not None:
            why = _address_refusal(_ip_bytes(ai), allow_private)
            if why is not None:
                raise UrlNotAllowed(
                    "refusing to fetch from %s: its address is %s%s"
                    % (
                        name,
                        why,
                        ""
                        if allow_private
                        else " and this receiver only fetches public addresses",
                    )
                )
        sock = tcp = socket.socket(ai[0], socket.SOCK_STREAM)
        sock.settimeout(timeout)
        sock.connect(ai[-1])
        if tls:
            import ssl

            if ssl_context is not None:
                sock = ssl_context.wrap_socket(sock, server_hostname=host)
            elif hasattr(ssl, "create_default_context"):
                sock = ssl.create_default_context().wrap_socket(
                    sock, server_hostname=host
                )
            else:
                sock = ssl.wrap_socket(sock, server_hostname=host)
    except OSError as e:
        if tcp is not None:
            tcp.close()
        raise NatsConnectionError("cannot connect to %s: %r" % (name, e))
    return _Stream(sock, timeout, name, tcp if MICRO else sock)


class Msg:
    """One received NATS message; the attribute names are nats-py's, so
    smartreceive takes either."""

    def __init__(self, subject, reply, data, headers, sid):
        self.subject = subject
        self.reply = reply
        self.data = data
        self.headers = headers
        self.sid = sid


def _parse_headers(block):
    headers = {}
    for line in str(block, "utf-8").split("\r\n")[1:]:
        k = line.find(":")
        if k > 0:
            headers[line[:k].strip()] = line[k + 1 :].strip()
    return headers


class Client:
    """One NATS connection, reused for every call.

    `nats_url` may carry credentials: `nats://user:pass@host:port` or
    `nats://token@host:port`; the keyword arguments override them. `timeout`
    (seconds) bounds every read and write that waits for the server.
    max_payload_limit bounds the size of a message this client will read
    (default DEFAULT_MAX_PAYLOAD_LIMIT); a larger one is skipped and raises
    PayloadTooLargeError from wait_msg.
    """

    def __init__(
        self,
        nats_url=DEFAULT_NATS_URL,
        user=None,
        password=None,
        token=None,
        name="natsbridge-micro",
        timeout=5.0,
        max_payload_limit=None,
    ):
        scheme, userinfo, host, port, _ = _split_url(nats_url)
        if scheme != "nats":
            raise InvalidArgumentError(
                "only nats:// URLs are supported, got %r" % _strip_credentials(nats_url)
            )
        if userinfo:
            k = userinfo.find(":")
            if k >= 0:
                user = user or userinfo[:k]
                password = password or userinfo[k + 1 :]
            else:
                token = token or userinfo
        self.url = nats_url
        self.broker_url = _strip_credentials(nats_url)
        self.max_payload_limit = max_payload_limit or DEFAULT_MAX_PAYLOAD_LIMIT
        self.info = {}
        self._subs = {}
        self._sid = 0
        self._pending = []
        self._pongs = 0
        self._s = _open(host, port, timeout)
        try:
            if self._read_op() is not True or not self.info:
                raise ProtocolError("%s did not start with INFO" % self.broker_url)
            opts = {
                "verbose": False,
                "pedantic": False,
                "lang": sys.implementation.name,
                "version": __version__,
                "protocol": 1,
                "headers": bool(self.info.get("headers")),
                "name": name,
            }
            if token:
                opts["auth_token"] = token
            if user:
                opts["user"] = user
                opts["pass"] = password or ""
            self._s.write(b"CONNECT ")
            self._s.write(_jb(opts))
            self._s.write(b"\r\n")
            self.flush()
        except BaseException:
            self.close()
            raise

    @property
    def closed(self):
        return self._s is None

    @property
    def max_payload(self):
        """The server's max_payload from INFO (bytes of headers + body)."""
        return self.info.get("max_payload", 1048576)

    def close(self):
        """Closes the connection; later calls raise NatsConnectionError."""
        if self._s is not None:
            self._s.close()
            self._s = None

    def _stream(self):
        if self._s is None:
            raise NatsConnectionError(
                "the connection to %s is closed" % self.broker_url
            )
        return self._s

    def _read_op(self, wait_ms=None, soft=False):
        """Reads and handles one protocol operation. Returns a Msg for a
        message (PayloadTooLargeError for one it skipped), True for anything else,
        None when soft and nothing came."""
        s = self._stream()
        try:
            line = s.readline(wait_ms, soft)
            if line is None:
                return None
            if line[:4] == b"MSG " or line[:5] == b"HMSG ":
                return self._read_msg(s, line)
            if line == b"PING":
                s.write(b"PONG\r\n")
                s.flush()
            elif line == b"PONG":
                self._pongs += 1
            elif line.startswith(b"INFO "):
                info = json.loads(line[5:])
                self.info.update(info if type(info) is dict else {})
            elif line.startswith(b"-ERR"):
                text = str(line[4:].strip().strip(b"'"), "utf-8")
                if "Permissions" not in text:  # the only -ERR the server survives
                    self.close()
                if "uthorization" in text:
                    raise AuthError(
                        "%s refused the credentials: %s" % (self.broker_url, text)
                    )
                raise ProtocolError("%s answered -ERR '%s'" % (self.broker_url, text))
            elif not line.startswith(b"+OK"):
                raise ValueError("unexpected %r" % line[:80])
            return True
        except (NatsConnectionError, NatsTimeoutError):
            # Mid-operation the stream's position is unknown: it cannot be reused.
            self.close()
            raise
        except ValueError as e:  # an INFO, MSG or other line that does not parse
            self.close()
            raise ProtocolError("%s broke the protocol: %s" % (self.broker_url, e))

    def _read_msg(self, s, line):
        # MSG <subject> <sid> [reply] <size> / HMSG <subject> <sid> [reply] <hdr> <total>
        parts = line.split()
        hmsg = parts[0] == b"HMSG"
        total = int(parts[-1])
        hlen = int(parts[-2]) if hmsg else 0
        reply = parts[3] if len(parts) == (6 if hmsg else 5) else b""
        if total > self.max_payload_limit:
            s.skip(total + 2)
            # Returned, not raised: wait_msg raises it, so a flush inside
            # smartsend does not fail for a message it was not waiting for.
            return PayloadTooLargeError(
                "a %d-byte message on %s is over max_payload_limit %d; it was skipped"
                % (total, str(parts[1], "utf-8"), self.max_payload_limit)
            )
        headers = None
        if hlen:
            block = bytearray(hlen)
            s.readinto(memoryview(block))
            headers = _parse_headers(block)
        data = bytearray(total - hlen)
        s.readinto(memoryview(data))
        if s.readline() != b"":
            raise ValueError("a message not followed by CRLF")
        return Msg(
            str(parts[1], "utf-8"), str(reply, "utf-8"), data, headers, int(parts[2])
        )

    def flush(self, timeout=None):
        """Sends everything buffered and waits for the server's PONG, so the
        server has processed all earlier commands. Messages that arrive
        meanwhile are kept for wait_msg."""
        s = self._stream()
        s.write(b"PING\r\n")
        s.flush()
        want = self._pongs + 1
        wait_ms = None if timeout is None else int(timeout * 1000)
        while self._pongs < want:
            op = self._read_op(wait_ms)
            if op is not True:
                self._pending.append(op)

    def publish(self, subject, payload, reply=""):
        """Publishes raw bytes (a bare PUB, no envelope)."""
        _check_subject(subject)
        s = self._stream()
        s.write(
            (
                "PUB %s %s%d\r\n"
                % (subject, reply + " " if reply else "", len(payload))
            ).encode()
        )
        s.write(payload)
        s.write(b"\r\n")
        s.flush()

    def subscribe(self, subject, callback, queue=""):
        """Subscribes callback(msg) to subject and waits until the server has
        the subscription; returns its sid for unsubscribe. Callbacks run
        inside wait_msg/check_msg."""
        _check_subject(subject)
        self._sid += 1
        self._subs[self._sid] = callback
        self._stream().write(
            (
                "SUB %s %s%d\r\n" % (subject, queue + " " if queue else "", self._sid)
            ).encode()
        )
        self.flush()
        return self._sid

    def unsubscribe(self, sid):
        self._subs.pop(sid, None)
        s = self._stream()
        s.write(b"UNSUB %d\r\n" % sid)
        s.flush()

    def wait_msg(self, timeout=None):
        """Waits up to timeout seconds (None: for ever) for one message, passes
        it to its subscription's callback and returns it; None if none came.
        Answers server PINGs meanwhile."""
        if self._pending:
            return self._deliver(self._pending.pop(0))
        wait_ms = 3600000 if timeout is None else int(timeout * 1000)
        t0 = _ticks_ms()
        while True:
            left = wait_ms - _ticks_diff(_ticks_ms(), t0)
            op = self._read_op(max(0, left), True)
            if op is not True and op is not None:
                return self._deliver(op)
            if timeout is not None and (op is None or left <= 0):
                return None
            if op is None:
                t0 = _ticks_ms()

    def check_msg(self):
        """Handles a message if one has arrived; never blocks."""
        return self.wait_msg(0)

    def _deliver(self, msg):
        if isinstance(msg, NatsBridgeError):
            raise msg
        callback = self._subs.get(msg.sid)
        if callback is not None:
            callback(msg)
        return msg

    def smartsend(self, subject, data, **kwargs):
        """smartsend over this connection; same arguments as the module's."""
        return smartsend(subject, data, client=self, **kwargs)

    def reply(self, received_envelope, data, **kwargs):
        """reply over this connection; same arguments as the module's."""
        return reply(received_envelope, data, client=self, **kwargs)

    def request(self, subject, data, timeout=5.0, **kwargs):
        """Sends an envelope with reply_to set to a fresh inbox and returns the
        smartreceive'd reply; NatsTimeoutError when none comes within timeout seconds."""
        inbox = "_INBOX." + _uuid4()
        replies = []
        sid = self.subscribe(inbox, replies.append)
        try:
            smartsend(subject, data, client=self, reply_to=inbox, **kwargs)
            t0 = _ticks_ms()
            while not replies:
                left = int(timeout * 1000) - _ticks_diff(_ticks_ms(), t0)
                if left <= 0:
                    raise NatsTimeoutError(
                        "no reply on %s within %s s" % (inbox, timeout)
                    )
                self.wait_msg(left / 1000)
        finally:
            if not self.closed:
                self.unsubscribe(sid)
        return smartreceive(replies[0])


_clients = {}


def connect(nats_url=DEFAULT_NATS_URL, **kwargs):
    """Opens a new Client (see Client for the keyword arguments)."""
    return Client(nats_url, **kwargs)


def _client(nats_url):
    c = _clients.get(nats_url)
    if c is None or c.closed:
        c = _clients[nats_url] = Client(nats_url)
    return c


def close_all():
    """Closes the connections the module-level functions cached."""
    for c in _clients.values():
        c.close()
    _clients.clear()


def subscribe(subject, callback, nats_url=DEFAULT_NATS_URL):
    """Client.subscribe on the cached connection for nats_url."""
    return _client(nats_url).subscribe(subject, callback)


def wait_msg(timeout=None, nats_url=DEFAULT_NATS_URL):
    """Client.wait_msg on the cached connection for nats_url."""
    return _client(nats_url).wait_msg(timeout)


def check_msg(nats_url=DEFAULT_NATS_URL):
    """Client.check_msg on the cached connection for nats_url."""
    return _client(nats_url).check_msg()


def _serialize(entry, limit):
    """(dataname, data, type[, metadata]) -> [payload fields, serialized bytes]."""
    if type(entry) not in (tuple, list) or len(entry) not in (3, 4):
        raise InvalidArgumentError(
            "each payload is (dataname, data, type[, metadata]), got %r" % (entry,)
        )
    name, value, kind = entry[0], entry[1], entry[2]
    meta = entry[3] if len(entry) == 4 else {}
    if type(name) is not str or not name:
        raise InvalidArgumentError(
            "a payload's dataname must be a non-empty string, got %r" % (name,)
        )
    if kind == "text":
        if type(value) is not str:
            raise InvalidArgumentError("payload %r: text data must be a str" % name)
        if len(value) > limit:
            raise PayloadTooLargeError(
                "payload %r is over max_payload_limit %d" % (name, limit)
            )
        raw = _utf8(value)
    elif kind == "dictionary":
        try:
            raw = _json(value)
        except (TypeError, ValueError) as e:
            raise InvalidArgumentError("payload %r: not JSON: %s" % (name, e))
    elif kind in BYTES_TYPES:
        if not isinstance(value, (bytes, bytearray, memoryview)):
            raise InvalidArgumentError(
                "payload %r: %s data must be bytes-like" % (name, kind)
            )
        raw = value
    else:
        raise InvalidArgumentError(
            "payload %r: unknown type %r (text, dictionary, table, image, audio, video, binary)"
            % (name, kind)
        )
    size = len(raw)
    if size > limit:
        raise PayloadTooLargeError(
            "payload %r is %d bytes, over max_payload_limit %d" % (name, size, limit)
        )
    p = {
        "id": _uuid4(),
        "dataname": name,
        "type": kind,
        "transport": "direct",
        "encoding": "base64",
        "size": size,
        "sha256": _hex_sha256(raw),
        "metadata": meta,
    }
    try:
        if type(meta) is not dict:
            raise TypeError("not an object")
        return [p, raw, _json(p)]
    except (TypeError, ValueError) as e:
        raise InvalidArgumentError("payload %r: metadata %s" % (name, e))


def _set_link(item, url):
    p = item[0]
    p["transport"] = "link"
    p["encoding"] = "url"
    p["data"] = url
    item[2] = _jb(p)


def _piece_len(item):
    if item[0]["transport"] == "link":
        return len(item[2])
    # written as item[2] without its "}", ',"data":"', the base64, '"}'
    return len(item[2]) + 10 + _b64len(item[0]["size"])


def _link_url(fileserver_url, p):
    return "%s/%s/%s" % (
        (fileserver_url or "").rstrip("/"),
        p["id"],
        _quote(p["dataname"]),
    )


def smartsend(
    subject,
    data,
    nats_url=DEFAULT_NATS_URL,
    fileserver_url=None,
    fileserver_upload_handler=None,
    size_threshold=1000000,
    correlation_id=None,
    msg_purpose="chat",
    sender_name="NATSBridge",
    receiver_name="",
    receiver_id="",
    reply_to="",
    reply_to_msg_id="",
    metadata=None,
    max_payload_limit=None,
    client=None,
    keep_data=False,
    timeout=10.0,
    fileserver_token=None,
):
    """Publishes data, a list of (dataname, value, type[, metadata]) tuples, as
    one envelope on subject and returns the envelope as a dict.

    Transport (spec section 5): payloads of size_threshold bytes or more go by
    link; then the largest direct ones also go by link until the envelope
    (with its headers) fits the server's max_payload. A link payload is
    uploaded with HTTP PUT to <fileserver_url>/<payload id>/<dataname> (its
    URL is that, or the Location or URL the server answers), or given to
    fileserver_upload_handler(fileserver_url, dataname, data), which returns
    the URL (or a dict with "url"). fileserver_token, when the file server
    wants one, is sent as `Authorization: Bearer`. When a payload must go by
    link and neither fileserver_url nor a handler is given, PayloadTooLargeError is raised before anything is uploaded or
    published.

    The connection is `client` or the cached one for nats_url. The returned
    dict holds every field as sent, except that a direct payload's "data"
    (its base64 text) is left out unless keep_data=True. A payload over
    max_payload_limit bytes raises PayloadTooLargeError. `timeout` bounds each
    upload's reads and writes.
    """
    _check_subject(subject)
    if type(data) not in (list, tuple):
        raise InvalidArgumentError(
            "data must be a list of (dataname, value, type) tuples"
        )
    metadata = {} if metadata is None else metadata
    try:
        if type(metadata) is not dict:
            raise TypeError("not an object")
        _check_json(metadata)
    except (TypeError, ValueError) as e:
        raise InvalidArgumentError("metadata %s" % e)
    limit = max_payload_limit or DEFAULT_MAX_PAYLOAD_LIMIT
    items = [_serialize(entry, limit) for entry in data]
    c = client or _client(nats_url)
    s = c._stream()
    env = {
        "version": 1,
        "correlation_id": correlation_id or _uuid4(),
        "msg_id": _uuid4(),
        "timestamp": _timestamp(),
        "send_to": subject,
        "msg_purpose": msg_purpose,
        "sender_name": sender_name,
        "sender_id": _SENDER_ID,
        "receiver_name": receiver_name,
        "receiver_id": receiver_id,
        "reply_to": reply_to,
        "reply_to_msg_id": reply_to_msg_id,
        "broker_url": c.broker_url,
        "metadata": metadata,
    }
    head = _jb(env)  # written without its "}", then ',"payloads":['
    hdr = b""
    if c.info.get("headers"):
        hdr = (
            "NATS/1.0\r\nNats-Msg-Id: %s\r\nContent-Type: %s\r\n\r\n"
            % (env["msg_id"], CONTENT_TYPE)
        ).encode()
    room = c.max_payload - len(hdr)

    def total():
        return (
            len(head)
            + 14
            + max(len(items) - 1, 0)
            + sum(_piece_len(it) for it in items)
        )

    def largest_direct():
        direct = [it for it in items if it[0]["transport"] == "direct"]
        if not direct:
            raise PayloadTooLargeError(
                "the envelope is %d bytes with every payload sent by link, over the server's max_payload %d"
                % (total(), c.max_payload)
            )
        return max(direct, key=lambda it: it[0]["size"])

    # Decide with estimated link URLs first, so a missing file server fails
    # before anything is uploaded.
    for it in items:
        if it[0]["size"] >= size_threshold:
            _set_link(it, _link_url(fileserver_url, it[0]))
    while total() > room:
        it = largest_direct()
        _set_link(it, _link_url(fileserver_url, it[0]))
    links = [it for it in items if it[0]["transport"] == "link"]
    if links and not (fileserver_url or fileserver_upload_handler):
        p = links[0][0]
        raise PayloadTooLargeError(
            "payload %r is %d bytes: it must go by link (size_threshold %d, server max_payload %d) and no "
            "claim-check store is configured: pass fileserver_url or fileserver_upload_handler"
            % (p["dataname"], p["size"], size_threshold, c.max_payload)
        )
    for it in links:
        _set_link(
            it,
            _upload(
                fileserver_url, fileserver_upload_handler, fileserver_token, it, timeout
            ),
        )
    while total() > room:  # the file server answered longer URLs than estimated
        it = largest_direct()
        _set_link(
            it,
            _upload(
                fileserver_url, fileserver_upload_handler, fileserver_token, it, timeout
            ),
        )

    size = total()
    try:
        if hdr:
            s.write(
                ("HPUB %s %d %d\r\n" % (subject, len(hdr), len(hdr) + size)).encode()
            )
            s.write(hdr)
        else:
            s.write(("PUB %s %d\r\n" % (subject, size)).encode())
        s.write(memoryview(head)[:-1])
        s.write(b',"payloads":[')
        for i, it in enumerate(items):
            if i:
                s.write(b",")
            if it[0]["transport"] == "link":
                s.write(it[2])
            else:
                s.write(memoryview(it[2])[:-1])
                s.write(b',"data":"')
                mv = memoryview(it[1])
                for k in range(0, len(mv), _B64_CHUNK):
                    s.write(_b64(mv[k : k + _B64_CHUNK]))
                s.write(b'"}')
        s.write(b"]}\r\n")
        c.flush()
    except (NatsConnectionError, NatsTimeoutError):
        c.close()
        raise
    payloads = []
    for it in items:
        if keep_data and it[0]["transport"] == "direct":
            it[0]["data"] = str(_b64(it[1]), "utf-8")
        payloads.append(it[0])
    env["payloads"] = payloads
    return env


def _reply_subject(reply_to, nats_reply):
    """The core's choice (spec section 6): the NATS reply subject unless it is
    a system subject, else reply_to; a system subject only when it is all
    there is (so reply refuses it by name)."""
    given = [s for s in (nats_reply, reply_to) if s]
    for subject in given:
        if not subject.startswith("$"):
            return subject
    return given[0] if given else ""


def reply(
    received_envelope,
    data,
    nats_url=DEFAULT_NATS_URL,
    client=None,
    msg_purpose="response",
    reply_subject_prefixes=None,
    **kwargs,
):
    """Answers a smartreceive'd envelope (spec section 6): publishes to the
    NATS reply inbox it arrived with, else to its reply_to, with
    reply_to_msg_id = its msg_id and its correlation_id. Never to a
    $-prefixed system subject (InvalidArgumentError: a requester could make
    this device call the JetStream or system API); with
    reply_subject_prefixes, only to subjects starting with one of them.
    Other keyword arguments are smartsend's."""
    target = _reply_subject(
        received_envelope.get("reply_to") or "",
        received_envelope.get("_nats_reply") or "",
    )
    if not target:
        raise InvalidArgumentError(
            "the envelope has no reply_to and arrived without a NATS reply inbox"
        )
    if target.startswith("$"):
        raise InvalidArgumentError(
            "refusing to reply on %r: replies are never published to system subjects "
            "($-prefixed)" % target
        )
    if reply_subject_prefixes and not any(
        target.startswith(p) for p in reply_subject_prefixes
    ):
        raise InvalidArgumentError(
            "refusing to reply on %r: it starts with none of reply_subject_prefixes"
            % target
        )
    return smartsend(
        target,
        data,
        nats_url=nats_url,
        client=client,
        msg_purpose=msg_purpose,
        correlation_id=received_envelope.get("correlation_id") or None,
        reply_to_msg_id=received_envelope.get("msg_id", ""),
        **kwargs,
    )


def _http(method, url, body, timeout, token=None, allow_private=None):
    """Sends one HTTP/1.1 request (Connection: close); returns (status,
    headers with lower-case names, stream positioned at the body)."""
    _check_request_url(url)
    scheme, _, host, port, path = _split_url(url)
    s = _open(host, port, timeout, scheme == "https", allow_private)
    try:
        default = 443 if scheme == "https" else 80
        req = (
            "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: natsbridge-micro/%s\r\nConnection: close\r\n"
            % (
                method,
                path,
                host if port == default else "%s:%d" % (host, port),
                __version__,
            )
        )
        if token:
            req += "Authorization: Bearer %s\r\n" % token
        if body is not None:
            req += (
                "Content-Type: application/octet-stream\r\nContent-Length: %d\r\n"
                % len(body)
            )
        s.write((req + "\r\n").encode())
        if body is not None:
            s.write(body)
        s.flush()
        status = 100
        while status == 100:
            parts = s.readline().split(None, 2)
            if len(parts) < 2 or not parts[0].startswith(b"HTTP/"):
                raise ProtocolError("%s did not answer HTTP" % s.name)
            status = int(parts[1])
            headers = {}
            line = s.readline()
            while line:
                k = line.find(b":")
                if k > 0:
                    headers[str(line[:k].strip(), "utf-8").lower()] = str(
                        line[k + 1 :].strip(), "utf-8"
                    )
                line = s.readline()
        return status, headers, s
    except BaseException:
        s.close()
        raise


def _take(s, buf, got, n, strict):
    """Reads n bytes (n < 0: until EOF) into buf[got:]; returns the new fill.
    What does not fit raises IntegrityError when strict, else is discarded."""
    room = len(buf) - got
    k = s.readinto(
        memoryview(buf)[got : got + (room if n < 0 else min(n, room))], n < 0
    )
    extra = s.skip(-1 if n < 0 else n - k) if n < 0 or n > room else 0
    if extra and strict:
        raise IntegrityError(
            "%s sent more bytes than the payload's size %d" % (s.name, len(buf))
        )
    return got + k


def _read_body(s, headers, expected=None):
    """Reads an HTTP response body into one buffer: exactly `expected` bytes
    (else IntegrityError), or its first 1 KiB when expected is None."""
    strict = expected is not None
    buf = bytearray(expected if strict else 1024)
    got = 0
    if "chunked" in headers.get("transfer-encoding", "").lower():
        while True:
            n = int(s.readline().split(b";")[0].strip(), 16)
            if not n:
                break
            got = _take(s, buf, got, n, strict)
            s.readline()
        while s.readline():
            pass
    elif "content-length" in headers:
        n = int(headers["content-length"])
        if strict and n != expected:
            raise IntegrityError(
                "%s sent Content-Length %d, the payload's size is %d"
                % (s.name, n, expected)
            )
        got = _take(s, buf, got, n, strict)
    else:
        got = _take(s, buf, got, -1, strict)
    if strict and got != expected:
        raise IntegrityError(
            "%s sent %d bytes, the payload's size is %d" % (s.name, got, expected)
        )
    return buf if got == len(buf) else buf[:got]


def _upload(fileserver_url, handler, token, item, timeout):
    p, raw = item[0], item[1]
    if handler is not None:
        url = handler(fileserver_url, p["dataname"], raw)
        url = url.get("url") if isinstance(url, dict) else url
        if type(url) is not str or "://" not in url:
            raise UploadError(
                "fileserver_upload_handler returned %r, not a URL" % (url,)
            )
        return url
    url = _link_url(fileserver_url, p)
    try:
        status, headers, s = _http("PUT", url, raw, timeout, token)
        try:
            body = _read_body(s, headers)
        finally:
            s.close()
    except (NatsConnectionError, ProtocolError, NatsTimeoutError, ValueError) as e:
        raise UploadError("PUT %s failed: %s" % (url, e))
    if status not in (200, 201, 204):
        raise UploadError("PUT %s: HTTP %d %r" % (url, status, bytes(body[:200])))
    location = headers.get("location")
    if location:
        if location.startswith("/"):
            return url[: url.find("/", url.find("://") + 3)] + location
        return location
    text = str(body, "utf-8").strip() if body else ""
    if text.startswith("{"):
        try:
            text = json.loads(text).get("url") or ""
        except (ValueError, AttributeError):
            text = ""
    if text[:7] == "http://" or text[:8] == "https://":
        return text
    return url


def _check_request_url(url):
    """Refuses what would change the HTTP request a URL becomes: control
    characters (CR/LF would end the request line and start a second request
    of the sender's choosing), spaces, backslashes and non-ASCII; and
    userinfo, which a link never needs."""
    for ch in url:
        if ch <= " " or ch >= "\x7f" or ch == "\\":
            raise UrlNotAllowed(
                "refusing to fetch %r: a link URL must be printable ASCII without spaces"
                % _strip_credentials(url)
            )
    i = url.find("://") + 3
    j = len(url)
    for ch in "/?#":
        k = url.find(ch, i)
        if 0 <= k < j:
            j = k
    if "@" in url[i:j]:
        raise UrlNotAllowed(
            "refusing to fetch %s: link URLs must not carry credentials"
            % _strip_credentials(url)
        )


def _check_url(url, default_handler):
    if type(url) is not str:
        raise MalformedEnvelopeError("a link payload's data must be a URL string")
    scheme = (
        url[: url.find("://")].lower() if "://" in url else url[: url.find(":") + 1]
    )
    if scheme in ("http", "https"):
        _check_request_url(url)
    if scheme == "http":
        return
    if scheme == "https":
        try:
            import ssl  # noqa: F401
        except ImportError:
            raise UrlNotAllowedError("%s: this port has no ssl module for https" % url)
        return
    if scheme == "nats-object":
        if not default_handler:
            return
        raise UrlNotAllowedError(
            "%s: nats-object links are JetStream Object Store objects, which this client cannot read; "
            "receive this message with the full natsbridge client" % url
        )
    raise UrlNotAllowedError(
        "%s: only http(s) links are allowed (spec section 5)" % url
    )


def fetch_with_backoff(
    url,
    max_retries=5,
    base_delay=100,
    max_delay=5000,
    size=None,
    timeout=10.0,
    allow_private_addresses=True,
    max_size=None,
):
    """The default download handler: HTTP GET, retried up to max_retries times
    (so max_retries + 1 attempts) on connection errors, timeouts, 5xx and 429;
    any other status fails at once. Before retry n (from 0) it sleeps between
    half and all of min(base_delay * 2**n, max_delay) ms, at random, so a fleet
    of devices does not retry in step. The body must be exactly `size` bytes
    long (else IntegrityError; without size, its Content-Length) and is read
    into one buffer of that size, at most max_size bytes (default
    DEFAULT_MAX_PAYLOAD_LIMIT; PayloadTooLarge before reading a byte).

    The URL must be printable ASCII without userinfo (UrlNotAllowed), and the
    address it resolves to is never link-local, a cloud metadata service,
    0.0.0.0/8, multicast or broadcast; with allow_private_addresses=False
    not loopback, private or any other special-use range either
    (UrlNotAllowed, not retried). Raises DownloadError with `attempts` set."""
    _check_url(url, True)
    limit = max_size or DEFAULT_MAX_PAYLOAD_LIMIT
    if size is not None and size > limit:
        raise PayloadTooLarge(
            "GET %s: %d bytes, over the limit %d" % (url, size, limit)
        )
    attempt = 0
    while True:
        attempt += 1
        try:
            status, headers, s = _http(
                "GET", url, None, timeout, None, bool(allow_private_addresses)
            )
            try:
                if status == 200:
                    n = size
                    if n is None:
                        n = int(headers.get("content-length", -1))
                        if n < 0:
                            raise DownloadError(
                                "GET %s: no size and no Content-Length" % url
                            )
                    if n > limit:
                        raise PayloadTooLargeError(
                            "GET %s: %d bytes, over the limit %d" % (url, n, limit)
                        )
                    return _read_body(s, headers, n)
            finally:
                s.close()
            reason = "HTTP %d" % status
            retry = status == 429 or status >= 500
        except (NatsConnectionError, ProtocolError, NatsTimeoutError, ValueError) as e:
            reason = str(e)
            retry = True
        if not retry or attempt > max_retries:
            e = DownloadError(
                "GET %s failed after %d attempt(s): %s" % (url, attempt, reason)
            )
            e.attempts = attempt
            raise e
        ceiling = min(base_delay * (1 << (attempt - 1)), max_delay)
        time.sleep((ceiling // 2 + ceiling * os.urandom(1)[0] // 510) / 1000)


def _b64decode(text):
    """Decodes a str, or a memoryview of the message body (_parse_envelope)."""
    n = len(text)
    try:
        tail = text[-2:] if type(text) is str else str(text[-2:], "utf-8")
        pad = 2 if tail == "==" else 1 if tail[-1:] == "=" else 0
        raw = binascii.a2b_base64(text) if n % 4 == 0 else None
    except ValueError:  # UnicodeError is one
        raw = None
    # Both ports skip characters outside the alphabet; a length check catches that.
    if raw is None or len(raw) != n // 4 * 3 - pad:
        raise InvalidBase64Error("not standard padded base64 (%d characters)" % n)
    return raw


def _parse_envelope(body):
    """json.loads(body), except that each direct payload's base64 "data" of
    _INLINE bytes or more stays in body and comes back as a memoryview of it:
    MicroPython's json.loads needs twice a string's size to build it, and the
    decoder reads the view as well. Any "data" string outside a payload makes
    it fall back to a plain json.loads."""
    if type(body) not in (bytes, bytearray) or len(body) < _INLINE:
        return _loads(body)
    spans = []
    compact = bytearray()
    pos = i = 0
    while True:
        a = body.find(b'"', i)  # outside a string: the start of the next one
        if a < 0:
            break
        b = a
        while True:  # its closing quote: one preceded by an even run of \\
            b = body.find(b'"', b + 1)
            if b < 0:
                return _loads(body)  # unterminated: let json report it
            k = b
            while body[k - 1] == 92:
                k -= 1
            if (b - k) % 2 == 0:
                break
        i = b + 1
        if b - a > _INLINE and body.find(b"\\", a, b) < 0:
            key = bytes(body[max(0, a - 16) : a]).rstrip()
            if key.endswith(b":") and key[:-1].rstrip().endswith(b'"data"'):
                compact += body[pos : a + 1]
                compact += b"\\u0000nb%d" % len(spans)
                spans.append((a + 1, b))
                pos = b
    if not spans:
        return _loads(body)
    compact += body[pos:]
    env = _loads(compact)
    view = memoryview(body)
    found = 0
    payloads = env.get("payloads") if type(env) is dict else None
    for p in payloads if type(payloads) is list else ():
        data = p.get("data") if type(p) is dict else None
        if (
            type(data) is str
            and data[:3] == "\x00nb"
            and p.get("transport") == "direct"
        ):
            a, b = spans[int(data[3:])]
            p["data"] = view[a:b]
            found += 1
    return env if found == len(spans) else _loads(body)


def _decode_payload(p, handler, retries, base_delay, max_delay, limit, allow_private):
    if type(p) is not dict:
        raise MalformedEnvelopeError("a payload must be an object, got %r" % (p,))
    name, kind, transport = p.get("dataname"), p.get("type"), p.get("transport")
    size, data, digest = p.get("size"), p.get("data"), p.get("sha256")
    if type(name) is not str or not name or type(kind) is not str:
        raise MalformedEnvelopeError(
            "a payload needs a non-empty dataname and a type: %r" % (p.get("id"),)
        )
    if type(size) is not int or size < 0 or not isinstance(data, (str, memoryview)):
        raise MalformedEnvelopeError(
            "payload %r needs a size (integer) and data (string)" % name
        )
    if digest is not None and type(digest) is not str:
        raise MalformedEnvelopeError("payload %r: sha256 must be a hex string" % name)
    if size > limit:
        raise PayloadTooLargeError(
            "payload %r is %d bytes, over max_payload_limit %d" % (name, size, limit)
        )
    if transport == "direct" and p.get("encoding", "base64") == "base64":
        raw = _b64decode(data)
    elif transport == "link" and p.get("encoding", "url") == "url":
        if digest is None:
            raise MalformedEnvelopeError(
                "link payload %r has no sha256 (required, spec section 3)" % name
            )
        _check_url(data, handler is None)
        if handler is None:
            raw = fetch_with_backoff(
                data, retries, base_delay, max_delay, size, 10.0, allow_private, limit
            )
        else:
            raw = handler(data, retries, base_delay, max_delay)
    else:
        raise MalformedEnvelopeError(
            "payload %r: transport %r with encoding %r"
            % (name, transport, p.get("encoding"))
        )
    p["data"] = data = None  # frees the base64 text before it is converted
    if len(raw) != size:
        raise IntegrityError(
            "payload %r is %d bytes, its size field says %d" % (name, len(raw), size)
        )
    if digest is not None and _hex_sha256(raw) != digest.lower():
        raise IntegrityError("payload %r does not match its sha256" % name)
    if kind == "text" or kind == "dictionary":
        try:
            value = str(raw, "utf-8")
        except UnicodeError:
            raise InvalidUtf8Error("payload %r (%s) is not valid UTF-8" % (name, kind))
        if kind == "dictionary":
            try:
                value = _loads(value)
            except ValueError:
                raise InvalidJsonError("dictionary payload %r is not JSON" % name)
        return (name, value, kind)
    return (name, raw, kind)


def smartreceive(
    msg,
    fileserver_download_handler=None,
    max_retries=5,
    base_delay=100,
    max_delay=5000,
    max_payload_limit=None,
    allow_private_addresses=True,
):
    """Decodes one envelope; returns its fields as a dict whose "payloads" is
    a list of (dataname, data, type) tuples in order.

    msg is a Msg (this module's or nats-py's: anything with .data) or the body
    itself (bytes, bytearray, memoryview, str). Missing string fields read as
    "", a missing metadata as {}. The dict also holds "_nats_reply", the NATS
    reply subject the message arrived with ("" if none), which reply() uses.
    Link payloads are fetched with fileserver_download_handler(url,
    max_retries, base_delay, max_delay) -> bytes, by default
    fetch_with_backoff, which never fetches from link-local or metadata
    addresses and, with allow_private_addresses=False, only from public ones.
    max_payload_limit (default DEFAULT_MAX_PAYLOAD_LIMIT: a quarter of the
    heap on MicroPython, 256 MiB on CPython) caps every payload, downloads
    included: a link declaring more is refused before it is fetched.
    Raises MalformedEnvelopeError, UnsupportedVersionError,
    InvalidBase64Error, IntegrityError, InvalidUtf8Error, InvalidJsonError,
    PayloadTooLargeError, UrlNotAllowedError or DownloadError.
    """
    limit = max_payload_limit or DEFAULT_MAX_PAYLOAD_LIMIT
    nats_reply = ""
    body = msg
    if not isinstance(msg, (bytes, bytearray, memoryview, str)):
        body = msg.data
        nats_reply = getattr(msg, "reply", "") or ""
    if isinstance(body, memoryview) and not MICRO:
        body = bytes(body)  # CPython's json cannot read a memoryview
    try:
        env = _parse_envelope(body)
    except ValueError as e:
        raise MalformedEnvelopeError("the message is not JSON: %s" % e)
    if type(env) is not dict:
        raise MalformedEnvelopeError("the envelope must be a JSON object")
    version = env.get("version", 1)
    if type(version) not in (int, float) or version < 1 or version % 1:
        raise MalformedEnvelopeError(
            "version must be a whole number >= 1, got %r" % (version,)
        )
    if version > 1:
        raise UnsupportedVersionError(
            "envelope version %s is newer than this client reads (1): upgrade it"
            % version
        )
    version = int(version)
    env["version"] = version
    for field in _STR_FIELDS + ("metadata",):
        value = env.get(field)
        if value is None:  # missing or null
            env[field] = value = {} if field == "metadata" else ""
        if type(value) is not (dict if field == "metadata" else str):
            raise MalformedEnvelopeError("%s has the wrong JSON type" % field)
    payloads = env.get("payloads")
    if type(payloads) is not list:
        raise MalformedEnvelopeError("payloads is missing or not an array")
    env["payloads"] = [
        _decode_payload(
            p,
            fileserver_download_handler,
            max_retries,
            base_delay,
            max_delay,
            limit,
            allow_private_addresses,
        )
        for p in payloads
    ]
    env["_nats_reply"] = (
        nats_reply if type(nats_reply) is str else str(nats_reply, "utf-8")
    )
    return env

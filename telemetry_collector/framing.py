"""Where a request's body ends (RFC 9112 §6): ``Content-Length``, or ``chunked``, nothing else.

A server that guesses at framing reads a different body than the client sent, and a proxy in
front of it may read yet another (request smuggling): so a length that is not plain digits, two
different lengths, a transfer coding other than exactly ``chunked``, a chunk that is not
``HEX CRLF data CRLF``, or a body that ends before its length are refused, each with its status
and a one-line reason, and never read as something else.
"""

from __future__ import annotations

from email.message import Message
from io import BufferedIOBase

__all__ = ["FramingError", "TooLarge", "read_body"]

_MAX_CHUNKS = 10_000
_MAX_TRAILER_LINES = 100
_HEX = frozenset(b"0123456789abcdefABCDEF")


class FramingError(Exception):
    """The body cannot be delimited; ``status`` is the answer (400, or 501 for a coding we do not
    implement), ``str(exc)`` the reason. The connection must be closed after the answer."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


class TooLarge(FramingError):
    """The body is over the limit (413)."""

    def __init__(self, reason: str) -> None:
        super().__init__(413, reason)


def _shown(value: str) -> str:
    return repr(value if len(value) <= 40 else value[:40] + "...")


def read_body(headers: Message, rfile: BufferedIOBase, limit: int) -> bytes:
    """The body, read from *rfile* as *headers* frame it (empty when they announce none)."""
    codings = [
        c.strip().lower() for v in headers.get_all("Transfer-Encoding") or [] for c in v.split(",")
    ]
    codings = [c for c in codings if c]
    if codings:
        if codings == ["chunked"]:
            return _read_chunked(rfile, limit)
        if codings[-1] != "chunked":
            raise FramingError(400, "Transfer-Encoding without chunked last: the body has no end")
        raise FramingError(501, f"Transfer-Encoding {', '.join(codings[:-1])} is not supported")
    lengths = {v.strip() for v in headers.get_all("Content-Length") or []}
    if not lengths:
        return b""
    if len(lengths) > 1:
        raise FramingError(400, "two different Content-Length headers")
    (text,) = lengths
    if not (text.isascii() and text.isdigit()) or len(text) > 18:
        raise FramingError(400, f"bad Content-Length: {_shown(text)}")
    length = int(text)
    if length > limit:
        raise TooLarge(f"request body too large: {length} bytes > {limit}")
    body = rfile.read(length)
    if len(body) < length:
        raise FramingError(400, f"request body ended after {len(body)} of {length} bytes")
    return body


def _read_chunked(rfile: BufferedIOBase, limit: int) -> bytes:
    parts: list[bytes] = []
    size_so_far = 0
    for _ in range(_MAX_CHUNKS):
        line = rfile.readline(1026)
        if not line.endswith(b"\n"):
            raise FramingError(400, "bad chunked encoding: a chunk size line without its end")
        digits = line.split(b";", 1)[0].strip()
        if not digits or len(digits) > 16 or not set(digits) <= _HEX:
            raise FramingError(400, "bad chunked encoding: a chunk size that is not hexadecimal")
        size = int(digits, 16)
        if size == 0:
            for _ in range(_MAX_TRAILER_LINES):  # trailers, up to the blank line
                trailer = rfile.readline(8192)
                if trailer in (b"\r\n", b"\n"):
                    return b"".join(parts)
                if not trailer.endswith(b"\n"):
                    break
            raise FramingError(400, "bad chunked encoding: trailers without their end")
        size_so_far += size
        if size_so_far > limit:
            raise TooLarge(f"request body too large: more than {limit} bytes")
        chunk = rfile.read(size)
        if len(chunk) < size or rfile.readline(3) not in (b"\r\n", b"\n"):
            raise FramingError(400, "bad chunked encoding: a chunk shorter than its size")
        parts.append(chunk)
    raise FramingError(400, f"bad chunked encoding: more than {_MAX_CHUNKS} chunks")

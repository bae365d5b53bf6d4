"""Bytes to the collector and its answer back, over a plain socket: what ``http.client`` or
``requests`` would refuse to send (bad framing, huge numbers, junk) is sent as it is.

Reads are bounded in bytes and time, so a collector that hangs or floods fails a test instead of
stalling it.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass

TIMEOUT_S = 10.0
MAX_ANSWER = 64 * 1024 * 1024


@dataclass(frozen=True)
class Answer:
    status: int | None  #: None: no status line came back
    reason: str
    headers: dict[str, str]
    body: bytes
    raw: bytes


def parse(raw: bytes) -> Answer:
    """The final response in *raw*, past any ``100 Continue`` (status None when there is no
    HTTP status line)."""
    while raw.startswith(b"HTTP/1.1 100 "):
        raw = raw.partition(b"\r\n\r\n")[2]
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
        return Answer(None, "", {}, b"", raw)
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = headers.get("content-length")
    if length is not None and length.isdigit():
        body = body[: int(length)]
    return Answer(int(parts[1]), parts[2] if len(parts) > 2 else "", headers, body, raw)


def exchange(port: int, data: bytes, *, timeout: float = TIMEOUT_S) -> Answer:
    """Send *data*, end the sending side (so a short body is seen to end), read until the
    collector closes or *timeout*."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        try:
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # it may answer and close before reading everything (a 413, say)
        chunks: list[bytes] = []
        received = 0
        try:
            while received < MAX_ANSWER:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
                received += len(chunk)
        except (TimeoutError, ConnectionResetError):
            pass
    return parse(b"".join(chunks))


def request(
    method: str,
    target: str,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    *,
    length: bool = True,
) -> bytes:
    """One HTTP/1.1 request as bytes: ``Host`` and (unless *length* is False) ``Content-Length``
    added, *headers* as given."""
    lines = [f"{method} {target} HTTP/1.1", "Host: 127.0.0.1"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    if length:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body

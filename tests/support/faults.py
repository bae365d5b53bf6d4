"""Deliberately broken collectors, for proving that sending telemetry can
never hang, crash or slow down the tool that sends it.

Each :class:`FaultServer` is one failure mode a real network produces:

``refused``    the port is bound but not listening: connects are refused
               (the socket is kept, so nothing else can take the port)
``blackhole``  accepts connections and never answers nor closes them
               (at most ``max_connections`` held; later ones wait in the backlog)
``status``     answers every request with ``status`` (500, 503, 400...)
``slow``       answers 200 after ``delay`` seconds
``close``      sends part of the response headers, then closes
``garbage``    answers with random non-HTTP bytes, then closes
``notls``      plain TCP answering plain HTTP: point an ``https://`` URL at it

``.requests`` counts connections accepted (for the HTTP kinds, one request
per connection: every answer says ``Connection: close``); it stays 0 for
``refused``.  Every thread is a daemon, every loop is bounded by a timeout
or a size limit, and ``stop()`` returns within about a second.
Run one as a process with
``python -m tests.support.faults KIND --port 0 --ready-file PATH``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import select
import socket
import sys
import threading
import time
from http import HTTPStatus
from types import TracebackType
from typing import Self

from telemetry_collector._net import LOOPBACK_HOST, check_bind_host, family_for, url_for
from telemetry_collector._runtime import wait_until_stopped, write_ready_file

__all__ = ["FAULT_KINDS", "FaultServer", "main"]

FAULT_KINDS = ("refused", "blackhole", "status", "slow", "close", "garbage", "notls")
_IO_TIMEOUT = 5.0  # per recv/send on an accepted connection
_HEAD_LIMIT = 64 * 1024
_BODY_LIMIT = 10 * 1024 * 1024
_POLL = 0.1
_PARTIAL_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 1024\r\n"
_NOT_TLS = (
    b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: 25\r\n"
    b"Connection: close\r\n\r\nthis is not a TLS server\n"
)


class FaultServer:
    """A local server that fails in one specific way (see the module docstring)."""

    def __init__(
        self,
        kind: str,
        port: int = 0,
        delay: float = 2.0,
        *,
        status: int = 500,
        host: str = LOOPBACK_HOST,
        max_connections: int = 64,
        allow_non_loopback: bool = False,
    ) -> None:
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; choose from {', '.join(FAULT_KINDS)}")
        if not 100 <= status <= 599:
            raise ValueError(f"status must be an HTTP status code, not {status}")
        if delay < 0:
            raise ValueError("delay must not be negative")
        check_bind_host(host, allow_non_loopback)
        self.kind = kind
        self.host = host
        self.delay = delay
        self.status = status
        self.max_connections = max(1, max_connections)
        self._requested_port = port
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._acceptor: threading.Thread | None = None
        self._stopping = threading.Event()
        self._held: list[socket.socket] = []
        self._active: set[socket.socket] = set()
        self._workers: list[threading.Thread] = []
        self._requests = 0

    # -- lifecycle ------------------------------------------------------------

    def start(self) -> Self:
        """Bind (and listen, except ``refused``); idempotent; returns self."""
        with self._lock:
            if self._sock is not None:
                return self
            self._stopping = threading.Event()
            family = family_for(self.host)
            if self.kind == "refused":
                sock = socket.socket(family, socket.SOCK_STREAM)
                try:
                    sock.bind((self.host, self._requested_port))
                except OSError:
                    sock.close()
                    raise
                self._sock = sock
                return self
            sock = socket.create_server(
                (self.host, self._requested_port), family=family, backlog=128
            )
            sock.setblocking(False)
            self._sock = sock
            self._acceptor = threading.Thread(
                target=self._accept_loop,
                args=(sock, self._stopping),
                name=f"fault-{self.kind}:{sock.getsockname()[1]}",
                daemon=True,
            )
            self._acceptor.start()
        return self

    def stop(self) -> None:
        """Stop accepting, close held connections, unblock workers (within ~1 s)."""
        with self._lock:
            sock, acceptor = self._sock, self._acceptor
            if sock is None:
                return
            self._stopping.set()
        deadline = time.monotonic() + 0.9
        if acceptor is not None:
            acceptor.join(timeout=0.3)
        with self._lock:
            sock.close()
            held, self._held = self._held, []
            active = list(self._active)
            workers, self._workers = self._workers, []
            self._sock = self._acceptor = None
        for conn in held:
            conn.close()
        for conn in active:
            _quietly_shutdown(conn)
        for worker in workers:
            worker.join(timeout=max(0.0, deadline - time.monotonic()))

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        sock = self._sock
        if sock is None:
            raise RuntimeError("fault server is not running; call start() first")
        return int(sock.getsockname()[1])

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` (``https://`` for ``notls``)."""
        return url_for("https" if self.kind == "notls" else "http", self.host, self.port)

    @property
    def requests(self) -> int:
        """Connections accepted so far."""
        with self._lock:
            return self._requests

    def __repr__(self) -> str:
        where = self.url if self._sock is not None else "stopped"
        return f"<FaultServer {self.kind} {where} requests={self.requests}>"

    # -- serving --------------------------------------------------------------

    def _accept_loop(self, listener: socket.socket, stopping: threading.Event) -> None:
        while not stopping.is_set():
            with self._lock:
                busy = len(self._held if self.kind == "blackhole" else self._active)
            if busy >= self.max_connections:
                stopping.wait(_POLL)  # leave further clients in the backlog
                continue
            try:
                ready, _, _ = select.select([listener], [], [], _POLL)
                if not ready:
                    continue
                conn, _ = listener.accept()
            except (BlockingIOError, InterruptedError):
                continue
            except (OSError, ValueError):  # listener closed by stop()
                return
            with self._lock:
                self._requests += 1
                if self.kind == "blackhole":
                    self._held.append(conn)
                    continue
                self._active.add(conn)
                conn.settimeout(_IO_TIMEOUT)
                worker = threading.Thread(
                    target=self._serve_one, args=(conn, stopping), daemon=True
                )
                self._workers = [w for w in self._workers if w.is_alive()]
                self._workers.append(worker)
            worker.start()

    def _serve_one(self, conn: socket.socket, stopping: threading.Event) -> None:
        try:
            if self.kind == "notls":
                conn.recv(_HEAD_LIMIT)  # the TLS ClientHello (or whatever arrives)
                conn.sendall(_NOT_TLS)
            else:
                _read_request(conn)
                if self.kind == "status":
                    conn.sendall(_response(self.status))
                elif self.kind == "slow":
                    if stopping.wait(self.delay):
                        return
                    conn.sendall(_response(200, b"ok"))
                elif self.kind == "close":
                    conn.sendall(_PARTIAL_HEAD)
                elif self.kind == "garbage":
                    conn.sendall(b"\xff" + os.urandom(511))  # never starts with "HTTP/"
            conn.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        finally:
            with self._lock:
                self._active.discard(conn)
            conn.close()


def _read_request(conn: socket.socket) -> None:
    """Consume one request (head and Content-Length body) so closing sends FIN, not RST."""
    data = b""
    while b"\r\n\r\n" not in data and len(data) < _HEAD_LIMIT:
        chunk = conn.recv(8192)
        if not chunk:
            return
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            try:
                length = min(int(value.strip()), _BODY_LIMIT)
            except ValueError:
                length = 0
    remaining = length - len(body)
    while remaining > 0:
        chunk = conn.recv(min(remaining, 65536))
        if not chunk:
            return
        remaining -= len(chunk)


def _response(status: int, body: bytes | None = None) -> bytes:
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Fault"
    if body is None:
        body = f"{status} {phrase}\n".encode()
    head = (
        f"HTTP/1.1 {status} {phrase}\r\nContent-Type: text/plain\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


def _quietly_shutdown(conn: socket.socket) -> None:
    with contextlib.suppress(OSError):
        conn.shutdown(socket.SHUT_RDWR)


def main(argv: list[str] | None = None) -> int:
    """``python -m tests.support.faults KIND --port 0 --ready-file PATH``."""
    parser = argparse.ArgumentParser(
        prog="python -m tests.support.faults",
        description="Run a deliberately broken collector until SIGTERM/SIGINT.",
    )
    parser.add_argument("kind", choices=FAULT_KINDS)
    parser.add_argument(
        "--host",
        default=None,
        help=f"address (default {LOOPBACK_HOST}); explicit allows non-loopback",
    )
    parser.add_argument("--port", type=int, default=0, help="port (default 0 = any free port)")
    parser.add_argument("--ready-file", help="write the server URL here once listening")
    parser.add_argument(
        "--delay", type=float, default=2.0, help="seconds before 'slow' answers (default 2)"
    )
    parser.add_argument(
        "--status", type=int, default=500, help="status code 'status' answers (default 500)"
    )
    parser.add_argument(
        "--max-connections", type=int, default=64, help="connections held/served at once"
    )
    args = parser.parse_args(argv)
    try:
        server = FaultServer(
            args.kind,
            args.port,
            args.delay,
            status=args.status,
            host=args.host or LOOPBACK_HOST,
            max_connections=args.max_connections,
            allow_non_loopback=args.host is not None,
        ).start()
    except (OSError, ValueError) as exc:
        print(f"faults: {exc}", file=sys.stderr)
        return 1
    try:
        if args.ready_file:
            write_ready_file(args.ready_file, server.url)
        wait_until_stopped()
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

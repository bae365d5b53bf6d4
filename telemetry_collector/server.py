"""The HTTP side of the local Snowplow collector, and its in-process API.

Speaks the tracker-protocol endpoints a Snowplow tracker uses
(``POST /com.snowplowanalytics.snowplow/tp2``, the ``GET /i`` pixel and its legacy
``/ice.png``, and tp2 over GET) and always answers them 200 at once, as a real
collector does: the answer leaves before the events are validated (a tracker's
round trip does not include the checks), and the verdict is only visible through
the Micro API (``/micro/...``, Micro's shapes) or :meth:`Collector.good` /
:meth:`Collector.bad` (the same entries), which wait for the verdicts of every
request already answered.  ``GET /health`` answers ``OK``.  Stdlib
``ThreadingHTTPServer`` keeps it free of dependencies; one daemon thread per
connection, keep-alive supported.
"""

from __future__ import annotations

import base64
import contextlib
import errno
import ipaddress
import re
import socket
import socketserver
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from http.cookies import CookieError, SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, Self
from urllib.parse import urlsplit

from consent.values import printable
from tracking.endpoint import TP2_PATH
from tracking.schema_check import SchemaRegistry

from . import micro
from ._net import LOOPBACK_HOST, check_bind_host, family_for, url_for
from ._runtime import StopSignals, write_ready_file
from .canonical import UUID_PATTERN
from .connections import BUSY_ANSWER, ConnectionTable, connection_bound
from .framing import FramingError, TooLarge, read_body
from .micro import json_reply
from .model import PIXEL_PATHS, BadEvent, Outcome, RequestInfo
from .store import DEFAULT_MAX_BYTES, DEFAULT_MAX_EVENTS, EventStore
from .validate import EventChecker

__all__ = [
    "DEFAULT_PORT",
    "MAX_BODY_BYTES",
    "MAX_HEADER_BYTES",
    "PIXEL_GIF",
    "PIXEL_PATH",
    "Collector",
    "serve_forever",
]

PIXEL_PATH = PIXEL_PATHS[0]


def _host_name(host: str | None) -> str | None:
    """The name in a ``Host`` header, without its port (None: absent or unparsable)."""
    try:
        return urlsplit(f"//{host}").hostname if host else None
    except ValueError:
        return None


def _serves_host(name: str | None, bound: str) -> bool:
    """Whether ``Host`` names this server: localhost, a loopback address, the bound address, or
    (bound to a wildcard) any address; never another name, as a DNS-rebinding page's is."""
    if name is None:
        return False
    if name in ("localhost", "localhost.") or name == bound.lower():
        return True
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return False
    return address.is_loopback or bound in ("0.0.0.0", "::")


def _plain_origin(origin: str) -> bool:
    """A serialized origin (``scheme://host[:port]``) is one run of visible ASCII."""
    return 0 < len(origin) <= 2048 and all("!" <= ch <= "~" for ch in origin)


DEFAULT_PORT = 9090  # Snowplow Micro's
MAX_BODY_BYTES = 10 * 1024 * 1024
PIXEL_GIF = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
_IDLE_TIMEOUT = 30.0  # seconds an idle keep-alive connection keeps its thread
_MAX_EMPTY_LINES = 8  # skipped before a request line
_OUT_OF_DESCRIPTORS = (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM)
_ACCEPT_BACKOFF_S = 0.05
#: Every event of a request repeats its headers: more than this is refused (431), not stored.
MAX_HEADER_BYTES = 64 * 1024
_FIELD_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # RFC 9110's token


@dataclass(slots=True)
class _App:
    """What request handlers share: the store, the checker, the settings."""

    store: EventStore
    checker: EventChecker
    registry: SchemaRegistry
    verbose: bool
    max_body_bytes: int


def _cookie_user_id(header: str | None) -> str | None:
    """The network user id a browser carries in the collector's ``sp`` cookie, if any."""
    if not header:
        return None
    cookie = SimpleCookie()
    try:
        cookie.load(header)
    except CookieError:
        return None
    morsel = cookie.get("sp")
    return morsel.value.lower() if morsel is not None and UUID_PATTERN.match(morsel.value) else None


class _Server(ThreadingHTTPServer):
    """ThreadingHTTPServer that can drop its open connections on stop."""

    daemon_threads = True
    block_on_close = False  # stop() must not wait for idle keep-alive clients
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], app: _App) -> None:
        self.address_family = family_for(address[0])
        self.app = app
        self.connections = ConnectionTable(connection_bound())
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind does a reverse-DNS lookup (getfqdn); skip it.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    def get_request(self) -> tuple[socket.socket, Any]:
        try:
            return super().get_request()
        except OSError as exc:
            if exc.errno in _OUT_OF_DESCRIPTORS:
                # the listening socket stays readable: without a pause this loop spins a core
                self.connections.out_of_descriptors()
                time.sleep(_ACCEPT_BACKOFF_S)
            raise

    def verify_request(self, request: Any, client_address: Any) -> bool:
        if self.connections.admit(request):
            return True
        with contextlib.suppress(OSError):
            request.settimeout(1.0)
            request.sendall(BUSY_ANSWER)
        return False  # socketserver then closes it

    def shutdown_request(self, request: Any) -> None:
        self.connections.discard(request)
        super().shutdown_request(request)

    def drop_connections(self) -> None:
        """Unblock every handler thread; each then closes its own socket."""
        self.connections.drop_all()

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients hanging up mid-request are routine; no tracebacks on stderr.
        if self.app.verbose:
            exc = sys.exc_info()[1]
            sys.stderr.write(f"collector: error with {client_address}: {exc!r}\n")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "telemetry-consent-collector"
    sys_version = ""
    timeout = _IDLE_TIMEOUT
    # Headers and body go out in two writes; without TCP_NODELAY, Nagle plus
    # delayed ACKs stall every keep-alive response by ~40 ms.
    disable_nagle_algorithm = True
    #: What an unparsable request line is answered as (HTTP/0.9 would get no status line).
    default_request_version = "HTTP/1.1"
    server: _Server
    raw_requestline: bytes
    _answered = False

    def handle_one_request(self) -> None:
        self.server.connections.idle(self.connection)  # waiting for a request: may be let go
        super().handle_one_request()

    def parse_request(self) -> bool:
        self.server.connections.busy(self.connection)  # a request is in: never cut
        # Empty lines before a request line are skipped (RFC 9112 §2.2: some clients send one
        # after a body). HTTP/0.9 ("GET /", no headers) would be answered without a status line:
        # it is refused, as is any line that is not METHOD TARGET VERSION, with an HTTP/1.1 answer
        for _ in range(_MAX_EMPTY_LINES):
            if self.raw_requestline.strip() or not self.raw_requestline:
                break
            self.raw_requestline = self.rfile.readline(65537)
        if not self.raw_requestline:
            self.close_connection = True
            return False  # the client hung up: nobody to answer
        if len(self.raw_requestline.split()) != 3:
            line = str(self.raw_requestline, "latin-1").rstrip("\r\n")
            self.requestline = printable(line, 200, newlines=False) or ""
            self.request_version, self.command, self.close_connection = "HTTP/1.1", "", True
            self.send_error(400, "Bad request line: expected METHOD TARGET HTTP/1.x")
            return False
        if not super().parse_request():
            return False
        # a line that is not "Name: value" (no colon, a space before it) is a different header
        # to every parser that reads it: refused (RFC 9112 §5.1), not guessed at. A line folded
        # onto the one before (obs-fold) stays part of that value, which is then never echoed
        if self.headers.defects or not all(map(_FIELD_NAME.fullmatch, self.headers.keys())):
            self.close_connection = True
            self.send_error(400, "Bad header line: expected Name: value")
            return False
        return True

    def do_GET(self) -> None:
        self._answer(lambda: self._dispatch("GET"))

    def do_POST(self) -> None:
        self._answer(lambda: self._dispatch("POST"))

    def do_OPTIONS(self) -> None:
        self._answer(self._preflight)

    def _answer(self, route: Callable[[], None]) -> None:
        """Run a route so that every request gets an answer saying what went wrong, if anything:
        a closed connection tells a client nothing, and a silent one looks like a hang."""
        self._answered = False
        try:
            route()
        except FramingError as exc:
            self.close_connection = True
            self._reply(json_reply(exc.status, {"error": str(exc)}))
        except OSError:
            raise  # the client went away: nobody to answer
        except Exception as exc:  # noqa: BLE001 (a bug must still be an answer, with its reason)
            self.close_connection = True
            if self._answered:
                return
            reason = printable(f"collector internal error: {exc!r}", 500, newlines=False)
            self._reply(json_reply(500, {"error": reason or "collector internal error"}))

    def _preflight(self) -> None:
        self._read_body()
        if not self._tracker_path():
            # /micro/* is for the collector's own page (same origin) and local scripts: no
            # foreign web page may be approved to call it
            self._send(403, b"", "text/plain", {})
            return
        requested = self.headers.get("Access-Control-Request-Headers")
        self._send(
            200,
            b"",
            "text/plain",
            {
                "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
                "Access-Control-Allow-Headers": requested or "Content-Type, SP-Anonymous",
                "Access-Control-Max-Age": "3600",
            },
        )

    def _tracker_path(self) -> bool:
        """The tracker endpoints, which browser trackers call from any site (Snowplow's CORS)."""
        path = urlsplit(self.path).path
        return path == TP2_PATH or path in PIXEL_PATHS

    def _host_refused(self) -> str | None:
        """Why the ``Host`` header is not this server (a DNS-rebinding page names its own)."""
        host = self.headers.get("Host")
        if host is None:
            return None  # HTTP/1.0 without Host: no page in a browser sends that
        bound = str(self.server.server_address[0])
        if _serves_host(_host_name(host), bound):
            return None
        return (
            f"Host {printable(host, 200, newlines=False)!r} is not this collector: it answers "
            f"only to localhost, a loopback address or {bound}"
        )

    def _dispatch(self, method: str) -> None:
        app = self.server.app
        url = urlsplit(self.path)
        refused = self._host_refused()
        if refused is not None:
            self.close_connection = True
            self._read_body_quietly()
            self._reply(json_reply(421, {"error": refused}))
            return
        head = sum(len(name) + len(value) + 4 for name, value in self.headers.items())
        if head > MAX_HEADER_BYTES:
            self.close_connection = True
            reason = f"request headers take {head} bytes, more than the {MAX_HEADER_BYTES} read"
            self._reply(json_reply(431, {"error": reason}))
            return
        info = self._request_info(method, url.path, url.query)
        try:
            body = self._read_body()
        except FramingError as exc:
            # what follows on the connection cannot be told apart from this body: close it
            self.close_connection = True
            if isinstance(exc, TooLarge) and url.path == TP2_PATH:
                app.store.add([BadEvent(errors=(str(exc),), info=info)])
            self._reply(json_reply(exc.status, {"error": str(exc)}))
            return

        if url.path == TP2_PATH and method == "POST":
            ticket = app.store.expect()
            try:
                self._send(200, b"ok", "text/plain; charset=utf-8")
            finally:
                self._collect(lambda: app.checker.check_post_body(body, info), info, body, ticket)
        elif (url.path in PIXEL_PATHS or url.path == TP2_PATH) and method == "GET":
            ticket = app.store.expect()
            try:
                self._send(200, PIXEL_GIF, "image/gif", {"Cache-Control": "no-cache, no-store"})
            finally:
                self._collect(lambda: app.checker.check_query(url.query, info), info, None, ticket)
        elif url.path == "/health" and method == "GET":
            self._send(200, b"OK", "text/plain; charset=utf-8")
        elif url.path.rstrip("/") == "/micro/reset" and not self._json_post(method):
            # state-changing: neither <img src=…/micro/reset> nor a cross-site form may wipe it
            self._reply(
                json_reply(
                    405 if method != "POST" else 415,
                    {"error": "/micro/reset takes POST with Content-Type: application/json"},
                )
            )
        else:
            reply = micro.handle(method, url.path, url.query, body, app.store, app.registry)
            self._reply(reply or json_reply(404, {"error": f"no route for {method} {url.path}"}))

    def _json_post(self, method: str) -> bool:
        kind = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        return method == "POST" and kind == "application/json"

    def _read_body_quietly(self) -> None:
        with contextlib.suppress(Exception):
            self._read_body()

    def _request_info(self, method: str, path: str, query: str) -> RequestInfo:
        headers = self.headers
        hostname = _host_name(headers.get("Host"))
        return RequestInfo(
            method=method,
            path=path,
            headers={k.lower(): v for k, v in headers.items()},
            received_ms=int(time.time() * 1000),
            header_lines=tuple(f"{k}: {v}" for k, v in headers.items()),
            query=query,
            ip_address=self.client_address[0] if self.client_address else None,
            hostname=hostname,
            network_userid=_cookie_user_id(headers.get("Cookie")),
        )

    def _collect(
        self,
        check: Callable[[], list[Outcome]],
        info: RequestInfo,
        body: bytes | None,
        ticket: int,
    ) -> None:
        """Store the verdicts of an answered request (announced with ``store.expect()``); a
        checker bug becomes a bad event, never a dropped request."""
        try:
            outcomes = check()
        except Exception as exc:  # noqa: BLE001 (any checker bug must still answer 200)
            text = body[:65536].decode("utf-8", "replace") if body else None
            reason = f"collector internal error: {exc!r}"
            outcomes = [BadEvent(errors=(reason,), info=info, body=text)]
        self.server.app.store.add(outcomes, ticket=ticket)

    def _read_body(self) -> bytes:
        return read_body(self.headers, self.rfile, self.server.app.max_body_bytes)

    def _reply(self, reply: micro.Reply) -> None:
        self._send(reply.status, reply.body, reply.content_type, reply.headers)

    def _send(
        self,
        status: int,
        body: bytes,
        content_type: str,
        headers: dict[str, str] | None = None,
    ) -> None:
        self._answered = True
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        if self._tracker_path():
            # Snowplow's collector answers browser trackers from any site, cookies included;
            # an Origin that is not one plain token (obs-fold, spaces, controls) is not echoed
            origin = self.headers.get("Origin")
            if origin is not None and not _plain_origin(origin):
                origin = None
            self.send_header("Access-Control-Allow-Origin", origin or "*")
            if origin:
                self.send_header("Access-Control-Allow-Credentials", "true")
                self.send_header("Vary", "Origin")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.app.verbose:
            sys.stderr.write(f"collector: {self.address_string()} {format % args}\n")


class Collector:
    """A local Snowplow collector with Snowplow Micro's inspection API and entry shapes.

    ``Collector().start()`` listens on a free loopback port in a daemon
    thread; point a tracker's emitter at :attr:`url`.  Use as a context
    manager to stop it reliably.  Binding a non-loopback *host* requires
    ``allow_non_loopback=True``: it is a test tool and must not leak onto a
    network by accident.
    """

    def __init__(
        self,
        host: str = LOOPBACK_HOST,
        port: int = 0,
        schema_roots: Iterable[str | Path] | None = None,
        *,
        max_events: int = DEFAULT_MAX_EVENTS,
        max_bytes: int = DEFAULT_MAX_BYTES,
        max_body_bytes: int = MAX_BODY_BYTES,
        verbose: bool = False,
        allow_non_loopback: bool = False,
    ) -> None:
        check_bind_host(host, allow_non_loopback)
        self.host = host
        self._requested_port = port
        self.registry = SchemaRegistry(schema_roots)
        self.store = EventStore(max_events, max_bytes)
        self._app = _App(
            store=self.store,
            checker=EventChecker(self.registry),
            registry=self.registry,
            verbose=verbose,
            max_body_bytes=max_body_bytes,
        )
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    # -- lifecycle ------------------------------------------------------------

    def start(self) -> Self:
        """Bind and serve in a daemon thread; idempotent; returns self."""
        with self._lock:
            if self._server is None:
                server = _Server((self.host, self._requested_port), self._app)
                thread = threading.Thread(
                    target=server.serve_forever,
                    kwargs={"poll_interval": 0.1},
                    name=f"collector:{server.server_port}",
                    daemon=True,
                )
                thread.start()
                self._server, self._thread = server, thread
        return self

    def stop(self) -> None:
        """Stop listening and drop open connections (returns within about a second)."""
        with self._lock:
            server, thread = self._server, self._thread
            self._server = self._thread = None
        if server is None or thread is None:
            return
        if thread.is_alive():
            server.shutdown()
        server.drop_connections()
        server.server_close()
        thread.join(timeout=1.0)

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
        if self._server is None:
            raise RuntimeError("collector is not running; call start() first")
        return self._server.server_port

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` (no path): what an emitter's endpoint needs."""
        return url_for("http", self.host, self.port)

    # -- what was collected ---------------------------------------------------

    def good(
        self,
        *,
        schema: str | None = None,
        event_type: str | None = None,
        contexts: Sequence[str] = (),
        duplicates: bool | None = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """Good events, newest first, exactly as ``POST /micro/good`` with these filters."""
        return self.store.good(
            schema=schema,
            event_type=event_type,
            contexts=contexts,
            duplicates=duplicates,
            limit=limit,
        )

    def bad(
        self, *, vendor: str | None = None, version: str | None = None, limit: int | None = None
    ) -> list[dict[str, Any]]:
        """Bad events, newest first, exactly as ``POST /micro/bad`` with these filters."""
        return self.store.bad(vendor=vendor, version=version, limit=limit)

    def totals(self) -> dict[str, int]:
        """``{"total", "good", "bad", "duplicates", "evicted"}``, as ``GET /micro/all``."""
        return self.store.totals()

    def reset(self) -> dict[str, int]:
        """Forget everything, as ``/micro/reset``; the (zero) totals."""
        return self.store.reset()

    def wait_for(
        self,
        *,
        total: int | None = None,
        good: int | None = None,
        bad: int | None = None,
        timeout: float = 5.0,
    ) -> bool:
        """Wait for events from asynchronous emitters; False on timeout."""
        return self.store.wait_for(total=total, good=good, bad=bad, timeout=timeout)

    def __repr__(self) -> str:
        where = self.url if self._server is not None else "stopped"
        return f"<Collector {where} {self.totals()}>"


def serve_forever(
    host: str = LOOPBACK_HOST,
    port: int = DEFAULT_PORT,
    *,
    ready_file: str | Path | None = None,
    schema_roots: Iterable[str | Path] | None = None,
    max_events: int = DEFAULT_MAX_EVENTS,
    max_bytes: int = DEFAULT_MAX_BYTES,
    verbose: bool = False,
    allow_non_loopback: bool = False,
    stop_event: threading.Event | None = None,
    on_ready: Callable[[str], None] | None = None,
) -> None:
    """Run a collector until SIGTERM/SIGINT (or *stop_event*), then stop cleanly.

    Once listening, the URL is written to *ready_file* (atomically, no
    newline) so a spawning process can use ``--port 0``, and handed to *on_ready*
    (``telemetry collector`` prints its banner there). Signals are caught before
    binding: a Ctrl-C while starting stops as cleanly as later. Raises OSError when
    it cannot bind.
    """
    with StopSignals(stop_event) as signals:
        collector = Collector(
            host,
            port,
            schema_roots,
            max_events=max_events,
            max_bytes=max_bytes,
            verbose=verbose,
            allow_non_loopback=allow_non_loopback,
        ).start()
        try:
            if on_ready is not None:
                on_ready(collector.url)
            elif verbose:
                sys.stderr.write(f"collector: listening on {collector.url}\n")
            if ready_file is not None:
                write_ready_file(ready_file, collector.url)
            signals.wait()
        finally:
            collector.stop()

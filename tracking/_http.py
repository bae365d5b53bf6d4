"""The uploader's HTTP: one keep-alive connection to the collector, standard library only.

Why not ``requests``: with ``stream=True`` + ``close()`` (needed so that a broken collector's
body is never read) urllib3 discarded the connection after every request: one TCP connect — one
TLS handshake against a real collector — per batch. (snowplow_tracker still imports requests
for its emitters, which we do not use; that import is paid while the host sets up, see
:mod:`tracking.tracker`.)
Here :class:`Transport` keeps ONE ``http.client`` connection and reuses it:

- **Timeouts** on the connect and on every read (``request_timeout``); a collector that never
  answers holds the uploader for at most that long, and the host not at all (the host only
  waits for the flush deadline).
- **One call per batch**, :meth:`Transport.post`: the request, then its whole answer (one
  request at a time, as HTTP/1.1 without pipelining allows).
- **An answer counts only when it is whole**: a small body (the collector's ``ok``) is read to
  its end, so the connection stays usable; a body cut short (a collector closing mid-response)
  is no answer at all. A body that is large, chunked or of unknown length is never read: the
  status is kept and the connection dropped.
- **Stale connections**: a kept-alive connection that the collector (or a load balancer) closed
  while idle is noticed before it is used, or, if it closes just as the request leaves, the
  request is sent once more on a fresh connection. This replay happens only on a connection that
  sat open before the request (kept alive after an answer),
  and only when not one byte of an answer came back, so it never turns a failing collector into
  a retry loop.
- **HTTPS** verifies the certificate and host name with ``ssl.create_default_context()`` (the
  system's trust store; ``SSL_CERT_FILE`` / ``SSL_CERT_DIR`` apply). Where Python has no default
  trust store at all (python.org's macOS builds before "Install Certificates"), certifi's bundle
  is used if it is installed, and ``REQUESTS_CA_BUNDLE`` / ``CURL_CA_BUNDLE`` still add their
  CAs, as they did when requests sent the events.
- **Proxies** (``HTTPS_PROXY`` / ``ALL_PROXY``, ``NO_PROXY``; an ``http://`` proxy, reached with
  CONNECT) are honoured for a collector on another machine, never for a loopback one (the local
  collector of development and tests is reached directly, whatever the environment says).
- Redirects are never followed (a 3xx is just a status that is not 2xx).

Nothing here raises into the uploader: :meth:`Transport.post` returns an :class:`Answer`, the
status, or the :class:`~tracking.errors.TransportError` that says why there was no usable
answer (the request could not leave, or nothing whole came back).
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import os
import select
import socket
from typing import TYPE_CHECKING, NamedTuple
from urllib.parse import unquote, urlsplit

from .endpoint import TP2_PATH, is_loopback
from .errors import AnswerBroken, ConnectFailed, TimedOut, TransportError

if TYPE_CHECKING:
    import ssl  # imported when first needed: plain HTTP never pays for it

#: Answers up to this size are read to their end (the connection is then reused).
MAX_ANSWER_BYTES = 64 * 1024
_HEADERS = {"Content-Type": "application/json; charset=utf-8"}
#: The peer closed a kept-alive connection before a single byte of the answer: safe to send again.
_STALE = (
    http.client.RemoteDisconnected,
    ConnectionResetError,
    BrokenPipeError,
    ConnectionAbortedError,
)


class Answer(NamedTuple):
    """What came back for one request: its HTTP ``status``, or the ``failure`` that says why
    nothing usable did (``status`` is then None)."""

    status: int | None
    failure: TransportError | None = None


def failure_of(exc: BaseException, *, sent: bool) -> TransportError:
    """``exc`` as the typed reason there is no answer (``sent``: the request had left)."""
    if isinstance(exc, TransportError):
        return exc
    detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    if isinstance(exc, TimeoutError | socket.timeout):
        return TimedOut(f"timed out ({detail})")
    if not sent or isinstance(exc, ConnectionRefusedError | socket.gaierror):
        return ConnectFailed(f"could not connect ({detail})")
    return AnswerBroken(f"no whole answer ({detail})")


class Transport:
    """One keep-alive connection to ``url`` (a checked base URL, see :mod:`tracking.endpoint`)."""

    def __init__(self, url: str, timeout: float) -> None:
        parts = urlsplit(url)
        self._https = parts.scheme == "https"
        self._host = parts.hostname or ""
        self._port = parts.port or (443 if self._https else 80)
        self._path = parts.path.rstrip("/") + TP2_PATH
        self._timeout = timeout
        self._conn: http.client.HTTPConnection | None = None
        #: The current connection sat open before this request (opened ahead, or it carried a
        #: request already): the peer may have closed it meanwhile, which is not a failure.
        self._idle = False
        self._context: ssl.SSLContext | None = None
        self._proxy = None if is_loopback(self._host) else _proxy_for(self._host, self._https)

    # -- one exchange -------------------------------------------------------------------------
    def post(self, body: bytes) -> Answer:
        """POST ``body`` and read the answer: its status, or why there is none (could not
        connect, timeout, reset, not HTTP, not TLS, cut short...). Never raises."""
        sent = False
        try:
            conn = self._conn
            if conn is not None and self._idle and _dropped(conn):
                self.close()
                conn = None
            try:
                (conn or self._connection()).request("POST", self._path, body, _HEADERS)
                sent = True
                return Answer(self._answer())
            except _STALE:
                if not self._idle:
                    raise
                # Closed while idle, as the request left or before a byte came back: once
                # more, on a new connection (which cannot be idle, so never a third time).
                self.close()
                sent = False
                self._connection().request("POST", self._path, body, _HEADERS)
                sent = True
                return Answer(self._answer())
        except Exception as exc:  # noqa: BLE001 - every way there is no usable answer, typed
            self.close()
            return Answer(None, failure_of(exc, sent=sent))

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):  # closing must never raise into the host
                conn.close()

    # -- internals ----------------------------------------------------------------------------
    def _connection(self) -> http.client.HTTPConnection:
        host, port = (self._proxy[0], self._proxy[1]) if self._proxy else (self._host, self._port)
        if self._https:
            conn: http.client.HTTPConnection = _HTTPSConnection(
                host, port, timeout=self._timeout, context=self._tls()
            )
        else:
            conn = _HTTPConnection(host, port, timeout=self._timeout)
        if self._proxy is not None:
            conn.set_tunnel(self._host, self._port, headers=self._proxy[2])
        self._conn, self._idle = conn, False
        return conn

    def _answer(self) -> int:
        conn = self._conn
        assert conn is not None
        if conn.sock is not None:
            conn.sock.settimeout(self._timeout)
        response = conn.getresponse()
        self._idle = True
        status = response.status
        length = response.length
        if response.chunked or length is None or length > MAX_ANSWER_BYTES:
            self.close()  # never read a body that may not end; the status is what matters
        else:
            response.read()  # raises IncompleteRead when cut short: that is no answer
            if response.will_close:
                self.close()
        return status

    def _tls(self) -> ssl.SSLContext:
        if self._context is None:
            import ssl

            context = ssl.create_default_context()
            defaults = ssl.get_default_verify_paths()
            if not (defaults.cafile or defaults.capath):
                try:
                    import certifi

                    context.load_verify_locations(cafile=certifi.where())
                except Exception:  # noqa: BLE001 - no certifi: the default store it is
                    pass
            for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
                extra = os.environ.get(name)
                if extra:
                    try:
                        if os.path.isdir(extra):
                            context.load_verify_locations(capath=extra)
                        else:
                            context.load_verify_locations(cafile=extra)
                    except Exception:  # noqa: BLE001 - a wrong path must not stop sending
                        pass
            self._context = context
        return self._context


class _NoDelay:
    """TCP_NODELAY, as urllib3 sets it: a request leaves as headers then body (two writes), and
    Nagle's algorithm with the peer's delayed ACK would hold the body back for up to 40 ms."""

    def connect(self) -> None:
        super().connect()  # type: ignore[misc]  # the mixin's base is the concrete connection
        with contextlib.suppress(OSError, AttributeError):  # not TCP (a proxy's socket): as is
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # type: ignore[attr-defined]


class _HTTPConnection(_NoDelay, http.client.HTTPConnection):
    pass


class _HTTPSConnection(_NoDelay, http.client.HTTPSConnection):
    pass


def _dropped(conn: http.client.HTTPConnection) -> bool:
    """True when an idle kept-alive connection was closed by the peer (or has stray bytes)."""
    sock = conn.sock
    if sock is None:
        return True
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)  # an idle connection has nothing to read, except an EOF


def _proxy_for(host: str, https: bool) -> tuple[str, int, dict[str, str]] | None:
    """``(proxy host, port, CONNECT headers)`` from the environment, or None (direct)."""
    try:
        from urllib.request import getproxies, proxy_bypass

        proxies = getproxies()
        raw = proxies.get("https" if https else "http") or proxies.get("all")
        if not raw or proxy_bypass(host):
            return None
        if "://" not in raw:
            raw = "http://" + raw
        parts = urlsplit(raw)
        if parts.scheme.lower() != "http" or not parts.hostname:
            return None  # only plain-http proxies (CONNECT) are supported: go direct
        headers: dict[str, str] = {}
        if parts.username is not None:
            credentials = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
            headers["Proxy-Authorization"] = "Basic " + base64.b64encode(
                credentials.encode("utf-8")
            ).decode("ascii")
        return parts.hostname, parts.port or 80, headers
    except (ValueError, OSError):
        return None

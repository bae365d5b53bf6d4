"""The uploader's HTTP (tracking/_http.py): one kept-alive connection, whole answers, no loops.

Each test talks to a real socket: a scripted server on loopback that counts connections and
requests and answers each request the way the test says (keep the connection, close it after the
answer, close it without answering, cut the answer short).
"""

from __future__ import annotations

import socket
import threading
import time

import pytest

from tests.support.tracking import Scripted
from tracking._http import Answer, Transport
from tracking.errors import AnswerBroken, ConnectFailed, TimedOut


@pytest.fixture
def scripted():
    servers: list[Scripted] = []

    def make(script=lambda conn, req: "keep") -> Scripted:
        servers.append(Scripted(script))
        return servers[-1]

    yield make
    for server in servers:
        server.close()


def _exchange(transport: Transport, body: bytes = b"{}") -> Answer:
    return transport.post(body)


def test_one_connection_carries_every_request(scripted):
    server = scripted()
    transport = Transport(server.url, timeout=5)
    statuses = [_exchange(transport, b'{"n":%d}' % i).status for i in range(20)]
    transport.close()
    assert statuses == [200] * 20
    assert server.connections == 1
    assert [body for _, _, body in server.requests] == [b'{"n":%d}' % i for i in range(20)]


def test_a_connection_the_collector_closed_while_idle_is_replaced_silently(scripted):
    server = scripted(lambda conn, req: "close_after")  # no "Connection: close" to warn us
    transport = Transport(server.url, timeout=5)
    statuses = []
    for _ in range(3):
        statuses.append(_exchange(transport).status)
        time.sleep(0.05)  # the FIN arrives while the connection is idle
    assert statuses == [200, 200, 200]
    assert server.connections == 3 and len(server.requests) == 3  # nothing sent twice


def test_a_close_racing_the_request_on_a_reused_connection_is_sent_once_more(scripted):
    # The second request on each connection meets a close with no answer (an idle timeout
    # firing just as it arrives): sent again once on a fresh connection, never more.
    server = scripted(lambda conn, req: "close_before" if req == 2 else "keep")
    transport = Transport(server.url, timeout=5)
    assert [_exchange(transport) for _ in range(3)] == [Answer(200)] * 3
    assert [(c, r) for c, r, _ in server.requests] == [(1, 1), (1, 2), (2, 1), (2, 2), (3, 1)]


def test_a_fresh_connection_closed_without_an_answer_is_a_failure_not_a_loop(scripted):
    server = scripted(lambda conn, req: "close_before")
    transport = Transport(server.url, timeout=5)
    answer = _exchange(transport)
    assert answer.status is None and isinstance(answer.failure, AnswerBroken), answer
    assert len(server.requests) == 1


def test_an_answer_cut_short_is_no_answer(scripted):
    server = scripted(lambda conn, req: "short")
    transport = Transport(server.url, timeout=5)
    for _ in range(2):  # and the next request gets a new connection
        answer = _exchange(transport)
        assert answer.status is None and isinstance(answer.failure, AnswerBroken), answer
    assert server.connections == 2


def test_a_huge_answer_is_never_read_but_its_status_counts(scripted):
    server = scripted(lambda conn, req: "big")
    transport = Transport(server.url, timeout=5)
    started = time.monotonic()
    assert _exchange(transport) == Answer(200)
    assert time.monotonic() - started < 0.4  # did not wait for (or read) the body


def test_a_silent_collector_costs_the_read_timeout_at_most():
    listener = socket.create_server(("127.0.0.1", 0))  # accepts (backlog), never answers
    try:
        transport = Transport(f"http://127.0.0.1:{listener.getsockname()[1]}", timeout=0.3)
        started = time.monotonic()
        answer = _exchange(transport)
        assert answer.status is None and isinstance(answer.failure, TimedOut), answer
        assert time.monotonic() - started < 2
    finally:
        listener.close()


def test_a_refused_connection_is_a_typed_failure():
    """Each failure is typed, with its reason: what the uploader reports for the collector."""
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))  # bound, not listening: refused
    try:
        transport = Transport(f"http://127.0.0.1:{holder.getsockname()[1]}", timeout=1)
        answer = transport.post(b"{}")
        assert answer.status is None and isinstance(answer.failure, ConnectFailed), answer
        assert "could not connect" in str(answer.failure)
    finally:
        holder.close()


class _Proxy:
    """Records the first line a client sends, answers 403 and closes."""

    def __init__(self) -> None:
        self.lines: list[bytes] = []
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://user:p%40ss@127.0.0.1:{self._sock.getsockname()[1]}"

    def _serve(self) -> None:
        conn, _ = self._sock.accept()
        with conn:
            conn.settimeout(5)
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(4096)
                if not chunk:
                    break
                data += chunk
            self.lines = data.split(b"\r\n")
            conn.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")

    def close(self) -> None:
        self._sock.close()
        self._thread.join(1)


def test_an_https_collector_is_reached_through_the_environment_proxy(monkeypatch):
    proxy = _Proxy()
    for name in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTPS_PROXY", proxy.url)
    try:
        transport = Transport("https://collector.example.com", timeout=2)
        answer = transport.post(b"{}")  # the proxy refuses the tunnel
        assert answer.status is None and isinstance(answer.failure, ConnectFailed), answer
    finally:
        proxy.close()
    # CONNECT to the collector, never a name look-up of it here; the proxy's credentials sent.
    # (http.client says HTTP/1.0 up to Python 3.11, HTTP/1.1 from 3.12 on.)
    assert proxy.lines[0] in (
        b"CONNECT collector.example.com:443 HTTP/1.0",
        b"CONNECT collector.example.com:443 HTTP/1.1",
    )
    assert b"Proxy-Authorization: Basic dXNlcjpwQHNz" in proxy.lines  # user:p@ss


def test_no_proxy_and_loopback_collectors_go_direct(monkeypatch, scripted):
    server = scripted()
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("NO_PROXY", "collector.internal")
    assert Transport("https://collector.internal", timeout=1)._proxy is None
    assert Transport("https://collector.example.com", timeout=1)._proxy == ("127.0.0.1", 9, {})
    transport = Transport(server.url, timeout=5)  # loopback: whatever the environment says
    assert _exchange(transport) == Answer(200)

"""Idle connections cannot lock anyone out or spin the collector.

A client that opens more connections than the process has descriptors for, and sends nothing,
used to make ``accept()`` fail with EMFILE on every turn of the serving loop: one core at 100 %,
and no other client served until the idle ones timed out (30 s). The collector runs as its own
process with a low descriptor limit (64), so a hundred sockets are enough to show it. Wall time
is only a generous "does not hang" bound; CPU time is read from ``/proc``.
"""

from __future__ import annotations

import socket
import time
from contextlib import ExitStack
from pathlib import Path

from tests.telemetry_collector.process_kit import collector_process, cpu_seconds, needs_proc
from tests.telemetry_collector.raw_http import exchange, parse, request

HANG_BOUND_S = 10.0
IDLE_CONNECTIONS = 100
MAX_OPEN_FILES = 64


def _open_idle(port: int, count: int, stack: ExitStack) -> list[socket.socket]:
    sockets = []
    for _ in range(count):
        sock = stack.enter_context(socket.create_connection(("127.0.0.1", port), timeout=5))
        sockets.append(sock)
    return sockets


@needs_proc
def test_more_idle_connections_than_descriptors_neither_spin_nor_lock_out(tmp_path: Path):
    with (
        collector_process(tmp_path, max_open_files=MAX_OPEN_FILES) as (process, port),
        ExitStack() as stack,
    ):
        _open_idle(port, IDLE_CONNECTIONS, stack)
        time.sleep(0.5)  # the collector has met them all
        cpu_before = cpu_seconds(process.pid)
        started = time.monotonic()
        answer = exchange(port, request("GET", "/micro/all"), timeout=HANG_BOUND_S)
        waited = time.monotonic() - started
        time.sleep(2.0)  # a window in which a spinning accept loop burns two seconds of CPU
        used = cpu_seconds(process.pid) - cpu_before
        print(f"answered after {waited:.3f} s; {used:.2f} s of CPU in {waited + 2:.1f} s")
        assert answer.status == 200, answer.raw[:200]
        assert waited < HANG_BOUND_S
        assert used < 1.0
        assert process.poll() is None


@needs_proc
def test_when_every_connection_is_busy_a_new_one_gets_a_503_at_once(tmp_path: Path):
    # 40 descriptors leave room for the smallest bound (8 connections).
    with collector_process(tmp_path, max_open_files=40) as (_process, port), ExitStack() as stack:
        busy = _open_idle(port, 8, stack)
        for sock in busy:  # a request line, and headers that never end: busy, never cut
            sock.sendall(b"GET /micro/all HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        time.sleep(0.5)
        answer = exchange(port, request("GET", "/micro/all"), timeout=HANG_BOUND_S)
        assert answer.status == 503, answer.raw[:200]
        assert "busy" in answer.body.decode()
        for sock in busy:  # and those requests, once complete, are answered
            sock.sendall(b"\r\n")
            sock.settimeout(HANG_BOUND_S)
            assert parse(sock.recv(65536)).status == 200

"""Fault servers: each fails the way it says, counts what it receives, and stops promptly.

The client is ``requests`` with a 0.5 s timeout, which is what the Snowplow
emitter uses underneath.  Wall-time assertions are only generous "does not
hang" bounds.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from telemetry_collector import TP2_PATH
from tests.support.faults import FAULT_KINDS, FaultServer

REPO = Path(__file__).resolve().parents[2]
CLIENT_TIMEOUT = 0.5
HANG_BOUND = 10.0


def _post(url: str) -> requests.Response:
    return requests.post(url + TP2_PATH, json={"schema": "x", "data": []}, timeout=CLIENT_TIMEOUT)


def _eventually(predicate, bound: float = HANG_BOUND) -> bool:
    deadline = time.monotonic() + bound
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def test_refused_refuses_connections() -> None:
    with FaultServer("refused") as fault:
        assert fault.url.startswith("http://127.0.0.1:")
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", fault.port), timeout=CLIENT_TIMEOUT)
        with pytest.raises(requests.ConnectionError):
            _post(fault.url)
        assert fault.requests == 0


def test_blackhole_accepts_and_never_answers() -> None:
    with FaultServer("blackhole") as fault:
        with pytest.raises(requests.ReadTimeout):
            _post(fault.url)
        assert _eventually(lambda: fault.requests == 1)

        with socket.create_connection(("127.0.0.1", fault.port), timeout=CLIENT_TIMEOUT) as raw:
            raw.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            with pytest.raises(socket.timeout):
                raw.recv(1)  # neither an answer nor a close (recv would return b"")


def test_blackhole_holds_a_bounded_number_of_sockets() -> None:
    with FaultServer("blackhole", max_connections=2) as fault:
        clients = [socket.create_connection(("127.0.0.1", fault.port), timeout=2) for _ in range(4)]
        try:
            assert _eventually(lambda: fault.requests == 2)
            time.sleep(0.3)
            assert fault.requests == 2  # the others wait in the backlog, still unanswered
        finally:
            for client in clients:
                client.close()


@pytest.mark.parametrize("status", [500, 503, 400])
def test_status_answers_the_configured_code(status: int) -> None:
    with FaultServer("status", status=status) as fault:
        assert _post(fault.url).status_code == status
        assert requests.get(fault.url + "/i?e=pv", timeout=CLIENT_TIMEOUT).status_code == status
        assert fault.requests == 2


def test_slow_answers_200_after_the_delay() -> None:
    with FaultServer("slow", delay=2.0) as fault, pytest.raises(requests.ReadTimeout):
        _post(fault.url)
    with FaultServer("slow", delay=0.2) as fault:
        reply = requests.post(fault.url + TP2_PATH, data=b"{}", timeout=HANG_BOUND)
        assert reply.status_code == 200 and fault.requests == 1


def test_close_breaks_off_mid_response() -> None:
    with FaultServer("close") as fault:
        with pytest.raises(requests.RequestException) as failure:
            _post(fault.url)
        assert not isinstance(failure.value, requests.Timeout)
        assert fault.requests == 1


def test_garbage_answers_with_non_http_bytes() -> None:
    with FaultServer("garbage") as fault:
        with pytest.raises(requests.ConnectionError) as failure:
            _post(fault.url)
        assert not isinstance(failure.value, requests.Timeout)
        with socket.create_connection(("127.0.0.1", fault.port), timeout=2) as raw:
            raw.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            first = raw.recv(5)
            assert first and not first.startswith(b"HTTP/")
        assert fault.requests == 2


def test_notls_breaks_an_https_client() -> None:
    with FaultServer("notls") as fault:
        assert fault.url.startswith("https://127.0.0.1:")
        with pytest.raises(requests.exceptions.SSLError):
            _post(fault.url)
        assert fault.requests == 1


@pytest.mark.parametrize("kind", FAULT_KINDS)
def test_stop_returns_promptly_even_with_clients_stuck(kind: str) -> None:
    fault = FaultServer(kind, delay=30.0).start()
    stuck = []
    if kind != "refused":
        stuck = [socket.create_connection(("127.0.0.1", fault.port), timeout=2) for _ in range(3)]
        for client in stuck:
            client.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}")
        assert _eventually(lambda: fault.requests == 3)
    started = time.monotonic()
    fault.stop()
    assert time.monotonic() - started < 2.0
    for client in stuck:
        client.close()


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown fault kind"):
        FaultServer("flaky")
    with pytest.raises(ValueError, match="status"):
        FaultServer("status", status=42)
    with pytest.raises(ValueError, match="loopback"):
        FaultServer("status", host="0.0.0.0")
    with pytest.raises(RuntimeError):
        FaultServer("status").url  # noqa: B018 (not started)


def test_a_fault_server_runs_as_its_own_process(tmp_path: Path) -> None:
    ready = tmp_path / "ready"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.support.faults",
            "status",
            "--status",
            "503",
            "--port",
            "0",
            "--ready-file",
            str(ready),
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        assert _eventually(lambda: ready.exists() or process.poll() is not None), (
            "never became ready"
        )
        assert process.poll() is None, process.communicate()
        url = ready.read_text()
        assert url.startswith("http://127.0.0.1:")
        assert requests.get(url + "/i", timeout=HANG_BOUND).status_code == 503
    finally:
        process.terminate()
        _, err = process.communicate(timeout=HANG_BOUND)
    assert process.returncode == 0, err
    assert err == b""  # no runpy double-import warning, no traceback

"""``telemetry collector`` and ``python -m telemetry_collector`` as a user runs them: real
processes.

Ctrl-C stops them at once and cleanly (exit 0, no traceback), whatever the clients are doing;
an address or port that cannot be listened on is one line naming the real problem and its fix.
Wall time is only ever a generous "does not hang" bound.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
HANG_BOUND_S = 10.0
#: An address no machine here has: TEST-NET-1 (RFC 5737), reserved for documentation.
NOT_OURS = "192.0.2.1"
PAYLOAD_DATA = "iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4"


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DBT_", "DO_NOT_TRACK"))}
    env["PYTHONPATH"] = str(REPO)
    return env


def _telemetry(*args: str) -> list[str]:
    return [sys.executable, "-m", "telemetry_cli", *args]


def _start(argv: list[str]) -> tuple[subprocess.Popen[str], str]:
    """Start a collector command; its URL once it says it listens."""
    process = subprocess.Popen(
        argv,
        env=_env(),
        cwd=REPO,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    line = process.stderr.readline()
    assert "listening on " in line, line + process.communicate(timeout=HANG_BOUND_S)[1]
    return process, line.split("listening on ", 1)[1].split(" ", 1)[0]


def _stop_with(process: subprocess.Popen[str], sig: signal.Signals) -> tuple[float, str]:
    started = time.monotonic()
    process.send_signal(sig)
    _, err = process.communicate(timeout=HANG_BOUND_S * 3)
    return time.monotonic() - started, err


def _busy_clients(url: str, stop: threading.Event) -> list[socket.socket]:
    """What a collector has open in real use: an idle keep-alive connection, a request cut off
    halfway, a connection that never sent a byte, and a tracker posting batches non-stop."""
    host, port = url.removeprefix("http://").split(":")
    idle = socket.create_connection((host, int(port)), timeout=5)
    idle.sendall(f"GET /micro/all HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    idle.recv(65536)
    halfway = socket.create_connection((host, int(port)), timeout=5)
    halfway.sendall(b"POST /com.snowplowanalytics.snowplow/tp2 HTTP/1.1\r\nContent-Length: 999")
    silent = socket.create_connection((host, int(port)), timeout=5)
    body = json.dumps(
        {"schema": PAYLOAD_DATA, "data": [{"e": "pv", "p": "pc", "tv": "t"}] * 500}
    ).encode()

    def post_forever() -> None:
        for _ in range(10_000):  # bounded; ends when the collector goes away
            if stop.is_set():
                return
            try:
                request = urllib.request.Request(
                    url + "/com.snowplowanalytics.snowplow/tp2",
                    data=body,
                    headers={"Content-Type": "application/json; charset=utf-8"},
                )
                urllib.request.urlopen(request, timeout=2).close()
            except OSError:
                return

    threading.Thread(target=post_forever, daemon=True).start()
    return [idle, halfway, silent]


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_stops_the_collector_command_promptly_while_clients_are_busy(sig) -> None:
    process, url = _start(_telemetry("collector", "--port", "0"))
    stop = threading.Event()
    clients = _busy_clients(url, stop)
    try:
        time.sleep(0.5)  # the tracker is mid-stream
        elapsed, err = _stop_with(process, sig)
    finally:
        stop.set()
        for client in clients:
            client.close()
    print(f"telemetry collector stopped {elapsed:.3f} s after {sig.name}")
    assert process.returncode == 0, err
    assert elapsed < HANG_BOUND_S
    assert "Traceback" not in err and "aborted" not in err


def test_ctrl_c_the_moment_it_says_it_listens_is_a_clean_stop_too() -> None:
    # The signal handlers are in place before the collector announces itself: a Ctrl-C right
    # then used to escape as KeyboardInterrupt ("aborted", exit 130).
    for _ in range(5):
        process, _url = _start(_telemetry("collector", "--port", "0"))
        elapsed, err = _stop_with(process, signal.SIGINT)
        assert process.returncode == 0 and "aborted" not in err, err
        assert elapsed < HANG_BOUND_S


def test_ctrl_c_stops_python_m_tracking_collector_promptly(tmp_path: Path) -> None:
    ready = tmp_path / "ready"
    process = subprocess.Popen(
        [sys.executable, "-m", "telemetry_collector", "--port", "0", "--ready-file", str(ready)],
        env=_env(),
        cwd=REPO,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + HANG_BOUND_S
    while not ready.exists():
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.02)
    stop = threading.Event()
    clients = _busy_clients(ready.read_text(), stop)
    try:
        elapsed, err = _stop_with(process, signal.SIGINT)
    finally:
        stop.set()
        for client in clients:
            client.close()
    assert process.returncode == 0 and err == ""
    assert elapsed < HANG_BOUND_S


def test_an_address_of_another_machine_names_the_address_not_the_port() -> None:
    done = subprocess.run(
        _telemetry("collector", "--host", NOT_OURS, "--port", "0"),
        env=_env(),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=HANG_BOUND_S * 3,
        stdin=subprocess.DEVNULL,
    )

    assert done.returncode == 2
    [line] = done.stderr.strip().splitlines()
    assert f"{NOT_OURS} is not an address of this machine" in line
    assert "leave --host out to listen on 127.0.0.1" in line
    assert "another --port" not in line and "Traceback" not in line


def test_a_host_name_that_does_not_resolve_says_so() -> None:
    done = subprocess.run(
        _telemetry("collector", "--host", "no-such-host.invalid", "--port", "0"),
        env=_env(),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=HANG_BOUND_S * 3,
        stdin=subprocess.DEVNULL,
    )

    assert done.returncode == 2
    [line] = done.stderr.strip().splitlines()
    assert (
        "'no-such-host.invalid' is neither an IP address nor a name this machine can resolve"
    ) in line


def test_a_busy_port_still_says_pick_another_port() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = subprocess.run(
            _telemetry("collector", "--port", str(port)),
            env=_env(),
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=HANG_BOUND_S * 3,
            stdin=subprocess.DEVNULL,
        )

    assert done.returncode == 2
    [line] = done.stderr.strip().splitlines()
    assert f"port {port} on 127.0.0.1 is already in use" in line and "another --port" in line


def test_python_m_tracking_collector_names_the_address_too() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "telemetry_collector", "--host", NOT_OURS, "--port", "0"],
        env=_env(),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=HANG_BOUND_S * 3,
        stdin=subprocess.DEVNULL,
    )

    assert done.returncode == 1
    assert done.stderr.startswith(f"collector: {NOT_OURS} is not an address of this machine")


def test_max_events_bounds_what_the_command_keeps() -> None:
    process, url = _start(_telemetry("collector", "--port", "0", "--max-events", "2"))
    try:
        for index in range(3):
            urllib.request.urlopen(
                f"{url}/i?e=se&p=pc&tv=t&se_ca={index}&se_ac=a", timeout=5
            ).close()
        with urllib.request.urlopen(f"{url}/micro/all", timeout=5) as answer:
            counts = json.load(answer)
        with urllib.request.urlopen(f"{url}/micro/good", timeout=5) as answer:
            kept = [entry["event"]["se_category"] for entry in json.load(answer)]
    finally:
        _stop_with(process, signal.SIGINT)
    assert counts == {"total": 3, "good": 3, "bad": 0, "duplicates": 0, "evicted": 1}
    assert kept == ["2", "1"]

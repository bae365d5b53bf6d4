"""Worlds for the tracker: the shared isolated ``world`` plus a test app, a collector, a host.

A :class:`TrackingWorld` (fixture ``tracking_world`` in conftest.py) builds on
``tests/conftest.py``'s ``world`` (temp HOME and XDG dirs, user variables scrubbed, cwd in a
project dir) and adds the ``testapp`` profile pointed at a real local collector, and a way to
run ``host_app.py`` — a tiny tool that embeds the tracker the way a real one does — as a real
subprocess.
"""

from __future__ import annotations

import base64
import json
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from consent import AppProfile
from consent.state import acknowledge_notice

HOST_APP = Path(__file__).resolve().parent / "host_app.py"
#: Generous on purpose: a shared, noisy machine. Figures are printed, not asserted tightly.
HOST_BOUND_S = 10.0
#: For tests about what arrives (not about timing): a deadline a loaded machine cannot miss.
#: The flush returns as soon as the queue is empty, so this costs nothing when all is well.
DELIVER = {"TESTAPP_TELEMETRY_FLUSH_DEADLINE": "10"}


def make_profile(endpoint: str | None, **changes: Any) -> AppProfile:
    profile = AppProfile(
        name="testapp",
        env_prefix="TESTAPP_",
        project_files=("testapp_project.yml",),
        collector_endpoint=endpoint,
        tool_version="0.0.1",
    )
    return replace(profile, **changes) if changes else profile


@dataclass
class HostRun:
    returncode: int
    stdout: str
    stderr: str
    elapsed_s: float
    #: What host_app.py printed as its last stdout line (JSON), if anything.
    report: dict = field(default_factory=dict)

    @property
    def exit_delay_s(self) -> float | None:
        """From the host's ``main()`` returning to the process being gone (the atexit flush)."""
        done = self.report.get("main_done_wall")
        return None if done is None else self._ended - done

    _ended: float = 0.0

@dataclass
class TrackingWorld:
    base: Any  # tests/conftest.py World
    collector_url: str | None

    @property
    def root(self) -> Path:
        return self.base.root

    @property
    def env(self) -> dict[str, str]:
        return self.base.env

    @property
    def project(self) -> Path:
        return self.base.project

    def profile(self, endpoint: str | None = ..., **changes: Any) -> AppProfile:
        return make_profile(self.collector_url if endpoint is ... else endpoint, **changes)

    def state_dir(self) -> Path:
        return self.base.state_home / "testapp"

    def user_config_path(self) -> Path:
        return self.base.config_home / "testapp" / "telemetry.toml"

    def acknowledge(self, **changes: Any) -> None:
        """The user has seen the notice already (so this run may send)."""
        acknowledge_notice(self.profile(**changes))

    def files(self) -> list[str]:
        """Every file under HOME (state, config, anything a tracker may have written)."""
        return sorted(str(p.relative_to(self.base.home)) for p in self.base.home.rglob("*")
                      if p.is_file())

    def run_host(self, *args: str, env: dict[str, str] | None = None,
                 endpoint: str | None = ..., timeout: float = 60.0) -> HostRun:
        run_env = dict(self.env)
        url = self.collector_url if endpoint is ... else endpoint
        if url is not None:
            run_env["HOST_COLLECTOR"] = url
        run_env.update(env or {})
        started = time.time()
        proc = subprocess.run(
            [sys.executable, str(HOST_APP), *args],
            env=run_env, cwd=self.project, capture_output=True, text=True, timeout=timeout,
        )
        ended = time.time()
        report: dict = {}
        lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
        if lines:
            report = json.loads(lines[-1])
        run = HostRun(proc.returncode, proc.stdout, proc.stderr, ended - started, report)
        run._ended = ended
        return run

def decode_b64(value: str) -> Any:
    padded = value + "=" * (-len(value) % 4)
    return json.loads(base64.urlsafe_b64decode(padded).decode("utf-8"))

def everything_sent(collector) -> str:
    """All that reached the collector, raw and decoded, as one searchable text."""
    parts = []
    for event in collector.good() + collector.bad():
        parts.append(json.dumps(event, ensure_ascii=False))
        params = (event.get("rawEvent") or {}).get("parameters") or {}
        for key in ("ue_px", "cx"):
            if key in params:
                parts.append(json.dumps(decode_b64(params[key]), ensure_ascii=False))
    return "\n".join(parts)


class Scripted:
    """A loopback HTTP/1.1 server; ``script(connection_no, request_no_on_it)`` picks the action:
    ``"keep"`` (200, keep-alive), ``"close_after"`` (200 without ``Connection: close``, then
    close), ``"close_before"`` (close without a byte), ``"short"`` (a body cut short), ``"big"``
    (a 200 whose body is larger than the sender ever reads)."""

    def __init__(self, script=lambda conn, req: "keep") -> None:
        self.script = script
        self.connections = 0
        self.requests: list[tuple[int, int, bytes]] = []
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.1)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._sock.getsockname()[1]}"

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except (TimeoutError, OSError):
                continue
            self.connections += 1
            threading.Thread(target=self._serve, args=(conn, self.connections), daemon=True).start()

    def _serve(self, conn: socket.socket, number: int) -> None:
        conn.settimeout(5)
        data, index = b"", 0
        with conn:
            while True:
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    data += chunk
                head, _, data = data.partition(b"\r\n\r\n")
                length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                               if line.lower().startswith(b"content-length:")), 0)
                while len(data) < length:
                    data += conn.recv(65536)
                body, data = data[:length], data[length:]
                index += 1
                action = self.script(number, index)
                self.requests.append((number, index, body))
                if action == "close_before":
                    return
                if action == "short":
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nok")
                    return
                if action == "big":
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 10000000\r\n\r\n" + b"x" * 1000)
                    time.sleep(0.5)
                    return
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                if action == "close_after":
                    return

    def close(self) -> None:
        self._stop.set()
        self._thread.join(1)
        self._sock.close()


# -- fixtures, shared by tests/tracking and tests/reliability (their conftests import them) ------
import os as _os

import pytest as _pytest


@_pytest.fixture
def collector():
    """A real collector on 127.0.0.1, validating against the Iglu schemas."""
    from tracking.collector import Collector

    with Collector() as running:
        yield running


@_pytest.fixture
def tracking_world(world, monkeypatch, collector) -> TrackingWorld:
    """tests/conftest.py's isolated world, with the ``testapp`` profile and a live collector."""
    for name in list(_os.environ):
        if name.startswith(("TESTAPP_", "HOST_")):
            monkeypatch.delenv(name)
    world.env = {k: v for k, v in world.env.items() if not k.startswith(("TESTAPP_", "HOST_"))}
    # The host subprocess must import this checkout, whatever the venv's install says.
    repo = str(Path(__file__).resolve().parents[2])
    world.env["PYTHONPATH"] = _os.pathsep.join(
        p for p in (repo, world.env.get("PYTHONPATH")) if p)
    return TrackingWorld(world, collector.url)

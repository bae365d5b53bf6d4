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

from tracking import TrackedProfile
from tracking.spool import Spool
from tracking.state import acknowledge_notice

HOST_APP = Path(__file__).resolve().parent / "host_app.py"
#: Generous on purpose: a shared, noisy machine. Figures are printed, not asserted tightly.
HOST_BOUND_S = 10.0
#: For tests about what arrives (not about timing): how long to wait for the uploader, a bound a
#: loaded machine cannot miss. Waiting ends as soon as the events are there.
DELIVER_S = 20.0


def make_profile(endpoint: str | None, **changes: Any) -> TrackedProfile:
    profile = TrackedProfile(
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

    def profile(self, endpoint: str | None = ..., **changes: Any) -> TrackedProfile:
        return make_profile(self.collector_url if endpoint is ... else endpoint, **changes)

    def state_dir(self) -> Path:
        return self.base.state_home / "testapp"

    def user_config_path(self) -> Path:
        return self.base.config_home / "testapp" / "telemetry.toml"

    def acknowledge(self, **changes: Any) -> None:
        """The user has seen the notice already (so this run may send)."""
        acknowledge_notice(self.profile(**changes))

    def spool(self, **changes: Any) -> Spool:
        """The ``testapp`` profile's spool (in this world's state dir)."""
        return Spool.for_state_dir(str(self.state_dir()))

    def wait_delivered(self, timeout: float = 20.0) -> bool:
        """Wait until nothing waits in the spool and no uploader holds its lock (bounded)."""
        return settle(self.spool(), timeout)

    def files(self) -> list[str]:
        """Every file under HOME (state, config, anything a tracker may have written)."""
        return sorted(
            str(p.relative_to(self.base.home)) for p in self.base.home.rglob("*") if p.is_file()
        )

    def run_host(
        self,
        *args: str,
        env: dict[str, str] | None = None,
        endpoint: str | None = ...,
        timeout: float = 60.0,
        terminal: bool = False,
    ) -> HostRun:
        """Run host_app.py; ``terminal``: its stderr is a real pty (a user at a terminal),
        else a pipe (a log, a CI job)."""
        run_env = dict(self.env)
        url = self.collector_url if endpoint is ... else endpoint
        if url is not None:
            run_env["HOST_COLLECTOR"] = url
        run_env.update(env or {})
        argv = [sys.executable, str(HOST_APP), *args]
        started = time.time()
        if terminal:
            returncode, stdout, stderr = run_on_terminal(argv, run_env, self.project, timeout)
        else:
            proc = subprocess.run(
                argv, env=run_env, cwd=self.project, capture_output=True, text=True, timeout=timeout
            )
            returncode, stdout, stderr = proc.returncode, proc.stdout, proc.stderr
        ended = time.time()
        report: dict = {}
        lines = [line for line in stdout.splitlines() if line.startswith("{")]
        if lines:
            report = json.loads(lines[-1])
        run = HostRun(returncode, stdout, stderr, ended - started, report)
        run._ended = ended
        return run


def run_on_terminal(
    argv: list[str], env: dict[str, str], cwd: Path, timeout: float
) -> tuple[int, str, str]:
    """Run ``argv`` with its stderr on a real pty (stdout a pipe, stdin /dev/null), reading the
    pty until the child is gone; ``(returncode, stdout, what the terminal showed)``. Bounded by
    ``timeout``: the child is killed after it."""
    import os
    import select

    master, slave = os.openpty()
    try:
        proc = subprocess.Popen(
            argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=slave
        )
    finally:
        os.close(slave)
    shown = bytearray()
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(master, 4096)
                except OSError:  # EIO: every writer of the pty is gone (Linux)
                    break
                if not chunk:
                    break
                shown += chunk
            elif proc.poll() is not None:
                break
        stdout = proc.communicate(timeout=max(0.1, deadline - time.monotonic()))[0]
    except subprocess.TimeoutExpired:
        proc.kill()
        stdout = proc.communicate()[0]
    finally:
        os.close(master)
    # The pty turns each "\n" into "\r\n" (ONLCR); give the text back as the program wrote it.
    text = shown.decode("utf-8", "replace").replace("\r\n", "\n")
    return proc.returncode, stdout.decode("utf-8", "replace"), text


def settle(spool: Spool, timeout: float = 20.0) -> bool:
    """True once ``spool`` holds no segment and nobody holds its lock; False after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not spool.segments() and spool.holder() is None:
            return True
        time.sleep(0.02)
    return False


def wait_idle(spool: Spool, timeout: float = 20.0) -> bool:
    """True once no uploader holds ``spool``'s lock (whether or not events still wait)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if spool.holder() is None:
            return True
        time.sleep(0.02)
    return False


def alive(pid: int) -> bool:
    """Whether process ``pid`` still runs (a zombie waiting to be reaped does not count)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (OSError, IndexError):
        return False


START = "iglu:dev.telemetry-consent/invocation_start/jsonschema/1-0-0"
CONTEXTS = {
    "platform": "iglu:dev.telemetry-consent/platform/jsonschema/1-0-0",
    "invocation": "iglu:dev.telemetry-consent/invocation/jsonschema/1-0-0",
}


def write_segment(
    world: TrackingWorld,
    events: int,
    endpoint: str | None = None,
    *,
    lines: list[bytes] | None = None,
) -> Spool:
    """A sealed run of ``events`` invocation_start events in ``world``'s spool, written with the
    spool's own writer as a host writes it, then ``lines`` (raw, as they are)."""
    import uuid

    from consent import decide
    from tracking.records import segment_header
    from tracking.spool import encode_line

    profile = world.profile(endpoint if endpoint is not None else world.collector_url)
    decision = decide(profile, env=world.env, cwd=str(world.project))
    header = segment_header(
        profile, decision, profile.collector_endpoint or "", str(world.project), None, CONTEXTS, {}
    )
    spool = world.spool()
    writer = spool.open_segment(header)
    invocation = str(uuid.uuid4())
    for index in range(events):
        writer.append(
            encode_line(
                {
                    "e": str(uuid.uuid4()),
                    "t": 1_700_000_000_000 + index,
                    "s": START,
                    "d": {"command": "run"},
                    "i": invocation,
                }
            )
        )
    for line in lines or ():
        writer.append(line)
    writer.seal()
    return spool


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
                length = next(
                    (
                        int(line.split(b":")[1])
                        for line in head.split(b"\r\n")
                        if line.lower().startswith(b"content-length:")
                    ),
                    0,
                )
                while len(data) < length:
                    data += conn.recv(65536)
                body, data = data[:length], data[length:]
                index += 1
                self.requests.append((number, index, body))  # (the script may look at it)
                action = self.script(number, index)
                if action == "close_before":
                    return
                if action == "short":
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nok")
                    return
                if action == "big":
                    conn.sendall(
                        b"HTTP/1.1 200 OK\r\nContent-Length: 10000000\r\n\r\n" + b"x" * 1000
                    )
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
    world.env["PYTHONPATH"] = _os.pathsep.join(p for p in (repo, world.env.get("PYTHONPATH")) if p)
    return TrackingWorld(world, collector.url)

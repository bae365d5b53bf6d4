"""The tracker's test tools: the ``testapp`` profile, the host program's runs, a spool's state,
what reached a collector, and a scripted HTTP server.

The world itself is :class:`tests.support.world.World` (fixture ``tracking_world``: the ``world``
with the ``testapp`` profile and a live collector on 127.0.0.1). The host program is
``tests/support/host.py``, run as ``python -m tests.support.host`` by ``World.run_host`` /
``World.start_host`` — a tiny tool that embeds the tracker the way a real one does.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tracking import TrackedProfile
from tracking.spool import Spool

if TYPE_CHECKING:
    from tests.support.world import World

#: The host program, run as ``python -m HOST_MODULE`` (``World.env`` carries the PYTHONPATH).
HOST_MODULE = "tests.support.host"
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
    """One run of the host program, seen from outside and from its two JSON reports."""

    returncode: int
    stdout: str
    stderr: str
    #: Parent-side wall time of the whole process.
    elapsed_s: float
    #: The parent's clock when the process was gone (pipes closed, exit status collected).
    ended_wall: float
    #: What the host printed when its ``main()`` was done (what the tool did).
    report: dict[str, Any] = field(default_factory=dict)
    #: What it printed from an atexit handler run after the tracker's own flush.
    exit_report: dict[str, Any] = field(default_factory=dict)

    @property
    def stderr_lines(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.strip()]

    @property
    def exit_delay_s(self) -> float | None:
        """From the tool's ``main()`` returning to the process being gone: what telemetry adds."""
        done = self.report.get("main_done_wall")
        return None if done is None else self.ended_wall - done

    @property
    def flush_s(self) -> float | None:
        """From ``main()`` returning to the end of the tracker's atexit flush (inside the host)."""
        done, flushed = self.report.get("main_done_wall"), self.exit_report.get("exit_wall")
        return None if done is None or flushed is None else flushed - done

    @property
    def peak_rss_mb(self) -> float | None:
        kb = self.exit_report.get("vmhwm_kb")
        return None if kb is None else kb / 1024


def finish_host(proc: subprocess.Popen[str], started: float, timeout: float = 60.0) -> HostRun:
    """Wait for a host started by ``World.start_host`` (at wall time ``started``)."""
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise AssertionError(f"the host hung for more than {timeout} s\n{out}\n{err}") from None
    ended = time.time()
    reports = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    report = next((r for r in reports if "main_done_wall" in r), {})
    exit_report = next((r for r in reports if "exit_wall" in r), {})
    return HostRun(proc.returncode, out, err, ended - started, ended, report, exit_report)


def _host_run(code: int, out: str, err: str, started: float, ended: float) -> HostRun:
    reports = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    report = next((r for r in reports if "main_done_wall" in r), {})
    exit_report = next((r for r in reports if "exit_wall" in r), {})
    return HostRun(code, out, err, ended - started, ended, report, exit_report)


def run_on_terminal(
    argv: list[str], env: dict[str, str], cwd: Path, timeout: float = 60.0
) -> tuple[int, str, str]:
    """Run ``argv`` with its stderr on a real pty (stdout a pipe, stdin /dev/null): a user at a
    terminal. Reads the pty until every writer is gone; ``(returncode, stdout, what the terminal
    showed)``. Bounded by ``timeout``: the child is killed after it."""
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
        raise AssertionError(f"{argv} hung for more than {timeout} s") from None
    finally:
        os.close(master)
    # The pty turns each "\n" into "\r\n" (ONLCR); give the text back as the program wrote it.
    text = shown.decode("utf-8", "replace").replace("\r\n", "\n")
    return proc.returncode, stdout.decode("utf-8", "replace"), text


def run_host_on_terminal(
    argv: list[str], env: dict[str, str], cwd: Path, timeout: float = 60.0
) -> HostRun:
    """The host program run by :func:`run_on_terminal`, as a ``HostRun``."""
    started = time.time()
    code, out, err = run_on_terminal(argv, env, cwd, timeout)
    return _host_run(code, out, err, started, time.time())


def settle(spool: Spool, timeout: float = 20.0) -> bool:
    """True once ``spool`` holds no segment and nobody holds its lock; False after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not spool.segments() and spool.holder() is None:
            return True
        time.sleep(0.02)
    return False


def wait_idle(spool: Spool, timeout: float = 20.0) -> bool:
    """True once no uploader holds ``spool``'s lock and the last one that held it has ended
    (whether or not events still wait). An uploader lets go of the lock between its tries (it
    may take it again to wait out a short backoff): a free lock alone is not the end of it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if spool.holder() is None and not alive(_last_holder(spool)):
            return True
        time.sleep(0.02)
    return False


def _last_holder(spool: Spool) -> int:
    """The pid the lock file names (its holder now, or the last one), or 0 (none, or this
    process: a test that delivered in-process)."""
    try:
        with open(spool.lock_path, encoding="ascii", errors="replace") as fh:
            text = fh.read().strip()
    except OSError:
        return 0
    pid = int(text) if text.isdigit() else 0
    return 0 if pid == os.getpid() else pid


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


def encode_line(record: Mapping[str, Any]) -> bytes:
    """One spool line for ``record``, as a host writes it (compact JSON and a newline)."""
    return (json.dumps(dict(record), separators=(",", ":"), ensure_ascii=False) + "\n").encode()


def write_segment(
    world: World,
    events: int,
    endpoint: str | None = None,
    *,
    lines: list[bytes] | None = None,
    cwd: str | None = None,
    project_dir: str | None = None,
    without: tuple[str, ...] = (),
) -> Spool:
    """A sealed run of ``events`` invocation_start events in ``world``'s spool, written with the
    spool's own writer as a host writes it, then ``lines`` (raw, as they are).

    ``cwd`` (default: the project) and ``project_dir``: where that run was and the project it
    named; ``without``: header keys left out, as a host of an older version wrote it."""
    from consent import decide
    from tracking.records import segment_header

    profile = world.tracked_profile(endpoint if endpoint is not None else world.collector_url)
    cwd = str(world.project) if cwd is None else cwd
    decision = decide(profile, env=world.env, cwd=cwd, project_dir=project_dir)
    header = segment_header(
        profile,
        decision,
        profile.collector_endpoint or "",
        cwd,
        None,
        CONTEXTS,
        {},
        project_dir=project_dir,
    )
    for key in without:
        del header[key]
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

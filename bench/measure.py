"""Running one host process and measuring it from outside: wall time, exit delay, peak RSS,
files written in its isolated HOME / XDG dirs, stderr lines, and its own BENCH_* report; and
the uploaders our hosts leave behind, so that no timed run shares the CPU with one."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import resource
import shutil
import signal
import statistics
import subprocess
import tempfile
import termios
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from consent.ci import CI_VARIABLES

#: Variables never passed to a host: they would make it depend on this machine (CI's own too:
#: in CI a host delivers in-process, which is a different scenario).
_SCRUB_PREFIXES = ("DBT_", "BENCHAPP_", "XDG_", "SNOWPLOW", "PYTHON")
_SCRUB = {
    "DO_NOT_TRACK",
    "HOME",
    "VIRTUAL_ENV",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
    "NO_PROXY",
    "no_proxy",
    *CI_VARIABLES,
}
#: Every world's directory name starts with this: how the bench recognises its own uploaders.
WORLD_PREFIX = "bench-world-"


@dataclass
class World:
    """A fresh, isolated HOME / XDG_* / working directory for one run."""

    root: Path
    env: dict[str, str]

    @property
    def cwd(self) -> Path:
        return self.root / "work"

    def watched(self) -> list[Path]:
        return [self.root]

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def make_world(extra_env: dict[str, str] | None = None) -> World:
    root = Path(tempfile.mkdtemp(prefix=WORLD_PREFIX))
    dirs = {
        "HOME": root / "home",
        "XDG_CONFIG_HOME": root / "config",
        "XDG_STATE_HOME": root / "state",
        "XDG_CACHE_HOME": root / "cache",
        "XDG_DATA_HOME": root / "data",
        "XDG_CONFIG_DIRS": root / "etc-xdg",
    }
    for path in (*dirs.values(), root / "work"):
        path.mkdir(parents=True)
    # A dbt user has ~/.dbt/profiles.yml (dbt writes its cookie next to it).
    (dirs["HOME"] / ".dbt").mkdir()
    (dirs["HOME"] / ".dbt" / "profiles.yml").write_text("bench:\n  target: dev\n")
    env = {
        k: v for k, v in os.environ.items() if k not in _SCRUB and not k.startswith(_SCRUB_PREFIXES)
    }
    env.update({k: str(v) for k, v in dirs.items()})
    env.update(extra_env or {})
    return World(root, env)


def snapshot(paths: list[Path]) -> dict[str, tuple[int, int]]:
    seen: dict[str, tuple[int, int]] = {}
    for base in paths:
        for dirpath, _dirs, files in os.walk(base):
            for name in files:
                path = os.path.join(dirpath, name)
                try:
                    st = os.stat(path)
                except OSError:
                    continue
                seen[path] = (st.st_mtime_ns, st.st_size)
    return seen


def written(before: dict, after: dict) -> list[str]:
    return sorted(p for p, sig in after.items() if before.get(p) != sig)


@dataclass
class Run:
    wall_s: float
    rc: int
    maxrss_mb: float
    end_wall: float  # time.time() when the process was reaped
    stdout: str
    stderr: str
    files: list[str]
    killed: bool = False
    marks: dict[str, float] = field(default_factory=dict)
    report: dict = field(default_factory=dict)
    server: dict = field(default_factory=dict)  # what the collector / fault server saw
    extra: dict = field(default_factory=dict)  # what the harness measured around the run
    cpu_s: float = 0.0  # user + system CPU time of the process (os.wait4)

    @property
    def exit_delay_s(self) -> float | None:
        """From the end of the host's work (its ``work_end`` mark) to the process being gone."""
        end = self.marks.get("work_end")
        return None if end is None or self.killed else self.end_wall - end

    @property
    def stderr_lines(self) -> int:
        return len([line for line in self.stderr.splitlines() if line.strip()])


def _reap(
    proc: subprocess.Popen[bytes], timeout: float
) -> tuple[int, resource.struct_rusage, bool]:
    """Wait for ``proc`` (its wait status and rusage), killing its process group after
    ``timeout`` seconds; the flag says whether it had to be killed."""
    killed = threading.Event()

    def kill() -> None:
        killed.set()
        with contextlib.suppress(OSError):
            os.killpg(proc.pid, signal.SIGKILL)

    timer = threading.Timer(timeout, kill)
    timer.start()
    try:
        _pid, status, usage = os.wait4(proc.pid, 0)
    finally:
        timer.cancel()
    return status, usage, killed.is_set()


def run_process(argv: list[str], world: World, timeout: float, *, stdin: str = "null") -> Run:
    """Run ``argv`` in ``world``; killed (and flagged) after ``timeout`` seconds.

    ``stdin="pipe"``: stdin is a pipe whose write end the harness keeps open, unwritten, until
    the process is reaped, as under ``tool | …`` fed by a silent producer: a host that read it
    would wait until the cap (and be reported killed)."""
    out_path, err_path = world.root / "stdout.txt", world.root / "stderr.txt"
    before = snapshot(world.watched())
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(
            argv,
            env=world.env,
            cwd=world.cwd,
            stdout=out,
            stderr=err,
            stdin=subprocess.PIPE if stdin == "pipe" else subprocess.DEVNULL,
            start_new_session=True,
        )
        status, usage, killed = _reap(proc, timeout)
        end_wall = time.time()
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.stdin is not None:
            proc.stdin.close()
    # Files are the host's own only: stdout/stderr capture files are ours.
    after = snapshot(world.watched())
    files = [p for p in written(before, after) if p not in (str(out_path), str(err_path))]
    stdout = out_path.read_text(errors="replace")
    run = Run(
        wall_s=wall,
        rc=proc.returncode,
        maxrss_mb=usage.ru_maxrss / 1024.0,
        end_wall=end_wall,
        stdout=stdout,
        stderr=err_path.read_text(errors="replace"),
        files=files,
        killed=killed,
        cpu_s=usage.ru_utime + usage.ru_stime,
    )
    _read_protocol(run, stdout)
    return run


def _read_protocol(run: Run, stdout: str) -> None:
    for line in stdout.splitlines():
        line = line.rstrip("\r")
        if line.startswith("BENCH_MARK "):
            _, name, value = line.split(" ", 2)
            run.marks[name] = float(value)
        elif line.startswith("BENCH_REPORT "):
            run.report = json.loads(line[len("BENCH_REPORT ") :])


def _controlling_terminal() -> None:  # in the child, once stdin is the pty's slave
    os.setsid()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def run_on_pty(argv: list[str], world: World, timeout: float) -> Run:
    """Run ``argv`` in ``world`` on a fresh pseudo-terminal that is its controlling terminal
    (new session; stdin, stdout and stderr on the pty's slave; the terminal's foreground
    process group, line mode): what a user's terminal gives a tool. Nobody types. Timed like
    :func:`run_process` (spawn → reaped); killed (and flagged) after ``timeout`` seconds.

    The terminal is one stream: ``stdout`` is all of it, ``stderr`` its lines that are not the
    host's ``BENCH_*`` protocol (what the user would have seen)."""
    master, slave = os.openpty()
    before = snapshot(world.watched())
    chunks: list[bytes] = []

    def drain() -> None:  # keeps the pty's small buffer from ever blocking the host's writes
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: every process holding the slave is gone
                return
            if not chunk:
                return
            chunks.append(chunk)

    try:
        start = time.perf_counter()
        proc = subprocess.Popen(
            argv,
            env=world.env,
            cwd=world.cwd,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            preexec_fn=_controlling_terminal,
            close_fds=True,
        )
        os.close(slave)
        slave = -1
        reader = threading.Thread(target=drain, daemon=True)
        reader.start()
        status, usage, killed = _reap(proc, timeout)
        end_wall = time.time()
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        reader.join(5.0)
    finally:
        if slave >= 0:
            os.close(slave)
        os.close(master)
    screen = b"".join(chunks).decode("utf-8", "replace").replace("\r\n", "\n")
    shown = [line for line in screen.splitlines() if not line.startswith("BENCH_")]
    run = Run(
        wall_s=wall,
        rc=proc.returncode,
        maxrss_mb=usage.ru_maxrss / 1024.0,
        end_wall=end_wall,
        stdout=screen,
        stderr="\n".join(shown),
        files=written(before, snapshot(world.watched())),
        killed=killed,
        cpu_s=usage.ru_utime + usage.ru_stime,
    )
    _read_protocol(run, screen)
    return run


# -- the uploaders our hosts start ---------------------------------------------------------------
def bench_uploaders() -> list[int]:
    """Pids of running ``python -m tracking.uploader`` processes of this bench's worlds (not
    another program's, which may share the machine)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as fh:
                argv = fh.read().split(b"\0")
            with open(f"/proc/{entry}/stat", "rb") as fh:
                state = fh.read().rsplit(b")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if state in (b"Z", b"X"):
            continue  # gone, waiting to be reaped
        # Started as ``python -I -c <bootstrap naming tracking.uploader>`` by a host, or as
        # ``python -m tracking.uploader`` by the bench: a part of an argument, either way.
        if any(b"tracking.uploader" in a for a in argv) and any(
            WORLD_PREFIX.encode() in a for a in argv
        ):
            found.append(int(entry))
    return found


def wait_no_uploader(limit: float = 40.0) -> float:
    """Wait until none of our uploaders runs (at most ``limit`` s); how long it took."""
    start = time.monotonic()
    while bench_uploaders() and time.monotonic() - start < limit:
        time.sleep(0.02)
    return time.monotonic() - start


def spool_state(world: World, app: str) -> dict:
    """The world's spool state (``state.json``: backoff, drops, the last upload's report)."""
    path = Path(world.env["XDG_STATE_HOME"]) / app / "spool" / "state.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def spool_waiting(world: World, app: str) -> int:
    """Events waiting in the world's spool (counted from its files, as the uploader would)."""
    from tracking.spool import Spool

    spool = Spool(str(Path(world.env["XDG_STATE_HOME"]) / app / "spool"))
    return spool.waiting().events


def spool_idle(world: World, app: str, limit: float = 40.0) -> bool:
    """Wait until no uploader holds the world's spool lock (at most ``limit`` s)."""
    from tracking.spool import Spool

    spool = Spool(str(Path(world.env["XDG_STATE_HOME"]) / app / "spool"))
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if spool.holder() is None:
            return True
        time.sleep(0.02)
    return False


# -- statistics ------------------------------------------------------------------------------
def median(values: list[float]) -> float | None:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def spread(values: list[float | None]) -> tuple[float | None, float | None, float | None]:
    """(median, min, max) of the values that exist."""
    present = [v for v in values if v is not None]
    if not present:
        return None, None, None
    return statistics.median(present), min(present), max(present)


def quartiles(values: list[float | None]) -> tuple[float | None, float | None, float | None]:
    """(median, 25th, 75th percentile) of the values that exist: the spread of paired
    differences, robust to the odd pair a noisy machine spoils."""
    present = sorted(v for v in values if v is not None)
    if not present:
        return None, None, None
    if len(present) < 4:
        return statistics.median(present), present[0], present[-1]
    q1, q2, q3 = statistics.quantiles(present, n=4, method="inclusive")
    return q2, q1, q3

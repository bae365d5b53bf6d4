"""Running one host process and measuring it from outside: wall time, exit delay, peak RSS,
files written in its isolated HOME / XDG dirs, stderr lines, and its own BENCH_* report."""

from __future__ import annotations

import json
import os
import shutil
import signal
import statistics
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

#: Variables never passed to a host: they would make it depend on this machine.
_SCRUB_PREFIXES = ("DBT_", "BENCHAPP_", "XDG_", "SNOWPLOW", "PYTHON")
_SCRUB = {"DO_NOT_TRACK", "HOME", "VIRTUAL_ENV", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY",
          "http_proxy", "https_proxy", "all_proxy", "NO_PROXY", "no_proxy"}


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
    root = Path(tempfile.mkdtemp(prefix="bench-world-"))
    dirs = {"HOME": root / "home", "XDG_CONFIG_HOME": root / "config",
            "XDG_STATE_HOME": root / "state", "XDG_CACHE_HOME": root / "cache",
            "XDG_DATA_HOME": root / "data", "XDG_CONFIG_DIRS": root / "etc-xdg"}
    for path in (*dirs.values(), root / "work"):
        path.mkdir(parents=True)
    # A dbt user has ~/.dbt/profiles.yml (dbt writes its cookie next to it).
    (dirs["HOME"] / ".dbt").mkdir()
    (dirs["HOME"] / ".dbt" / "profiles.yml").write_text("bench:\n  target: dev\n")
    env = {k: v for k, v in os.environ.items()
           if k not in _SCRUB and not k.startswith(_SCRUB_PREFIXES)}
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

    @property
    def exit_delay_s(self) -> float | None:
        """From the end of the host's work (its ``work_end`` mark) to the process being gone."""
        end = self.marks.get("work_end")
        return None if end is None or self.killed else self.end_wall - end

    @property
    def stderr_lines(self) -> int:
        return len([line for line in self.stderr.splitlines() if line.strip()])


def run_process(argv: list[str], world: World, timeout: float) -> Run:
    """Run ``argv`` in ``world``; killed (and flagged) after ``timeout`` seconds."""
    out_path, err_path = world.root / "stdout.txt", world.root / "stderr.txt"
    before = snapshot(world.watched())
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, env=world.env, cwd=world.cwd, stdout=out, stderr=err,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        killed = threading.Event()

        def kill() -> None:
            killed.set()
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except OSError:
                pass

        timer = threading.Timer(timeout, kill)
        timer.start()
        try:
            _pid, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        end_wall = time.time()
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
    # Files are the host's own only: stdout/stderr capture files are ours.
    after = snapshot(world.watched())
    files = [p for p in written(before, after) if p not in (str(out_path), str(err_path))]
    stdout = out_path.read_text(errors="replace")
    run = Run(wall_s=wall, rc=proc.returncode, maxrss_mb=usage.ru_maxrss / 1024.0,
              end_wall=end_wall, stdout=stdout, stderr=err_path.read_text(errors="replace"),
              files=files, killed=killed.is_set())
    for line in stdout.splitlines():
        if line.startswith("BENCH_MARK "):
            _, name, value = line.split(" ", 2)
            run.marks[name] = float(value)
        elif line.startswith("BENCH_REPORT "):
            run.report = json.loads(line[len("BENCH_REPORT "):])
    return run


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

"""Shared tools of the reliability suite: running the host, recording figures, hostile mounts.

The worlds themselves come from the other suites (imported, not copied): ``tests/conftest.py``'s
``World`` (temp HOME and XDG dirs), ``tests/tracking/tracking_world.py`` (the ``testapp``
profile, a collector, what was sent) and ``tests/cli/cli_world.py`` (the CLI as a user runs it).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
HOST = HERE / "rel_host.py"
#: Generous "does not hang" bound for one host run on a shared, noisy machine. The measured
#: figures are recorded (and printed at the end of the session), never asserted tightly.
HOST_BOUND_S = 5.0
#: The profile's flush deadline (AppProfile.flush_deadline): what the design promises at exit.
FLUSH_DEADLINE_S = 1.0


# -- figures ---------------------------------------------------------------------------------------
@dataclass
class Figure:
    section: str
    case: str
    metric: str
    value: float | int | str
    unit: str = ""


FIGURES: list[Figure] = []
_FIGURES_LOCK = threading.Lock()


def record(section: str, case: str, metric: str, value, unit: str = "") -> None:
    """Keep a measured figure for the end-of-session summary (and print it for ``-s``)."""
    if isinstance(value, float):
        value = round(value, 4)
    with _FIGURES_LOCK:
        FIGURES.append(Figure(section, case, metric, value, unit))
    print(f"\n[figure] {section} | {case} | {metric} = {value} {unit}".rstrip())


def figures_table() -> str:
    lines = ["| section | case | metric | value |", "|---|---|---|---|"]
    for f in FIGURES:
        lines.append(f"| {f.section} | {f.case} | {f.metric} | {f.value} {f.unit}".rstrip() + " |")
    return "\n".join(lines)


def figures_json() -> str:
    return json.dumps([f.__dict__ for f in FIGURES], indent=1)


# -- running the host -------------------------------------------------------------------------------
@dataclass
class HostResult:
    returncode: int
    stdout: str
    stderr: str
    #: Parent-side wall time of the whole process.
    elapsed_s: float
    #: The parent's clock when the process was gone (pipes closed, exit status collected).
    ended_wall: float
    main_report: dict = field(default_factory=dict)
    exit_report: dict = field(default_factory=dict)

    @property
    def stderr_lines(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.strip()]

    @property
    def added_exit_s(self) -> float | None:
        """From the tool's ``main()`` returning to the process being gone: what telemetry adds."""
        done = self.main_report.get("main_done_wall")
        return None if done is None else self.ended_wall - done

    @property
    def flush_s(self) -> float | None:
        """From ``main()`` returning to the end of the tracker's atexit flush (inside the host)."""
        done, flushed = self.main_report.get("main_done_wall"), self.exit_report.get("exit_wall")
        return None if done is None or flushed is None else flushed - done

    @property
    def peak_rss_mb(self) -> float | None:
        kb = self.exit_report.get("vmhwm_kb")
        return None if kb is None else kb / 1024


def host_env(base: dict[str, str], endpoint: str | None, extra: dict[str, str] | None) -> dict:
    env = {k: v for k, v in base.items() if not k.startswith(("HOST_", "TESTAPP_"))}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), base.get("PYTHONPATH")) if p)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    if endpoint is not None:
        env["HOST_COLLECTOR"] = endpoint
    env.update(extra or {})
    return env


def start_host(
    base_env: dict[str, str],
    cwd: Path,
    *,
    endpoint: str | None = None,
    env: dict[str, str] | None = None,
) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(HOST)],
        env=host_env(base_env, endpoint, env),
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        stdin=subprocess.DEVNULL,
    )


def finish_host(proc: subprocess.Popen, started: float, timeout: float = 60.0) -> HostResult:
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise AssertionError(f"the host hung for more than {timeout} s\n{out}\n{err}") from None
    ended = time.time()
    reports = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    main_report = next((r for r in reports if "main_done_wall" in r), {})
    exit_report = next((r for r in reports if "exit_wall" in r), {})
    return HostResult(proc.returncode, out, err, ended - started, ended, main_report, exit_report)


def run_host(
    base_env: dict[str, str],
    cwd: Path,
    *,
    endpoint: str | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 60.0,
) -> HostResult:
    started = time.time()
    proc = start_host(base_env, cwd, endpoint=endpoint, env=env)
    return finish_host(proc, started, timeout)


# -- read-only and full file systems ----------------------------------------------------------------
def _mount(*args: str) -> None:
    proc = subprocess.run(["mount", *args], capture_output=True, text=True)
    if proc.returncode != 0:
        raise OSError(proc.stderr.strip() or f"mount {' '.join(args)} failed")


def _umount(path: Path) -> None:
    for _ in range(20):
        if subprocess.run(["umount", str(path)], capture_output=True).returncode == 0:
            return
        time.sleep(0.05)
    subprocess.run(["umount", "-l", str(path)], capture_output=True)


def _need_root_mount() -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to mount a tiny file system (not root here)")
    if not shutil.which("mount"):
        pytest.skip("`mount` is missing")


@contextlib.contextmanager
def _chmod_read_only(path: Path) -> Iterator[Path]:
    dirs = [path, *(p for p in path.rglob("*") if p.is_dir() and not p.is_symlink())]
    modes = {d: d.stat().st_mode & 0o7777 for d in dirs}
    for d in dirs:
        d.chmod(0o555)
    try:
        yield path
    finally:
        for d in reversed(dirs):
            d.chmod(modes[d])


@contextlib.contextmanager
def read_only(path: Path) -> Iterator[Path]:
    """``path`` (a directory, and all below it) made read-only for everyone, root included.

    Root ignores permission bits, so chmod proves nothing for root: there it is a read-only bind
    mount (the kernel's EROFS stops root too). Other users get chmod. Skips when neither bites.
    """
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        with _chmod_read_only(path):
            yield path
        return
    _need_root_mount()
    try:
        _mount("--bind", str(path), str(path))
    except OSError as exc:
        pytest.skip(f"cannot bind-mount in this sandbox ({exc})")
    try:
        try:
            _mount("-o", "remount,bind,ro", str(path))
        except OSError as exc:
            pytest.skip(f"cannot remount read-only in this sandbox ({exc})")
        probe = path / ".probe"
        try:
            probe.write_text("x")
        except OSError:
            pass
        else:
            probe.unlink()
            pytest.skip("the read-only mount does not stop writes in this sandbox")
        yield path
    finally:
        _umount(path)


@contextlib.contextmanager
def tiny_fs(path: Path, size: str = "64k") -> Iterator[Path]:
    """A ``size`` tmpfs mounted at ``path``, then filled up: every further write gets ENOSPC."""
    _need_root_mount()
    path.mkdir(parents=True, exist_ok=True)
    try:
        _mount("-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(path))
    except OSError as exc:
        pytest.skip(f"cannot mount a tmpfs in this sandbox ({exc})")
    try:
        yield path
    finally:
        _umount(path)


def fill(path: Path) -> int:
    """Fill the file system holding ``path`` until it is full; returns bytes written."""
    written = 0
    fd = os.open(path / ".filler", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        chunk = b"\0" * 4096
        while True:
            try:
                n = os.write(fd, chunk)
            except OSError:
                break
            if n <= 0:
                break
            written += n
            if written > 64 * 1024 * 1024:  # not a tiny file system after all
                raise AssertionError(f"{path} is not a tiny file system")
    finally:
        os.close(fd)
    # Also the last partial blocks: one byte at a time into small files until even that fails.
    for index in range(1000):
        try:
            fd = os.open(path / f".f{index}", os.O_WRONLY | os.O_CREAT, 0o600)
        except OSError:
            break
        try:
            if os.write(fd, b"x") <= 0:
                break
        except OSError:
            break
        finally:
            os.close(fd)
    return written


def tree(root: Path) -> dict[str, bytes | None]:
    """Every entry under ``root``: file bytes, ``None`` for directories, ``->target`` for links."""
    out: dict[str, bytes | None] = {}
    if not root.exists():
        return out
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        if path.is_symlink():
            out[rel] = b"->" + os.readlink(path).encode()
        elif path.is_dir():
            out[rel] = None
        else:
            out[rel] = path.read_bytes()
    return out

"""Tools of the reliability suite: its bounds, recording figures, hostile mounts.

The world and the host program are every suite's (``tests/support``): ``World`` (temp HOME and
XDG dirs, the CLI as a user runs it), ``World.run_host`` / ``start_host`` and
``tests.support.tracking`` (the ``testapp`` profile, what reached the collector).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

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


# -- read-only and full file systems ---------------------------------------------------------------
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

"""Run a child on a REAL pseudo-terminal, as its controlling terminal, and type into it.

(``tests.support.tracking.run_on_terminal`` gives a child only a terminal for stderr; this one
is the whole terminal a user's tool gets: stdin, stdout and stderr, and the controlling tty.)

The child gets a new session (``setsid``) and the pty's slave as its controlling terminal
(``TIOCSCTTY``), with stdin, stdout and stderr on it: exactly what a user's terminal gives a
tool. So Ctrl-C (``\\x03``) really raises SIGINT in the child, Ctrl-D really ends a line, the
terminal's echo and line editing are the kernel's, and the child is the terminal's foreground
process group (or, with ``background=True``, a member of a background group, as after
``tool &``).

Keys are typed only once the child has written ``when`` (the question), or, with ``before``,
typed first and then echoed back before the child is allowed to go on (a file it waits for),
so what the kernel saw first is certain, not a race.
"""

from __future__ import annotations

import fcntl
import os
import select
import subprocess
import sys
import termios
import time
from dataclasses import dataclass
from pathlib import Path

#: Generous: a "does not hang" bound on a shared, noisy machine, never a speed assertion.
HANG_S = 30.0

CTRL_C = b"\x03"
CTRL_D = b"\x04"
ENTER = b"\r"  # what a terminal sends; the driver turns it into "\n" (ICRNL)


@dataclass
class PtyRun:
    returncode: int | None
    #: Everything the terminal showed: the child's output and the driver's echo of the keys.
    screen: str
    elapsed_s: float
    typed: bool


def _controlling_terminal() -> None:  # runs in the child, after stdin became the slave
    os.setsid()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def run_on_pty(
    argv: list[str],
    env: dict[str, str],
    *,
    keys: bytes | None = None,
    when: bytes = b"[y/N]",
    before: Path | None = None,
    background: bool = False,
    cwd: Path | None = None,
    limit_s: float = HANG_S,
) -> PtyRun:
    """Run ``argv`` on a fresh pty; type ``keys`` once ``when`` appears (or, with ``before``,
    type them first, wait for their echo, then create the file ``before`` the child waits for).

    ``background``: the pty's session leader is a small wrapper that starts ``argv`` in a new
    process group and waits for it, so the child is not in the terminal's foreground.
    """
    master, slave = os.openpty()
    if background:
        wrapper = (
            "import subprocess, sys; "
            "sys.exit(subprocess.Popen(sys.argv[1:], process_group=0).wait())"
        )
        argv = [sys.executable, "-c", wrapper, *argv]
    started = time.monotonic()
    proc = subprocess.Popen(
        argv,
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        cwd=cwd,
        preexec_fn=_controlling_terminal,
        close_fds=True,
    )
    os.close(slave)
    screen = b""
    typed = False
    if before is not None and keys is not None:
        os.write(master, keys)
        typed = True
    released = before is None
    try:
        while time.monotonic() - started < limit_s:
            ready, _w, _x = select.select([master], [], [], 0.05)
            if ready:
                try:
                    chunk = os.read(master, 4096)
                except OSError:  # EIO: every process holding the slave is gone
                    break
                if not chunk:
                    break
                screen += chunk
            if not released and keys is not None and keys.strip(b"\r\n") in screen:
                before.touch()  # type: ignore[union-attr]
                released = True
            if keys is not None and not typed and when in screen:
                os.write(master, keys)
                typed = True
            if proc.poll() is not None and not ready:
                break
        else:
            proc.kill()
        returncode = proc.wait(timeout=limit_s)
    finally:
        os.close(master)
    return PtyRun(returncode, screen.decode("utf-8", "replace"), time.monotonic() - started, typed)

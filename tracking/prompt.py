"""The opt-in question: asked once, on a terminal, never anywhere else, and never for long.

An opt-in profile (``consent_model="opt_in"``) asks instead of printing the first-run notice:
"Share anonymous usage statistics with <tool>? … [y/N]". :func:`why_not_ask` says whether this
process may ask at all; :func:`ask` asks and returns the :data:`Answer`. What the answer changes
(the user config) is the caller's business.

When to ask: stdin and stderr are terminals, stdin's terminal has this process in its
foreground process group, the platform is POSIX, and no CI is detected (:mod:`consent.ci`).
Anything else (a pipe, a log, CI, ``ssh`` without ``-t``, Windows) is "no terminal": nothing is
printed and nothing waits. The foreground check matters: a background job that reads its
terminal is stopped by SIGTTIN, and one that writes to it may be stopped by SIGTTOU, which
would hang the host.

How: the terminal stays in its own (canonical) line mode, so the driver handles echo, editing
and Ctrl-D and there is no terminal state to restore. Input typed before the question is
discarded (``tcflush``: typeahead is not an answer), then ``select`` waits against one
deadline and ``os.read`` takes one line (``sys.stdin.readline`` would block past the deadline
on a half-typed line, and hides buffered bytes from ``select``). On timeout the half-typed line
is discarded too, so it never leaks into the shell after the host exits.

Answers: ``y``/``yes`` (any case) → ``"yes"``; ``n``/``no`` or an empty line → ``"no"``; Ctrl-D
on an empty line → ``"eof"``; Ctrl-C → ``"interrupt"`` (the host run continues with its own exit
code: the question is ours, not the host's); no answer in time → ``"timeout"``. Anything else
asks again, within the same deadline. Text followed by Ctrl-D (no Enter) counts as that line.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from collections.abc import Mapping
from typing import Literal, TextIO

__all__ = ["Answer", "ask", "question", "why_not_ask"]

Answer = Literal["yes", "no", "eof", "interrupt", "timeout"]

_YES = frozenset({"y", "yes"})
_NO = frozenset({"", "n", "no"})
#: Lines read at most in one question (unrecognised answers ask again): bounded in count too.
MAX_LINES = 8
#: Bytes read at most per line; canonical mode hands over at most one line per read.
_READ = 1024
#: The longest any question waits, whatever a profile or a setting asks for.
MAX_WAIT_S = 600.0


def why_not_ask(
    env: Mapping[str, str],
    stderr: TextIO | None,
    *,
    stdin_fd: int = 0,
) -> str | None:
    """None when this process may ask on its terminal, else why not (in words, for tests and
    debugging). Never raises, never waits, never writes."""
    try:
        from consent.ci import detect_ci

        if os.name != "posix":
            return "not a POSIX terminal"
        ci = detect_ci(env)
        if ci is not None:
            return f"CI ({ci.variable})"
        if not os.isatty(stdin_fd):
            return "stdin is not a terminal"
        if stderr is None or not stderr.isatty():
            return "stderr is not a terminal"
        if os.tcgetpgrp(stdin_fd) != os.getpgrp():
            return "in the background"
        import termios

        if not termios.tcgetattr(stdin_fd)[3] & termios.ICANON:
            # The host drives its terminal itself (raw mode): a line is not ours to read.
            return "the terminal is not in line mode"
    except Exception as exc:  # noqa: BLE001 - any doubt is "no terminal": never ask, never wait
        return f"cannot tell ({type(exc).__name__})"
    return None


def question(label: str, collects: str, command: str) -> str:
    """The question, ending in ``[y/N] `` (the answer is typed on the same line)."""
    return (
        f"Share anonymous usage statistics with {label}? They help improve it: {collects}. "
        f"Every field: `{command} events`. Change your mind any time with `{command} enable` or "
        f"`{command} disable`. [y/N] "
    )


def ask(text: str, timeout: float, stderr: TextIO, *, stdin_fd: int = 0) -> Answer:
    """Ask ``text`` on ``stderr`` and read the answer from the terminal at ``stdin_fd``, within
    ``timeout`` seconds (at most :data:`MAX_WAIT_S`). Call only when :func:`why_not_ask` said
    None. Never raises for the terminal's sake: a terminal that fails mid-question is no answer
    (``"eof"``)."""
    import select
    import termios

    wait = timeout if math.isfinite(timeout) else 0.0
    deadline = time.monotonic() + min(max(0.0, wait), MAX_WAIT_S)
    try:
        termios.tcflush(stdin_fd, termios.TCIFLUSH)  # typeahead is not an answer
        _write(stderr, text)
        for _ in range(MAX_LINES):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            ready, _w, _x = select.select([stdin_fd], [], [], remaining)
            if not ready:
                break
            if os.tcgetpgrp(stdin_fd) != os.getpgrp():
                # Sent to the background while asking (Ctrl-Z, bg): reading would stop us.
                _write(stderr, "\n")
                return "eof"
            data = os.read(stdin_fd, _READ)
            if not data:
                _write(stderr, "\n")  # Ctrl-D on an empty line: the driver echoed nothing
                return "eof"
            if not data.endswith(b"\n"):
                _write(stderr, "\n")  # text then Ctrl-D: the cursor is still on the line
            word = data.decode("utf-8", "replace").strip().lower()
            if word in _YES:
                return "yes"
            if word in _NO:
                return "no"
            _write(stderr, "Please answer y or n. [y/N] ")
    except KeyboardInterrupt:
        _write(stderr, "\n")
        return "interrupt"
    except OSError:
        _write(stderr, "\n")
        return "eof"
    # No answer in time: drop the half-typed line so it does not reach the shell afterwards.
    with contextlib.suppress(OSError):
        termios.tcflush(stdin_fd, termios.TCIFLUSH)
    _write(stderr, "\n")
    return "timeout"


def _write(stream: TextIO, text: str) -> None:
    try:
        stream.write(text)
        stream.flush()
    except Exception:  # noqa: BLE001 - a closed stderr is no reason to hurt the host
        pass

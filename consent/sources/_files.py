"""Reading small text files defensively: every failure becomes a message, never an exception."""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass

#: Config and project files are small; anything bigger is refused unread (bounded time/memory).
MAX_BYTES = 1_000_000


@dataclass(frozen=True, slots=True)
class FileText:
    path: str
    text: str | None = None
    #: Why the file could not be read, phrased as "<what is wrong>"; None when it was read.
    problem: str | None = None
    #: Non-fatal concerns (e.g. a world-writable config file).
    concerns: tuple[str, ...] = ()
    #: The file is over ``MAX_BYTES`` (its fix is to make it smaller, not to repair it).
    too_big: bool = False


def read_text(path: str, *, check_owner: bool = False) -> FileText | None:
    """The file's text, or None when there is no such file, or a FileText carrying the problem."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        # A symlink to nothing is still a file someone put there (a dotfile manager's broken
        # link, a moved project): it shadows farther files, so it must not read as "absent".
        if os.path.islink(path):
            return FileText(path, problem="is a symlink to a missing file")
        return None
    except NotADirectoryError:
        return None
    except OSError as exc:
        return FileText(path, problem=f"cannot be read ({exc.strerror or exc})")
    if stat.S_ISDIR(st.st_mode):
        return FileText(path, problem="is a directory, not a file")
    if not stat.S_ISREG(st.st_mode):
        return FileText(path, problem="is not a regular file")
    if st.st_size > MAX_BYTES:
        return FileText(path, problem=f"is {st.st_size:,} bytes, over the 1 MB limit of what is "
                                      "read", too_big=True)
    concerns: list[str] = []
    if check_owner:
        if st.st_mode & stat.S_IWOTH:
            concerns.append(f"{path} is world-writable: anyone on this machine can change your "
                            f"choice. Fix: chmod 600 {path}")
        if hasattr(os, "getuid") and st.st_uid != os.getuid():
            concerns.append(f"{path} is owned by another user (uid {st.st_uid}). Fix: remove it "
                            "and run `telemetry enable` or `telemetry disable` again")
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_BYTES + 1)
    except OSError as exc:
        return FileText(path, problem=f"cannot be read ({exc.strerror or exc})")
    if len(data) > MAX_BYTES:
        return FileText(path, problem="is over the 1 MB limit of what is read", too_big=True)
    if b"\x00" in data:
        return FileText(path, problem="is binary, not text")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return FileText(path, problem=f"is not UTF-8 text (byte {exc.start})")
    return FileText(path, text=text, concerns=tuple(concerns))


def toml_key_line(text: str, key: str) -> int | None:
    """1-based line of ``key = …`` (or ``key.sub = …``, ``[key]``) in a TOML text.

    tomllib keeps no positions. Only spaces and tabs may lead the key: any-whitespace would
    also match the newlines of blank lines above it and report the first of those lines.
    """
    pattern = re.compile(
        rf"^[ \t]*(?:\[\[?[ \t]*)?[\"']?{re.escape(key)}[\"']?[ \t]*[=.\]]", re.MULTILINE
    )
    match = pattern.search(text)
    if match is None:
        return None
    return text.count("\n", 0, match.start()) + 1


def toml_text(value: object) -> str:
    """A TOML value as the user wrote it (``false``, ``"off"``, ``1``), not as Python shows it
    (``False``, ``'off'``): messages quote the file back to its author."""
    import json

    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, int | float):
        return str(value)
    return f"a {type(value).__name__}"


def toml_error_line(message: str) -> int | None:
    match = re.search(r"line (\d+)", message)
    return int(match.group(1)) if match else None

"""``telemetry disable --shell``: the opt-out written where every new shell of the user reads it.

A host that reads no user-wide file of ours (dbt) reads its environment, so the one user-wide
opt-out it honours is a variable every shell exports. This module writes, finds and removes a
small marked block that exports the profile's variable (dbt: ``DBT_SEND_ANONYMOUS_USAGE_STATS``)
in the startup files the user's shells read:

- ``~/.profile``, always (created if missing): ``sh``/dash login shells, and bash login shells
  when neither ``~/.bash_profile`` nor ``~/.bash_login`` exists; many desktop sessions read it.
- the first of ``~/.bash_profile`` and ``~/.bash_login`` that exists (bash's login shell reads
  only that one, never ``~/.profile`` then); never created, which would hide ``~/.profile``.
- ``~/.bashrc`` when it exists or ``$SHELL`` is bash (created then): interactive bash.
- ``${ZDOTDIR:-~}/.zshenv`` when it exists, a ``.zshrc`` beside it exists or ``$SHELL`` is zsh:
  every zsh, interactive or not.
- fish: a drop-in ``~/.config/fish/conf.d/telemetry-consent-<app>.fish``, the whole file ours,
  when fish's config directory exists or ``$SHELL`` is fish.

Why a block in each file and not one env file sourced from each (rustup's way): the block is
one line of effect, so nothing else on disk can go missing and break a startup file, and
``enable --shell`` leaves no file behind. Edits are byte-minimal: the block is appended after the
last byte, always with LF line ends (a ``\\r`` would become part of the value in a CRLF file),
and its first line records what else it changed (a final newline it added, a file it created),
so removing it gives back the exact bytes. A symlinked file is edited where it points (dotfile
managers), every edit is planned before any is made, and a failed write undoes the ones before
it: all the files change, or none does.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from .errors import EditRefused, WriteError
from .files import MAX_BYTES, atomic_write
from .profile import AppProfile

__all__ = [
    "ShellBlock",
    "ShellEdit",
    "ShellStatus",
    "StartupFile",
    "apply_edits",
    "find_blocks",
    "plan_shell_change",
    "shell_status",
    "source_hint",
    "startup_files",
]

#: A startup file we create gets the mode a new user's skeleton files have.
_NEW_FILE_MODE = 0o644
_CREATED = b" [this file was created for it]"
_NEWLINE = b" [a final newline was added before it]"


@dataclass(frozen=True)
class StartupFile:
    """One file a shell reads at startup, and whether ``disable --shell`` writes it."""

    #: The path as the shell names it (``~/.bashrc``); a symlink is edited where it points.
    path: str
    shell: str
    #: Written by ``disable --shell`` (created when missing); else only read and cleaned.
    chosen: bool
    #: The whole file is ours (fish's drop-in): removed, not edited, by ``enable --shell``.
    whole: bool = False


@dataclass(frozen=True)
class ShellBlock:
    """Our block, as found in a startup file (for ``status``)."""

    path: str
    #: 1-based line of the variable's assignment, for ``file:line``.
    line: int
    #: The value the block gives the variable.
    value: str


@dataclass(frozen=True)
class ShellEdit:
    """One planned change: the bytes before (None: no file) and after (None: remove it)."""

    #: As the user names it (``~/.bashrc``), and the file really written (a symlink's target).
    path: str
    target: str
    before: bytes | None
    after: bytes | None
    mode: int


def _home(env: Mapping[str, str]) -> str:
    return env.get("HOME") or os.path.expanduser("~")


def _login_shell(env: Mapping[str, str]) -> str:
    return os.path.basename(env.get("SHELL", "").strip())


def startup_files(profile: AppProfile, env: Mapping[str, str]) -> list[StartupFile]:
    """Every startup file the block may be in, with the ones ``disable --shell`` writes marked."""
    home, shell = _home(env), _login_shell(env)
    join = os.path.join
    files = [StartupFile(join(home, ".profile"), "sh", True)]
    first_login = next(
        (p for p in (join(home, ".bash_profile"), join(home, ".bash_login")) if os.path.lexists(p)),
        None,
    )
    for name in (".bash_profile", ".bash_login"):
        path = join(home, name)
        files.append(StartupFile(path, "bash", path == first_login))
    bashrc = join(home, ".bashrc")
    files.append(StartupFile(bashrc, "bash", os.path.lexists(bashrc) or shell == "bash"))
    zdot = env.get("ZDOTDIR") or home
    zshenv = join(zdot, ".zshenv")
    zsh = os.path.lexists(zshenv) or os.path.lexists(join(zdot, ".zshrc")) or shell == "zsh"
    files.append(StartupFile(zshenv, "zsh", zsh))
    fish_dir = join(env.get("XDG_CONFIG_HOME") or join(home, ".config"), "fish")
    drop_in = join(fish_dir, "conf.d", f"telemetry-consent-{profile.name}.fish")
    fish = os.path.isdir(fish_dir) or shell == "fish"
    files.append(StartupFile(drop_in, "fish", fish, whole=True))
    return files


def source_hint(profile: AppProfile, env: Mapping[str, str]) -> str:
    """The file to ``source`` so that the running shell gets the change (``$SHELL``'s own)."""
    by_shell = {f.shell: f.path for f in reversed(startup_files(profile, env)) if f.chosen}
    by_shell["bash"] = os.path.join(_home(env), ".bashrc")
    return by_shell.get(_login_shell(env), by_shell["sh"])


# -- the block ------------------------------------------------------------------------------------
def _markers(profile: AppProfile) -> tuple[bytes, bytes]:
    name = profile.name.encode("ascii", "replace")
    return (
        b"# >>> telemetry-consent: " + name + b" opt-out >>>",
        b"# <<< telemetry-consent: " + name + b" opt-out <<<",
    )


def _body(profile: AppProfile, shell: str) -> bytes:
    cmd = profile.telemetry_command
    var = profile.env_var
    assign = f"set -gx {var} false" if shell == "fish" else f"export {var}=false"
    return (
        f"# Added by `{cmd} disable --shell`: opts {profile.label} out of anonymous usage\n"
        f"# statistics in every new shell; `{cmd} enable --shell` removes this block.\n"
        f"{assign}\n"
    ).encode()


def _assignment(var: str) -> re.Pattern[bytes]:
    name = re.escape(var.encode())
    return re.compile(rb"^\s*(?:export\s+" + name + rb"=|set\s+(?:-\w+\s+)*" + name + rb"\s+)(\S*)")


@dataclass(frozen=True)
class _Found:
    start: int  # byte offset of the begin marker's line
    end: int  # byte offset just after the end marker's line
    line: int  # 1-based line of the assignment (or of the begin marker)
    value: str | None
    created: bool
    added_newline: bool


def _lines(data: bytes) -> list[tuple[int, bytes]]:
    """(offset, line without its end) for each line; ``\\n`` ends a line, ``\\r`` stays."""
    out, at = [], 0
    for piece in data.split(b"\n"):
        out.append((at, piece))
        at += len(piece) + 1
    if out and out[-1][1] == b"":
        out.pop()
    return out


def _find(data: bytes, profile: AppProfile, shown: str) -> list[_Found]:
    begin, end = _markers(profile)
    pattern = _assignment(profile.env_var)
    found: list[_Found] = []
    lines = _lines(data)
    i = 0
    while i < len(lines):
        offset, line = lines[i]
        if not line.rstrip(b"\r").startswith(begin):
            i += 1
            continue
        flags = line[len(begin) :]
        value, value_line = None, i + 1
        j = i + 1
        while j < len(lines) and lines[j][1].rstrip(b"\r") != end:
            if lines[j][1].rstrip(b"\r").startswith(begin):
                break
            match = pattern.match(lines[j][1])
            if match:
                value = match.group(1).decode("utf-8", "replace").strip("'\"")
                value_line = j + 1
            j += 1
        if j >= len(lines) or lines[j][1].rstrip(b"\r") != end:
            raise EditRefused(
                f"{shown}:{i + 1}: the telemetry-consent block begins here but has no end line "
                f"({end.decode()}), so it cannot be edited safely; nothing was written. Fix: "
                "delete the block's lines (or add the end line), then run the command again"
            )
        end_at = lines[j][0] + len(lines[j][1]) + 1
        found.append(
            _Found(
                offset,
                min(end_at, len(data)),
                value_line,
                value,
                _CREATED in flags,
                _NEWLINE in flags,
            )
        )
        i = j + 1
    return found


def _remove(data: bytes, blocks: list[_Found]) -> tuple[bytes, bool]:
    """``data`` without ``blocks``, undoing what their first lines say they added; and
    whether the file was ours alone (created for the block, nothing else in it now)."""
    out, created = data, False
    for block in reversed(blocks):
        head, tail = out[: block.start], out[block.end :]
        if block.added_newline and tail == b"" and head.endswith(b"\n"):
            head = head[:-1]
        out = head + tail
        created = created or block.created
    return out, created and out == b""


# -- reading and planning -------------------------------------------------------------------------
def _read(path: str, shown: str) -> tuple[str, bytes | None, int]:
    """(the file really edited, its bytes or None when missing, its permission bits)."""
    target = os.path.realpath(path)
    try:
        st = os.stat(target)
    except FileNotFoundError:
        if os.path.islink(path):
            raise EditRefused(
                f"{shown} is a symlink to {target}, which does not exist; nothing was written. "
                "Fix: restore the file it points to, or remove the link"
            ) from None
        return target, None, _NEW_FILE_MODE
    except OSError as exc:
        raise WriteError(
            f"{shown}: cannot be read ({exc.strerror or exc}); nothing was written"
        ) from exc
    if not stat.S_ISREG(st.st_mode):
        raise EditRefused(
            f"{shown} is not a regular file; nothing was written. Fix: add "
            "the line yourself, or move it away and run the command again"
        )
    if st.st_size > MAX_BYTES:
        raise EditRefused(f"{shown} is over 1 MB, more than a startup file; nothing was written")
    try:
        with open(target, "rb") as fh:
            data = fh.read(MAX_BYTES + 1)
    except OSError as exc:
        raise WriteError(
            f"{shown}: cannot be read ({exc.strerror or exc}); nothing was written"
        ) from exc
    return target, data, stat.S_IMODE(st.st_mode)


def _shown(path: str, target: str, home: str) -> str:
    def short(p: str) -> str:
        return "~" + p[len(home) :] if home not in ("", "/") and p.startswith(home + "/") else p

    return short(path) if target == os.path.abspath(path) else f"{short(path)} → {short(target)}"


def find_blocks(profile: AppProfile, env: Mapping[str, str]) -> list[ShellBlock]:
    """Our blocks in the user's startup files, for ``status``. Never raises: a file that cannot
    be read has no block we can show."""
    blocks: list[ShellBlock] = []
    for f in startup_files(profile, env):
        try:
            _target, data, _mode = _read(f.path, f.path)
            found = _find(data, profile, f.path) if data is not None else []
        except (EditRefused, WriteError):
            continue
        blocks.extend(ShellBlock(f.path, b.line, b.value or "") for b in found)
    return blocks


@dataclass(frozen=True)
class ShellStatus:
    """What the startup files give new shells, against what this process has (``status``)."""

    variable: str
    blocks: tuple[ShellBlock, ...]
    #: The variable's value in this process's environment (None: not set).
    here: str | None
    #: The file to ``source`` to bring the running shell up to date.
    source: str

    @property
    def state(self) -> Literal["none", "pending", "applied", "differs"]:
        """``none``: no block; ``pending``: this shell started before it (or skipped it);
        ``applied``: this shell has the block's value; ``differs``: something set another."""
        if not self.blocks:
            return "none"
        if self.here is None or self.here.strip() == "":
            return "pending"
        if self.here.strip().lower() == self.blocks[-1].value.strip().lower():
            return "applied"
        return "differs"

    def to_json(self) -> dict[str, object]:
        return {
            "variable": self.variable,
            "state": self.state,
            "blocks": [{"file": b.path, "line": b.line, "value": b.value} for b in self.blocks],
            "source": self.source,
        }


def shell_status(profile: AppProfile, env: Mapping[str, str]) -> ShellStatus:
    """Our blocks in the startup files and this environment's value of the variable."""
    return ShellStatus(
        profile.env_var,
        tuple(find_blocks(profile, env)),
        env.get(profile.env_var),
        source_hint(profile, env),
    )


def plan_shell_change(
    profile: AppProfile, enabled: bool, env: Mapping[str, str]
) -> tuple[list[ShellEdit], list[str]]:
    """What ``enable/disable --shell`` would change, file by file, before anything is written;
    and the files that already say it (named as the user knows them). Raises
    :class:`~consent.errors.EditRefused` for a file that cannot be edited safely."""
    home = _home(env)
    edits: list[ShellEdit] = []
    unchanged: list[str] = []
    seen: set[str] = set()
    for f in startup_files(profile, env):
        if not enabled and not f.chosen:
            continue
        target, data, mode = _read(f.path, f.path)
        if target in seen:  # two names for one file (~/.bash_profile → ~/.profile)
            continue
        seen.add(target)
        shown = _shown(f.path, target, home)
        blocks = _find(data, profile, shown) if data is not None else []
        if enabled:
            if not blocks or data is None:
                continue
            after, ours_alone = _remove(data, blocks)
            edits.append(
                ShellEdit(shown, target, data, None if ours_alone or f.whole else after, mode)
            )
            continue
        body = _body(profile, f.shell)
        begin, end = _markers(profile)
        if data is not None and len(blocks) == 1:
            b = blocks[0]
            existing = data[b.start : b.end]
            if existing.split(b"\n", 1)[1] == body + end + b"\n":
                unchanged.append(shown)
                continue
        base, created = (b"", True) if data is None else _remove(data, blocks)
        flags = b""
        if data is None or created:
            flags, base = _CREATED, b""
        elif base and not base.endswith(b"\n"):
            flags, base = _NEWLINE, base + b"\n"
        after = base + begin + flags + b"\n" + body + end + b"\n"
        edits.append(ShellEdit(shown, target, data, after, mode))
    return edits, unchanged


# -- writing --------------------------------------------------------------------------------------
def _check_writable(edit: ShellEdit) -> None:
    where = os.path.dirname(edit.target)
    while not os.path.exists(where):  # a directory we would create: its parent decides
        where = os.path.dirname(where)
    # The write bit, not only access(): root may write anything, but a startup file made
    # read-only says "do not edit me", whoever runs the command.
    if edit.before is not None and (
        not edit.mode & stat.S_IWUSR or not os.access(edit.target, os.W_OK)
    ):
        raise WriteError(
            f"{edit.path} is read-only, so the opt-out was not written to it or to any other "
            "startup file. Fix: make it writable (chmod u+w), or add the line yourself"
        )
    if not os.access(where, os.W_OK | os.X_OK):
        raise WriteError(
            f"{edit.path}: the directory {where} is not writable, so nothing was written to "
            "any startup file. Fix: make it writable, or add the line yourself"
        )


def _put(edit: ShellEdit, data: bytes | None) -> None:
    if data is None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(edit.target)
    else:
        atomic_write(edit.target, data, mode=edit.mode)


def apply_edits(edits: list[ShellEdit]) -> None:
    """Make every edit, or none: each file is checked first, each is written atomically, and a
    failure puts back the ones already written. Raises :class:`~consent.errors.WriteError`."""
    for edit in edits:
        _check_writable(edit)
    done: list[ShellEdit] = []
    for edit in edits:
        try:
            now = _read(edit.target, edit.path)[1]
            if now != edit.before:
                raise EditRefused(
                    f"{edit.path} changed while it was being edited (another program wrote it); "
                    "nothing was written. Fix: run the command again"
                )
            _put(edit, edit.after)
        except (OSError, EditRefused, WriteError) as exc:
            for written in reversed(done):
                with contextlib.suppress(OSError):
                    _put(written, written.before)
            if isinstance(exc, EditRefused | WriteError):
                raise
            raise WriteError(
                f"{edit.path}: could not be written ({exc.strerror or exc}), so no startup file "
                "was changed. Fix: free some space or make it writable, then run the command "
                "again"
            ) from exc
        done.append(edit)

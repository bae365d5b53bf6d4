"""Writing a user's choice: the user config (atomically, private) or the project file (in place).

Both are edited as text (``_yaml_edit``, and one TOML line here): the flag's value changes or its
lines are added, and every other byte stays as the user wrote it. Where no such edit exists, or
the edit would leave the host in a state it refuses (dbt stops when ``flags:`` in dbt_project.yml
and ``config:`` in profiles.yml are both set), nothing is written and :class:`EditRefused` says
why and what to do instead. Writes go through a temp file and a rename, so concurrent writers
and a crash mid-write leave either the old file or the new one, never half of one; a symlinked
file is written where it really lives.
"""

from __future__ import annotations

import os
import re
import stat
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from ._atomic import atomic_write
from ._yaml_edit import NoMinimalEdit, delete_key, load, newline_of, same_apart_from, set_flag
from .errors import EditRefused, NoProjectFile, WriteError
from .profile import AppProfile
from .sources._files import MAX_BYTES
from .sources.project import find_project_file
from .sources.user import USER_KEY

_HEADER = """\
# Your choice about {app}'s anonymous usage statistics, written by `telemetry {verb}`.
# `telemetry status` shows every setting that applies and which one decides.
"""
_USER_VALUE = re.compile(
    rf"^([ \t]*[\"']?{USER_KEY}[\"']?[ \t]*=[ \t]*)(true|false)(?=[ \t]*(?:#|\r?$))",
    re.MULTILINE)


def _own_config(path: str) -> str | None:
    """The text of ``path`` when it is a valid telemetry.toml (TOML, no key but ours), else None."""
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_BYTES + 1)
        text = data.decode("utf-8")
        parsed = tomllib.loads(text)
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, RecursionError):
        return None
    if len(data) > MAX_BYTES or set(parsed) - {USER_KEY}:
        return None
    return text


def _written_by_us(profile: AppProfile, enabled: bool) -> str:
    verb = "enable" if enabled else "disable"
    return _HEADER.format(app=profile.label, verb=verb) + f"{USER_KEY} = {str(enabled).lower()}\n"


def _user_text(existing: str | None, profile: AppProfile, enabled: bool) -> str:
    """The new telemetry.toml: the old one with only the value changed, when it can be (a file
    this command wrote itself is written anew, so its header names the command that wrote it)."""
    word = str(enabled).lower()
    ours = {_written_by_us(profile, flag) for flag in (True, False)}
    if existing is not None and existing not in ours:
        nl = newline_of(existing)
        if len(_USER_VALUE.findall(existing)) == 1:
            edited = _USER_VALUE.sub(lambda m: m.group(1) + word, existing)
        elif USER_KEY not in tomllib.loads(existing):
            sep = "" if not existing or existing.endswith("\n") else nl
            edited = existing + sep + f"{USER_KEY} = {word}{nl}"
        else:
            edited = None  # a form the line edit does not know (an inline comment table…)
        if edited is not None and tomllib.loads(edited) == {USER_KEY: enabled}:
            return edited
    return _written_by_us(profile, enabled)


def write_user_choice(profile: AppProfile, enabled: bool) -> str:
    """Write the user config; return its path. Raises :class:`WriteError` with the fix.

    An existing valid file keeps its comments and layout (only the value changes). A symlink to
    a valid telemetry.toml (a dotfiles repository) is written through, so the link stays; a
    symlink to anything else (``~/.bashrc`` planted there) is replaced, never written through.
    """
    path = profile.user_config_path()
    target = path
    if os.path.islink(path) and _own_config(os.path.realpath(path)) is not None:
        target = os.path.realpath(path)
    existing = None if os.path.islink(target) else _own_config(target)
    mode = 0o600
    if existing is not None:
        # Keep the file's own mode, but never leave it writable by others (status warns).
        mode = stat.S_IMODE(os.stat(target).st_mode) & ~0o022
    data = _user_text(existing, profile, enabled).encode()
    try:
        if os.path.isdir(path) and not os.path.islink(path):
            raise IsADirectoryError(21, "Is a directory")
        atomic_write(target, data, mode=mode)
    except OSError as exc:
        raise WriteError(
            f"{path}: could not write your choice ({exc.strerror or exc}); nothing was changed. "
            f"Fix: make {os.path.dirname(target)} writable (or remove what is in the way), "
            f"or set {profile.env_var}={str(enabled).lower()} in your environment"
        ) from exc
    return path


def project_file_for(profile: AppProfile, cwd: str | None = None) -> str:
    cwd = os.getcwd() if cwd is None else cwd
    path = find_project_file(cwd, profile.project_files)
    if path is None:
        raise NoProjectFile(
            f"no {' or '.join(profile.project_files)} found from {cwd} upward, so there is no "
            "project to write to. Fix: run this inside the project, or use --global"
        )
    return path


@dataclass(frozen=True)
class ProjectWrite:
    """What ``--project`` wrote: the project file, and anything else it had to change."""

    path: str
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Text:
    path: str
    target: str
    text: str
    bom: str
    mode: int


def _read_for_edit(path: str, what: str, *, writing: bool = True) -> _Text:
    """The file's text exactly as stored (no newline translation), or the reason to refuse.

    ``writing=False``: only read it for now (a read-only file is refused later, if written)."""
    target = os.path.realpath(path)  # a symlinked file is edited where it really lives
    try:
        st = os.stat(target)
    except OSError as exc:
        raise WriteError(f"{path}: cannot be read ({exc.strerror or exc}); nothing was changed. "
                         f"Fix: make it a readable {what}") from exc
    if st.st_size > MAX_BYTES:
        raise EditRefused(
            f"{path}: the file is {st.st_size:,} bytes, over the 1 MB limit of what is read or "
            "edited, so it was left as it is; nothing was written. Fix: make it smaller, or set "
            "the flag in it by hand")
    file_mode = stat.S_IMODE(st.st_mode)
    if writing:
        _check_writable(path, target, file_mode)
    try:
        with open(target, "rb") as fh:
            raw = fh.read(MAX_BYTES + 1)
    except OSError as exc:
        raise WriteError(f"{path}: cannot be read ({exc.strerror or exc}); nothing was changed. "
                         f"Fix: make it a readable {what}") from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise EditRefused(f"{path}: the file is not UTF-8 text (byte {exc.start}), so it was "
                          f"left as it is; nothing was written. Fix: make it a UTF-8 {what}"
                          ) from exc
    bom = "\ufeff" if text.startswith("\ufeff") else ""
    return _Text(path, target, text[len(bom):], bom, file_mode)


def _check_writable(path: str, target: str, mode: int) -> None:
    # Root may write anything: the mode bits still say what the owner meant.
    if not (os.access(target, os.W_OK) and mode & 0o222):
        raise WriteError(
            f"{path}: the file is read-only (mode {mode:o}), so it was left as it is; nothing "
            f"was changed. Fix: chmod u+w {path} if it should be changed, then run the command "
            "again")


def _edited(file: _Text, key_path: tuple[str, ...], new_text: str,
            check: Callable[[str], bool]) -> bytes:
    if not same_apart_from(file.text, new_text, key_path) or not check(new_text):
        raise EditRefused(f"{file.path}: no edit of the flag alone gives the asked-for result, so "
                          "the file was left as it is; nothing was written. Fix: set "
                          f"{': '.join(key_path)} in it by hand")  # pragma: no cover - a bug
    return (file.bom + new_text).encode("utf-8")


def _save(file: _Text, data: bytes) -> None:
    try:
        atomic_write(file.target, data, mode=file.mode)
    except OSError as exc:
        raise WriteError(f"{file.path}: could not be written ({exc.strerror or exc}); nothing "
                         "was changed. Fix: make the file and its directory writable") from exc


def write_project_choice(profile: AppProfile, enabled: bool, cwd: str | None = None,
                         env: Mapping[str, str] | None = None) -> ProjectWrite:
    """Set the flag in the nearest project file, keeping every other byte.

    Refuses (:class:`EditRefused`, nothing written) when no minimal edit exists, and when the
    profile's legacy file (dbt: ``profiles.yml``) has a ``config:`` block, beside which dbt
    refuses any ``flags:`` — except that a legacy ``true`` alone is removed first (it is dbt's
    default, so no other project changes), which the returned notes say.
    """
    cwd = os.getcwd() if cwd is None else cwd
    path = project_file_for(profile, cwd)
    project = _read_for_edit(path, "YAML file")
    word = "true" if enabled else "false"
    try:
        new_text = set_flag(project.text, profile.flag_key_path, word)
    except NoMinimalEdit as exc:
        fix = exc.fix or f"set {': '.join(profile.flag_key_path)}: {word} in it by hand"
        raise EditRefused(
            f"{path}: {exc}, so the flag cannot be set by a minimal edit; the file was left as "
            f"it is and nothing was written. Fix: {fix}") from exc
    data = _edited(project, profile.flag_key_path, new_text,
                   lambda text: _reads_as(text, profile.flag_key_path, enabled))
    notes: tuple[str, ...] = ()
    if profile.legacy_flag_file is not None:
        notes = _clear_the_legacy_place(profile, enabled, cwd,
                                        os.environ if env is None else env, path)
    _save(project, data)
    return ProjectWrite(path, notes)


def _clear_the_legacy_place(profile: AppProfile, enabled: bool, cwd: str,
                            env: Mapping[str, str], project_path: str) -> tuple[str, ...]:
    """Make sure writing the project flag will not create dbt's "both set" refusal."""
    from .sources.dbt import profiles_dir

    legacy = profile.legacy_flag_file
    assert legacy is not None
    where, _ = profiles_dir(legacy, env, cwd)
    legacy_path = os.path.join(where, legacy.file_name)
    if not os.path.isfile(legacy_path):
        return ()
    file = _read_for_edit(legacy_path, "YAML file", writing=False)
    try:
        data = load(file.text)
    except NoMinimalEdit:
        # dbt cannot read it either, and then ignores every project's flags: (status says so).
        return ()
    block_name, key = legacy.key_path[0], legacy.key_path[-1]
    config = data.get(block_name) if isinstance(data, dict) else None
    if not config or not isinstance(config, dict):
        return ()
    line = _key_line(file.text, legacy.key_path)
    at = f"{legacy_path}:{line}" if line else legacy_path
    if set(config) == {key} and config[key] is False:
        if enabled:
            raise EditRefused(
                f"refused: {at} turns telemetry off for all your projects ({block_name}: {key}: "
                f"false), and a project must not undo a user-wide opt-out; writing "
                f"{profile.flag_key_path[0]}: to {project_path} as well would also make dbt "
                f"refuse to run. Nothing was written. Fix: change line {line} of {legacy_path} "
                "to true, or delete it (it is deprecated), if you mean to opt back in")
        raise EditRefused(
            f"refused: {at} already turns telemetry off for all your projects ({block_name}: "
            f"{key}: false), and writing {profile.flag_key_path[0]}: to {project_path} as well "
            "would make dbt refuse to run. Nothing was written. Fix: to opt out for everyone "
            f"in the project instead, delete line {line} of {legacy_path}, then run the command "
            "again")
    if set(config) == {key} and config[key] is True:
        # true is dbt's default: removing it changes no project, and ends the deprecated block.
        try:
            new_text = delete_key(file.text, legacy.key_path)
        except NoMinimalEdit:
            pass
        else:
            _check_writable(file.path, file.target, file.mode)
            _save(file, _edited(file, legacy.key_path, new_text, lambda _: True))
            return (f"Removed {key}: true from {at} (dbt's default, so no other project changes; "
                    f"dbt refuses to run with both {block_name}: there and "
                    f"{profile.flag_key_path[0]}: in {project_path}).",)
    raise EditRefused(
        f"refused: {legacy_path} has a {block_name}: block ({', '.join(sorted(map(str, config)))})"
        f", and dbt refuses to run when {project_path} has {profile.flag_key_path[0]}: too. "
        f"Nothing was written. Fix: move what is under {block_name}: to "
        f"{profile.flag_key_path[0]}: in {project_path}, delete {block_name}: from "
        f"{legacy_path}, then run the command again")


def _key_line(text: str, key_path: tuple[str, ...]) -> int | None:
    """1-based line of ``key_path``'s value in YAML ``text`` (for messages)."""
    from .sources.project import flag_in_text

    line: int | None = flag_in_text(text, key_path).line
    return line


def _reads_as(text: str, key_path: tuple[str, ...], enabled: bool) -> bool:
    """Whether ``text`` reads back with the flag set as asked (checked with the real reader)."""
    from .sources.project import flag_in_text

    found = flag_in_text(text, key_path)
    return found.problem is None and found.opinion == ("on" if enabled else "off")

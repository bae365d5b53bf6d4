"""The user's own choice: ``telemetry.toml`` in the user config dir, read and written here.

``telemetry enable/disable`` (``--global``, the default) writes it: atomically, mode 0600, and in
an existing valid file only the value's bytes change (comments and layout kept). A symlink to a
valid telemetry.toml (a dotfiles repository) is written through; a symlink to anything else is
replaced, never followed.

A choice is recorded with the profile's consent version (``consent_version``): a "yes" given
for another version no longer counts (what the tool collects has changed since, so the user is
told or asked again), while a "no" always counts. A file without the key was written before
versions were recorded, when every profile was at version 1.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import replace
from typing import TYPE_CHECKING

from .._model import Layer, file_origin
from .._toml import TomlProblem, key_line, parse, toml_text
from .._yaml_edit import newline_of
from ..errors import WriteError
from ..files import MAX_BYTES, atomic_write, read_text
from ..values import opinion_of, shown
from .base import LayerSource, Step, Want, Written, command

if TYPE_CHECKING:
    from ..context import ReadContext
    from ..profile import AppProfile

__all__ = ["USER_KEY", "UserConfig", "read_user_config", "write_user_choice"]

USER_KEY = "send_anonymous_usage_stats"
VERSION_KEY = "consent_version"
#: The consent version of an answer that does not record one (written before they were).
UNVERSIONED = 1


class UserConfig(LayerSource):
    """The user's choice, for them everywhere. With the project file it stands at one level,
    where an opt-out sticks: the user can turn telemetry off inside a project that has it on."""

    name = "user_config"
    title = "user config"
    level = "project and user"
    below_user = True
    lasting = True
    scope = "global"
    users_yes = True

    def read(self, ctx: ReadContext) -> Layer:
        return read_user_config(ctx.profile.user_config_path(), ctx.profile.consent_version)

    def watched(self, ctx: ReadContext) -> tuple[str, ...]:
        return (ctx.profile.user_config_path(),)

    def repair(self, layer: Layer, want: Want, profile: AppProfile | None) -> Step:
        # `telemetry enable` rewrites a file it cannot read whole.
        return Step(f"{command(profile)} enable", self.name, want)

    def change(self, layer: Layer, want: Want, profile: AppProfile | None) -> Step:
        verb = "enable" if want == "on" else "disable"
        return Step(f"{command(profile)} {verb}", self.name, want)

    def describe(self, layer: Layer) -> str:
        return "your user config" + (f" ({layer.origin})" if layer.origin else "")

    def write(self, ctx: ReadContext, enabled: bool) -> Written:
        """``telemetry enable/disable --global``: see :func:`write_user_choice`."""
        return Written(write_user_choice(ctx.profile, enabled))


# -- reading --------------------------------------------------------------------------------------
def _error(path: str, line: int | None, problem: str, fix: str) -> Layer:
    where = file_origin(path, line)
    return Layer(
        "user_config",
        "off",
        None,
        where,
        status="error",
        detail=problem,
        warnings=(f"{where}: {problem}; treated as off. Fix: {fix}",),
    )


def read_user_config(path: str, consent_version: int = 1) -> Layer:
    """The user config layer as ``path`` holds it now, for a profile at ``consent_version``."""
    fix_all = f"run `telemetry disable` or `telemetry enable` to rewrite {path}, or delete it"
    read = read_text(path, check_owner=True)
    if read is None:
        return Layer("user_config", detail=f"{path} does not exist")
    if read.problem:
        return _error(path, None, f"the file {read.problem}, so {USER_KEY} cannot be read", fix_all)
    try:
        data = parse(read.text or "")
    except TomlProblem as exc:
        return _error(path, exc.line, f"{exc}, so {USER_KEY} cannot be read", fix_all)
    warnings = list(read.concerns)
    unknown = sorted(k for k in data if k not in (USER_KEY, VERSION_KEY))
    if unknown:
        # docs/decision.md: an unknown key is bad input and fails closed, because the likeliest
        # unknown key is a misspelt opt-out (`send_anonymous_usage_stat = false`).
        key = unknown[0]
        line = key_line(read.text or "", key)
        layer = _error(
            path,
            line,
            f"unknown key {shown(key)!r} (the keys are {USER_KEY} and {VERSION_KEY})",
            f"write {USER_KEY} = false (or true) instead, or run `telemetry disable`",
        )
        return replace(layer, warnings=(*layer.warnings, *warnings))
    given_for = data.get(VERSION_KEY, UNVERSIONED)
    if isinstance(given_for, bool) or not isinstance(given_for, int) or given_for < 1:
        line = key_line(read.text or "", VERSION_KEY)
        layer = _error(
            path,
            line,
            f"{VERSION_KEY} must be a whole number ≥ 1 (no quotes), not "
            f"{shown(toml_text(given_for))}, so the choice beside it cannot be trusted",
            fix_all,
        )
        return replace(layer, warnings=(*layer.warnings, *warnings))
    if USER_KEY not in data:
        return Layer(
            "user_config", None, None, path, detail=f"no {USER_KEY} key", warnings=tuple(warnings)
        )
    value = data[USER_KEY]
    line = key_line(read.text or "", USER_KEY)
    origin = file_origin(path, line)
    if not isinstance(value, bool):
        layer = _error(
            path,
            line,
            f"{USER_KEY} must be true or false (no quotes), not {shown(toml_text(value))}",
            f"write {USER_KEY} = false (no quotes), or run `telemetry disable`",
        )
        return replace(layer, raw=shown(toml_text(value)), warnings=(*layer.warnings, *warnings))
    if value and given_for != consent_version:
        # What the tool collects changed since this yes: it no longer counts (told or asked
        # again), while a no always does.
        return Layer(
            "user_config",
            None,
            "true",
            origin,
            detail=f"this yes was given for consent version {given_for}; what is collected "
            f"has changed since (version {consent_version}), so it no longer counts: say yes "
            "again with `telemetry enable`",
            warnings=tuple(warnings),
        )
    return Layer(
        "user_config", opinion_of(value), str(value).lower(), origin, warnings=tuple(warnings)
    )


# -- writing (``telemetry enable/disable``, ``--global``) ------------------------------------------
_HEADER = """\
# Your choice about {app}'s anonymous usage statistics, written by `telemetry {verb}`.
# `telemetry status` shows every setting that applies and which one decides.
"""
_USER_VALUE = re.compile(
    rf"^([ \t]*[\"']?{USER_KEY}[\"']?[ \t]*=[ \t]*)(true|false)(?=[ \t]*(?:#|\r?$))", re.MULTILINE
)
_VERSION_VALUE = re.compile(
    rf"^([ \t]*[\"']?{VERSION_KEY}[\"']?[ \t]*=[ \t]*)([0-9]+)(?=[ \t]*(?:#|\r?$))", re.MULTILINE
)


def _own_config(path: str) -> str | None:
    """The text of ``path`` when it is a valid telemetry.toml (TOML, no key but ours), else None."""
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_BYTES + 1)
        text = data.decode("utf-8")
        parsed = parse(text)
    except (OSError, UnicodeDecodeError, TomlProblem):
        return None
    if len(data) > MAX_BYTES or set(parsed) - {USER_KEY, VERSION_KEY}:
        return None
    return text


def _header(profile: AppProfile, enabled: bool) -> str:
    verb = "enable" if enabled else "disable"
    return _HEADER.format(app=profile.label, verb=verb) + f"{USER_KEY} = {str(enabled).lower()}\n"


def _written_by_us(profile: AppProfile, enabled: bool) -> str:
    return _header(profile, enabled) + f"{VERSION_KEY} = {profile.consent_version}\n"


def _was_written_by_us(existing: str, profile: AppProfile) -> bool:
    """Whether ``existing`` is exactly what this command writes (for any version, or none)."""
    for flag in (True, False):
        head = _header(profile, flag)
        if existing == head or (
            existing.startswith(head)
            and re.fullmatch(rf"{VERSION_KEY} = [0-9]+\n", existing[len(head) :])
        ):
            return True
    return False


def _edited(existing: str, profile: AppProfile, enabled: bool) -> str | None:
    """``existing`` with only the values changed (a missing key added), or None when no such
    edit gives exactly the choice and its version."""
    nl = newline_of(existing)
    edited = existing
    for key, pattern, value in (
        (USER_KEY, _USER_VALUE, str(enabled).lower()),
        (VERSION_KEY, _VERSION_VALUE, str(profile.consent_version)),
    ):
        if len(pattern.findall(edited)) == 1:
            edited = pattern.sub(rf"\g<1>{value}", edited)
        elif key not in parse(edited):
            sep = "" if not edited or edited.endswith("\n") else nl
            edited = edited + sep + f"{key} = {value}{nl}"
        else:
            return None  # a form the line edit does not know (an inline comment table…)
    wanted = {USER_KEY: enabled, VERSION_KEY: profile.consent_version}
    return edited if parse(edited) == wanted else None


def _user_text(existing: str | None, profile: AppProfile, enabled: bool) -> str:
    """The new telemetry.toml: the old one with only the values changed, when it can be (a file
    this command wrote itself is written anew, so its header names the command that wrote it)."""
    if existing is not None and not _was_written_by_us(existing, profile):
        try:
            edited = _edited(existing, profile, enabled)
        except TomlProblem:
            edited = None
        if edited is not None:
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

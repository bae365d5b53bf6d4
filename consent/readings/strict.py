"""The strict reading, for profiles whose own tracker sends: a value that is not clearly true or
false, a file that cannot be read, a key set twice, all fail closed (off) with a warning naming
the file, the key and the fix (docs/decision.md, "Two readings").

Its rules: ``DO_NOT_TRACK`` and the tool's variable in the spellings of
:func:`consent.values.env_bool`; the nearest project file's flag as a YAML 1.1 boolean; the
profile's deprecated user-wide place (dbt's ``profiles.yml`` ``config:``), where a profile has
one, found where the dbt reading finds it (:func:`consent.project_location.locate_profiles`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, ClassVar

from .._model import Layer
from .._yaml import read_yaml_flag
from ..project_location import ProjectAt, find_project_file, locate_profiles, locate_project
from ..values import FALSE_WORDS, TRUE_WORDS, env_bool, opinion_of, shown
from .base import Reading
from .common import do_not_track_no_opinion, layer_from, named_dir_layer, unset_layer

if TYPE_CHECKING:
    from ..profile import AppProfile, LegacyFlagFile

__all__ = [
    "NOT_A_BOOLEAN",
    "StrictReading",
    "project_file_layer",
    "read_do_not_track",
    "read_env_var",
    "read_project",
]

#: Why a value that is neither true nor false counts as off (DO_NOT_TRACK and the env var).
NOT_A_BOOLEAN = "it is not a true/false value"


class StrictReading(Reading):
    """Fail closed on anything unclear; every layer is read (a tool's own tracker reads them
    all)."""

    name: ClassVar[str] = "strict"

    def do_not_track(self, env: Mapping[str, str]) -> Layer:
        return read_do_not_track(env)

    def env_var(self, env: Mapping[str, str], names: tuple[str, ...]) -> Layer:
        return read_env_var(env, names)

    def project(
        self,
        profile: AppProfile,
        env: Mapping[str, str],
        cwd: str,
        project_dir: str | None = None,
    ) -> tuple[Layer, list[str]]:
        return read_project(profile, env, cwd, project_dir)


# -- the environment ------------------------------------------------------------------------------
def read_do_not_track(env: Mapping[str, str]) -> Layer:
    """``DO_NOT_TRACK``: a true spelling means off; a false spelling is *no opinion*, never "on"."""
    raw = env.get("DO_NOT_TRACK")
    if raw is None:
        return Layer("do_not_track", detail="not set")
    flag = env_bool(raw)
    if flag is True:
        return Layer("do_not_track", "off", shown(raw), "DO_NOT_TRACK")
    if flag is False:
        return do_not_track_no_opinion(raw)
    # It was read: it is simply not a true/false word. Off, because the likeliest meaning of
    # setting DO_NOT_TRACK at all is "do not track".
    message = (
        f"DO_NOT_TRACK={shown(raw)!s} in the environment is not a true/false value; treated as "
        "off. Fix: set DO_NOT_TRACK=1 to opt out, or unset it."
    )
    return Layer(
        "do_not_track",
        "off",
        shown(raw),
        "DO_NOT_TRACK",
        status="error",
        detail=f"{NOT_A_BOOLEAN} ({', '.join(sorted(TRUE_WORDS))} or "
        f"{', '.join(sorted(w for w in FALSE_WORDS if w))})",
        warnings=(message,),
    )


def read_env_var(env: Mapping[str, str], names: tuple[str, ...]) -> Layer:
    """``<PREFIX>SEND_ANONYMOUS_USAGE_STATS`` and any preferred spelling that beats it."""
    present = [(name, env[name]) for name in names if env.get(name) is not None]
    empty = [n for n, v in present if v.strip() == ""]
    # An empty value is the same as unset (shells export empty strings easily).
    present = [(n, v) for n, v in present if v.strip() != ""]
    if not present:
        return unset_layer(names, empty)
    name, raw = present[0]
    shadowed = [n for n, _ in present[1:]]
    note = f"{', '.join(shadowed)} also set, {name} takes precedence" if shadowed else None
    flag = env_bool(raw)
    if flag is None:
        message = (
            f"{name}={shown(raw)!s} in the environment is not true or false; treated as off. "
            f"Fix: set {name}=false (or true), or unset it."
        )
        return Layer(
            "env_var",
            "off",
            shown(raw),
            name,
            status="error",
            detail=NOT_A_BOOLEAN,
            warnings=(message,),
        )
    return Layer("env_var", opinion_of(flag), shown(raw), name, detail=note)


# -- the project file ------------------------------------------------------------------------------
def project_file_layer(
    cwd: str,
    names: tuple[str, ...],
    key_path: tuple[str, ...],
    legacy: LegacyFlagFile | None = None,
    env: Mapping[str, str] | None = None,
    at: ProjectAt | None = None,
) -> tuple[Layer, list[str]]:
    """The project layer, and the files it read (so a tracker can re-check them cheaply).

    ``at``: where the project is (:func:`locate_project`); default: the search from ``cwd``."""
    path = find_project_file(cwd, names) if at is None else at.path
    watched: list[str] = []
    layer = Layer("project_file", detail=f"no {' or '.join(names)} found from {cwd} upward")
    if path is not None:
        watched.append(path)
        found = read_yaml_flag(path, key_path)
        if found is not None:
            layer = layer_from(path, found, key_path)
    if legacy is None:
        return layer, watched
    legacy_path = locate_profiles(legacy, env if env is not None else os.environ, cwd).path
    watched.append(legacy_path)
    old = read_yaml_flag(legacy_path, legacy.key_path)
    if old is None or (old.opinion is None and old.problem is None):
        return layer, watched
    old_layer = layer_from(legacy_path, old, legacy.key_path)
    old_layer = replace(old_layer, warnings=(*old_layer.warnings, *layer.warnings))
    if old_layer.is_error:
        return old_layer, watched
    dotted = ".".join(legacy.key_path)
    deprecation = (
        f"{old_layer.origin}: {dotted} is deprecated. Fix: move it to "
        f"{names[0]} as {'.'.join(key_path)} and remove it from {legacy.file_name}"
    )
    if layer.is_error:
        # The project file is already off for its own problem; it did not "also set" the flag.
        return replace(layer, warnings=(*layer.warnings, deprecation)), watched
    if layer.opinion is not None:
        both = (
            f"{layer.origin} and {old_layer.origin} both set the flag, which dbt refuses; treated "
            f"as off. Fix: remove {dotted} from {legacy.file_name}"
        )
        return replace(
            layer,
            opinion="off",
            status="error",
            detail=f"the flag is also set in {old_layer.origin}",
            warnings=(*layer.warnings, both),
        ), watched
    return replace(
        old_layer,
        detail=f"deprecated location ({legacy.file_name})",
        warnings=(deprecation,),
        legacy=True,
    ), watched


def read_project(
    profile: AppProfile, env: Mapping[str, str], cwd: str, project_dir: str | None = None
) -> tuple[Layer, list[str]]:
    """The strict reading of the project layer, and the files it read."""
    at = locate_project(profile, env, cwd, project_dir)
    named = named_dir_layer(at, profile)
    if named is not None and named.is_error:
        return named, []
    layer, watched = project_file_layer(
        cwd,
        profile.project_files,
        profile.flag_key_path,
        profile.legacy_flag_file,
        env,
        at,
    )
    if named is not None and layer.opinion is None and not layer.is_error:
        # No project file there; only the deprecated user-wide place could have said more.
        return replace(named, warnings=(*named.warnings, *layer.warnings)), watched
    return layer, watched

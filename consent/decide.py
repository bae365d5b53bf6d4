"""The edge where consent meets the world: read every source, then call the pure resolver."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import replace

from ._model import Decision, Edition, Layer
from .profile import DEFAULT_PROFILE, AppProfile
from .resolver import resolve
from .sources import host_flag_layer, read_policy, reading_of, user_config_layer

#: The project layer when the working directory was deleted under the process.
_NO_CWD = ("the working directory no longer exists (it was deleted or moved), so no project "
           "file can be looked up")


def gather(
    profile: AppProfile = DEFAULT_PROFILE,
    *,
    host_flag: bool | None = None,
    edition: str | None = None,
    cwd: str | None = None,
    env: Mapping[str, str] | None = None,
) -> tuple[Edition, list[Layer], list[str]]:
    """Every layer as read now, the edition, and the files read (for cheap re-checks)."""
    env = os.environ if env is None else env
    if cwd is None:
        try:
            cwd = os.getcwd()
        except FileNotFoundError:
            cwd = None
    policy_paths = profile.system_policy_paths()
    policy = read_policy(policy_paths)
    # The edition comes from the host's code, else the admin's policy, else the profile default;
    # never from a project or user file (the user controls those).
    edition_warnings: tuple[str, ...] = ()
    if edition is not None and edition not in ("core", "cloud"):
        edition_warnings = (
            f"the host passed edition={edition!r}, which is not \"core\" or \"cloud\"; it is "
            "ignored. Fix (for the tool's author): pass edition=\"core\" or \"cloud\"",
        )
        edition = None
    if edition in ("core", "cloud"):
        chosen = Edition(edition, "host")
    elif policy.edition is not None:
        chosen = policy.edition
    else:
        chosen = Edition("cloud" if profile.default_edition == "cloud" else "core", "default")
    reading = reading_of(profile)
    if cwd is None:
        project, project_paths = Layer(
            "project_file", "off", status="error", detail=_NO_CWD,
            warnings=(f"{_NO_CWD}; treated as off. Fix: cd to an existing directory",),
        ), []
    else:
        project, project_paths = reading.project(cwd, profile, env)
    user_path = profile.user_config_path()
    layers = [
        Layer("edition_mandate", detail=f"{chosen.name} edition: telemetry is not mandatory",
              warnings=edition_warnings),
        policy.admin_lock_layer(),
        reading.do_not_track(env),
        host_flag_layer(host_flag, profile.host_flag_name),
        reading.env_var(env, profile.env_vars),
        project,
        user_config_layer(user_path),
        policy.system_default_layer(),
        Layer("edition_default", "on", chosen.name, None,
              detail=f"{chosen.name} edition: on by default"
              + (", you may opt out" if chosen.name == "core" else "")),
    ]
    watched = [*policy_paths, *project_paths, user_path]
    return chosen, layers, watched


def decide(
    profile: AppProfile = DEFAULT_PROFILE,
    *,
    host_flag: bool | None = None,
    edition: str | None = None,
    cwd: str | None = None,
    env: Mapping[str, str] | None = None,
) -> Decision:
    """Whether ``profile``'s host may send anonymous usage statistics now, and why.

    Never raises for bad input: problems become layers in ``error`` (counted as off) and warnings.
    """
    try:
        chosen, layers, watched = gather(
            profile, host_flag=host_flag, edition=edition, cwd=cwd, env=env
        )
    except Exception as exc:  # noqa: BLE001 - the host must never be hurt; fail closed and say so
        message = f"telemetry consent could not be read ({type(exc).__name__}: {exc}); treated as off"
        broken = Layer("admin_lock", "off", None, None, status="error", detail=message,
                       warnings=(message,))
        return resolve(profile.name, Edition("core", "default"), [broken])
    return replace(resolve(profile.name, chosen, layers), watched_paths=tuple(watched))

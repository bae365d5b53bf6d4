"""The edge where consent meets the world: read every layer, then call the pure resolver."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from ._model import Decision, Edition, Layer
from .context import ReadContext
from .layers import LAYERS, AdminLock
from .profile import DEFAULT_PROFILE, AppProfile
from .resolver import resolve

__all__ = ["decide", "gather"]


def gather(
    profile: AppProfile = DEFAULT_PROFILE,
    *,
    host_flag: bool | None = None,
    edition: str | None = None,
    cwd: str | None = None,
    env: Mapping[str, str] | None = None,
    project_dir: str | None = None,
) -> tuple[Edition, list[Layer], list[str]]:
    """Every layer as read now, the edition, and the files read (for cheap re-checks)."""
    ctx = ReadContext.now(
        profile, host_flag=host_flag, edition=edition, cwd=cwd, env=env, project_dir=project_dir
    )
    return _read(ctx)


def _read(ctx: ReadContext) -> tuple[Edition, list[Layer], list[str]]:
    reading = ctx.reading
    # A layer the host itself never reads (the dbt reading: our user config, our policy file)
    # is shown with what it holds, and never decides: status must say what the host does.
    layers = [
        source.stamp(
            source.read(ctx)
            if reading.reads(source.name)
            else reading.not_read(source.read(ctx), ctx.profile)
        )
        for source in LAYERS
    ]
    watched = dict.fromkeys(path for source in LAYERS for path in source.watched(ctx))
    return ctx.edition, layers, list(watched)


def decide(
    profile: AppProfile = DEFAULT_PROFILE,
    *,
    host_flag: bool | None = None,
    edition: str | None = None,
    cwd: str | None = None,
    env: Mapping[str, str] | None = None,
    project_dir: str | None = None,
) -> Decision:
    """Whether ``profile``'s host may send anonymous usage statistics now, and why.

    ``project_dir`` names the project directory exactly (``status --project-dir``), as a host's
    own ``--project-dir`` option does. Never raises for bad input: problems become layers in
    ``error`` (counted as off) and warnings.
    """
    try:
        ctx = ReadContext.now(
            profile, host_flag=host_flag, edition=edition, cwd=cwd, env=env, project_dir=project_dir
        )
        chosen, layers, watched = _read(ctx)
        policy_files = ctx.policy.files
    except Exception as exc:  # noqa: BLE001 - the host must never be hurt; fail closed and say so
        message = (
            f"telemetry consent could not be read ({type(exc).__name__}: {exc}); treated as off"
        )
        broken = Layer(
            AdminLock.name, "off", None, None, status="error", detail=message, warnings=(message,)
        )
        return resolve(profile.name, Edition("core", "default"), [broken])
    return replace(
        resolve(profile.name, chosen, layers),
        watched_paths=tuple(watched),
        policy_files=policy_files,
    )

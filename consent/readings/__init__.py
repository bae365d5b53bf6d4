"""The two readings of values (docs/decision.md, "Two readings"), one small object each.

A profile declares how its values are read (``AppProfile(reading=...)``). The layers whose
parsing differs between readings (``DO_NOT_TRACK``, the environment variable, the project file)
ask the context's reading, so that no caller switches on the reading's name. A reading also
declares which layers its host reads at all (:meth:`StrictReading.reads`): ``decide`` shows the
others with what they hold and lets them decide nothing (the dbt reading: dbt-core never reads our
user config or system policy).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING

from .._model import Layer

if TYPE_CHECKING:
    from ..context import ReadContext
    from ..profile import AppProfile

__all__ = ["DbtReading", "StrictReading", "reading_of"]


class StrictReading:
    """For profiles whose own tracker sends: a value that is not clearly true or false, a file
    that cannot be read, a key set twice, all fail closed (off) with a warning. The rules are
    the layers' own (:mod:`consent.layers`)."""

    name = "strict"
    #: Layers whose files the host itself never reads: shown with what they hold, never
    #: deciding (:meth:`not_read`). A tool's own tracker reads every layer.
    unread: frozenset[str] = frozenset()

    def reads(self, layer: str) -> bool:
        """Whether the host reads the layer called ``layer`` (the policy's edition goes with
        ``admin_lock``: both come from the system policy file)."""
        return layer not in self.unread

    def not_read(self, layer: Layer, ctx: ReadContext) -> Layer:
        """``layer`` as shown when the host does not read it: what it holds, no opinion, and
        a warning when the user evidently believes it opts out."""
        from ..layers.base import command

        host = ctx.profile.label
        if layer.origin or layer.raw is not None:
            note = f"{host} does not read this file: it has no effect on {host}"
        else:
            note = f"{layer.detail or 'not set'} ({host} does not read it either way)"
        warnings: tuple[str, ...] = ()
        if layer.opinion == "off" and layer.origin and not layer.is_error:
            warnings = (
                f"{layer.origin}: {host} does not read this file, so its opt-out has no effect "
                f"on {host}. What works for {host}: `{command(ctx.profile)} disable --shell` for "
                f"every new shell of yours, or `{command(ctx.profile)} disable --project` for "
                "everyone in a project",
            )
        return replace(
            layer,
            opinion=None,
            status="no_opinion",
            detail=note,
            warnings=warnings,
            host_refuses=False,
            unread=True,
        )

    def do_not_track(self, env: Mapping[str, str]) -> Layer:
        from ..layers.do_not_track import read_do_not_track

        return read_do_not_track(env)

    def env_var(self, env: Mapping[str, str], names: tuple[str, ...]) -> Layer:
        from ..layers.env_var import read_env_var

        return read_env_var(env, names)

    def project(self, ctx: ReadContext) -> tuple[Layer, list[str]]:
        """The project layer, and the files it read."""
        from ..layers.project_file import read_strict

        return read_strict(ctx)


class DbtReading(StrictReading):
    """For the built-in dbt profile: every value read exactly as dbt-core reads it (see
    :mod:`consent.readings.dbt`), and a warning wherever that is not what the user meant."""

    name = "dbt"
    #: dbt-core never reads our user config (telemetry.toml) or our system policy file (nor,
    #: so, an edition from it): after `telemetry disable` dbt still tracks, so the mirror must
    #: not say off.
    unread = frozenset({"admin_lock", "system_default", "user_config"})

    def do_not_track(self, env: Mapping[str, str]) -> Layer:
        from .dbt import do_not_track_layer

        return do_not_track_layer(env)

    def env_var(self, env: Mapping[str, str], names: tuple[str, ...]) -> Layer:
        from .dbt import env_var_layer

        return env_var_layer(env, names)

    def project(self, ctx: ReadContext) -> tuple[Layer, list[str]]:
        from .dbt import project_layer, user_settings_note

        assert ctx.cwd is not None
        layer, watched = project_layer(ctx.cwd, ctx.profile, ctx.env, ctx.project_dir)
        note, path = user_settings_note(ctx.profile.legacy_flag_file)
        if note is not None:
            layer = replace(layer, warnings=(*layer.warnings, note))
        return layer, [*watched, path]


_READINGS: dict[str, StrictReading] = {"strict": StrictReading(), "dbt": DbtReading()}


def reading_of(profile: AppProfile) -> StrictReading:
    """The reading ``profile`` declares."""
    return _READINGS[profile.reading]

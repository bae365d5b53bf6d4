"""``<PREFIX>SEND_ANONYMOUS_USAGE_STATS``: the tool's own switch, per shell (dbt:
``DBT_SEND_ANONYMOUS_USAGE_STATS``, and ``DBT_ENGINE_…`` before it)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._model import Layer
from .base import EnvironmentLayer, Step, Want

if TYPE_CHECKING:
    from ..context import ReadContext
    from ..profile import AppProfile

__all__ = ["EnvVar"]


class EnvVar(EnvironmentLayer):
    """True or false in the spellings of the profile's reading
    (:meth:`consent.readings.base.Reading.env_var`); the first variable of the profile's list
    that holds a value counts (``AppProfile.env_vars``)."""

    name = "env_var"
    title = "environment variable"
    users_yes = True
    #: ``telemetry enable/disable --shell`` writes it in the user's shell startup files (the CLI
    #: calls :mod:`consent.shell_startup`: a write there is for new shells, not this process).
    scope = "shell"

    def read(self, ctx: ReadContext) -> Layer:
        return ctx.reading.env_var(ctx.env, ctx.profile.env_vars)

    def opt_out_reference(self, layer: Layer) -> str:
        return f"in the {self.title} {self.assignment(layer)}"

    def change(self, layer: Layer, want: Want, profile: AppProfile | None) -> Step:
        variable = layer.origin or (profile.env_var if profile else "the variable")
        if want == "on":
            return Step(f"unset {variable}", self.name, None)
        return Step(f"export {variable}=false", self.name, "off")

"""The host's own per-run flag (dbt: ``--send-anonymous-usage-stats / --no-…``), passed in
through the API: ``True``/``False`` is this run's explicit choice, ``None`` no opinion."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._model import Layer
from ..values import opinion_of
from .base import LayerSource, Step, Want

if TYPE_CHECKING:
    from ..context import ReadContext
    from ..profile import AppProfile

__all__ = ["HostFlag"]


class HostFlag(LayerSource):
    name = "host_flag"
    title = "host flag"
    users_yes = True

    def read(self, ctx: ReadContext) -> Layer:
        if ctx.host_flag is None:
            return Layer(self.name, detail="not passed")
        return Layer(
            self.name,
            opinion_of(ctx.host_flag),
            str(ctx.host_flag).lower(),
            ctx.profile.host_flag_name,
        )

    def describe(self, layer: Layer) -> str:
        return f"the host's flag {layer.origin}"

    def change(self, layer: Layer, want: Want, profile: AppProfile | None) -> Step:
        flag = layer.origin or "the host flag"
        if want == "on":
            return Step(f"run the tool without its {flag} option", self.name, None)
        return Step(f"run the tool with its {flag} option set off", self.name, "off")

"""``DO_NOT_TRACK``: the cross-tool opt-out (consoledonottrack.com). It beats even the host's own
flag: dbt-core applies it after every other setting."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._model import Layer
from .base import EnvironmentLayer, Step, Want

if TYPE_CHECKING:
    from ..context import ReadContext
    from ..profile import AppProfile

__all__ = ["DoNotTrack"]


class DoNotTrack(EnvironmentLayer):
    """A true value means off; a false value is no opinion, never "on" (the profile's reading
    decides which spellings are which: :meth:`consent.readings.base.Reading.do_not_track`)."""

    name = "do_not_track"
    title = "DO_NOT_TRACK"

    def read(self, ctx: ReadContext) -> Layer:
        return ctx.reading.do_not_track(ctx.env)

    def opt_out_reference(self, layer: Layer) -> str:
        return self.assignment(layer) or self.title

    def change(self, layer: Layer, want: Want, profile: AppProfile | None) -> Step:
        return Step("unset DO_NOT_TRACK", self.name, None)

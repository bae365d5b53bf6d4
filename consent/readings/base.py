"""What every reading answers (docs/decision.md, "Two readings"): one method per thing read.

A profile declares how its values are read (``AppProfile(reading=...)``): strictly, failing
closed (:mod:`consent.readings.strict`), or exactly as dbt-core reads them
(:mod:`consent.readings.dbt`). The layers whose parsing differs between the two (``DO_NOT_TRACK``,
the environment variable, the project file) ask the profile's reading, as platformdirs puts each
platform behind one class: no caller switches on the reading's name, and a third reading is one
new module. A reading also declares which layers its host reads at all (:meth:`Reading.reads`).

Readings parse values into layers; they import no layer (the layers import them).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, ClassVar

from .._model import Layer

if TYPE_CHECKING:
    from ..profile import AppProfile

__all__ = ["Reading"]


class Reading(ABC):
    """How one host reads its inputs: each method returns the layer as that host reads it."""

    #: The name a profile declares (``AppProfile.reading``).
    name: ClassVar[str]
    #: Layers whose files the host itself never reads: shown with what they hold, never
    #: deciding (:meth:`not_read`).
    unread: ClassVar[frozenset[str]] = frozenset()

    def reads(self, layer: str) -> bool:
        """Whether the host reads the layer called ``layer`` (the policy's edition goes with
        ``admin_lock``: both come from the system policy file)."""
        return layer not in self.unread

    def not_read(self, layer: Layer, profile: AppProfile) -> Layer:
        """``layer`` as shown when the host does not read it: what it holds, no opinion, and
        a warning when the user evidently believes it opts out."""
        host = profile.label
        if layer.origin or layer.raw is not None:
            note = f"{host} does not read this file: it has no effect on {host}"
        else:
            note = f"{layer.detail or 'not set'} ({host} does not read it either way)"
        warnings: tuple[str, ...] = ()
        if layer.opinion == "off" and layer.origin and not layer.is_error:
            command = profile.telemetry_command
            warnings = (
                f"{layer.origin}: {host} does not read this file, so its opt-out has no effect "
                f"on {host}. What works for {host}: `{command} disable --shell` for every new "
                f"shell of yours, or `{command} disable --project` for everyone in a project",
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

    @abstractmethod
    def do_not_track(self, env: Mapping[str, str]) -> Layer:
        """``DO_NOT_TRACK``: a yes is off; a no is no opinion, never "on"."""

    @abstractmethod
    def env_var(self, env: Mapping[str, str], names: tuple[str, ...]) -> Layer:
        """The tool's own variable: the first of ``names`` that holds a value."""

    @abstractmethod
    def project(
        self,
        profile: AppProfile,
        env: Mapping[str, str],
        cwd: str,
        project_dir: str | None = None,
    ) -> tuple[Layer, list[str]]:
        """The project layer (the project file's flag, and the profile's deprecated user-wide
        place), and the files it read (watched for cheap re-checks)."""

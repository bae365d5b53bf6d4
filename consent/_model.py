"""The typed vocabulary of a consent decision: layers in, a decision out.

The layers themselves (their order, names and titles) are :mod:`consent.layers`. This module
imports nothing else of consent: what render and the resolver need to know of a layer's class
(its title, whether its "off" is somebody's choice) is stamped onto its :class:`Layer`
(:meth:`consent.layers.base.LayerSource.stamp`), so that everything else may import the model.

Kept free of I/O and of heavy imports so that deciding stays cheap for every host start-up.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Literal

Opinion = Literal["on", "off"] | None
Status = Literal["winner", "overridden", "no_opinion", "error"]
EditionName = Literal["core", "cloud"]


def file_origin(path: str, line: int | None = None) -> str:
    """Where a value was read in a file: ``path:line``, or the path alone when the line is
    unknown. The one spelling of a file origin in layers, warnings and ``status``."""
    return f"{path}:{line}" if line else path


@dataclass(frozen=True, slots=True)
class Layer:
    """What one source said: its opinion, the value as written, and where it was read.

    ``status`` is filled in by the resolver; sources leave it as ``no_opinion`` or ``error``.
    """

    name: str
    opinion: Opinion = None
    raw: str | None = None
    origin: str | None = None
    status: Status = "no_opinion"
    detail: str | None = None
    warnings: tuple[str, ...] = ()
    #: The host program refuses to run with this input (dbt: an invalid
    #: DBT_SEND_ANONYMOUS_USAGE_STATS, or both ``flags:`` and ``config:`` set), so nothing is
    #: sent whatever the layers below the admin lock say. Always an error layer.
    host_refuses: bool = False
    #: Read from the profile's deprecated place (dbt: ``profiles.yml``'s ``config:`` block),
    #: which ``enable/disable --project`` never write.
    legacy: bool = False
    #: The host itself never reads this layer's file (dbt: our user config, our policy): shown
    #: with what it holds, never deciding.
    unread: bool = False
    #: The words ``status`` shows for this layer (its class's title; the name until stamped).
    title: str = field(default="", compare=False)
    #: "off" here is somebody's choice, which the cloud edition lists as overridden; a default
    #: that only reflects where the process runs (CI) is not. From the layer's class.
    choice: bool = field(default=True, compare=False)

    def __post_init__(self) -> None:
        if not self.title:
            object.__setattr__(self, "title", self.name)

    @property
    def is_error(self) -> bool:
        return self.status == "error"

    def with_status(self, status: Status, detail: str | None = None) -> Layer:
        # An error keeps its status so that status can say "error", but it still counts as off.
        if self.status == "error":
            return replace(self, detail=self.detail or detail)
        return replace(self, status=status, detail=detail if detail is not None else self.detail)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "opinion": self.opinion,
            "raw": self.raw,
            "origin": self.origin,
            "status": self.status,
            "detail": self.detail,
        }


@dataclass(frozen=True, slots=True)
class Edition:
    """Which edition applies and where from: ``host``, a policy file path, or ``default``."""

    name: EditionName = "core"
    origin: str = "default"


@dataclass(frozen=True, slots=True)
class PolicyFile:
    """A system policy file that was read: where, and whether it is at the platform's fixed
    system location (``fixed``) or along ``XDG_CONFIG_DIRS``, which the environment can move."""

    path: str
    fixed: bool

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "fixed": self.fixed}


@dataclass(frozen=True, slots=True)
class Decision:
    """The answer to "may this run send anonymous usage statistics?", with its provenance."""

    app: str
    edition: Edition
    enabled: bool
    mandatory: bool
    decided_by: str
    layers: tuple[Layer, ...]
    warnings: tuple[str, ...] = ()
    #: Files whose change could change this decision (for cheap re-checks before sending).
    watched_paths: tuple[str, ...] = field(default=(), compare=False)
    #: Every system policy file read for this decision (status lists them).
    policy_files: tuple[PolicyFile, ...] = field(default=(), compare=False)

    @property
    def winner(self) -> Layer:
        return self.layer(self.decided_by)

    def layer(self, name: str) -> Layer:
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise KeyError(name)

    @property
    def overridden_opt_outs(self) -> tuple[Layer, ...]:
        """Opt-outs that exist but do not apply (cloud edition, admin lock, a higher layer).

        An "off" that is nobody's choice (the CI default) is not an opt-out."""
        return tuple(
            layer
            for layer in self.layers
            if layer.opinion == "off" and layer.status == "overridden" and layer.choice
        )

    def to_json(
        self, *, anonymous_id: str | None = None, collector: str | None = None
    ) -> dict[str, Any]:
        """The document of ``telemetry status --json`` (contracts/status.schema.json)."""
        return {
            "schema_version": 1,
            "app": self.app,
            "edition": {"name": self.edition.name, "origin": self.edition.origin},
            "enabled": self.enabled,
            "mandatory": self.mandatory,
            "decided_by": self.decided_by,
            "layers": [layer.to_json() for layer in self.layers],
            "anonymous_id": anonymous_id,
            "collector": collector,
            "policy_files": [file.to_json() for file in self.policy_files],
            "warnings": list(self.warnings),
        }

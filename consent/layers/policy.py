"""The administrator's system policy, ``telemetry-policy.toml`` in the site config dir, and the
two layers it gives: the admin lock (second highest) and the system default (above the edition's).

It can fix the edition, set the machine's default, or lock telemetry on or off for everyone. It
is read once per decision (:attr:`consent.context.ReadContext.policy`) and shared by both layers
and by the choice of the edition.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .._model import Edition, Layer, Opinion, file_origin
from .._toml import TomlProblem, key_line, parse, toml_text
from ..files import FileText, read_text
from ..values import shown
from .base import LayerSource, Step, Want

if TYPE_CHECKING:
    from ..context import ReadContext
    from ..profile import AppProfile

__all__ = ["AdminLock", "Policy", "SystemDefault", "read_policy"]

_KEYS = ("edition", "telemetry", "locked")


@dataclass(frozen=True, slots=True)
class Policy:
    """What the first policy file found said, already checked."""

    path: str | None = None
    edition: Edition | None = None
    telemetry: Opinion = None
    telemetry_origin: str | None = None
    locked: bool = False
    #: Set when the file is unusable: the policy then locks telemetry off (fail closed), and
    #: ``warnings`` holds the one line that says why and what to do.
    problem: str | None = None
    warnings: tuple[str, ...] = ()


def read_policy(candidates: list[str]) -> Policy:
    """What the first policy file found along ``candidates`` says (``Policy()``: none)."""
    for path in candidates:
        read = read_text(path)
        if read is not None:
            return _parse(path, read)
    return Policy()


def _bad(path: str, line: int | None, problem: str, fix: str) -> Policy:
    where = file_origin(path, line)
    return Policy(
        path=where,
        problem=problem,
        warnings=(f"{where}: {problem}; telemetry is treated as locked off. Fix: {fix}",),
    )


def _parse(path: str, read: FileText) -> Policy:
    fix = (
        'the file takes edition = "core"|"cloud", telemetry = "on"|"off", '
        "locked = true|false (ask your administrator)"
    )
    if read.problem:
        return _bad(path, None, f"the system policy file {read.problem}", fix)
    text = read.text or ""
    try:
        data = parse(text)
    except TomlProblem as exc:
        return _bad(path, exc.line, str(exc), fix)

    def at(key: str) -> str:
        return file_origin(path, key_line(text, key))

    unknown = [k for k in sorted(data) if k not in _KEYS]
    if unknown:
        # docs/decision.md: an unknown key is bad input and fails closed (a misspelt `locked` or
        # `telemetry` must not silently leave the machine unlocked).
        return _bad(path, key_line(text, unknown[0]), f"unknown key {shown(unknown[0])!r}", fix)
    edition = None
    if "edition" in data:
        if data["edition"] not in ("core", "cloud"):
            return _bad(
                path,
                key_line(text, "edition"),
                f'edition must be "core" or "cloud" (quoted), not '
                f"{shown(toml_text(data['edition']))}",
                fix,
            )
        edition = Edition(data["edition"], at("edition"))
    telemetry = data.get("telemetry")
    if telemetry is not None and telemetry not in ("on", "off"):
        return _bad(
            path,
            key_line(text, "telemetry"),
            f'telemetry must be "on" or "off" (quoted), not {shown(toml_text(telemetry))}',
            fix,
        )
    locked = data.get("locked", False)
    if not isinstance(locked, bool):
        return _bad(
            path,
            key_line(text, "locked"),
            f"locked must be true or false (no quotes), not {shown(toml_text(locked))}",
            fix,
        )
    if locked and telemetry is None:
        return _bad(
            path,
            key_line(text, "locked"),
            'locked = true needs telemetry = "on" or "off" to say what is locked',
            fix,
        )
    return Policy(
        path=os.fspath(path),
        edition=edition,
        telemetry=telemetry,
        telemetry_origin=at("telemetry") if telemetry is not None else path,
        locked=locked,
    )


class AdminLock(LayerSource):
    """``locked = true`` in the system policy: its ``telemetry`` wins over everything below the
    edition. A policy file that cannot be used counts as locked off (fail closed)."""

    name = "admin_lock"
    title = "admin lock"
    managed = True
    lasting = True

    def read(self, ctx: ReadContext) -> Layer:
        policy = ctx.policy
        if policy.problem:
            return Layer(
                self.name,
                "off",
                None,
                policy.path,
                status="error",
                detail=f"{policy.problem}, so it counts as locked off",
                warnings=policy.warnings,
            )
        if policy.path is None:
            return Layer(self.name, detail="no system policy file")
        if not policy.locked:
            return Layer(self.name, None, None, policy.path, detail="not locked")
        return Layer(
            self.name,
            policy.telemetry,
            policy.telemetry,
            policy.telemetry_origin,
            detail="locked by the system policy",
        )

    def watched(self, ctx: ReadContext) -> tuple[str, ...]:
        return tuple(ctx.profile.system_policy_paths())

    def describe(self, layer: Layer) -> str:
        if layer.origin is None:  # decide()'s last resort: nothing could be read at all
            return "a failure to read the settings"
        return f"the administrator's lock ({layer.origin})"

    def step(self, layer: Layer, want: Want, profile: AppProfile | None) -> Step:
        return Step(f"only an administrator can (system policy {layer.origin})")


class SystemDefault(LayerSource):
    """``telemetry = "on" | "off"`` in an unlocked system policy: the machine's default."""

    name = "system_default"
    title = "system policy default"
    below_user = True
    lasting = True

    def read(self, ctx: ReadContext) -> Layer:
        policy = ctx.policy
        if policy.path is None or policy.problem:
            return Layer(self.name, detail="no system policy default")
        if policy.locked:
            return Layer(
                self.name,
                None,
                None,
                policy.telemetry_origin,
                detail="the policy is locked (see admin lock)",
            )
        if policy.telemetry is None:
            return Layer(self.name, None, None, policy.path, detail="no telemetry key")
        return Layer(self.name, policy.telemetry, policy.telemetry, policy.telemetry_origin)

    def watched(self, ctx: ReadContext) -> tuple[str, ...]:
        return tuple(ctx.profile.system_policy_paths())

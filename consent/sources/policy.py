"""The administrator's system policy: ``telemetry-policy.toml`` in the site config dir.

It can fix the edition, set the machine's default, or lock telemetry on or off for everyone.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass

from .._model import Edition, Layer
from .._values import shown
from ._files import read_text, toml_error_line, toml_key_line, toml_text

_KEYS = ("edition", "telemetry", "locked")


@dataclass(frozen=True, slots=True)
class Policy:
    """What the first policy file found said, already checked."""

    path: str | None = None
    edition: Edition | None = None
    telemetry: str | None = None  # "on" | "off"
    telemetry_origin: str | None = None
    locked: bool = False
    #: Set when the file is unusable: the policy then locks telemetry off (fail closed).
    problem: str | None = None
    warnings: tuple[str, ...] = ()

    def admin_lock_layer(self) -> Layer:
        if self.problem:
            return Layer("admin_lock", "off", None, self.path, status="error",
                         detail=f"{self.problem}, so it counts as locked off",
                         warnings=self.warnings)
        if self.path is None:
            return Layer("admin_lock", detail="no system policy file")
        if not self.locked:
            return Layer("admin_lock", None, None, self.path, detail="not locked",
                         warnings=self.warnings)
        return Layer("admin_lock", self.telemetry, self.telemetry, self.telemetry_origin,
                     detail="locked by the system policy", warnings=self.warnings)

    def system_default_layer(self) -> Layer:
        if self.path is None or self.problem:
            return Layer("system_default", detail="no system policy default")
        if self.locked:
            return Layer("system_default", None, None, self.telemetry_origin,
                         detail="the policy is locked (see admin lock)")
        if self.telemetry is None:
            return Layer("system_default", None, None, self.path, detail="no telemetry key")
        return Layer("system_default", self.telemetry, self.telemetry, self.telemetry_origin)


def read_policy(candidates: list[str]) -> Policy:
    for path in candidates:
        read = read_text(path)
        if read is not None:
            return _parse(path, read)
    return Policy()


def _bad(path: str, line: int | None, problem: str, fix: str) -> Policy:
    where = f"{path}:{line}" if line else path
    return Policy(
        path=where, problem=problem,
        warnings=(f"{where}: {problem}; telemetry is treated as locked off. Fix: {fix}",),
    )


def _parse(path: str, read) -> Policy:
    fix = ('the file takes edition = "core"|"cloud", telemetry = "on"|"off", '
           "locked = true|false (ask your administrator)")
    if read.problem:
        return _bad(path, None, f"the system policy file {read.problem}", fix)
    text = read.text or ""
    try:
        data = tomllib.loads(text)
    except (tomllib.TOMLDecodeError, RecursionError) as exc:
        # RecursionError: tomllib recurses on deeply nested arrays and inline tables.
        return _bad(path, toml_error_line(str(exc)),
                    f"invalid TOML ({exc})", fix)

    def at(key: str) -> str:
        line = toml_key_line(text, key)
        return f"{path}:{line}" if line else path

    unknown = [k for k in sorted(data) if k not in _KEYS]
    if unknown:
        # PRODUCT.md §2: an unknown key is bad input and fails closed (a misspelt `locked` or
        # `telemetry` must not silently leave the machine unlocked).
        return _bad(path, toml_key_line(text, unknown[0]),
                    f"unknown key {shown(unknown[0])!r}", fix)
    warnings: list[str] = []
    edition = None
    if "edition" in data:
        if data["edition"] not in ("core", "cloud"):
            return _bad(path, toml_key_line(text, "edition"),
                        f"edition must be \"core\" or \"cloud\" (quoted), not "
                        f"{shown(toml_text(data['edition']))}", fix)
        edition = Edition(data["edition"], at("edition"))
    telemetry = data.get("telemetry")
    if telemetry is not None and telemetry not in ("on", "off"):
        return _bad(path, toml_key_line(text, "telemetry"),
                    f"telemetry must be \"on\" or \"off\" (quoted), not "
                    f"{shown(toml_text(telemetry))}", fix)
    locked = data.get("locked", False)
    if not isinstance(locked, bool):
        return _bad(path, toml_key_line(text, "locked"),
                    f"locked must be true or false (no quotes), not {shown(toml_text(locked))}",
                    fix)
    if locked and telemetry is None:
        return _bad(path, toml_key_line(text, "locked"),
                    "locked = true needs telemetry = \"on\" or \"off\" to say what is locked", fix)
    return Policy(
        path=os.fspath(path), edition=edition, telemetry=telemetry,
        telemetry_origin=at("telemetry") if telemetry is not None else path,
        locked=locked, warnings=tuple(warnings),
    )

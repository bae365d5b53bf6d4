"""The tracker's runtime settings, read once from ``<PREFIX>TELEMETRY_*`` environment variables.

Standard library only: the host reads these on every tracked run, and importing
pydantic-settings cost about 100 ms, more than the whole budget of recording a run. One table,
:data:`FIELDS`, says every setting's name, type, bounds, default and meaning; the host reads it
once, reports each bad value in one line naming the variable and the fix, and hands the values
the uploader needs to it on its command line (:meth:`TrackerSettings.uploader_options`), so the
uploader never parses the environment again.

A bad value never stops the host: its default is used instead.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from typing import Any, NamedTuple

from consent.values import env_bool, shown


class Field(NamedTuple):
    """One setting: ``<PREFIX>TELEMETRY_<NAME upper-cased>``."""

    name: str
    kind: type  # bool, int, float or str
    default: Any
    description: str
    low: float | None = None
    high: float | None = None
    #: True: ``low`` itself is refused (``> low`` rather than ``>= low``).
    low_open: bool = False


#: Every setting, in the order ``telemetry`` documents them.
FIELDS: tuple[Field, ...] = (
    Field("endpoint", str, None, "Collector base URL; overrides the profile's."),
    Field("debug", bool, False, "Print each event to stderr instead of recording it."),
    Field("flush_deadline", float, None,
          "Seconds a host may wait at exit when it delivers in-process (CI, PID 1); "
          "default: the profile's (1 s).", 0, 30),
    Field("spool_max_events", int, 10_000, "Events kept waiting before the oldest are dropped.",
          1, 10_000_000),
    Field("spool_max_bytes", int, 10 * 1024 * 1024,
          "Bytes of waiting events kept before the oldest are dropped.", 1024, 1 << 34),
    Field("spool_max_age_s", float, 7 * 24 * 3600.0,
          "Seconds an event may wait before it is dropped as too old.", 1, 365 * 24 * 3600.0),
    Field("batch_size", int, 200, "Events per POST.", 1, 500),
    Field("request_timeout", float, 5.0, "Seconds per HTTP request (connect, each read).",
          0, 60, low_open=True),
    Field("upload_time_limit", float, 30.0,
          "Hard wall-clock cap of one uploader process, in seconds.", 1, 600),
    Field("backoff_max_s", float, 60.0,
          "Longest wait after failed uploads before another uploader starts.", 0, 3600),
)


class TrackerSettings(NamedTuple):
    """How the tracker records and delivers; see :data:`FIELDS` for each setting.

    A NamedTuple, like the others a host builds at start-up: a frozen dataclass costs about a
    millisecond just to define, and every tracked run pays for it.
    """

    endpoint: str | None = None
    debug: bool = False
    flush_deadline: float | None = None
    spool_max_events: int = 10_000
    spool_max_bytes: int = 10 * 1024 * 1024
    spool_max_age_s: float = 7 * 24 * 3600.0
    batch_size: int = 200
    request_timeout: float = 5.0
    upload_time_limit: float = 30.0
    backoff_max_s: float = 60.0

    @classmethod
    def load(cls, env_prefix: str,
             env: Mapping[str, str] | None = None) -> tuple[TrackerSettings, list[str]]:
        """The settings, and one line per variable that was ignored because it was wrong.

        Names are matched case-insensitively and an empty value counts as unset, as shells and
        CI systems write them either way.
        """
        source = os.environ if env is None else env
        prefix = f"{env_prefix}TELEMETRY_".upper()
        wanted = {f"{prefix}{f.name.upper()}": f for f in FIELDS}
        raw: dict[str, tuple[str, str]] = {}
        for key, value in source.items():
            field = wanted.get(key.upper())
            if field is not None and value is not None and value.strip():
                raw[field.name] = (key, value)
        values: dict[str, Any] = {}
        problems: list[str] = []
        for field in FIELDS:
            if field.name not in raw:
                continue
            key, text = raw[field.name]
            try:
                values[field.name] = _parse(field, text)
            except ValueError as exc:
                problems.append(
                    f"telemetry: {key}={shown(text)!r} is ignored ({exc}); using the default. "
                    f"Fix: correct or unset {key}")
        return cls()._replace(**values), problems

    def uploader_options(self) -> dict[str, Any]:
        """What an uploader needs to know, as plain JSON values (it is told, it does not read)."""
        keep = ("spool_max_events", "spool_max_bytes", "spool_max_age_s", "batch_size",
                "request_timeout", "upload_time_limit", "backoff_max_s")
        return {name: getattr(self, name) for name in keep}

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> TrackerSettings:
        """The inverse of :meth:`uploader_options`; unknown or wrong values keep their default."""
        known = {f.name: f for f in FIELDS}
        values: dict[str, Any] = {}
        for name, value in options.items():
            field = known.get(name)
            if field is None or field.kind is str or field.kind is bool:
                continue
            try:
                values[name] = _parse(field, str(value))
            except ValueError:
                continue
        return cls()._replace(**values)


def _parse(field: Field, text: str) -> Any:
    text = text.strip()
    if field.kind is str:
        return text
    if field.kind is bool:
        flag = env_bool(text)
        if flag is None:
            raise ValueError("not a boolean: use 1/0, true/false, yes/no")
        return flag
    try:
        number: float = int(text) if field.kind is int else float(text)
    except ValueError:
        raise ValueError(f"not {'an integer' if field.kind is int else 'a number'}") from None
    if isinstance(number, float) and not math.isfinite(number):
        raise ValueError("not a finite number")
    if field.low is not None and (number < field.low or (field.low_open and number == field.low)):
        raise ValueError(f"must be {'>' if field.low_open else '≥'} {_num(field.low)}")
    if field.high is not None and number > field.high:
        raise ValueError(f"must be ≤ {_num(field.high)}")
    return number


def _num(value: float) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


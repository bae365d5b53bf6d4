"""The tracker's runtime settings, ``<PREFIX>TELEMETRY_*``: one declaration, one reader a side.

:class:`TrackerSettings` declares every setting once: its name, type, default, bounds and
meaning (``docs/delivery.md#settings`` lists them). It is read two ways:

- by a host, with :func:`read_host_settings`: the standard library only (importing
  pydantic-settings costs about 100 ms, more than the whole budget of recording a run). The
  host's own delivery thread (CI, PID 1) uses what the host read: nothing is parsed twice;
- by the detached uploader and ``telemetry upload``, with
  :func:`tracking.uploader_settings.load_settings`: a pydantic-settings model built from the same
  declaration reads the environment the uploader inherits, and reports a wrong value in the
  words :func:`why_wrong` gives the host.

Either way a bad value never stops anything: one line names the variable and the fix, and the
default is used instead.
"""

import math
import os
import typing
from collections.abc import Mapping
from typing import Annotated, Any, NamedTuple

from consent.values import env_bool, shown

__all__ = [
    "Setting",
    "TrackerSettings",
    "declared",
    "problem_line",
    "read_host_settings",
    "why_wrong",
]

# (No ``from __future__ import annotations`` here: the declaration's Annotated metadata is read
# at run time.)


class Setting(NamedTuple):
    """What a setting means and its bounds (``ge``/``le`` inclusive, ``gt`` exclusive)."""

    meaning: str
    ge: float | None = None
    gt: float | None = None
    le: float | None = None


class TrackerSettings(NamedTuple):
    """How the tracker records and delivers. Each field is ``<PREFIX>TELEMETRY_<NAME>``.

    A NamedTuple, like the others a host builds at start-up: a frozen dataclass costs about a
    millisecond just to define, and every tracked run pays for it.
    """

    endpoint: Annotated[str | None, Setting("Collector base URL; overrides the profile's.")] = None
    debug: Annotated[bool, Setting("Print each event to stderr instead of recording it.")] = False
    flush_deadline: Annotated[
        float | None,
        Setting(
            "Seconds a host may wait at exit when it delivers in-process (CI, PID 1); "
            "default: the profile's (1 s).",
            ge=0,
            le=30,
        ),
    ] = None
    prompt_timeout: Annotated[
        float | None,
        Setting(
            "Seconds an opt-in profile's question waits for an answer on a terminal; "
            "default: the profile's (15 s).",
            gt=0,
            le=600,
        ),
    ] = None
    spool_max_events: Annotated[
        int, Setting("Events kept waiting before the oldest are dropped.", ge=1, le=10_000_000)
    ] = 10_000
    spool_max_bytes: Annotated[
        int,
        Setting("Bytes of waiting events kept before the oldest are dropped.", ge=1024, le=1 << 34),
    ] = 10 * 1024 * 1024
    spool_max_age_s: Annotated[
        float,
        Setting(
            "Seconds an event may wait before it is dropped as too old.", ge=1, le=365 * 24 * 3600.0
        ),
    ] = 7 * 24 * 3600.0
    batch_size: Annotated[int, Setting("Events per POST.", ge=1, le=500)] = 200
    request_timeout: Annotated[
        float, Setting("Seconds per HTTP request (connect, each read).", gt=0, le=60)
    ] = 5.0
    upload_time_limit: Annotated[
        float, Setting("Hard wall-clock cap of one uploader process, in seconds.", ge=1, le=600)
    ] = 30.0
    backoff_max_s: Annotated[
        float,
        Setting("Longest wait after failed uploads before another uploader starts.", ge=0, le=3600),
    ] = 60.0


class Declared(NamedTuple):
    """One setting as declared: its name, its value type (bool, int, float or str), whether it
    may be None, its default and its :class:`Setting`."""

    name: str
    kind: type
    optional: bool
    default: Any
    setting: Setting


_DECLARED: list[tuple[Declared, ...]] = []


def declared() -> tuple[Declared, ...]:
    """Every setting of :class:`TrackerSettings`, in its order, read from the declaration."""
    if not _DECLARED:
        hints = typing.get_type_hints(TrackerSettings, include_extras=True)
        out = []
        for name in TrackerSettings._fields:
            kind, setting = typing.get_args(hints[name])
            values = [arg for arg in typing.get_args(kind) if arg is not type(None)]
            out.append(
                Declared(
                    name,
                    values[0] if values else kind,
                    bool(values),
                    TrackerSettings._field_defaults[name],
                    setting,
                )
            )
        _DECLARED.append(tuple(out))
    return _DECLARED[0]


def problem_line(variable: str, value: str, why: str) -> str:
    """The one line that reports a value that was ignored."""
    return (
        f"telemetry: {variable}={shown(value)!r} is ignored ({why}); using the default. "
        f"Fix: correct or unset {variable}"
    )


def read_host_settings(
    env_prefix: str,
    env: Mapping[str, str] | None = None,
) -> tuple[TrackerSettings, list[str]]:
    """Every setting, and one line per variable that was ignored because it was wrong.
    Standard library only.

    Names are matched case-insensitively and an empty value counts as unset, as shells and
    CI systems write them either way.
    """
    source = os.environ if env is None else env
    prefix = f"{env_prefix}TELEMETRY_".upper()
    wanted = {f"{prefix}{item.name.upper()}": item for item in declared()}
    values: dict[str, Any] = {}
    problems: list[str] = []
    for key, text in source.items():
        item = wanted.get(key.upper())
        if item is None or text is None or not text.strip():
            continue
        try:
            values[item.name] = _parse(item, text.strip())
        except ValueError as exc:
            problems.append(problem_line(key, text, str(exc)))
    return TrackerSettings()._replace(**values), problems


def why_wrong(name: str, text: str) -> str | None:
    """Why ``text`` is not a value of setting ``name``, in the words the host reports it
    (None: it is one). The uploader's reader says the same thing in the same words."""
    item = next((d for d in declared() if d.name == name), None)
    if item is None:
        return None
    try:
        _parse(item, text.strip())
    except ValueError as exc:
        return str(exc)
    return None


def _parse(item: Declared, text: str) -> Any:
    if item.kind is str:
        return text
    if item.kind is bool:
        flag = env_bool(text)
        if flag is None:
            raise ValueError("not a boolean: use 1/0, true/false, yes/no")
        return flag
    try:
        number: float = int(text) if item.kind is int else float(text)
    except ValueError:
        raise ValueError(f"not {'an integer' if item.kind is int else 'a number'}") from None
    if not math.isfinite(number):
        raise ValueError("not a finite number")
    bounds = item.setting
    if bounds.ge is not None and number < bounds.ge:
        raise ValueError(f"must be ≥ {_num(bounds.ge)}")
    if bounds.gt is not None and number <= bounds.gt:
        raise ValueError(f"must be > {_num(bounds.gt)}")
    if bounds.le is not None and number > bounds.le:
        raise ValueError(f"must be ≤ {_num(bounds.le)}")
    return number


def _num(value: float) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)

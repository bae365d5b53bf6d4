"""The user's own choice: ``telemetry.toml`` in the user config dir, written by enable/disable."""

from __future__ import annotations

import tomllib

from .._model import Layer
from .._values import opinion_of, shown
from ._files import read_text, toml_error_line, toml_key_line, toml_text

USER_KEY = "send_anonymous_usage_stats"


def _error(path: str, line: int | None, problem: str, fix: str) -> Layer:
    where = f"{path}:{line}" if line else path
    return Layer(
        "user_config", "off", None, where, status="error",
        detail=problem,
        warnings=(f"{where}: {problem}; treated as off. Fix: {fix}",),
    )


def user_config_layer(path: str) -> Layer:
    fix_all = f"run `telemetry disable` or `telemetry enable` to rewrite {path}, or delete it"
    read = read_text(path, check_owner=True)
    if read is None:
        return Layer("user_config", detail=f"{path} does not exist")
    if read.problem:
        return _error(path, None, f"the file {read.problem}, so {USER_KEY} cannot be read", fix_all)
    try:
        data = tomllib.loads(read.text or "")
    except (tomllib.TOMLDecodeError, RecursionError) as exc:
        # RecursionError: tomllib recurses on deeply nested arrays and inline tables.
        return _error(path, toml_error_line(str(exc)),
                      f"invalid TOML ({exc}), so {USER_KEY} cannot be read",
                      fix_all)
    warnings = list(read.concerns)
    unknown = sorted(k for k in data if k != USER_KEY)
    if unknown:
        # PRODUCT.md §2: an unknown key is bad input and fails closed, because the likeliest
        # unknown key is a misspelt opt-out (`send_anonymous_usage_stat = false`).
        key = unknown[0]
        line = toml_key_line(read.text or "", key)
        layer = _error(
            path, line, f"unknown key {shown(key)!r} (the only key is {USER_KEY})",
            f"write {USER_KEY} = false (or true) instead, or run `telemetry disable`",
        )
        return Layer(layer.name, layer.opinion, None, layer.origin, layer.status, layer.detail,
                     (*layer.warnings, *warnings))
    if USER_KEY not in data:
        return Layer("user_config", None, None, path, detail=f"no {USER_KEY} key",
                     warnings=tuple(warnings))
    value = data[USER_KEY]
    line = toml_key_line(read.text or "", USER_KEY)
    origin = f"{path}:{line}" if line else path
    if not isinstance(value, bool):
        layer = _error(
            path, line, f"{USER_KEY} must be true or false (no quotes), not "
                        f"{shown(toml_text(value))}",
            f"write {USER_KEY} = false (no quotes), or run `telemetry disable`",
        )
        return Layer(layer.name, layer.opinion, shown(toml_text(value)), layer.origin, layer.status,
                     layer.detail, (*layer.warnings, *warnings))
    return Layer("user_config", opinion_of(value), str(value).lower(), origin,
                 warnings=tuple(warnings))

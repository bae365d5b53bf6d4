"""The uploader's settings: pydantic-settings reads ``<PREFIX>TELEMETRY_*`` for it.

The model is built from the one declaration, :class:`tracking.settings.TrackerSettings` (names,
types, defaults, bounds, meanings), so nothing is declared twice. pydantic-settings' own
environment source reads the variables (any case; an empty or blank value is unset) from the
environment the uploader inherits, or from a given mapping (a host that decided with its own
``env``); pydantic checks each value against its bounds. A wrong value is one line naming the
variable and the fix, and its default is used.

Imported by the uploader process, by a host's in-process delivery (CI, PID 1) in its delivery
thread, and by ``telemetry upload``; never on a host's path (pydantic costs about 100 ms).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from pydantic import Field, ValidationError, create_model
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)
from pydantic_settings.sources.utils import parse_env_vars

from .settings import TrackerSettings, declared, problem_line

__all__ = ["load_settings"]


class _Base(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", str_strip_whitespace=True)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Only what load_settings passes in: the environment it read with _Environment.
        return (init_settings,)


def _field(item: Any) -> tuple[Any, Any]:
    kind = item.kind | None if item.optional else item.kind
    bounds = item.setting
    extra: dict[str, Any] = {}
    if item.kind is float:
        extra["allow_inf_nan"] = False
    return kind, Field(
        item.default, ge=bounds.ge, gt=bounds.gt, le=bounds.le, description=bounds.meaning, **extra
    )


#: The model of every setting, from the declaration.
Model: type[BaseSettings] = create_model(  # type: ignore[call-overload]  # fields built at import
    "UploaderSettings", __base__=_Base, **{item.name: _field(item) for item in declared()}
)


class _Environment(EnvSettingsSource):
    """pydantic-settings' environment source, over a given mapping (default ``os.environ``);
    a blank value is unset, as for the host (how pydantic-settings' own dotenv source feeds
    another mapping to the same parsing)."""

    def __init__(self, environ: Mapping[str, str], env_prefix: str) -> None:
        self._environ = environ
        super().__init__(Model, case_sensitive=False, env_prefix=env_prefix, env_ignore_empty=True)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        found = parse_env_vars(self._environ, False, True, self.env_parse_none_str)
        return {key: value for key, value in found.items() if value is None or value.strip()}


#: pydantic's error types, in the words the host's reader uses for the same problems.
_WHY = {
    "int_parsing": "not an integer",
    "int_from_float": "not an integer",
    "int_parsing_size": "not an integer of a sensible size",
    "float_parsing": "not a number",
    "finite_number": "not a finite number",
    "bool_parsing": "not a boolean: use 1/0, true/false, yes/no",
    "greater_than_equal": "must be ≥ {ge}",
    "greater_than": "must be > {gt}",
    "less_than_equal": "must be ≤ {le}",
}


def load_settings(
    env_prefix: str,
    env: Mapping[str, str] | None = None,
) -> tuple[TrackerSettings, list[str]]:
    """Every setting from ``env`` (default: the environment), and one line per variable that
    was ignored because it was wrong."""
    prefix = f"{env_prefix}TELEMETRY_"
    environ = os.environ if env is None else env
    raw = _Environment(environ, prefix)()
    names = {key.upper(): key for key in environ}
    problems: list[str] = []
    for _ in range(len(raw) + 1):
        try:
            model = Model(**raw)
            break
        except ValidationError as exc:
            for error in exc.errors():
                field = str(error["loc"][0]) if error.get("loc") else ""
                if field not in raw:
                    continue
                value = raw.pop(field)
                variable = names.get(f"{prefix}{field}".upper(), f"{prefix}{field.upper()}")
                bounds = {
                    key: f"{bound:g}" if isinstance(bound, float) else bound
                    for key, bound in (error.get("ctx") or {}).items()
                }
                why = _WHY.get(error["type"], error["msg"]).format(**bounds)
                problems.append(problem_line(variable, str(value), why))
    else:  # pragma: no cover - every wrong value was dropped above
        model = Model()
    return TrackerSettings(**model.model_dump()), problems

"""The uploader's settings: pydantic-settings reads ``<PREFIX>TELEMETRY_*`` for it.

The model is built from the one declaration, :class:`tracking.settings.TrackerSettings` (names,
types, defaults, bounds, meanings), so nothing is declared twice. A settings source of our own
(pydantic-settings' documented way to add one: a :class:`PydanticBaseSettingsSource`) reads the
variables of a given mapping, by default the environment the uploader inherits (any case; a
blank value is unset, as for the host); pydantic checks each value against its bounds. A wrong
value is one line naming the variable and the fix, in the host's words, and its default is used.

Imported by the detached uploader process and by ``telemetry upload``; never on a host's path
(pydantic costs about 100 ms; a host's own delivery thread uses what the host read).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from pydantic import Field, ValidationError, create_model
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from .settings import TrackerSettings, declared, problem_line, why_wrong

__all__ = ["Model", "load_settings"]


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
        # Only what load_settings passes in: what _Variables read (no .env, no secrets dir).
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


class _Variables(PydanticBaseSettingsSource):
    """``<prefix><FIELD>`` of a mapping of variables, matched in any case; blank is unset."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str], prefix: str):
        super().__init__(settings_cls)
        upper = prefix.upper()
        self.found = {
            key.upper()[len(upper) :].lower(): value
            for key, value in environ.items()
            if key.upper().startswith(upper) and value is not None and value.strip()
        }

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return self.found.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return {
            name: self.found[name] for name in self.settings_cls.model_fields if name in self.found
        }


def load_settings(
    env_prefix: str,
    env: Mapping[str, str] | None = None,
) -> tuple[TrackerSettings, list[str]]:
    """Every setting from ``env`` (default: the environment), and one line per variable that
    was ignored because it was wrong."""
    prefix = f"{env_prefix}TELEMETRY_"
    environ = os.environ if env is None else env
    raw = _Variables(Model, environ, prefix)()
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
                why = why_wrong(field, str(value)) or str(error["msg"])
                problems.append(problem_line(variable, str(value), why))
    else:  # pragma: no cover - every wrong value was dropped above
        model = Model()
    return TrackerSettings(**model.model_dump()), problems

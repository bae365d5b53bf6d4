"""The tracker's runtime settings, read from ``<PREFIX>TELEMETRY_*`` environment variables.

Imported only once consent is on: pydantic-settings costs about 100 ms of import, which a host
whose user opted out must never pay. A bad value never stops the host: it is reported in one
line naming the variable and the fix, and its default is used instead.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, EnvSettingsSource, SettingsConfigDict
from pydantic_settings.sources.utils import parse_env_vars


class _MappingEnvSource(EnvSettingsSource):
    """The standard env source, reading a given mapping instead of ``os.environ``.

    The tracker is handed the same ``env`` mapping that consent was decided with (tests and
    embedding hosts pass their own); overriding ``_load_env_vars`` is how pydantic-settings'
    own ``DotEnvSettingsSource`` feeds a different mapping to the same parsing.
    """

    def __init__(self, settings_cls, environ: Mapping[str, str], env_prefix: str):
        self._environ = environ
        super().__init__(settings_cls, env_prefix=env_prefix, case_sensitive=False)

    def _load_env_vars(self):
        return parse_env_vars(self._environ, False, self.env_ignore_empty, self.env_parse_none_str)


class TrackerSettings(BaseSettings):
    """How the tracker sends; every field is ``<PREFIX>TELEMETRY_<FIELD>`` in the environment."""

    model_config = SettingsConfigDict(extra="ignore", env_ignore_empty=True)

    endpoint: str | None = Field(None, description="Collector base URL; overrides the profile's.")
    debug: bool = Field(False, description="Print each event to stderr instead of sending it.")
    flush_deadline: float | None = Field(
        None, ge=0, le=30, description="Seconds the host may wait at exit; default: the profile's."
    )
    queue_size: int = Field(10_000, ge=1, le=1_000_000,
                            description="Events held before new ones are dropped.")
    batch_size: int = Field(200, ge=1, le=500, description="Events per POST.")
    request_timeout: float = Field(5.0, gt=0, le=60,
                                   description="Seconds per HTTP request (connect, read).")
    max_retries: int = Field(3, ge=0, le=10,
                             description="Retries, in total for the process, before giving up.")
    linger: float = Field(1.0, gt=0, le=60,
                          description="Seconds a partial batch waits before it is sent.")

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, env_settings,
                                   dotenv_settings, file_secret_settings):
        # Only what ``load`` passes in: it reads the environment mapping it was given.
        return (init_settings,)

    @classmethod
    def load(cls, env_prefix: str,
             env: Mapping[str, str] | None = None) -> tuple[TrackerSettings, list[str]]:
        """The settings, and one line per variable that was ignored because it was wrong."""
        prefix = f"{env_prefix}TELEMETRY_"
        raw = _MappingEnvSource(cls, os.environ if env is None else env, prefix)()
        try:
            return cls(**raw), []
        except ValidationError as exc:
            problems: list[str] = []
            for error in exc.errors():
                field = str(error["loc"][0]) if error.get("loc") else None
                if field is None or field not in raw:
                    continue
                raw.pop(field)
                name = f"{prefix}{field.upper()}"
                problems.append(f"telemetry: {name}={str(error.get('input'))[:40]!r} is ignored "
                                f"({error['msg']}); using the default. Fix: correct or unset {name}")
            try:
                return cls(**raw), problems
            except ValidationError:
                return cls(), problems

"""The two readings of values (README "Two readings"), one small object each.

``gather`` asks the profile's reading for the layers whose parsing differs between readings, so
that no caller switches on the reading's name.
"""

from __future__ import annotations

from collections.abc import Mapping

from .._model import Layer
from ..profile import AppProfile
from . import dbt
from .env import do_not_track_layer, env_var_layer
from .project import project_file_layer


class StrictReading:
    """For profiles whose own tracker sends: a value that is not clearly true or false, a file
    that cannot be read, a key set twice, all fail closed (off) with a warning."""

    name = "strict"

    def do_not_track(self, env: Mapping[str, str]) -> Layer:
        return do_not_track_layer(env)

    def env_var(self, env: Mapping[str, str], names: tuple[str, ...]) -> Layer:
        return env_var_layer(env, names)

    def project(self, cwd: str, profile: AppProfile,
                env: Mapping[str, str]) -> tuple[Layer, list[str]]:
        return project_file_layer(cwd, profile.project_files, profile.flag_key_path,
                                  profile.legacy_flag_file, env)


class DbtReading(StrictReading):
    """For the built-in dbt profile: every value read exactly as dbt-core reads it (see
    :mod:`consent.sources.dbt`), and a warning wherever that is not what the user meant."""

    name = "dbt"

    def do_not_track(self, env: Mapping[str, str]) -> Layer:
        return dbt.do_not_track_layer(env)

    def env_var(self, env: Mapping[str, str], names: tuple[str, ...]) -> Layer:
        return dbt.env_var_layer(env, names)

    def project(self, cwd: str, profile: AppProfile,
                env: Mapping[str, str]) -> tuple[Layer, list[str]]:
        return dbt.project_layer(cwd, profile, env)


_READINGS: dict[str, StrictReading] = {"strict": StrictReading(), "dbt": DbtReading()}


def reading_of(profile: AppProfile) -> StrictReading:
    return _READINGS[profile.reading]

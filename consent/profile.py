"""App profiles: what differs between host tools as far as consent is concerned.

The built-in default profile reproduces dbt's anonymous usage statistics exactly
(docs/decision.md); other tools register their own through the ``telemetry_consent.profiles``
entry point group. A tool that also sends declares one :class:`tracking.TrackedProfile`, this
record plus where its events go.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Literal

from .errors import ProfileLoadError, UnknownAppError

if TYPE_CHECKING:
    from platformdirs import PlatformDirs

__all__ = [
    "CI_POLICIES",
    "DEFAULT_PROFILE",
    "ENTRY_POINT_GROUP",
    "POLICY_FILE",
    "READINGS",
    "AppProfile",
    "CiPolicy",
    "LegacyFlagFile",
    "Reading",
    "get_profile",
    "known_profiles",
]

ENTRY_POINT_GROUP = "telemetry_consent.profiles"
#: The administrator's policy file, in each system config dir.
POLICY_FILE = "telemetry-policy.toml"

#: How a profile reads values (docs/decision.md, "Two readings"). ``strict``: garbage fails
#: closed, for tools whose own tracker sends. ``dbt``: exactly as dbt-core reads each input, so
#: that ``status`` says what dbt decides, with a warning wherever that differs from what the user
#: evidently meant.
Reading = Literal["strict", "dbt"]
READINGS: tuple[str, ...] = ("strict", "dbt")
#: What CI means for a profile (the ``ci_default`` layer): ``off`` unless a layer above says on
#: (the default for a tool's own profile), or ``as_upstream``: no opinion, as the host itself
#: has no CI rule (the built-in dbt profile: dbt-core tracks in CI as anywhere else).
CiPolicy = Literal["off", "as_upstream"]
CI_POLICIES: tuple[str, ...] = ("off", "as_upstream")

#: How a tool asks for consent (docs/decision.md, "Opt-in tools"). ``opt_out``: on by default,
#: the user may turn it off. ``opt_in``: off until the user says yes (``telemetry enable``, or
#: the question a host asks once on a terminal).
ConsentModel = Literal["opt_out", "opt_in"]
CONSENT_MODELS: tuple[str, ...] = ("opt_out", "opt_in")


@dataclass(frozen=True)
class LegacyFlagFile:
    """A deprecated place a tool still reads the flag from (dbt: ``profiles.yml``'s ``config:``)."""

    file_name: str
    key_path: tuple[str, ...]
    #: Env var naming the directory that holds the file (dbt: DBT_PROFILES_DIR).
    dir_env: str | None = None
    #: Variables read before ``dir_env``, best first; the first non-empty one counts (dbt 1.12:
    #: DBT_ENGINE_PROFILES_DIR).
    preferred_dir_envs: tuple[str, ...] = ()
    #: Directory under the home directory to look in last (dbt: ``.dbt``).
    home_subdir: str | None = None
    #: Whether the working directory is searched before the home directory.
    look_in_cwd: bool = True

    @property
    def dir_envs(self) -> tuple[str, ...]:
        """The variables naming the file's directory, in the order they are consulted."""
        return (*self.preferred_dir_envs, *((self.dir_env,) if self.dir_env else ()))


@dataclass(frozen=True)
class AppProfile:
    """A host program, as far as telemetry consent is concerned.

    Paths are not stored: they are derived with platformdirs from ``name`` when asked, so that
    ``XDG_CONFIG_HOME`` and friends set by the user (or a test) are honoured at that moment.
    """

    name: str
    env_prefix: str
    project_files: tuple[str, ...]
    flag_key_path: tuple[str, ...] = ("flags", "send_anonymous_usage_stats")
    #: Variables read before ``<PREFIX>SEND_ANONYMOUS_USAGE_STATS``, best first.
    preferred_env_vars: tuple[str, ...] = ()
    #: How the host spells its own flag, shown as the origin of the host_flag layer.
    host_flag_name: str = "host flag"
    default_edition: str = "core"
    display_name: str | None = None
    legacy_flag_file: LegacyFlagFile | None = None
    #: How users reach these commands: ``telemetry`` or, when mounted, e.g. ``jaffle telemetry``.
    telemetry_command: str = "telemetry"
    #: How values are read: "strict" (fail closed on garbage) or "dbt" (as dbt-core reads them).
    reading: Reading = "strict"
    #: Variables naming the project directory, best first (dbt 1.12: DBT_ENGINE_PROJECT_DIR,
    #: then DBT_PROJECT_DIR). The first non-empty one names the exact directory whose project
    #: file is read: no upward search, and no fallback to the working directory's project.
    project_dir_envs: tuple[str, ...] = ()
    #: What CI means: "off" (unless a layer above says on) or "as_upstream" (no opinion).
    ci_policy: CiPolicy = "off"
    #: "opt_out" (on by default) or "opt_in" (off until the user says yes).
    consent_model: ConsentModel = "opt_out"
    #: Bumped whenever what the tool collects grows: users are told (or asked) again, and a
    #: "yes" stored in the user config for another version no longer counts. 2: the built-in
    #: catalog's ``ci`` context and per-vendor ids in CI (every user sees the notice once more,
    #: by design).
    consent_version: int = 2

    def __post_init__(self) -> None:
        if self.reading not in READINGS:
            raise ValueError(
                f"AppProfile(reading={self.reading!r}): the reading must be one of "
                f"{', '.join(READINGS)}"
            )
        if self.ci_policy not in CI_POLICIES:
            raise ValueError(
                f"AppProfile(ci_policy={self.ci_policy!r}): the CI policy must be one of "
                f"{', '.join(CI_POLICIES)}"
            )
        if self.consent_model not in CONSENT_MODELS:
            raise ValueError(
                f"AppProfile(consent_model={self.consent_model!r}): the consent model must be "
                f"one of {', '.join(CONSENT_MODELS)}"
            )
        version = self.consent_version
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise ValueError(
                f"AppProfile(consent_version={version!r}): the consent version must be an "
                "integer ≥ 1"
            )

    # -- names derived from the profile ------------------------------------------------------
    @property
    def label(self) -> str:
        return self.display_name or self.name

    @property
    def env_var(self) -> str:
        return f"{self.env_prefix}SEND_ANONYMOUS_USAGE_STATS"

    @property
    def env_vars(self) -> tuple[str, ...]:
        """The opt-in/out variables of the env_var layer, in the order they are consulted."""
        return (*self.preferred_env_vars, self.env_var)

    # -- where files live ------------------------------------------------------------------
    @cached_property
    def _dirs(self) -> PlatformDirs:
        import platformdirs

        return platformdirs.PlatformDirs(self.name, appauthor=False, multipath=True)

    def user_config_dir(self) -> str:
        return self._dirs.user_config_dir

    def user_config_path(self) -> str:
        return os.path.join(self.user_config_dir(), "telemetry.toml")

    def system_policy_paths(self) -> list[str]:
        """Policy files along ``XDG_CONFIG_DIRS`` (the user's environment can point these
        anywhere; :meth:`fixed_policy_path` is the one it cannot move)."""
        return [
            os.path.join(d, POLICY_FILE) for d in self._dirs.site_config_dir.split(os.pathsep) if d
        ]

    def fixed_policy_path(self) -> str | None:
        """The policy file at the platform's fixed system location (Linux: ``/etc/xdg/<app>/``),
        read whatever the environment says (:mod:`consent.system_location`)."""
        from .system_location import fixed_config_dir

        where = fixed_config_dir(self.name)
        return None if where is None else os.path.join(where, POLICY_FILE)


def _default_profile() -> AppProfile:
    return AppProfile(
        name="dbt",
        env_prefix="DBT_",
        project_files=("dbt_project.yml",),
        preferred_env_vars=("DBT_ENGINE_SEND_ANONYMOUS_USAGE_STATS",),
        host_flag_name="--send-anonymous-usage-stats",
        legacy_flag_file=LegacyFlagFile(
            file_name="profiles.yml",
            key_path=("config", "send_anonymous_usage_stats"),
            dir_env="DBT_PROFILES_DIR",
            preferred_dir_envs=("DBT_ENGINE_PROFILES_DIR",),
            home_subdir=".dbt",
        ),
        project_dir_envs=("DBT_ENGINE_PROJECT_DIR", "DBT_PROJECT_DIR"),
        # It exists to tell a dbt user what dbt decides, so it reads every input as dbt-core does.
        reading="dbt",
        # dbt-core has no CI rule: it tracks in CI exactly as anywhere else.
        ci_policy="as_upstream",
    )


DEFAULT_PROFILE = _default_profile()


def known_profiles() -> dict[str, object]:
    """Installed profiles by name: the built-in one and every registered entry point (unloaded)."""
    from importlib.metadata import entry_points

    found: dict[str, object] = {DEFAULT_PROFILE.name: DEFAULT_PROFILE}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        found.setdefault(ep.name, ep)
    return found


def get_profile(name: str | None = None) -> AppProfile:
    """The profile called ``name`` (default: the built-in dbt one), or :class:`UnknownAppError`."""
    if name is None or name == DEFAULT_PROFILE.name:
        return DEFAULT_PROFILE
    found = known_profiles()
    entry = found.get(name)
    if entry is None:
        raise UnknownAppError(name, list(found))
    where = getattr(entry, "value", "its entry point")
    fix = (
        f"Fix: reinstall or update the tool that registers it ({ENTRY_POINT_GROUP}: "
        f"{name} = {where}); set TELEMETRY_CONSENT_TRACEBACK=1 to see where it fails"
    )
    try:
        loaded = entry.load()  # type: ignore[attr-defined]  # an importlib.metadata EntryPoint
        profile = loaded() if callable(loaded) and not isinstance(loaded, AppProfile) else loaded
    except Exception as exc:  # a broken plugin must not break the CLI with a traceback
        raise ProfileLoadError(
            f"{name}'s profile failed to load: {type(exc).__name__}: {exc}. {fix}"
        ) from exc
    if not isinstance(profile, AppProfile):
        raise ProfileLoadError(
            f"{name}'s profile failed to load: {where} is a {type(profile).__name__}, not an "
            f"AppProfile. {fix}"
        )
    return profile

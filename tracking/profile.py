"""A host that sends declares one profile: its consent profile, plus where its events go.

:class:`TrackedProfile` is a :class:`consent.AppProfile` (everything that decides and writes
choices) with the fields only sending needs: the collector, the catalog, the exit deadline, how
long the opt-in question waits (the consent version and model belong to the consent profile: a
stored answer is checked against them). A subclass rather than a second object: a host still
declares one profile, registers one entry point, and ``consent.decide`` takes it as it is, while
``consent`` itself never learns about collectors or catalogs.

A plain :class:`consent.AppProfile` (a registered profile that only explains a decision) is
given the defaults by :func:`tracked`: no collector, so nothing is ever sent for it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from consent import DEFAULT_PROFILE, AppProfile

__all__ = ["COLLECTS", "DBT_PROFILE", "TrackedProfile", "tracked"]

#: What the built-in catalog collects, in one line (``status``, the first-run notice).
COLLECTS = (
    "platform (OS, Python and tool versions), command, success, duration, node counts, "
    "and keyed hashes of model contents; never credentials, names, contents, paths or users"
)


@dataclass(frozen=True)
class TrackedProfile(AppProfile):
    """A host that sends anonymous usage statistics: its consent profile and its sending."""

    #: Where events go unless ``<PREFIX>TELEMETRY_ENDPOINT`` says otherwise. None: nowhere.
    collector_endpoint: str | None = None
    #: Seconds the host may be held at exit when it delivers in-process (CI, PID 1).
    flush_deadline: float = 1.0
    #: Seconds an opt-in profile's question waits for an answer on a terminal, unless
    #: ``<PREFIX>TELEMETRY_PROMPT_TIMEOUT`` says otherwise (docs/delivery.md).
    prompt_timeout: float = 15.0
    #: ``module:attribute`` of the event catalog, imported only when tracking is on.
    event_catalog: str | None = "tracking.catalog:DEFAULT_CATALOG"
    #: One line for ``status`` and the first-run notice: what is collected.
    collects: str = COLLECTS
    #: Sent in every event's platform context.
    tool_version: str | None = None
    #: When the host program sends its own events (dbt-core's tracker) and this profile only
    #: explains the decision: who receives them. ``status`` then says the host would send and
    #: that the telemetry command itself never does.
    host_sends_to: str | None = None

    @property
    def endpoint_env_var(self) -> str:
        return f"{self.env_prefix}TELEMETRY_ENDPOINT"

    def state_dir(self) -> str:
        """Where the anonymous id, the secret, the notice mark, the log and the spool live."""
        return self._dirs.user_state_dir


def _consent_fields(profile: AppProfile) -> dict[str, Any]:
    return {field.name: getattr(profile, field.name) for field in dataclasses.fields(AppProfile)}


#: The built-in dbt profile as far as sending goes: it has no collector of its own (dbt sends
#: its own events to dbt Labs, and ours must never go there by accident;
#: ``DBT_TELEMETRY_ENDPOINT`` sets one explicitly).
DBT_PROFILE = TrackedProfile(
    **_consent_fields(DEFAULT_PROFILE),
    host_sends_to="dbt Labs",
)


def tracked(profile: AppProfile) -> TrackedProfile:
    """``profile`` with its sending fields: as it is when it has them, else the defaults (the
    built-in dbt profile: :data:`DBT_PROFILE`)."""
    if isinstance(profile, TrackedProfile):
        return profile
    if profile == DEFAULT_PROFILE:
        return DBT_PROFILE
    return TrackedProfile(**_consent_fields(profile))

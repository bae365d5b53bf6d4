"""What one run of a host does with its events: a value computed once, never a state machine.

:func:`plan` is pure: from the consent decision, the runtime settings, where events would go and
what the rule of :mod:`tracking.may_send` allows (told, said yes), it says ``off``, ``debug``,
``notice`` (tell, send nothing), ``untold`` (in CI: send nothing, say nothing) or ``record``, and
for ``record`` how the recorded events get delivered (:func:`delivery_mode`). The tracker builds one
sink for that plan and never changes its mind, except to stop recording when consent is
withdrawn during the run.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Literal, NamedTuple

if TYPE_CHECKING:  # imported by every host at start-up, consent off included: keep it bare
    from consent import Decision

    from .may_send import Start
    from .settings import TrackerSettings

__all__ = ["DeliveryMode", "Plan", "PlanKind", "delivery_mode", "plan"]

PlanKind = Literal["off", "debug", "notice", "untold", "record"]
#: ``detached``: a background uploader process delivers; ``inline``: this process delivers at
#: exit within a short deadline (CI, PID 1, platforms without detached processes).
DeliveryMode = Literal["detached", "inline"]


class Plan(NamedTuple):
    kind: PlanKind
    #: The collector (checked), for ``record``; for ``debug``, where events would have gone.
    endpoint: str | None = None
    #: Lines for stderr, each complete (a setting that was ignored, an endpoint refused).
    messages: tuple[str, ...] = ()
    delivery: DeliveryMode = "detached"
    #: Why delivery is inline, in words (``"CI (GITHUB_ACTIONS)"``, ``"PID 1"``), else None.
    inline_because: str | None = None
    #: Print the first-run notice in this run (with ``notice``; with ``record`` in the cloud
    #: edition, whose notice is informational).
    notice: bool = False


def plan(
    decision: Decision | None,
    settings: TrackerSettings,
    endpoint: str | None,
    endpoint_problem: str | None,
    start: Start,
    delivery: tuple[DeliveryMode, str | None] = ("detached", None),
    problems: tuple[str, ...] = (),
) -> Plan:
    """The plan of a run; see the module docstring. ``problems``: settings that were ignored."""
    if decision is None or not decision.enabled:
        return Plan("off")
    if settings.debug:
        where = endpoint if endpoint_problem is None else None
        return Plan("debug", where, problems)
    if endpoint_problem is not None:
        return Plan("off", None, (*problems, f"telemetry: {endpoint_problem}"))
    if endpoint is None:
        return Plan("off", None, problems)  # the profile sends nowhere: nothing to say
    if not start.send:
        if start.notice:
            return Plan("notice", endpoint, problems, notice=True)
        return Plan("untold", endpoint, problems)
    mode, because = delivery
    return Plan("record", endpoint, problems, mode, because, notice=start.notice)


def delivery_mode(
    env: Mapping[str, str],
    *,
    pid: int | None = None,
    platform: str | None = None,
    frozen: bool | None = None,
    executable: str | None = None,
) -> tuple[DeliveryMode, str | None]:
    """Detached, unless a detached process would not survive or cannot be started here.

    - CI: runners reap what a step leaves behind (and a container ends with its step);
    - PID 1: the host is a container's main process, and the kernel kills everything else in
      the container when it exits, a detached uploader included;
    - not POSIX, a frozen executable (``sys.executable`` is the tool itself, not Python), or an
      embedded interpreter without one.
    """
    from consent.ci import detect_ci

    ci = detect_ci(env)
    if ci is not None:
        return "inline", f"CI ({ci.variable})"
    if (os.getpid() if pid is None else pid) == 1:
        return "inline", "PID 1"
    if (os.name if platform is None else platform) != "posix":
        return "inline", "no detached processes on this platform"
    if getattr(sys, "frozen", False) if frozen is None else frozen:
        return "inline", "a frozen executable"
    if not (sys.executable if executable is None else executable):
        return "inline", "no Python executable to start (an embedded interpreter)"
    return "detached", None

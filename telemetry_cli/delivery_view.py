"""What the CLI says and does about events waiting to be delivered (the spool).

``status`` says how many wait and since when, ``log`` shows them after the sent ones,
``disable`` and ``reset`` empty the spool, and ``upload`` delivers it now. The spool itself is
:mod:`tracking.spool`; delivery is :mod:`tracking.uploader` (see docs/delivery.md).
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from typing import Any

from tracking import TrackedProfile

__all__ = ["clear_waiting", "upload_now", "waiting_lines", "waiting_records", "waiting_summary"]

_REASONS = {
    "cap": "over the spool's bound",
    "age": "too old",
    "rejected": "refused by the collector",
    "invalid": "invalid",
    "revoked": "consent withdrawn",
}


def _spool(profile: TrackedProfile) -> Any:
    from tracking.spool import Spool

    return Spool.for_state_dir(profile.state_dir())


def _iso(epoch_s: float | None) -> str | None:
    if epoch_s is None:
        return None
    return datetime.fromtimestamp(epoch_s, UTC).isoformat(timespec="seconds")


def waiting_summary(profile: TrackedProfile) -> dict[str, Any]:
    """The ``waiting`` object of ``status --json`` (contracts/status.schema.json)."""
    try:
        waiting = _spool(profile).waiting()
    except Exception:  # noqa: BLE001 - status must show the decision whatever the spool holds
        return {"events": 0, "since": None, "dropped": {}, "next_attempt": None}
    since = waiting.oldest_ms / 1000.0 if waiting.oldest_ms is not None else None
    next_attempt = max(waiting.not_before.values()) if waiting.not_before else None
    return {
        "events": waiting.events,
        "since": _iso(since),
        "dropped": dict(waiting.dropped),
        "next_attempt": _iso(next_attempt) if waiting.events else None,
    }


def spool_warning(profile: TrackedProfile) -> str | None:
    """The warning ``status`` gives when the state dir is not ours alone (nothing is spooled
    there; each run then sends its own events before it exits)."""
    try:
        problem = _spool(profile).problem()
    except Exception:  # noqa: BLE001 - status must show the decision whatever the disk says
        return None
    if problem is None:
        return None
    return (
        f"{problem}: events are not kept there; each run sends its own as it exits (within "
        "its flush deadline), and what a run cannot send is lost. Fix: remove the directory, "
        "or make it yours with mode 700"
    )


def waiting_lines(summary: dict[str, Any]) -> list[str]:
    """Lines for ``status`` (none when nothing waits and nothing was dropped)."""
    lines = []
    if summary["events"]:
        line = f"Waiting to be sent: {summary['events']:,} events, since {summary['since']}"
        if summary.get("next_attempt"):
            line += (
                f" (the collector failed; the next attempt is after "
                f"{summary['next_attempt']}, or run the upload command now)"
            )
        lines.append(line)
    dropped = summary.get("dropped") or {}
    if dropped:
        parts = [f"{n:,} {_REASONS.get(reason, reason)}" for reason, n in sorted(dropped.items())]
        lines.append("Dropped, never sent: " + ", ".join(parts))
    return lines


def waiting_records(profile: TrackedProfile, last: int) -> list[dict[str, Any]]:
    """The newest ``last`` waiting events as ``log`` shows them, oldest first."""
    try:
        events = _spool(profile).newest(last)
    except Exception:  # noqa: BLE001
        return []
    out = []
    for event in events:
        uri = str(event.get("s", ""))
        stamp = event.get("t")
        out.append(
            {
                "waiting_since": _iso(stamp / 1000.0) if isinstance(stamp, int | float) else None,
                "event": uri.split("/")[1] if "/" in uri else uri,
                "schema": uri,
                "data": event.get("d"),
            }
        )
    return out


def clear_waiting(profile: TrackedProfile) -> int:
    """Delete every waiting event (``disable``, ``reset``); how many there were."""
    directory = _spool(profile).directory
    if not os.path.isdir(directory):
        return 0
    return int(_spool(profile).clear())


def upload_now(profile: TrackedProfile, wait: float) -> tuple[list[str], int]:
    """Deliver the spool now from this process, waiting at most ``wait`` seconds.

    Returns the lines to print and how many events still wait. The backoff is ignored: the
    user asked. Settings (``<PREFIX>TELEMETRY_*``) apply as they do for the uploader.
    """
    from tracking.uploader import deliver
    from tracking.uploader_settings import load_settings

    spool = _spool(profile)
    before = spool.waiting().events
    if before == 0:
        return [f"Nothing is waiting to be sent for {profile.label}."], 0
    settings, problems = load_settings(profile.env_prefix)
    started = time.monotonic()
    report = deliver(spool, settings, timeout=wait, force=True, mode="cli")
    left = spool.waiting().events
    took = time.monotonic() - started
    lines = list(problems)
    lines.append(f"Sent {report.sent:,} of {before:,} waiting events in {took:.1f} s.")
    dropped = report.rejected + report.invalid + report.revoked
    if dropped:
        lines.append(
            f"Dropped {dropped:,} (refused by the collector, invalid, or consent "
            "withdrawn since they were recorded)."
        )
    if left:
        why = "; ".join(f"{url}: {reason}" for url, reason in report.failed.items())
        lines.append(
            f"{left:,} events still wait"
            + (f" ({why})" if why else "")
            + "; a later run or upload sends them."
        )
    return lines, left

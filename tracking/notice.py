"""The first-run notice: tell the user before anything is sent (docs/delivery.md).

The first run that would track prints a short notice on stderr and sends nothing; the notice is
recorded in the user state dir with the profile's ``consent_version``, and shown again (with the
same rule) when that version is bumped because the catalog collects something new. This is what
.NET, Homebrew and Dart do; Next.js sends in the same run, and users filed bugs about it.
"""

from __future__ import annotations

from typing import TextIO

from consent import Decision

from .profile import TrackedProfile
from .state import acknowledge_notice, acknowledged_version

#: Profiles whose notice this process showed: the whole process is the notice run, so a second
#: Tracker in it (a programmatic runner, a test harness) must not send either.
_SHOWN_IN_THIS_PROCESS: set[tuple[str, str, int]] = set()

__all__ = ["needs_notice", "notice_text", "show_notice"]


def _key(profile: TrackedProfile) -> tuple[str, str, int]:
    # The state dir too: the mark it guards lives there (another HOME is another user).
    return (profile.state_dir(), profile.name, profile.consent_version)


def needs_notice(profile: TrackedProfile) -> bool:
    """True until the user has been told about this ``consent_version`` of the profile, and for
    the rest of the process that told them."""
    if _key(profile) in _SHOWN_IN_THIS_PROCESS:
        return True
    return acknowledged_version(profile) != profile.consent_version


def notice_text(profile: TrackedProfile, decision: Decision) -> str:
    """The notice: what is collected, that nothing was sent now, how to turn it off."""
    label = profile.label
    cli = profile.telemetry_command
    lines = [
        f"{label} collects anonymous usage statistics to improve it: {profile.collects}.",
        "Nothing was sent this time; from the next run on, events are sent."
        if acknowledged_version(profile) is None
        else f"What {label} collects has changed (consent version {profile.consent_version}); "
        "nothing was sent this time, from the next run on the new events are sent.",
    ]
    if decision.mandatory:
        lines.append(f"In the {decision.edition.name} edition this cannot be turned off.")
    else:
        lines.append(
            f"To turn it off: `{cli} disable`, or set DO_NOT_TRACK=1 (or {profile.env_var}=false)."
        )
    lines.append(f"To see every event and field: `{cli} events`; why it is on: `{cli} status`.")
    return "\n".join(lines)


def show_notice(profile: TrackedProfile, decision: Decision, stream: TextIO) -> bool:
    """Print the notice and record that it was shown; False if it could not be recorded.

    When the mark cannot be written (read-only state dir), the notice is shown again next time
    and nothing is ever sent: the user can only be counted as told once that is on record.
    """
    _SHOWN_IN_THIS_PROCESS.add(_key(profile))
    stream.write(notice_text(profile, decision) + "\n")
    stream.flush()
    try:
        acknowledge_notice(profile)
    except OSError:
        return False
    return True

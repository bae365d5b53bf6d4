"""The first-run notice: tell the user before anything is sent (docs/delivery.md).

The first run that would track prints a short notice on stderr and sends nothing. When stderr
is a terminal the notice is recorded in the user state dir with the profile's
``consent_version`` (the user was told); printed into a pipe or a log it is not, and it is shown
again next time (Homebrew: "consider the messages possibly missed if not a TTY"). It is shown
again, with the same rule, when that version is bumped because the catalog collects something
new. Sending nothing in the notice run is what .NET, Homebrew and Dart do; Next.js sends in the
same run, and users filed bugs about it. When sending may start at all: :mod:`tracking.may_send`.
"""

from __future__ import annotations

from typing import TextIO

from consent import Decision

from .profile import TrackedProfile
from .state import acknowledge_notice, acknowledged_version

#: Profiles whose notice this process showed: the whole process is the notice run, so a second
#: Tracker in it (a programmatic runner, a test harness) must not send either.
_SHOWN_IN_THIS_PROCESS: set[tuple[str, str, int]] = set()

__all__ = ["notice_text", "show_notice", "told"]


def _key(profile: TrackedProfile) -> tuple[str, str, int]:
    # The state dir too: the mark it guards lives there (another HOME is another user).
    return (profile.state_dir(), profile.name, profile.consent_version)


def told(profile: TrackedProfile) -> bool:
    """Whether the user was told about this ``consent_version`` of the profile in an earlier
    run (on a terminal). False for the rest of the process that is telling them now."""
    if _key(profile) in _SHOWN_IN_THIS_PROCESS:
        return False
    return acknowledged_version(profile) == profile.consent_version


def notice_text(
    profile: TrackedProfile, decision: Decision, *, on_terminal: bool = True, sends: bool = False
) -> str:
    """The notice: what is collected, whether anything was sent now, how to turn it off.

    ``on_terminal`` False: it will not count as told, and says so; ``sends``: this run sends
    anyway (the cloud edition, whose notice is informational).
    """
    label = profile.label
    cli = profile.telemetry_command
    changed = acknowledged_version(profile) is not None
    lines = [f"{label} collects anonymous usage statistics to improve it: {profile.collects}."]
    if changed:
        lines.append(
            f"What {label} collects has changed (consent version {profile.consent_version})."
        )
    if sends:
        lines.append("Events are sent from this run on.")
    elif on_terminal:
        lines.append(
            "Nothing was sent this time; from the next run on, "
            + ("the new events are sent." if changed else "events are sent.")
        )
    else:
        lines.append(
            "Nothing was sent: this notice was not shown on a terminal, so it is shown again "
            f"until it is (or until you say yes: `{cli} enable`)."
        )
    if decision.mandatory:
        lines.append(f"In the {decision.edition.name} edition this cannot be turned off.")
    else:
        lines.append(
            f"To turn it off: `{cli} disable`, or set DO_NOT_TRACK=1 (or {profile.env_var}=false)."
        )
    lines.append(f"To see every event and field: `{cli} events`; why it is on: `{cli} status`.")
    return "\n".join(lines)


def show_notice(
    profile: TrackedProfile, decision: Decision, stream: TextIO, *, sends: bool = False
) -> bool:
    """Print the notice (once per process) and, when ``stream`` is a terminal, record that the
    user was told; False when it does not count (not a terminal, or the mark cannot be written).

    When the mark cannot be written (read-only state dir), the notice is shown again next time
    and nothing is sent on its account: the user can only be counted as told once that is on
    record.
    """
    key = _key(profile)
    if key in _SHOWN_IN_THIS_PROCESS:
        return False  # a second tracker in the process that is telling the user now
    on_terminal = _is_terminal(stream)
    _SHOWN_IN_THIS_PROCESS.add(key)
    stream.write(notice_text(profile, decision, on_terminal=on_terminal, sends=sends) + "\n")
    stream.flush()
    if not on_terminal:
        return False
    try:
        acknowledge_notice(profile)
    except OSError:
        return False
    return True


def _is_terminal(stream: TextIO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):  # a closed or odd stream: not a terminal
        return False

"""When sending may start: one rule for every run, a pure function of what is known at start-up.

Events are sent only after the user **was told** or **said yes** (docs/delivery.md):

- *said yes*: a layer that is the user's own word (the host's flag, the environment variable,
  the user config: ``LayerSource.users_yes``) says on, and the decision is on. It counts at
  once, in that run. A project file, a system default or the edition's default saying on was
  written by someone else: it is not a yes;
- *told*: the first-run notice of this consent version was printed to a terminal in an earlier
  run (its mark is on record). Printed into a pipe or a log it may never have been read, so it
  does not count: nothing is sent, and it is shown again next time (as Homebrew does);
- the cloud edition is mandatory: it does not wait, and its notice is only informational.

In CI no notice is ever printed (a CI log is no one's terminal, and a notice in every job's log
is noise): nothing is sent there unless the user said yes, or the edition is cloud.

:func:`may_send` is pure; the tracker applies it at start-up (``Tracker._start``), and
:func:`tracking.notice.show_notice` records the notice as told only when stderr is a terminal.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, NamedTuple

if TYPE_CHECKING:  # imported by every tracked host at start-up: keep it bare
    from consent import Decision

__all__ = ["Start", "Why", "may_send", "said_yes"]

#: Why a run may or may not send, in the words ``Start.why`` uses.
Why = Literal["off", "mandatory", "said yes", "told", "not told", "not told in CI"]


class Start(NamedTuple):
    """What the rule says for one run."""

    #: Events may be recorded (and sent) in this run.
    send: bool
    #: Print the first-run notice now (it counts as told only on a terminal).
    notice: bool
    why: Why


def said_yes(decision: Decision) -> bool:
    """Whether the decision is on and one of the user's own layers says on."""
    from consent.layers import source_of

    if not decision.enabled:
        return False
    for layer in decision.layers:
        if layer.opinion != "on" or layer.is_error:
            continue
        try:
            if source_of(layer.name).users_yes:
                return True
        except KeyError:
            continue
    return False


def may_send(decision: Decision | None, *, told: bool, ci: bool) -> Start:
    """The rule (see the module docstring). ``told``: the notice of this consent version was
    printed to a terminal before; ``ci``: the process runs in CI (:func:`consent.ci.detect_ci`)."""
    if decision is None or not decision.enabled:
        return Start(False, False, "off")
    if decision.edition.name == "cloud" and decision.mandatory:
        return Start(True, not told and not ci, "mandatory")
    if said_yes(decision):
        return Start(True, False, "said yes")
    if told:
        return Start(True, False, "told")
    if ci:
        return Start(False, False, "not told in CI")
    return Start(False, True, "not told")

"""Rich renderables built from a Decision; the data model knows nothing about colours.

Two layouts. On a terminal: colours, and a table of the layers when it fits the width (one
block per layer when it does not), text wrapped to the width. Plain, when the output is piped or
redirected, ``NO_COLOR`` is set or ``TERM=dumb``: no colour, no box characters, one block per
layer; piped text is never wrapped (each paragraph is one line, for grep and for the reader's
own pager), whatever ``COLUMNS`` says.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from dataclasses import replace

from rich.console import Console, Group, RenderableType
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from consent import Decision, Layer, source_of
from consent.advice import explain_winner, steps_to
from consent.shell_startup import ShellStatus
from consent.values import env_bool, printable
from tracking import TrackedProfile

__all__ = [
    "NARROW",
    "UNWRAPPED",
    "change_hint",
    "for_terminal",
    "headline",
    "is_plain",
    "layers_view",
    "make_console",
    "one_line",
    "shell_view",
    "short_path",
    "short_path_in",
    "status_view",
]

_EFFECT = {
    "winner": ("decides", "bold green"),
    "overridden": ("overridden", "yellow"),
    "no_opinion": ("no opinion", "dim"),
    "error": ("error (counts as off)", "bold red"),
}
#: A layer whose file the host never reads (dbt: our user config, our policy).
_UNREAD = ("not read by the host", "dim")


def _effect(layer: Layer, host: str | None = None) -> tuple[str, str]:
    if layer.unread:
        return (f"not read by {host}" if host else _UNREAD[0], _UNREAD[1])
    return _EFFECT[layer.status]


NARROW = 72


def _utf8() -> bool:
    return (getattr(sys.stdout, "encoding", None) or "").lower().replace("-", "").startswith("utf")


def _dash() -> str:
    return "—" if _utf8() else "-"


def _arrow() -> str:
    return "→" if _utf8() else "->"


def for_terminal(decision: Decision) -> Decision:
    """The decision with every string made safe to print (paths may hold escape sequences)."""
    layers = tuple(
        replace(
            layer,
            raw=printable(layer.raw),
            origin=printable(layer.origin),
            detail=printable(layer.detail),
        )
        for layer in decision.layers
    )
    return replace(
        decision, layers=layers, warnings=tuple(printable(w) or "" for w in decision.warnings)
    )


def is_plain(console: Console) -> bool:
    """Plain output: not a terminal, or the user asked for no colour (NO_COLOR, TERM=dumb)."""
    return (
        not console.is_terminal
        or os.environ.get("NO_COLOR", "") != ""
        or os.environ.get("TERM", "").lower() == "dumb"
    )


def make_console(stderr: bool = False) -> Console:
    """A console for the CLI's output: it never wraps text that does not go to a terminal."""
    console = Console(stderr=stderr, highlight=False, emoji=False)
    console.soft_wrap = not console.is_terminal
    if is_plain(console):
        console.no_color = True
    return console


#: The width given to layouts when nothing is wrapped (piped output).
UNWRAPPED = 1_000_000


def headline(decision: Decision, profile: TrackedProfile) -> Text:
    decision = for_terminal(decision)
    state = "ON" if decision.enabled else "OFF"
    text = Text()
    text.append("Anonymous usage statistics are ")
    text.append(state, style="bold green" if decision.enabled else "bold red")
    text.append(f" for {profile.label} ({decision.edition.name} edition)")
    text.append(f" {_dash()} decided by {explain_winner(decision)}.")
    return text


def one_line(decision: Decision, profile: TrackedProfile) -> str:
    """:func:`headline` as plain text (what enable/disable print after a change)."""
    return headline(decision, profile).plain


def short_path_in(text: str) -> str:
    """``text`` with the home directory written as ``~``."""
    home = os.path.expanduser("~")
    if home in ("", "/"):
        return text
    return text.replace(home + os.sep, "~" + os.sep)


def short_path(origin: str | None) -> str | None:
    """``~/…`` for paths under the home directory: shorter, and still exact."""
    if not origin:
        return origin
    home = os.path.expanduser("~")
    if home not in ("", "/") and origin.startswith(home + os.sep):
        return "~" + origin[len(home) :]
    return origin


def _value(layer: Layer) -> str:
    if layer.raw is None and layer.opinion is None:
        return _dash()
    if layer.raw == "" and layer.opinion is None:
        return "'' (empty)"
    if layer.raw is not None and layer.opinion and layer.raw.lower() != layer.opinion:
        return f"{layer.raw} {_arrow()} {layer.opinion}"
    return layer.raw if layer.raw is not None else str(layer.opinion)


def _table_fits(decision: Decision, width: int) -> bool:
    """Whether the table shows every origin and value whole at ``width`` (else: blocks)."""

    def longest(cells: Iterable[str]) -> int:
        return max((len(c) for c in cells), default=1)

    layers = decision.layers
    needed = (
        longest(layer.title for layer in layers)
        + longest(_value(layer) for layer in layers)
        + longest(short_path(layer.origin) or _dash() for layer in layers)
        + longest(_effect(layer, decision.app)[0] for layer in layers)
        + 3 * 3
    )
    return needed <= width


def layers_view(decision: Decision, width: int, plain: bool = False) -> RenderableType:
    if plain or width < NARROW or not _table_fits(decision, width):
        blocks = []
        for i, layer in enumerate(decision.layers, 1):
            effect, style = _effect(layer, decision.app)
            block = Text()
            block.append(f"{i}. {layer.title}: ", style="bold")
            block.append(effect, style=style)
            if layer.opinion is not None or layer.raw is not None:
                block.append(f"\n   value: {_value(layer)}")
            if layer.origin:
                block.append(f"\n   from: {short_path(layer.origin)}")
            # Why a layer says nothing although a value is set (dbt drops a flag it cannot use).
            unused = layer.raw is not None and layer.opinion is None
            # A file the host never reads is named, with why it does not count (dbt: ours).
            unread = layer.unread and layer.origin is not None
            if layer.detail and (layer.status in ("overridden", "error") or unused or unread):
                block.append(f"\n   {layer.detail}", style="dim")
            blocks.append(block)
        return Group(*blocks)
    table = Table(
        show_edge=False,
        pad_edge=False,
        header_style="bold",
        expand=False,
        caption="highest first; the first layer with an opinion decides",
        caption_justify="left",
    )
    table.add_column("layer")
    table.add_column("value")
    table.add_column("origin", no_wrap=True)
    table.add_column("effect", overflow="fold")
    for layer in decision.layers:
        effect, style = _effect(layer, decision.app)
        table.add_row(
            layer.title,
            escape(_value(layer)),
            escape(short_path(layer.origin) or _dash()),
            Text(effect, style=style),
        )
    return table


def _shell_steps(steps: list[str], shell: ShellStatus | None, profile: TrackedProfile) -> list[str]:
    """The steps, knowing the startup files: a variable our block exports is removed by
    ``enable --shell`` (an ``unset`` lasts one shell), an opt-out already written waits only for
    a new shell."""
    if shell is None or shell.state == "none":
        return steps
    cmd, var, source = profile.telemetry_command, shell.variable, short_path(shell.source)
    out = []
    for step in steps:
        if step == f"unset {var}" and shell.state == "applied":
            step = f"{cmd} enable --shell, then open a new shell (or `unset {var}` in this one)"
        elif step == f"{cmd} disable --shell" and shell.state == "pending":
            step = (
                f"open a new shell, or run `source {source}` (your startup files already opt out)"
            )
        out.append(step)
    return out


def shell_view(shell: ShellStatus, decision: Decision, profile: TrackedProfile) -> Text | None:
    """What the shell startup files give new shells, against this one (None: no block)."""
    if shell.state == "none":
        return None
    var = shell.variable
    where = ", ".join(f"{short_path(printable(b.path))}:{b.line}" for b in shell.blocks)
    value = shell.blocks[-1].value
    new = "OFF" if env_bool(value) is False else f"{var}={printable(value)}"
    text = Text()
    text.append("Shells: ", style="bold")
    if shell.state == "pending":
        state = "ON" if decision.enabled else "OFF"
        text.append(
            f"new shells: {new} ({where}); this shell: {state} until you open a new one or "
            f"`source {short_path(printable(shell.source))}`"
        )
    elif shell.state == "applied":
        text.append(
            f"{var}={printable(shell.here)} here most likely comes from your shell startup "
            f"files ({where}); `{profile.telemetry_command} enable --shell` removes it"
        )
    else:
        text.append(
            f"your shell startup files set {var}={printable(value)} ({where}), but this shell "
            f"has {var}={printable(shell.here)} (set after them, or by hand); a new shell gets "
            f"{printable(value)}"
        )
    text.append(
        "\nStartup files do not reach cron jobs, services, or editors and IDEs started "
        "outside a shell; in CI, set DO_NOT_TRACK=1 in the job."
    )
    return text


def change_hint(
    decision: Decision, profile: TrackedProfile, width: int, shell: ShellStatus | None = None
) -> Text:
    """The steps that would flip the decision; each command kept whole on one line."""
    goal = not decision.enabled
    steps = _shell_steps(
        [short_path_in(step) for step in steps_to(decision, goal, profile)], shell, profile
    )
    lead = f"To turn it {'on' if goal else 'off'}:"
    text = Text()
    text.append(lead, style="bold")
    if not steps:
        text.append(" nothing found that would change it")
        return text
    tail = ""
    if goal is False and steps == [f"{profile.telemetry_command} disable"]:
        tail = " (or DO_NOT_TRACK=1 for one shell or CI)"
    one_line = f"{lead} {', then '.join(steps)}{tail}"
    if len(one_line) <= width:
        text.append(f" {', then '.join(steps)}{tail}")
        return text
    for i, step in enumerate(steps):
        text.append(f"\n  {'then ' if i else ''}{step}")
    if tail:
        text.append(f"\n  {tail.strip()}")
    return text


def policy_files_line(decision: Decision, profile: TrackedProfile) -> str:
    """Every system policy file read, and where each is (the fixed location cannot be moved by
    the environment; XDG_CONFIG_DIRS can)."""
    files = [
        f"{short_path(printable(f.path))} "
        f"({'the fixed system location' if f.fixed else 'along XDG_CONFIG_DIRS'})"
        for f in decision.policy_files
    ]
    if files:
        text = "; ".join(files)
    else:
        fixed = profile.fixed_policy_path()
        where = f"{fixed} or " if fixed else ""
        text = f"none (looked for {where}telemetry-policy.toml along XDG_CONFIG_DIRS)"
    lock = next((layer for layer in decision.layers if layer.name == "admin_lock"), None)
    if lock is not None and lock.unread:
        text += f" {_dash()} {profile.label} does not read it"
    return text


def status_view(
    decision: Decision,
    profile: TrackedProfile,
    *,
    anonymous_id: str | None,
    collector: str | None,
    collector_problem: str | None,
    width: int,
    plain: bool = False,
    shell: ShellStatus | None = None,
) -> RenderableType:
    decision = for_terminal(decision)
    parts: list[RenderableType] = [headline(decision, profile), Text("")]
    if decision.edition.name == "cloud":
        note = Text("Telemetry cannot be turned off in the cloud edition.", style="bold")
        opt_outs = decision.overridden_opt_outs
        if opt_outs:
            where = "; ".join(
                source_of(layer.name).assignment(layer)
                or f"{layer.title} ({short_path(layer.origin) or layer.raw})"
                for layer in opt_outs
            )
            note.append(f" Your opt-outs are noted but overridden: {where}.")
        parts += [note, Text("")]
    parts.append(layers_view(decision, width, plain))
    parts.append(Text(""))
    facts = Text()
    facts.append("System policy: ", style="bold")
    facts.append(policy_files_line(decision, profile))
    facts.append("\nAnonymous id: ", style="bold")
    facts.append(anonymous_id or "none yet (one is made the first time an event is sent)")
    if anonymous_id and anonymous_id.startswith("ci-"):
        facts.append(" (in CI: one id per CI vendor, the same from every job; no project id)")
    facts.append("\nEvents go to: ", style="bold")
    if profile.host_sends_to and not collector:
        # This profile only explains the host's decision: the host sends, this command never.
        if decision.enabled:
            facts.append(
                f"{profile.host_sends_to}, sent by {profile.label} itself when it runs; "
                f"the {profile.telemetry_command} command never sends anything"
            )
        else:
            facts.append(
                f"nowhere: {profile.label} sends nothing while this is off (and the "
                f"{profile.telemetry_command} command never sends anything)"
            )
    elif decision.enabled:
        unset = f"no collector is configured; set {profile.endpoint_env_var} to send"
        facts.append(collector or f"nowhere ({collector_problem or unset})")
    else:
        facts.append("nowhere: nothing is sent while this is off")
        if collector:
            facts.append(f" (would be {collector})", style="dim")
    facts.append("\nCollected: ", style="bold")
    facts.append(f"{profile.collects}. Every field: {profile.telemetry_command} events")
    parts.append(facts)
    shells = shell_view(shell, decision, profile) if shell is not None else None
    if shells is not None:
        parts.append(shells)
    parts.append(change_hint(decision, profile, width, shell))
    if decision.warnings:
        parts.append(Text("\nWarnings:", style="bold yellow"))
        if plain:
            parts.extend(Text(f"! {line}") for line in decision.warnings)
        else:
            grid = Table.grid(padding=(0, 1))
            grid.add_column(style="bold yellow", no_wrap=True)
            grid.add_column(overflow="fold")
            for line in decision.warnings:
                grid.add_row("!", line)
            parts.append(grid)
    return Group(*parts)

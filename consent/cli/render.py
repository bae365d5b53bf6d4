"""Rich renderables built from a Decision; the data model knows nothing about colours.

Every view also reads well with colours off, on a non-TTY and at 40 columns: narrow terminals get
one block per layer instead of a table.
"""

from __future__ import annotations

import os

from rich.console import Console, Group
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from .._model import Decision
from ..advice import explain_winner, steps_to
from ..profile import AppProfile

_EFFECT = {
    "winner": ("decides", "bold green"),
    "overridden": ("overridden", "yellow"),
    "no_opinion": ("no opinion", "dim"),
    "error": ("error (counts as off)", "bold red"),
}
NARROW = 72


def make_console(stderr: bool = False) -> Console:
    return Console(stderr=stderr, highlight=False, soft_wrap=False, emoji=False)


def headline(decision: Decision, profile: AppProfile) -> Text:
    state = "ON" if decision.enabled else "OFF"
    text = Text()
    text.append("Anonymous usage statistics are ")
    text.append(state, style="bold green" if decision.enabled else "bold red")
    text.append(f" for {profile.label} ({decision.edition.name} edition)")
    text.append(f" — decided by {explain_winner(decision)}.")
    return text


def one_line(decision: Decision, profile: AppProfile) -> str:
    state = "ON" if decision.enabled else "OFF"
    return (f"Anonymous usage statistics are {state} for {profile.label} "
            f"({decision.edition.name} edition) — decided by {explain_winner(decision)}.")


def short_path(origin: str | None) -> str | None:
    """``~/…`` for paths under the home directory: shorter, and still exact."""
    if not origin:
        return origin
    home = os.path.expanduser("~")
    if home not in ("", "/") and origin.startswith(home + os.sep):
        return "~" + origin[len(home):]
    return origin


def _value(layer) -> str:
    if layer.raw is None and layer.opinion is None:
        return "—"
    if layer.raw is not None and layer.opinion and layer.raw.lower() != layer.opinion:
        return f"{layer.raw} → {layer.opinion}"
    return layer.raw if layer.raw is not None else str(layer.opinion)


def layers_view(decision: Decision, width: int):
    if width < NARROW:
        blocks = []
        for i, layer in enumerate(decision.layers, 1):
            effect, style = _EFFECT[layer.status]
            block = Text()
            block.append(f"{i}. {layer.title}: ", style="bold")
            block.append(effect, style=style)
            if layer.opinion is not None or layer.raw is not None:
                block.append(f"\n   value: {_value(layer)}")
            if layer.origin:
                block.append(f"\n   from: {short_path(layer.origin)}")
            if layer.detail and layer.status in ("overridden", "error"):
                block.append(f"\n   {layer.detail}", style="dim")
            blocks.append(block)
        return Group(*blocks)
    table = Table(show_edge=False, pad_edge=False, header_style="bold", expand=False,
                  caption="layers in precedence order: the first with an opinion decides",
                  caption_justify="left")
    table.add_column("#", justify="right")
    table.add_column("layer")
    table.add_column("value")
    table.add_column("origin", overflow="fold")
    table.add_column("effect", overflow="fold")
    for i, layer in enumerate(decision.layers, 1):
        effect, style = _EFFECT[layer.status]
        if layer.status == "overridden" and layer.detail:
            effect = layer.detail
        table.add_row(str(i), layer.title, escape(_value(layer)), escape(short_path(layer.origin) or "—"),
                      Text(effect, style=style))
    return table


def change_hint(decision: Decision, profile: AppProfile) -> Text:
    goal = not decision.enabled
    steps = steps_to(decision, goal, profile)
    text = Text()
    text.append(f"To turn it {'on' if goal else 'off'}: ", style="bold")
    if not steps:
        text.append("nothing found that would change it")
        return text
    text.append(", then ".join(steps))
    if goal is False and steps == ["telemetry disable"]:
        text.append(" (everywhere for you), or DO_NOT_TRACK=1 for one shell or CI")
    return text


def status_view(
    decision: Decision,
    profile: AppProfile,
    *,
    anonymous_id: str | None,
    collector: str | None,
    collector_problem: str | None,
    width: int,
):
    parts: list = [headline(decision, profile), Text("")]
    if decision.edition.name == "cloud":
        opt_outs = decision.overridden_opt_outs
        note = Text("Telemetry cannot be turned off in the cloud edition", style="bold")
        if opt_outs:
            where = "; ".join(f"{l.title} ({l.origin or l.raw})" for l in opt_outs)
            note.append(f". Your opt-outs are noted but overridden: {where}.")
        else:
            note.append(".")
        parts += [note, Text("")]
    parts.append(layers_view(decision, width))
    parts.append(Text(""))
    facts = Text()
    facts.append("Anonymous id: ", style="bold")
    facts.append(anonymous_id or "none yet (one is made the first time an event is sent)")
    facts.append("\nEvents go to: ", style="bold")
    if decision.enabled:
        facts.append(collector or f"nowhere ({collector_problem or 'no collector configured'})")
    else:
        facts.append("nowhere: nothing is sent while this is off")
        if collector:
            facts.append(f" (would be {collector})", style="dim")
    facts.append("\nCollected: ", style="bold")
    facts.append(f"{profile.collects}. Every field: telemetry events")
    parts.append(facts)
    parts.append(change_hint(decision, profile))
    if decision.warnings:
        warn = Text("\nWarnings:", style="bold yellow")
        for line in decision.warnings:
            warn.append("\n ! ", style="bold yellow")
            warn.append(line)
        parts.append(warn)
    return Group(*parts)

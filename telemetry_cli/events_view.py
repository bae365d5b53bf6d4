"""``telemetry events``: the catalog the tracker uses, rendered — never a hand-kept copy."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from tracking import TrackedProfile

__all__ = ["ENVELOPE", "catalog_document", "render_catalog"]

ENVELOPE = (
    "Each event also carries the Snowplow tracker-protocol fields: a random event id, the "
    "device and sent timestamps, the tracker's version, the app id and platform. No IP-derived "
    "or user fields are set by this library."
)


def catalog_document(profile: TrackedProfile) -> dict[str, Any]:
    """The profile's catalog as one JSON document, from the same definitions the tracker uses
    (a catalog that cannot be loaded raises :class:`tracking.CatalogError`, naming the fix)."""
    from tracking.catalog import load_catalog

    doc = load_catalog(profile.event_catalog).describe()
    return {
        "app": profile.name,
        "consent_version": profile.consent_version,
        "envelope": ENVELOPE,
        **doc,
    }


def render_catalog(console: Console, doc: dict[str, Any]) -> None:
    console.print(
        Text(f"What {doc['app']} may send (consent version {doc['consent_version']})", style="bold")
    )
    console.print(
        Text(
            "Events are sent only when `telemetry status` says ON. Every event "
            "carries every context below.\n"
        )
    )
    for kind in ("events", "contexts"):
        for spec in doc.get(kind, []):
            title = Text()
            title.append(f"{spec['kind']} {spec['name']}", style="bold cyan")
            title.append(f"  {spec['schema']}", style="dim")
            console.print(title)
            console.print(Text(spec.get("description", "")))
            table = Table(show_edge=False, pad_edge=False, header_style="bold")
            table.add_column("field")
            table.add_column("type")
            table.add_column("meaning", overflow="fold")
            for field in spec.get("fields", []):
                kind_text = field["type"] + ("" if field.get("required") else " (optional)")
                meaning = field.get("description", "")
                if field.get("values"):
                    meaning += f" One of: {', '.join(map(str, field['values']))}."
                table.add_row(field["name"], kind_text, escape(meaning))
            console.print(table)
            console.print(Text("example: ", style="bold") + Text(json.dumps(spec.get("example"))))
            console.print()
    console.print(Text(doc["envelope"], style="dim"))

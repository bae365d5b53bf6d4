"""``<PREFIX>TELEMETRY_DEBUG=1``: print each event to stderr (rich) instead of sending it.

A developer sees exactly what would leave the machine: the event data and every context, as
JSON. Nothing is sent and no file is written, so ids and keyed hashes are per-run stand-ins.
"""

from __future__ import annotations

from typing import Any


class DebugPrinter:
    def __init__(self, profile, url: str | None, problem: str | None) -> None:
        from rich.console import Console

        self._console = Console(stderr=True, soft_wrap=True)
        where = url or "nowhere (no collector endpoint)"
        if problem:
            where = f"nowhere: {problem}"
        self._console.print(
            f"[bold]telemetry debug[/]: {profile.label}'s events are printed, not sent "
            f"(otherwise they would go to {where}); ids and keys below are per-run stand-ins.",
            highlight=False, markup=True,
        )

    def show(self, name: str, uri: str, data: dict[str, Any],
             contexts: list[tuple[str, dict[str, Any]]]) -> None:
        document = {
            "event": name,
            "schema": uri,
            "data": data,
            "contexts": [{"schema": c_uri, "data": c_data} for c_uri, c_data in contexts],
        }
        self._console.print(f"[bold]telemetry debug[/]: {name}", highlight=False)
        self._console.print_json(data=document)

"""``<PREFIX>TELEMETRY_DEBUG=1``: print each event to stderr (rich) instead of recording it.

A developer sees exactly what would leave the machine: the event data and every context, as
JSON. Nothing is recorded and no file is written, so ids and keyed hashes are per-run stand-ins.
"""

from __future__ import annotations

import os
import uuid
from typing import TYPE_CHECKING, Any

from consent import Decision

from .catalog import Catalog
from .ids import KeyedHasher
from .profile import TrackedProfile
from .records import event_document, standard_contexts

if TYPE_CHECKING:
    from consent.ci import CiEnvironment


class DebugSink:
    """The ``debug`` plan's sink: the tracker hands it events, it prints them."""

    def __init__(
        self,
        profile: TrackedProfile,
        decision: Decision,
        catalog: Catalog,
        url: str | None,
        problem: str | None,
        project_name: str | None,
        cwd: str,
        ci: CiEnvironment | None = None,
    ) -> None:
        from rich.console import Console

        self._console = Console(stderr=True, soft_wrap=True)
        self._profile = profile
        self._edition = decision.edition.name
        self._hasher = KeyedHasher(os.urandom(32))  # a stand-in: nothing is written
        self._ci = ci
        # Per-run stand-ins; in CI, as when sent, the vendor's constant id and no project id
        # (tracking.records.standard_contexts).
        self._anonymous_id = str(uuid.uuid4())
        self._project_id = self._hasher("project", project_name) if project_name else None
        self._uris = catalog.standard_context_uris()
        where = url or "nowhere (no collector endpoint)"
        if problem:
            where = f"nowhere: {problem}"
        self._console.print(
            f"[bold]telemetry debug[/]: {profile.label}'s events are printed, not sent "
            f"(otherwise they would go to {where}); ids and keys below are per-run stand-ins.",
            highlight=False,
            markup=True,
        )

    def hasher(self) -> KeyedHasher:
        return self._hasher

    def _contexts(self, invocation_id: str) -> list[tuple[str, Any]]:
        return standard_contexts(
            self._uris,
            tool_version=self._profile.tool_version,
            invocation_id=invocation_id,
            anonymous_id=self._anonymous_id,
            project_id=self._project_id,
            edition=self._edition,
            ci_vendor=self._ci.vendor if self._ci is not None else None,
        )

    def record(
        self,
        uri: str,
        data: dict[str, Any],
        invocation_id: str,
        extra: list[list[Any]],
        timestamp_ms: int,
    ) -> None:
        contexts = [*self._contexts(invocation_id), *((str(u), d) for u, d in extra)]
        document = event_document(uri, data, contexts)
        self._console.print(f"[bold]telemetry debug[/]: {document['event']}", highlight=False)
        self._console.print_json(data=document)

    def flush(self, timeout: float) -> bool:
        return True

    def close(self, timeout: float) -> bool:
        return True

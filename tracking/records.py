"""What a spooled run carries, written by the host and read back by the uploader.

A segment's first line is its **header**: what delivery needs and only the recording run knows.

- ``profile``: the host's :class:`~tracking.TrackedProfile` as plain values. Not a
  ``module:attribute`` reference: an unregistered profile (the example's, defined next to its
  script) is often not importable from a fresh interpreter, while its values always are.
- ``endpoint``: the checked collector URL of this run (a ``<PREFIX>TELEMETRY_ENDPOINT`` included).
- ``edition``, ``mandatory``, ``decided_by`` and ``layers``: the decision at record time. The
  uploader re-reads only the *lasting* layers (those read from files a later command can
  change: ``LayerSource.lasting``) and keeps the recorded opinions of the others
  (``DO_NOT_TRACK``, the host's flag, the environment variable), which belong to the run; see
  :func:`redecide`.
- ``cwd``: where the decision was made, so that the same project file is read again.
- ``project_dir``: the project directory the host named (its ``--project-dir``: the
  ``project_dir`` of :class:`~tracking.Tracker`, made absolute), read exactly, with no upward
  search; null or absent (headers written before it existed) when none was named.
- ``project_id``: the keyed hash of the project (computed on the host, which has the secret).
- ``contexts`` / ``schemas``: which standard contexts the profile's catalog attaches, and the
  schemas of the catalog's own events (they are checked by the uploader, not by the host).
- ``ci``: ``{"vendor": …}`` when the run was in CI (else null): its events carry the ``ci``
  context and the vendor's constant anonymous id instead of this machine's
  (:func:`tracking.ids.ci_anonymous_id`), and no project id.

Each following line is one event: ``e`` (its ``eid``, kept across retries so duplicates can be
counted), ``t`` (when it was recorded, ms), ``s`` (its schema URI), ``d`` (its data), ``i``
(its invocation id) and, if any, ``x`` (extra contexts as ``[uri, data]`` pairs).

The project directory (and the one named) is kept in the spool (0600, never sent) only for that
re-check.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any

from consent import LAYERS, Decision, Edition, Layer, LegacyFlagFile, resolve
from consent.ci import CiEnvironment

from .profile import TrackedProfile
from .spool import SPOOL_VERSION

__all__ = ["LASTING_LAYERS", "profile_data", "profile_from_data", "redecide", "segment_header"]

#: Layers a later command can change for good; the others were this run's own.
LASTING_LAYERS = frozenset(source.name for source in LAYERS if source.lasting)


def profile_data(profile: TrackedProfile) -> dict[str, Any]:
    """``profile`` as JSON values."""
    out: dict[str, Any] = {}
    for field in dataclasses.fields(profile):
        value = getattr(profile, field.name)
        if isinstance(value, LegacyFlagFile):
            value = dataclasses.asdict(value)
        out[field.name] = _jsonable(value)
    return out


def profile_from_data(data: Mapping[str, Any]) -> TrackedProfile:
    """The inverse of :func:`profile_data`; raises (TypeError, ValueError) on garbage."""
    known = {f.name for f in dataclasses.fields(TrackedProfile)}
    values = {k: _tuples(v) for k, v in data.items() if k in known}
    legacy = values.get("legacy_flag_file")
    if isinstance(legacy, Mapping):
        values["legacy_flag_file"] = LegacyFlagFile(**{k: _tuples(v) for k, v in legacy.items()})
    profile = TrackedProfile(**values)
    if not isinstance(profile.name, str) or not profile.name:
        raise ValueError("a profile needs a name")
    return profile


def segment_header(
    profile: TrackedProfile,
    decision: Decision,
    endpoint: str,
    cwd: str,
    project_id: str | None,
    contexts: Mapping[str, str],
    schemas: Mapping[str, Any],
    *,
    ci: CiEnvironment | None = None,
    project_dir: str | None = None,
) -> dict[str, Any]:
    """The first line of a segment (see the module docstring)."""
    return {
        "spool": SPOOL_VERSION,
        "app": profile.name,
        "profile": profile_data(profile),
        "endpoint": endpoint,
        "edition": {"name": decision.edition.name, "origin": decision.edition.origin},
        "mandatory": decision.mandatory,
        "decided_by": decision.decided_by,
        "layers": [[layer.name, layer.opinion, layer.is_error] for layer in decision.layers],
        "cwd": cwd,
        "project_dir": project_dir,
        "project_id": project_id,
        "contexts": dict(contexts),
        "schemas": dict(schemas),
        "ci": None if ci is None else {"vendor": ci.vendor},
    }


def standard_contexts(
    uris: Mapping[str, str],
    *,
    tool_version: str | None,
    invocation_id: str,
    anonymous_id: str | None,
    project_id: str | None,
    edition: str,
    ci_vendor: str | None,
) -> list[tuple[str, dict[str, Any]]]:
    """The built-in contexts an event carries, as ``(schema URI, data)``: ``platform``,
    ``invocation`` and, in CI, ``ci`` — each only where ``uris`` (name -> URI, from the
    profile's catalog) has it. In CI the anonymous id is the vendor's constant and there is no
    project id (a fresh container has a fresh secret; see the module docstring), so a caller
    passes no ``anonymous_id`` there and makes none. One builder for what the uploader sends and
    what the ``debug`` plan prints."""
    import platform

    from .ids import ci_anonymous_id

    out: list[tuple[str, dict[str, Any]]] = []
    if uri := uris.get("platform"):
        out.append(
            (
                uri,
                {
                    "os": (platform.system() or "unknown")[:32],
                    "python_version": platform.python_version()[:32],
                    "tool_version": tool_version[:64] if tool_version else None,
                },
            )
        )
    if uri := uris.get("invocation"):
        out.append(
            (
                uri,
                {
                    "invocation_id": invocation_id,
                    "anonymous_user_id": ci_anonymous_id(ci_vendor) if ci_vendor else anonymous_id,
                    "project_id": None if ci_vendor else project_id,
                    "edition": edition,
                },
            )
        )
    if ci_vendor and (uri := uris.get("ci")):
        out.append((uri, {"vendor": ci_vendor[:64]}))
    return out


def event_document(
    uri: str, data: Any, contexts: Iterable[tuple[str, Any]], **first: Any
) -> dict[str, Any]:
    """An event as ``telemetry log`` and the debug printer show it (``first``: keys before
    it, such as ``sent_at``): its short name, schema, data and contexts."""
    return {
        **first,
        "event": uri.split("/")[1] if "/" in uri else uri,
        "schema": uri,
        "data": data,
        "contexts": [{"schema": u, "data": d} for u, d in contexts],
    }


def redecide(
    profile: TrackedProfile, header: Mapping[str, Any], env: Mapping[str, str] | None = None
) -> Decision:
    """The recording run's decision with its lasting layers read again now.

    A ``telemetry disable`` (user config or project file) or an admin's lock since the events
    were recorded turns it off; the host's flag or an environment variable of that run still
    count as they did (the uploader cannot know them otherwise, and they were the user's word
    for that run). The cloud edition stays mandatory when the host's code said so.
    """
    import consent

    recorded_edition = header.get("edition") or {}
    from_host = recorded_edition.get("origin") == "host"
    edition_name = recorded_edition.get("name") if from_host else None
    project_dir = header.get("project_dir")
    chosen, fresh, watched = consent.gather(
        profile,
        edition=edition_name,
        cwd=str(header.get("cwd") or "/"),
        env=env,
        project_dir=project_dir if isinstance(project_dir, str) else None,
    )
    if from_host:
        chosen = Edition("cloud" if edition_name == "cloud" else "core", "host")
    recorded: dict[str, Layer] = {}
    for item in header.get("layers") or ():
        name, opinion, error = item
        recorded[str(name)] = Layer(
            str(name),
            opinion if opinion in ("on", "off") else None,
            status="error" if error else "no_opinion",
        )
    layers = [
        layer
        if layer.name in LASTING_LAYERS or layer.name not in recorded
        else recorded[layer.name]
        for layer in fresh
    ]
    decision = resolve(profile.name, chosen, layers)
    return dataclasses.replace(decision, watched_paths=tuple(watched))


def _jsonable(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return value


def _tuples(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_tuples(v) for v in value)
    return value

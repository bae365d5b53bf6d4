"""The event catalog: every event and context a profile may send, with its schema and an example.

One :class:`EventSpec` or :class:`ContextSpec` per self-describing schema ties together the Iglu
URI, the schema file that checks instances, a description of each field and an example payload
(and, optionally, a typed model that builds instances). ``telemetry events`` renders a
:class:`Catalog` (see :meth:`Catalog.describe`); the tracker looks events up in it by name.

A profile adds its own events the same way: ``DEFAULT_CATALOG + Catalog(events=(EventSpec(...),))``
and ``AppProfile(event_catalog="mytool.telemetry:CATALOG")``; its schema files live in its own
package, laid out like ``tracking/schemas`` (``<vendor>/<name>/jsonschema/<version>``).

Standard library only at import, so a host loads it on every tracked run for free: models are
named lazily (``"tracking.events:ModelRun"``) and imported only if someone asks for them; the
built-in schemas are checked by code generated ahead of time (:mod:`tracking._checks`), other
schemas are compiled with fastjsonschema the first time one is asked for (by the uploader, the
CLI, tests). How events are represented and checked, and why: docs/delivery.md.
"""

from __future__ import annotations

import importlib
import json
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from .errors import CatalogError, EventInvalid

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

__all__ = [
    "CI",
    "DEFAULT_CATALOG",
    "INVOCATION",
    "INVOCATION_END",
    "INVOCATION_START",
    "MODEL_RUN",
    "PLATFORM",
    "SELF_DESC_SCHEMA",
    "VENDOR",
    "Catalog",
    "ContextSpec",
    "EventSpec",
    "host_check",
    "load_catalog",
    "package_schemas",
]

#: The Iglu vendor of the default profile's schemas.
VENDOR = "dev.telemetry-consent"
#: The meta-schema every self-describing JSON schema declares.
SELF_DESC_SCHEMA = (
    "http://iglucentral.com/schemas/com.snowplowanalytics.self-desc/schema/jsonschema/1-0-0#"
)
_COMPILE_LOCK = threading.Lock()


def package_schemas() -> Traversable:
    """``tracking/schemas``: the default profile's schemas, in the Iglu directory layout."""
    from importlib import resources

    return resources.files(__package__) / "schemas"


class _Spec:
    """One self-describing schema: where it lives, the model that fills it, how to show it.

    - ``example``: a valid instance, shown by ``telemetry events`` (and checked by the tests);
    - ``model``: an optional typed builder of instances, a class or ``"module:Name"`` imported
      when asked for (:attr:`model_class`), so that loading a catalog imports no model library;
    - ``schema_root``: the directory holding ``<vendor>/<name>/jsonschema/<version>``; None:
      ``tracking/schemas``.

    Immutable, and a plain class rather than a frozen dataclass: every tracked run loads the
    catalog, and defining a frozen dataclass costs about a millisecond each time.
    """

    kind: ClassVar[Literal["event", "context"]]
    __slots__ = (
        "_cache",
        "description",
        "example",
        "model",
        "name",
        "schema_root",
        "vendor",
        "version",
    )
    name: str
    description: str
    example: dict[str, Any]
    model: type[Any] | str | None
    vendor: str
    version: str
    schema_root: Traversable | str | os.PathLike[str] | None
    _cache: dict[str, Any]

    def __init__(
        self,
        name: str,
        description: str,
        example: dict[str, Any],
        *,
        model: type[Any] | str | None = None,
        vendor: str = VENDOR,
        version: str = "1-0-0",
        schema_root: Traversable | str | os.PathLike[str] | None = None,
    ) -> None:
        for key, value in (
            ("name", name),
            ("description", description),
            ("example", example),
            ("model", model),
            ("vendor", vendor),
            ("version", version),
            ("schema_root", schema_root),
            ("_cache", {}),
        ):
            object.__setattr__(self, key, value)

    def __setattr__(self, key: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.iglu_uri!r})"

    @property
    def iglu_uri(self) -> str:
        return f"iglu:{self.vendor}/{self.name}/jsonschema/{self.version}"

    @property
    def schema_path(self) -> Traversable:
        root = self.schema_root
        if root is None:
            root = package_schemas()
        elif isinstance(root, (str, os.PathLike)):
            root = Path(root)
        return root / self.vendor / self.name / "jsonschema" / self.version

    def schema(self) -> dict[str, Any]:
        """The self-describing JSON schema, read once from the package data."""
        if "schema" not in self._cache:
            try:
                text = self.schema_path.read_text(encoding="utf-8")
                self._cache["schema"] = json.loads(text)
            except (OSError, ValueError) as exc:
                raise CatalogError(
                    f"{self.iglu_uri}: its schema file {self.schema_path} cannot be read ({exc}). "
                    "Fix: ship it as package data in the Iglu layout "
                    "<vendor>/<name>/jsonschema/<version>"
                ) from exc
        return self._cache["schema"]  # type: ignore[no-any-return]

    @property
    def model_class(self) -> type[Any] | None:
        """The typed model, imported now if it was named as ``"module:Name"`` (None: none)."""
        model = self.model
        if isinstance(model, str):
            cached = self._cache.get("model")
            if cached is None:
                module_name, _, attr = model.partition(":")
                cached = getattr(importlib.import_module(module_name), attr)
                self._cache["model"] = cached
            return cached  # type: ignore[no-any-return]
        return model

    @property
    def validator(self) -> Callable[[Any], Any]:
        """The schema check: a function that raises on an invalid instance.

        The built-in schemas use the checks generated ahead of time (:mod:`tracking._checks`,
        no import, no compile); others are compiled with fastjsonschema on first use (a few ms),
        then a call costs a few microseconds. The Iglu keys (``$schema`` naming the self-desc
        meta-schema, ``self``) are replaced by plain draft-04, which is what Iglu schemas use.
        """
        check = self._cache.get("validator")
        if check is None:
            with _COMPILE_LOCK:
                check = self._cache.get("validator")
                if check is None:
                    check = host_check(self)
                    if check is None:
                        from .schema_check import compile_check

                        check = compile_check(self.schema())
                    self._cache["validator"] = check
        return check

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        """``data`` if it matches the schema, else :class:`EventInvalid` saying why."""
        try:
            self.validator(data)
        except CatalogError:
            raise
        except Exception as exc:  # noqa: BLE001 - fastjsonschema.JsonSchemaException and friends
            raise EventInvalid(f"{self.iglu_uri}: {exc}") from None
        return data

    def fields(self) -> list[dict[str, Any]]:
        """Each field as ``telemetry events`` shows it: name, type, required, description."""
        schema = self.schema()
        required = set(schema.get("required", ()))
        out = []
        for name, prop in schema.get("properties", {}).items():
            kind = prop.get("type", "any")
            entry = {
                "name": name,
                "type": " | ".join(kind) if isinstance(kind, list) else kind,
                "required": name in required,
                "description": prop.get("description", ""),
            }
            if "enum" in prop:
                entry["values"] = list(prop["enum"])
            out.append(entry)
        return out

    def describe(self) -> dict[str, Any]:
        """A JSON document for ``telemetry events``."""
        return {
            "kind": self.kind,
            "name": self.name,
            "schema": self.iglu_uri,
            "description": self.description,
            "fields": self.fields(),
            "example": self.example,
        }


class EventSpec(_Spec):
    """A self-describing event (Snowplow ``ue``): the thing that happened."""

    kind = "event"


class ContextSpec(_Spec):
    """A context attached to events: the circumstances, shared by every event of a run."""

    kind = "context"


class Catalog:
    """The events and contexts a profile may send. Compose with ``+``; names must be unique."""

    events: tuple[EventSpec, ...]
    contexts: tuple[ContextSpec, ...]

    def __init__(
        self, events: tuple[EventSpec, ...] = (), contexts: tuple[ContextSpec, ...] = ()
    ) -> None:
        self.events = tuple(events)
        self.contexts = tuple(contexts)
        seen: set[str] = set()
        for spec in (*self.events, *self.contexts):
            if spec.iglu_uri in seen:
                raise CatalogError(
                    f"{spec.iglu_uri} is declared twice in one catalog. Fix: keep one, or give "
                    "the profile's own schema another vendor or name"
                )
            seen.add(spec.iglu_uri)
        specs = (*self.events, *self.contexts)
        by_key: dict[str, _Spec] = {s.iglu_uri: s for s in specs}
        for spec in specs:
            # A bare name means the first spec called so, except that a profile's own spec
            # (another vendor) takes the name from a built-in one: a tool whose own context
            # was called `ci` before the built-in `ci` context existed still gets its own.
            known = by_key.get(spec.name)
            if known is None or (known.vendor == VENDOR and spec.vendor != VENDOR):
                by_key[spec.name] = spec
        self._by_key = by_key
        self._by_model: dict[Any, _Spec] | None = None

    def __add__(self, other: Catalog) -> Catalog:
        if not isinstance(other, Catalog):
            return NotImplemented
        return Catalog(self.events + other.events, self.contexts + other.contexts)

    def __iter__(self) -> Iterator[_Spec]:
        return iter((*self.events, *self.contexts))

    def __len__(self) -> int:
        return len(self.events) + len(self.contexts)

    def __repr__(self) -> str:
        return f"Catalog({len(self.events)} events, {len(self.contexts)} contexts)"

    def spec_for(self, model: object) -> _Spec | None:
        """The spec whose model built ``model`` (an instance or the class), if any.

        Models named lazily are imported here, the first time: only a host that itself passes
        a model instance gets here, and it has imported the model's library already.
        """
        cls = model if isinstance(model, type) else type(model)
        by_model = self._by_model
        if by_model is None:
            by_model = {}
            for spec in self:
                try:
                    resolved = spec.model_class
                except Exception:  # noqa: BLE001 - a model that cannot be imported matches nothing
                    continue
                if resolved is not None:
                    by_model.setdefault(resolved, spec)
            self._by_model = by_model
        return by_model.get(cls)

    def get(self, name: str) -> _Spec | None:
        """The spec with this Iglu URI, or the one with this name (see ``__init__``)."""
        return self._by_key.get(name)

    def lookup(self, name: str, kind: str) -> tuple[str, Callable[[Any], Any] | None] | None:
        """``(Iglu URI, host check)`` of the ``kind`` ("event" or "context") called ``name`` (or
        with that URI), or None: what a host needs to record one (:func:`host_check`)."""
        spec = self._by_key.get(name)
        if spec is None or spec.kind != kind:
            return None
        return spec.iglu_uri, host_check(spec)

    def standard_context_uris(self) -> dict[str, str]:
        """Which built-in contexts the catalog attaches, by name -> schema URI (a segment
        header's ``contexts``: what :func:`tracking.records.standard_contexts` fills in)."""
        return {
            name: spec.iglu_uri
            for name in ("platform", "invocation", "ci")
            if (spec := self.standard_context(name)) is not None
        }

    def header_fields(self) -> tuple[dict[str, str], dict[str, Any]]:
        """What a segment header says of the catalog: the built-in contexts it attaches
        (:meth:`standard_context_uris`) and the schemas (URI -> schema) of every spec a host
        has no generated check for (a profile's own), which the uploader checks with."""
        schemas = {spec.iglu_uri: spec.schema() for spec in self if host_check(spec) is None}
        return self.standard_context_uris(), schemas

    def standard_context(self, name: str) -> _Spec | None:
        """The built-in context called ``name`` (``platform``, ``invocation``, ``ci``) when the
        catalog has it: the contexts delivery fills in itself, found by vendor, never confused
        with a profile's own context of the same name."""
        for spec in self.contexts:
            if spec.name == name and spec.vendor == VENDOR:
                return spec
        return None

    def describe(self) -> dict[str, Any]:
        """The whole catalog as one JSON document (``telemetry events --json``)."""
        return {
            "events": [spec.describe() for spec in self.events],
            "contexts": [spec.describe() for spec in self.contexts],
        }


def host_check(spec: _Spec) -> Callable[[Any], Any] | None:
    """The check generated ahead of time for a schema of ``tracking/schemas``, if it is one.

    What a host runs before spooling an event: no import, no compile. Other schemas (a
    profile's own events) are checked by the uploader instead.
    """
    if spec.schema_root is not None:
        return None
    from ._checks import CHECKS

    return CHECKS.get(spec.iglu_uri)


def load_catalog(reference: str | None) -> Catalog:
    """The catalog named by a profile's ``event_catalog`` (``"module:attribute"``); None: empty.

    Raises :class:`CatalogError` naming the reference and the fix; the tracker turns that into
    "send nothing", the CLI into a message.
    """
    if not reference:
        return Catalog()
    module_name, _, attr = reference.partition(":")
    try:
        value = getattr(importlib.import_module(module_name), attr or "CATALOG")
        if callable(value) and not isinstance(value, Catalog):
            value = value()
    except Exception as exc:
        raise CatalogError(
            f"event catalog {reference!r} cannot be loaded ({type(exc).__name__}: {exc}). "
            "Fix: point the profile's event_catalog at 'package.module:NAME' holding a Catalog"
        ) from exc
    if not isinstance(value, Catalog):
        raise CatalogError(
            f"event catalog {reference!r} is a {type(value).__name__}, not a tracking.Catalog. "
            "Fix: point the profile's event_catalog at a Catalog"
        )
    return value


_EXAMPLE_HASH = "3f0c" + "9a1e" * 15
_EXAMPLE_UUID = "5f2b8a6e-6c1d-4f0a-9b7e-2d4c6a8e0f13"

INVOCATION_START = EventSpec(
    name="invocation_start",
    model="tracking.events:InvocationStart",
    description="Sent when the tool starts a command.",
    example={"command": "run"},
)
INVOCATION_END = EventSpec(
    name="invocation_end",
    model="tracking.events:InvocationEnd",
    description="Sent when the command ends, even when it fails: success, duration, node counts.",
    example={
        "command": "run",
        "success": True,
        "duration_s": 12.5,
        "node_counts": {"model": 3, "test": 2},
    },
)
MODEL_RUN = EventSpec(
    name="model_run",
    model="tracking.events:ModelRun",
    description="Sent after each model runs: a keyed hash of its contents, never its name or SQL.",
    example={
        "model_key": _EXAMPLE_HASH,
        "status": "success",
        "execution_time_s": 0.42,
        "materialization": "table",
    },
)
PLATFORM = ContextSpec(
    name="platform",
    model="tracking.events:PlatformContext",
    description="Attached to every event: operating system, Python and tool versions.",
    example={"os": "Linux", "python_version": "3.12.4", "tool_version": "1.8.0"},
)
INVOCATION = ContextSpec(
    name="invocation",
    model="tracking.events:InvocationContext",
    # 1-0-1: in CI the anonymous id is a constant per CI vendor (an ADDITION: the pattern widens).
    version="1-0-1",
    description="Attached to every event: run id, anonymous installation id (in CI: one per CI "
    "vendor), keyed project id (none in CI).",
    example={
        "invocation_id": _EXAMPLE_UUID,
        "anonymous_user_id": _EXAMPLE_UUID.replace("5f", "7a"),
        "project_id": _EXAMPLE_HASH[::-1],
        "edition": "core",
    },
)

CI = ContextSpec(
    name="ci",
    model="tracking.events:CiContext",
    description="Attached to every event sent from CI: the CI system's name, nothing else.",
    example={"vendor": "GitHub Actions"},
)

#: The built-in dbt-compatible profile's catalog (docs/guarantees.md, "Privacy").
DEFAULT_CATALOG = Catalog(
    events=(INVOCATION_START, INVOCATION_END, MODEL_RUN),
    contexts=(PLATFORM, INVOCATION, CI),
)

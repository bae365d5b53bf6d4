"""Schema loading and checking for the whole project: Iglu URIs, a file-system registry, draft-04
compiled validators. The uploader checks a profile's own events with it; the local collector
(``telemetry_collector``) validates everything it receives with it.

Every self-describing JSON a tracker sends names its schema by an Iglu URI
(``iglu:vendor/name/format/version``).  The collector looks the schema up in
a list of directories laid out like Iglu Central
(``<root>/<vendor>/<name>/<format>/<version>``): Snowplow's own schemas in
``tracking/iglu/schemas``, ours in ``tracking/schemas``, plus any roots a test
or tool passes in.  Nothing is ever fetched over the network.

Validators are compiled once per URI with fastjsonschema (microseconds per
event afterwards) and cached; failed look-ups are not cached, so a schema
written while the collector runs is picked up.  Iglu schemas are draft-04.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fastjsonschema

__all__ = [
    "InvalidSchemaUri",
    "SchemaError",
    "SchemaKey",
    "SchemaNotFound",
    "SchemaRegistry",
    "Validator",
    "compile_check",
    "default_schema_roots",
    "draft_04",
]

#: SchemaVer's three numbers are Ints in Iglu (at most 10 digits); every part is a file name.
_IGLU_URI = re.compile(
    r"^iglu:([a-zA-Z0-9\-_.]{1,255})/([a-zA-Z0-9\-_]{1,255})/([a-zA-Z0-9\-_]{1,255})/"
    r"([0-9]{1,10}-[0-9]{1,10}-[0-9]{1,10})$"
)
_IGLUCENTRAL_REF = re.compile(
    r"^https?://iglucentral\.com/schemas/([^/#]+)/([^/#]+)/([^/#]+)/([^/#]+?)#?$"
)
_DRAFT04 = "http://json-schema.org/draft-04/schema#"
# Formats Snowplow's validator knows beyond draft-04 ("uuid" is common in Iglu schemas).
_EXTRA_FORMATS = {
    "uuid": r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\Z",
}

Validator = Callable[[Any], Any]


def draft_04(schema: dict[str, Any]) -> dict[str, Any]:
    """An Iglu schema as a JSON schema a validator takes: Iglu's own keys dropped (``self``),
    and its ``$schema`` (the self-desc meta-schema) read as what it means, draft-04. A schema
    that names another json-schema.org draft keeps it."""
    plain = {k: v for k, v in schema.items() if k not in ("$schema", "self")}
    declared = str(schema.get("$schema", ""))
    plain["$schema"] = (
        _DRAFT04 if ("json-schema.org" not in declared or "draft-04" in declared) else declared
    )
    return plain


def compile_check(schema: dict[str, Any], **options: Any) -> Validator:
    """The compiled check of an Iglu ``schema`` (fastjsonschema): a function that raises on an
    invalid instance. The one place Iglu schemas are compiled: the collector's registry, the
    uploader (a profile's own events) and :mod:`tools.gen_checks` (ahead of time)."""
    return fastjsonschema.compile(draft_04(schema), **options)


#: Valid URIs already parsed (every event names the same few schemas); bounded.
_PARSED: dict[str, SchemaKey] = {}
_PARSED_MAX = 1024


class SchemaError(Exception):
    """A schema cannot be used; ``str(exc)`` is the reason recorded on the bad event."""


class InvalidSchemaUri(SchemaError):
    """The string is not an ``iglu:vendor/name/format/version`` URI."""


class SchemaNotFound(SchemaError):
    """No root holds the schema; the message is ``schema not found: <uri>``."""

    def __init__(self, uri: str) -> None:
        super().__init__(f"schema not found: {uri}")
        self.uri = uri


@dataclass(frozen=True, slots=True)
class SchemaKey:
    """The four parts of an Iglu URI."""

    vendor: str
    name: str
    format: str
    version: str

    @classmethod
    def parse(cls, uri: object) -> SchemaKey:
        if type(uri) is str:
            known = _PARSED.get(uri)
            if known is not None:
                return known
        if not isinstance(uri, str):
            raise InvalidSchemaUri(f"invalid schema URI: {uri!r}")
        match = _IGLU_URI.match(uri)
        if match is None or match.group(1).strip(".") == "":
            # A vendor of only dots would step outside the registry root.
            raise InvalidSchemaUri(f"invalid schema URI: {uri!r}")
        key = cls(*match.groups())
        if type(uri) is str:
            if len(_PARSED) >= _PARSED_MAX:
                _PARSED.clear()
            _PARSED[uri] = key
        return key

    @property
    def uri(self) -> str:
        return f"iglu:{self.vendor}/{self.name}/{self.format}/{self.version}"

    @property
    def relpath(self) -> Path:
        return Path(self.vendor, self.name, self.format, self.version)

    def is_a(self, vendor: str, name: str) -> bool:
        """Same schema family regardless of version (e.g. any ``contexts`` 1-0-x)."""
        return self.vendor == vendor and self.name == name


def default_schema_roots() -> tuple[Path, ...]:
    """``tracking/iglu/schemas`` (Snowplow's) and ``tracking/schemas`` (ours)."""
    tracking = Path(__file__).resolve().parent
    return (tracking / "iglu" / "schemas", tracking / "schemas")


class SchemaRegistry:
    """Resolves Iglu URIs to schemas and cached compiled validators.

    Roots are searched in order (defaults first, then *extra_roots*); a root
    that does not exist is simply skipped, so ``tracking/schemas`` may be
    absent.  Thread-safe.
    """

    def __init__(
        self,
        extra_roots: Iterable[str | Path] | None = None,
        *,
        include_defaults: bool = True,
    ) -> None:
        roots = list(default_schema_roots()) if include_defaults else []
        roots.extend(Path(r) for r in (extra_roots or ()))
        self.roots: tuple[Path, ...] = tuple(roots)
        self._schemas: dict[str, dict[str, Any]] = {}
        self._validators: dict[str, Validator] = {}
        self._lock = threading.Lock()

    def find(self, key: SchemaKey) -> Path | None:
        """The first file holding *key*, or None."""
        for root in self.roots:
            path = root / key.relpath
            try:
                if path.is_file():
                    return path
            except OSError:  # a name too long for this file system names no file on it
                continue
        return None

    def schema(self, uri: str) -> dict[str, Any]:
        """The parsed schema for *uri*; raises SchemaError (SchemaNotFound if absent)."""
        cached = self._schemas.get(uri)
        if cached is not None:
            return cached
        key = SchemaKey.parse(uri)
        path = self.find(key)
        if path is None:
            raise SchemaNotFound(key.uri)
        try:
            schema = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise SchemaError(f"schema {uri} at {path} is unreadable: {exc}") from exc
        if not isinstance(schema, dict):
            raise SchemaError(f"schema {uri} at {path} is not a JSON object")
        declared = schema.get("self")
        if isinstance(declared, dict):
            own = {k: declared.get(k) for k in ("vendor", "name", "format", "version")}
            if own != {
                "vendor": key.vendor,
                "name": key.name,
                "format": key.format,
                "version": key.version,
            }:
                raise SchemaError(
                    f"schema {uri} at {path} declares itself as "
                    f"iglu:{own['vendor']}/{own['name']}/{own['format']}/{own['version']}"
                )
        with self._lock:
            return self._schemas.setdefault(uri, schema)

    def validator(self, uri: str) -> Validator:
        """A compiled validator for *uri* (raises SchemaError)."""
        cached = self._validators.get(uri)
        if cached is not None:
            return cached
        handlers = {"http": self._resolve_ref, "https": self._resolve_ref}
        try:
            compiled = compile_check(
                self.schema(uri),
                handlers=handlers,
                formats=_EXTRA_FORMATS,
                use_default=False,  # never mutate the event being checked
                fast_fail=False,  # report every violation, not just the first
            )
        except SchemaError:
            raise
        except Exception as exc:  # fastjsonschema raises a variety of errors
            raise SchemaError(f"schema {uri} cannot be compiled: {exc}") from exc
        with self._lock:
            return self._validators.setdefault(uri, compiled)

    def errors(self, uri: str, data: Any) -> list[str]:
        """Reasons *data* does not conform to *uri*; empty when it does."""
        try:
            validate = self.validator(uri)
        except SchemaError as exc:
            return [str(exc)]
        try:
            validate(data)
        except fastjsonschema.JsonSchemaValuesException as exc:
            return [f"invalid against {uri}: {err.message}" for err in exc.errors]
        except fastjsonschema.JsonSchemaValueException as exc:
            return [f"invalid against {uri}: {exc.message}"]
        return []

    def _resolve_ref(self, url: str) -> dict[str, Any]:
        """Serve ``$ref``s to Iglu Central from the local roots; refuse anything else."""
        match = _IGLUCENTRAL_REF.match(url)
        if match is None:
            raise SchemaError(f"remote $ref not allowed: {url}")
        return self.schema("iglu:" + "/".join(match.groups()))

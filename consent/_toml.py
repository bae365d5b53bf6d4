"""The TOML of the user config and the system policy: parsed once here, quoted back as written.

tomllib keeps no positions, so :func:`key_line` finds a key's line for the ``path:line`` of a
message, and :func:`toml_text` shows a value the way its author typed it.
"""

from __future__ import annotations

import re
import tomllib
from typing import Any


class TomlProblem(ValueError):
    """The text is not TOML: ``str()`` is ``invalid TOML (…)``, ``line`` where, if known."""

    def __init__(self, message: str, line: int | None) -> None:
        super().__init__(message)
        self.line = line


def parse(text: str) -> dict[str, Any]:
    """The TOML document in ``text``; raises :class:`TomlProblem`, never anything else."""
    try:
        return tomllib.loads(text)
    except (tomllib.TOMLDecodeError, RecursionError) as exc:
        # RecursionError: tomllib recurses on deeply nested arrays and inline tables.
        match = re.search(r"line (\d+)", str(exc))
        raise TomlProblem(f"invalid TOML ({exc})", int(match.group(1)) if match else None) from exc


def key_line(text: str, key: str) -> int | None:
    """1-based line of ``key = …`` (or ``key.sub = …``, ``[key]``) in a TOML text.

    Only spaces and tabs may lead the key: any-whitespace would also match the newlines of
    blank lines above it and report the first of those lines.
    """
    pattern = re.compile(
        rf"^[ \t]*(?:\[\[?[ \t]*)?[\"']?{re.escape(key)}[\"']?[ \t]*[=.\]]", re.MULTILINE
    )
    match = pattern.search(text)
    if match is None:
        return None
    return text.count("\n", 0, match.start()) + 1


def toml_text(value: object) -> str:
    """A TOML value as the user wrote it (``false``, ``"off"``, ``1``), not as Python shows it
    (``False``, ``'off'``): messages quote the file back to its author."""
    import json  # only for a message: not on every host's start-up

    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, int | float):
        return str(value)
    return f"a {type(value).__name__}"

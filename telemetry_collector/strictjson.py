"""JSON as the rest of a Snowplow pipeline reads it, from clients that may send anything.

Python's decoder takes ``NaN`` and ``Infinity``, which no other JSON parser does (and which
turn into floats that ``int()`` cannot convert), and a document nested deeper than the
interpreter's stack raises ``RecursionError``, which is not a ``ValueError``: here both are one
``ValueError`` whose message says what is wrong, so every caller has one error to answer.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["loads"]


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


#: ``json.loads(text, parse_constant=...)`` builds a new decoder per call; one is enough.
_DECODER = json.JSONDecoder(parse_constant=_reject_constant)


def loads(text: str | bytes) -> Any:
    """Strict JSON: no NaN/Infinity; too deep is a ``ValueError``, as any other bad JSON."""
    try:
        if not isinstance(text, str):
            return json.loads(text, parse_constant=_reject_constant)
        if text.startswith("\ufeff"):  # as json.loads does for str
            raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", text, 0)
        return _DECODER.decode(text)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None

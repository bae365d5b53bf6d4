"""How raw values are read as opinions, and how any value is made safe to print.

Public: ``tracking`` reads its own ``<PREFIX>TELEMETRY_*`` switches with :func:`env_bool` and
quotes values back with :func:`shown`, so that a value means the same and prints the same
wherever it is read. The spellings are the ones docs/decision.md lists.
"""

from __future__ import annotations

from typing import Literal

__all__ = [
    "FALSE_WORDS",
    "TRUE_WORDS",
    "YAML_FALSE",
    "YAML_TRUE",
    "env_bool",
    "opinion_of",
    "printable",
    "shown",
]

TRUE_WORDS = frozenset({"1", "true", "yes", "y", "t", "on"})
FALSE_WORDS = frozenset({"", "0", "false", "no", "n", "f", "off"})
#: YAML 1.1 booleans as dbt's own parser (PyYAML) reads them, compared in lower case because
#: docs/decision.md accepts any case (PyYAML itself only knows ``off``, ``Off`` and ``OFF``).
#: Not ``y``/``n``: PyYAML reads those as strings, so dbt would reject them.
YAML_TRUE = frozenset({"true", "yes", "on"})
YAML_FALSE = frozenset({"false", "no", "off"})

#: How much of a value a one-line message quotes back.
SHOWN_LIMIT = 60


def env_bool(value: str) -> bool | None:
    """True/False for a recognised spelling, None for anything else."""
    word = value.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    return None


def opinion_of(flag: bool) -> Literal["on", "off"]:
    return "on" if flag else "off"


def printable(text: str | None, limit: int = 1024, *, newlines: bool = True) -> str | None:
    """Text safe for a terminal: undecodable bytes and control characters shown escaped, bounded.

    Paths come from the filesystem and values from the environment: they may hold anything,
    ``ESC ] … BEL`` included, which printed raw would drive the user's terminal. Longer than
    ``limit``: cut, with the real length. ``newlines=False`` escapes line breaks too (a value
    quoted inside a one-line message).
    """
    if text is None:
        return None
    if text.isprintable() and len(text) <= limit:
        return text
    safe = text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    safe = "".join(
        ch if ch.isprintable() or (newlines and ch == "\n") else repr(ch)[1:-1] for ch in safe
    )
    if len(safe) > limit:
        safe = f"{safe[:limit]}… ({len(text)} characters)"
    return safe


def shown(value: str | None) -> str | None:
    """A value quoted back in a one-line message: :func:`printable`, short, on one line."""
    return printable(value, SHOWN_LIMIT, newlines=False)

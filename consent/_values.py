"""How raw values are read as opinions: the spellings users actually write."""

from __future__ import annotations

from typing import Literal

TRUE_WORDS = frozenset({"1", "true", "yes", "y", "t", "on"})
FALSE_WORDS = frozenset({"", "0", "false", "no", "n", "f", "off"})
#: YAML 1.1 booleans as dbt's own parser (PyYAML) reads them, compared in lower case because
#: PRODUCT.md §2 accepts any case (PyYAML itself only knows ``off``, ``Off`` and ``OFF``). Not
#: ``y``/``n``: PyYAML reads those as strings, so dbt would reject them.
YAML_TRUE = frozenset({"true", "yes", "on"})
YAML_FALSE = frozenset({"false", "no", "off"})

_MAX_SHOWN = 60


def env_bool(value: str) -> bool | None:
    """True/False for a recognised spelling, None for anything else."""
    word = value.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    return None


def shown(value: str | None) -> str | None:
    """A value made safe to print: no undecodable bytes, no control characters, bounded length."""
    if value is None:
        return None
    text = value.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    text = "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)
    if len(text) > _MAX_SHOWN:
        text = f"{text[:_MAX_SHOWN]}… ({len(value)} characters)"
    return text


def printable(text: str | None, limit: int = 1024) -> str | None:
    """Text safe for a terminal: control characters (escape sequences) shown escaped, bounded.

    Paths come from the filesystem and may hold anything, ``ESC ] … BEL`` included; printed raw
    they would drive the user's terminal. Longer than ``limit``: cut, with the real length.
    """
    if text is None:
        return None
    if text.isprintable() and len(text) <= limit:
        return text
    safe = text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    safe = "".join(ch if ch.isprintable() or ch == "\n" else repr(ch)[1:-1] for ch in safe)
    if len(safe) > limit:
        safe = f"{safe[:limit]}… ({len(text)} characters)"
    return safe


def opinion_of(flag: bool) -> Literal["on", "off"]:
    return "on" if flag else "off"

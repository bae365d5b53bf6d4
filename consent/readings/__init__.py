"""The readings of values (docs/decision.md, "Two readings"): one interface,
:class:`~consent.readings.base.Reading`, and one module per reading.

:func:`reading_of` gives a profile's. The dbt reading is imported only for a profile that
declares it: a tool's own tracker does not load dbt's rules at start-up.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .base import Reading
from .strict import StrictReading

if TYPE_CHECKING:
    from ..profile import AppProfile

__all__ = ["Reading", "StrictReading", "reading_of"]

_STRICT = StrictReading()


def reading_of(profile: AppProfile) -> Reading:
    """The reading ``profile`` declares."""
    if profile.reading == "dbt":
        from .dbt import READING

        return READING
    return _STRICT

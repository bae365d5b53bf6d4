"""One exception family for tracking, apart from consent's: each named for what a caller can do.

Nothing here is raised into a host while it records (the tracker counts failures and goes on);
these reach callers that asked for something explicitly: loading a catalog (``telemetry
events``), checking an event, forgetting the anonymous id (``telemetry reset``), one exchange
with a collector (:class:`tracking._http.Transport`).

- :class:`TrackingError`
  - :class:`CatalogError`: a profile's event catalog cannot be loaded or composed;
  - :class:`EventInvalid`: an event or context does not match its schema (it is never sent);
  - :class:`StateError`: a state file (anonymous id, secret, log) cannot be changed;
  - :class:`TransportError`: no usable answer from the collector, and why:
    :class:`ConnectFailed`, :class:`TimedOut`, :class:`AnswerBroken`.
"""

from __future__ import annotations

__all__ = [
    "AnswerBroken",
    "CatalogError",
    "ConnectFailed",
    "EventInvalid",
    "StateError",
    "TimedOut",
    "TrackingError",
    "TransportError",
]


class TrackingError(Exception):
    """Base of every error this package raises on purpose; the message names what and the fix."""


class CatalogError(TrackingError, ValueError):
    """A catalog cannot be loaded or composed; the message names what and the fix."""


class EventInvalid(TrackingError, ValueError):
    """An event or context does not match its schema (it is dropped, never sent)."""


class StateError(TrackingError):
    """A state file could not be changed (a read-only directory, a full disk)."""


class TransportError(TrackingError):
    """No usable answer from the collector: the batch is neither accepted nor refused."""


class ConnectFailed(TransportError):
    """The request could not leave: refused, unreachable, no such host, TLS, a proxy."""


class TimedOut(TransportError):
    """The collector took longer than the request timeout to connect or to answer."""


class AnswerBroken(TransportError):
    """Something came back, but not a whole HTTP answer (closed, reset, cut short, garbage)."""

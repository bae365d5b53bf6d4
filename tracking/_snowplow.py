"""snowplow-tracker, used for what it is good at (the tracker protocol) and kept off everything else.

We use the library to build tracker-protocol payloads (``eid``, ``dtm``, ``ttm``, ``tv``,
``ue_px`` and ``cx`` encoding) and nothing else: its emitters are unsafe for a host (measured on
1.1.0: no request timeout by default; with one, a pending retry holds the emitter lock so later
``track()`` calls block; ``flush()`` is a no-op during backoff; ``AsyncEmitter.flush()`` never
returns while the collector fails; unlimited retries; an unbounded queue). Our
:class:`_CollectingEmitter` just keeps the payload that ``Tracker.track`` hands it; sending is
done by :mod:`tracking._sender` with our own timeouts, retry budget and bounds.

Importing snowplow_tracker calls ``logging.basicConfig()`` (a stderr handler on the host's root
logger) and sets its loggers to INFO, which would print its chatter in the host's terminal.
:func:`import_snowplow` imports it only here, in the sender thread, and undoes both.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

#: Snowplow's envelope for a POST body of tracker-protocol payloads.
PAYLOAD_DATA_SCHEMA = "iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4"


def import_snowplow():
    """``snowplow_tracker``, imported with its logging side effects undone.

    If the host imported it already, its logging is the host's business and is left alone.
    """
    if "snowplow_tracker" in sys.modules:
        return sys.modules["snowplow_tracker"]
    # requests is the slow part of the import; loading it first keeps the window in which the
    # root logger is touched (below) to the library's own few modules.
    import requests  # noqa: F401

    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    import snowplow_tracker

    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)
    for name in list(logging.Logger.manager.loggerDict):
        if name == "snowplow_tracker" or name.startswith("snowplow_tracker."):
            quiet = logging.getLogger(name)
            for handler in list(quiet.handlers):
                quiet.removeHandler(handler)
            quiet.addHandler(logging.NullHandler())
            quiet.propagate = False
            quiet.setLevel(logging.CRITICAL + 1)
    return snowplow_tracker


class _CollectingEmitter:
    """An emitter (``EmitterProtocol``) that keeps payloads instead of sending them."""

    def __init__(self) -> None:
        self.payloads: list[dict[str, Any]] = []

    def input(self, payload: dict[str, Any]) -> None:
        self.payloads.append(payload)

    def flush(self) -> None:
        pass

    def async_flush(self) -> None:
        pass

    def sync_flush(self) -> None:
        pass


class PayloadBuilder:
    """Self-describing events with contexts, as tracker-protocol payloads of strings."""

    def __init__(self, namespace: str, app_id: str) -> None:
        sp = import_snowplow()
        self._sp = sp
        self._emitter = _CollectingEmitter()
        self._tracker = sp.Tracker(namespace=namespace, emitters=self._emitter, app_id=app_id,
                                   encode_base64=True)

    def build(self, schema: str, data: dict[str, Any], contexts: list[tuple[str, dict[str, Any]]],
              timestamp_ms: int) -> dict[str, str]:
        sp = self._sp
        event = sp.SelfDescribing(
            sp.SelfDescribingJson(schema, data),
            context=[sp.SelfDescribingJson(uri, values) for uri, values in contexts],
            # ``ttm``, the true timestamp: when the host recorded the event, not when we built it.
            true_timestamp=timestamp_ms,
        )
        self._tracker.track(event)
        payload = self._emitter.payloads.pop()
        # payload_data 1-0-4 types every field as a string (``dtm``, ``ttm`` come out as ints).
        return {key: str(value) for key, value in payload.items()}

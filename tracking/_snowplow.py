"""snowplow-tracker, used for what it is good at (the tracker protocol), kept off everything else.

We use the library to build tracker-protocol payloads (``eid``, ``dtm``, ``ttm``, ``tv``,
``ue_px`` and ``cx`` encoding) and nothing else: its emitters are unsafe for a host (measured on
1.1.0: no request timeout by default; with one, a pending retry holds the emitter lock so later
``track()`` calls block; ``flush()`` is a no-op during backoff; ``AsyncEmitter.flush()`` never
returns while the collector fails; unlimited retries; an unbounded queue). :class:`PayloadBuilder`
uses the pieces ``Tracker.track`` is made of (its Payload encoding, SelfDescribingJson, its
constants), without the per-event overhead of ``track``; sending is done by
:mod:`tracking.uploader` with our own timeouts, backoff and bounds.

Importing snowplow_tracker calls ``logging.basicConfig()`` (a stderr handler on the root logger)
and sets its loggers to INFO. It is imported only by the uploader (its own process, or a host's
in-process delivery), and :func:`import_snowplow` undoes both.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

#: Snowplow's envelope for a POST body of tracker-protocol payloads.
PAYLOAD_DATA_SCHEMA = "iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4"


def import_snowplow() -> Any:
    """``snowplow_tracker``, imported with its logging side effects undone.

    If the host imported it already, its logging is the host's business and is left alone.
    """
    if "snowplow_tracker" in sys.modules:
        return sys.modules["snowplow_tracker"]
    # requests (imported by snowplow_tracker's emitters, which we never use) is the slow part of
    # the import; loading it first keeps the window in which the root logger is touched (below)
    # to the library's own few modules.
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


class PayloadBuilder:
    """Self-describing events with contexts, as tracker-protocol payloads of strings.

    Built from snowplow-tracker's own pieces, the ones ``Tracker.track`` uses underneath:
    :class:`~snowplow_tracker.payload.Payload` (its base64url JSON encoding of ``ue_px`` and
    ``cx``), :class:`~snowplow_tracker.SelfDescribingJson`, the ``unstruct_event`` / ``contexts``
    schema constants and the tracker version, the default :class:`~snowplow_tracker.Subject`'s
    platform, and ``Tracker.get_uuid`` for ``eid``. ``Tracker.track`` itself made each event
    cost about 18 µs (an Event object, a Payload copied three times, the contexts encoded again
    and the result handed through an emitter), most of it the same for every event of an
    invocation. Here what is identical for every event is computed once: the constant fields
    (``e``, ``p``, ``tv``, ``tna``, ``aid``) at construction, and the encoded contexts ``cx`` by
    the caller, once per invocation (:meth:`encode_contexts`), passed to :meth:`build`.
    """

    def __init__(self, namespace: str, app_id: str) -> None:
        sp = import_snowplow()
        from snowplow_tracker.constants import (
            CONTEXT_SCHEMA,
            UNSTRUCT_EVENT_SCHEMA,
            VERSION,
        )
        from snowplow_tracker.payload import Payload

        self._payload = Payload
        self._sdj = sp.SelfDescribingJson
        self._new_eid = sp.Tracker.get_uuid
        self._contexts_schema = CONTEXT_SCHEMA
        self._unstruct_schema = UNSTRUCT_EVENT_SCHEMA
        constant = Payload({"e": "ue"})
        constant.add_dict(sp.Subject().standard_nv_pairs)  # "p": "pc", as Tracker's default subject
        constant.add_dict(
            {"tv": VERSION, "tna": namespace, "aid": app_id}
        )  # Tracker's standard pairs
        self._constant: dict[str, str] = {k: str(v) for k, v in constant.get().items()}

    def encode_contexts(self, contexts: list[tuple[str, dict[str, Any]]]) -> str | None:
        """The ``cx`` field for ``contexts`` (None when there are none, as Tracker omits it)."""
        sdj = self._sdj
        envelope = sdj(
            self._contexts_schema, [sdj(uri, values).to_json() for uri, values in contexts]
        ).to_json()
        payload = self._payload()
        if contexts:
            payload.add_json(envelope, True, "cx", "co")
        return payload.get().get("cx")

    def build(
        self,
        schema: str,
        data: dict[str, Any],
        *,
        dtm: int | str,
        cx: str | None = None,
        eid: str | None = None,
    ) -> dict[str, str]:
        """One event's payload: ``dtm`` is when it was recorded (ms), ``cx`` the contexts already
        encoded (:meth:`encode_contexts`, once per invocation), ``eid`` the id the event was
        recorded with (a new one when None): a retried event keeps its id."""
        sdj = self._sdj
        payload = self._payload(self._constant)
        payload.add_json(
            sdj(self._unstruct_schema, sdj(schema, data).to_json()).to_json(),
            True,
            "ue_px",
            "ue_pr",
        )
        payload.add("cx", cx)
        payload.add("eid", eid or self._new_eid())
        # ``dtm`` is when the event happened on the device: when the host recorded it, as
        # snowplow-tracker's own track() sets it (``ttm`` stays unset, so the pipeline's clock
        # skew correction from dtm/stm applies). payload_data 1-0-4 types every field as a string.
        payload.add("dtm", str(int(dtm)))
        return payload.get()

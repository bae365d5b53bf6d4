"""What an entry costs, and how the parts the events of one request share are shown on each.

Every ``/micro/good`` and ``/micro/bad`` entry repeats what its request carried as a whole: the
headers (twice on a bad entry), the query string, and on a bad entry the body. Shown in full on
each of a request's events, a 150 KB POST of tiny bad events answered ``/micro/bad`` with
1.34 GB (a 64 KB clip of the body on each of 20,000 entries). So the events of one request
together show at most as much of those shared parts as the request itself held (and at least
:data:`SHARED_FLOOR`): a batch of a few events shows everything, a flood of tiny ones shows
less of the headers and body on each. The store keeps the shared parts once, and bounds its
memory by :func:`entry_bytes`, the size an entry takes when listed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from typing import Any, TypeVar

from .model import BadEvent, GoodEvent, Outcome, RequestInfo

__all__ = ["SHARED_FLOOR", "entry_bytes", "fit_shared", "request_bytes"]

#: The shared parts every request may show on its events in all, however small it was.
SHARED_FLOOR = 64 * 1024
_CUT = "...[truncated]"
#: What Micro's shape adds to any entry (keys, api, source, timestamps); a good entry's canonical
#: event is ~130 fields, mostly null.
_BAD_SHAPE = 700
_GOOD_SHAPE = 3000
_Body = TypeVar("_Body", str, None)
#: An entry that cannot be measured (nested past the encoder's depth) counts as this big.
_UNMEASURABLE = 1 << 40


def request_bytes(info: RequestInfo, body_length: int) -> int:
    """The request as it arrived, roughly: its target, headers and body."""
    return len(info.path) + len(info.query) + _head_bytes(info.header_lines) + body_length


def _head_bytes(lines: tuple[str, ...]) -> int:
    return sum(len(line) + 4 for line in lines)


def _shared_bytes(info: RequestInfo) -> int:
    """What every entry of a request repeats: its headers (twice) and query string (twice)."""
    return 2 * (_head_bytes(info.header_lines) + len(info.query))


def fit_shared(info: RequestInfo, body: _Body, count: int, size: int) -> tuple[RequestInfo, _Body]:
    """*info* and *body* as each of the *count* events of a request of *size* bytes shows them:
    unchanged when they fit its share, else the query string, the headers (in order) and the
    body kept while they fit."""
    allowance = max(SHARED_FLOOR, size) // max(count, 1)
    if _shared_bytes(info) + (len(body) if body else 0) <= allowance:
        return info, body
    used = 2 * len(info.query)
    query = info.query if used <= allowance else ""
    used = 2 * len(query)
    kept: list[str] = []
    for line in info.header_lines:
        if used + 2 * (len(line) + 4) > allowance:
            break
        kept.append(line)
        used += 2 * (len(line) + 4)
    names = {line.partition(":")[0].strip().lower() for line in kept}
    headers = {name: value for name, value in info.headers.items() if name in names}
    shown = replace(info, header_lines=tuple(kept), headers=headers, query=query)
    room = max(0, allowance - used)
    if body is not None and len(body) > room:
        body = body[:room] + _CUT
    return shown, body


def _json_bytes(value: Any) -> int:
    if isinstance(value, str):
        return len(value) + 2
    try:
        return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=repr))
    except (RecursionError, ValueError):
        return _UNMEASURABLE


def _params_bytes(params: Mapping[str, Any]) -> int:
    """What a parameter mapping takes as JSON, counted without encoding it when every value
    is a string (every tracker's case: one event's parameters are measured on the hot path)."""
    if all(isinstance(v, str) for v in params.values()):
        return 2 + sum(len(k) + len(v) + 6 for k, v in params.items())
    return _json_bytes(params)


#: The parameters whose value is the encoded form of a decoded part (unstruct event, contexts):
#: as long as, or (base64) longer than, the part when listed.
_ENCODED_PARTS = (("ue_pr", "ue_px"), ("co", "cx"))


def _part_bytes(params: Mapping[str, Any], names: tuple[str, str], part: Any) -> int:
    for name in names:
        value = params.get(name)
        if isinstance(value, str):
            return len(value)
    return _json_bytes(part)


def entry_bytes(outcome: Outcome) -> int:
    """About the bytes *outcome* takes when listed (what the store's byte bound counts)."""
    shared = _shared_bytes(outcome.info)
    if isinstance(outcome, GoodEvent):
        # the parameters as sent, and again as the canonical fields; the decoded parts once,
        # measured by their encoded parameters (no second encoding per event)
        params = outcome.params
        unstruct, contexts = _ENCODED_PARTS
        return (
            _GOOD_SHAPE
            + shared // 2
            + 2 * _params_bytes(params)
            + (
                _part_bytes(params, unstruct, outcome.unstruct_event)
                if outcome.unstruct_event
                else 0
            )
            + (_part_bytes(params, contexts, outcome.contexts) if outcome.contexts else 0)
        )
    return _bad_bytes(outcome, shared)


def _bad_bytes(outcome: BadEvent, shared: int) -> int:
    return (
        _BAD_SHAPE
        + shared
        + (_json_bytes(outcome.params) if outcome.params is not None else 0)
        + (len(outcome.body) if outcome.body else 0)
        + sum(len(error) + 4 for error in outcome.errors)
    )

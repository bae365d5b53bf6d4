"""Keyed hashes: how a name or a model's contents becomes an identifier that reveals nothing.

A bare SHA-256 of a project name can be reversed with a dictionary of likely names (dbt-core
sends ``md5(project_name)``). HMAC-SHA-256 keyed with the per-installation secret from
:func:`consent.state.ensure_secret` (a 0600 file that is never sent) cannot: without the key,
no guess can be checked. ``kind`` separates domains, so the same text hashed as a project and as
a model gives unrelated keys.

HMAC (RFC 2104) is written out here over CPython's built-in SHA-256 rather than taken from
``hmac``/``hashlib``: those load OpenSSL, 2–3 ms on every tracked run, and a host hashes a few
short strings. ``tests/tracking/test_tracking_ids.py`` proves the result is ``hmac``'s, bit for
bit. Standard library only. Event ids (:func:`event_ids`) are version 4 UUIDs like
``uuid.uuid4()``'s, drawn from one ``getrandom`` per 64 of them.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Iterator
from typing import Any

__all__ = ["KeyedHasher", "ci_anonymous_id", "event_ids", "keyed_hash"]


def _builtin_sha256() -> Callable[..., Any]:
    """The interpreter's own SHA-256 (no OpenSSL): ``_sha2`` on 3.12+, ``_sha256`` before;
    hashlib's on an interpreter that has neither."""
    for name in ("_sha2", "_sha256"):
        try:
            sha256: Callable[..., Any] = importlib.import_module(name).sha256
            return sha256
        except (ImportError, AttributeError):
            continue
    import hashlib

    return hashlib.sha256


_sha256 = _builtin_sha256()
_BLOCK = 64  # SHA-256's block size, in bytes
_IPAD = bytes(x ^ 0x36 for x in range(256))
_OPAD = bytes(x ^ 0x5C for x in range(256))


class KeyedHasher:
    """HMAC-SHA-256 under one secret; the key's two pads are hashed once, not per value."""

    __slots__ = ("_inner", "_outer")

    def __init__(self, secret: bytes) -> None:
        key = bytes(secret)
        if len(key) > _BLOCK:
            key = _sha256(key).digest()
        key = key.ljust(_BLOCK, b"\0")
        self._inner = _sha256(key.translate(_IPAD))
        self._outer = _sha256(key.translate(_OPAD))

    def __call__(self, kind: str, value: str | bytes) -> str:
        """The keyed hash of ``value`` in domain ``kind``, as 64 lower-case hex digits."""
        data = value.encode("utf-8", "surrogatepass") if isinstance(value, str) else bytes(value)
        inner = self._inner.copy()
        inner.update(kind.encode("ascii") + b"\x00")
        inner.update(data)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return str(outer.hexdigest())


def keyed_hash(secret: bytes, kind: str, value: str | bytes) -> str:
    """HMAC-SHA-256 of ``kind`` and ``value`` under ``secret``, as 64 lower-case hex digits."""
    return KeyedHasher(secret)(kind, value)


#: The RFC 4122 variant in the first hex digit of the fourth group: 10xx -> 8, 9, a or b.
_VARIANT = {c: "89ab"[int(c, 16) & 3] for c in "0123456789abcdef"}


def event_ids() -> Iterator[str]:
    """Random version 4 UUIDs as strings (what Snowplow's ``eid`` is), without end.

    What ``str(uuid.uuid4())`` gives, at a third of its cost: a host draws one per event.
    """
    while True:
        pool = os.urandom(16 * 64).hex()
        for start in range(0, len(pool), 32):
            h = pool[start : start + 32]
            yield f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{_VARIANT[h[16]]}{h[17:20]}-{h[20:]}"


def ci_anonymous_id(vendor: str) -> str:
    """The anonymous user id of every event sent from CI: a constant per CI vendor
    (``ci-github-actions``; ``ci-unknown`` for a bare ``CI=true``).

    Every CI job starts in a fresh container with a fresh state dir: a random id per run would
    count each job as a new user (other tools' "unique users" grew 100-200x that way), and no
    keyed id can be stable without a stable secret. Astro does the same (``CI.<vendor>``).
    """
    slug = "".join(c if c.isascii() and c.isalnum() else "-" for c in vendor.lower())
    slug = "-".join(part for part in slug.split("-") if part)[:33]
    return f"ci-{slug.strip('-') or 'unknown'}"

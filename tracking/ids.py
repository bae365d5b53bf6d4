"""Keyed hashes: how a name or a model's contents becomes an identifier that reveals nothing.

A bare SHA-256 of a project name can be reversed with a dictionary of likely names (dbt-core
sends ``md5(project_name)``). HMAC-SHA-256 keyed with the per-installation secret from
:func:`consent.state.ensure_secret` (a 0600 file that is never sent) cannot: without the key,
no guess can be checked. ``kind`` separates domains, so the same text hashed as a project and as
a model gives unrelated keys.
"""

from __future__ import annotations

import hashlib
import hmac


def keyed_hash(secret: bytes, kind: str, value: str | bytes) -> str:
    """HMAC-SHA-256 of ``kind`` and ``value`` under ``secret``, as 64 lower-case hex digits."""
    data = value.encode("utf-8", "surrogatepass") if isinstance(value, str) else bytes(value)
    mac = hmac.new(secret, kind.encode("ascii") + b"\x00", hashlib.sha256)
    mac.update(data)
    return mac.hexdigest()

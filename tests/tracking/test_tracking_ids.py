"""Identifiers are keyed hashes: stable for one installation, unguessable without its secret."""

from __future__ import annotations

import hashlib
import re

from tracking.ids import keyed_hash

SECRET = bytes(range(32))


def test_a_keyed_hash_is_stable_hex_and_not_a_bare_hash():
    value = keyed_hash(SECRET, "project", "jaffle_shop")
    assert re.fullmatch(r"[0-9a-f]{64}", value)
    assert value == keyed_hash(SECRET, "project", b"jaffle_shop")
    # dbt-core sends md5(project name): a dictionary reverses that. Ours is not a bare hash.
    assert value not in (hashlib.sha256(b"jaffle_shop").hexdigest(),
                         hashlib.md5(b"jaffle_shop").hexdigest())


def test_another_installation_or_another_kind_gives_an_unrelated_key():
    base = keyed_hash(SECRET, "project", "jaffle_shop")
    assert keyed_hash(bytes(32), "project", "jaffle_shop") != base
    assert keyed_hash(SECRET, "model", "jaffle_shop") != base
    # Domain separation cannot be forged by moving bytes between kind and value.
    assert keyed_hash(SECRET, "mo", "del\x00x") != keyed_hash(SECRET, "model", "x")

"""Identifiers are keyed hashes: stable for one installation, unguessable without its secret."""

from __future__ import annotations

import hashlib
import hmac
import re
import subprocess
import sys

from hypothesis import given, settings
from hypothesis import strategies as st

from tracking.ids import keyed_hash

SECRET = bytes(range(32))


def test_a_keyed_hash_is_stable_hex_and_not_a_bare_hash():
    value = keyed_hash(SECRET, "project", "jaffle_shop")
    assert re.fullmatch(r"[0-9a-f]{64}", value)
    assert value == keyed_hash(SECRET, "project", b"jaffle_shop")
    # dbt-core sends md5(project name): a dictionary reverses that. Ours is not a bare hash.
    assert value not in (
        hashlib.sha256(b"jaffle_shop").hexdigest(),
        hashlib.md5(b"jaffle_shop").hexdigest(),
    )


def test_another_installation_or_another_kind_gives_an_unrelated_key():
    base = keyed_hash(SECRET, "project", "jaffle_shop")
    assert keyed_hash(bytes(32), "project", "jaffle_shop") != base
    assert keyed_hash(SECRET, "model", "jaffle_shop") != base
    # Domain separation cannot be forged by moving bytes between kind and value.
    assert keyed_hash(SECRET, "mo", "del\x00x") != keyed_hash(SECRET, "model", "x")


@settings(max_examples=300, deadline=None)
@given(
    secret=st.binary(min_size=0, max_size=200),
    kind=st.sampled_from(["model", "project", "project-dir", "k"]),
    value=st.one_of(st.text(max_size=3000), st.binary(max_size=3000)),
)
def test_it_is_hmac_sha256_bit_for_bit(secret, kind, value):
    """Written out over the built-in SHA-256 (no OpenSSL on the host path): the same as hmac."""
    data = value.encode("utf-8", "surrogatepass") if isinstance(value, str) else value
    expected = hmac.new(secret, kind.encode("ascii") + b"\x00" + data, hashlib.sha256)
    assert keyed_hash(secret, kind, value) == expected.hexdigest()


def test_hashing_loads_no_openssl():
    code = (
        "import sys; from tracking.ids import keyed_hash; keyed_hash(b'k' * 32, 'model', 'x'); "
        "print(sorted(m for m in ('_hashlib', 'hmac', 'hashlib') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_event_ids_are_random_version_4_uuids():
    import uuid

    from tracking.ids import event_ids

    ids = event_ids()
    drawn = [next(ids) for _ in range(1000)]
    assert len(set(drawn)) == 1000
    for value in drawn:
        parsed = uuid.UUID(value)
        assert str(parsed) == value
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122

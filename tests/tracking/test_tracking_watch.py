"""Re-checking consent costs a few stats; the full decision runs again only when a file changed."""

from __future__ import annotations

import os

from consent import decide
from consent.layers.user_config import write_user_choice
from tests.support.tracking import make_profile
from tracking._watch import ConsentWatch, fingerprint


def _watch(world):
    profile = make_profile("http://127.0.0.1:1")
    calls = []

    def again():
        calls.append(1)
        return decide(profile, env=world.env)

    return profile, ConsentWatch(decide(profile, env=world.env), again), calls


def test_nothing_changed_means_no_new_decision(world):
    _profile, watch, calls = _watch(world)
    assert all(watch.allowed() for _ in range(100))
    assert calls == []


def test_an_atomic_rewrite_or_an_in_place_edit_is_noticed(world, tmp_path):
    path = tmp_path / "f"
    path.write_text("a")
    first = fingerprint((str(path), str(tmp_path / "missing")))
    os.replace(_write(tmp_path / "g", "a"), path)  # same size, new inode
    assert fingerprint((str(path), str(tmp_path / "missing"))) != first
    second = fingerprint((str(path),))
    path.write_text("ab")
    assert fingerprint((str(path),)) != second


def _write(path, text):
    path.write_text(text)
    return path


def test_disable_is_seen_and_sticks_even_after_enable(world):
    profile, watch, calls = _watch(world)
    write_user_choice(profile, False)
    assert watch.allowed() is False
    assert len(calls) == 1
    write_user_choice(profile, True)
    assert watch.allowed() is False  # withdrawn once: off for the rest of the process


def test_a_change_that_keeps_consent_on_keeps_sending(world):
    profile, watch, calls = _watch(world)
    write_user_choice(profile, True)
    assert watch.allowed() is True
    assert watch.allowed() is True
    assert len(calls) == 1  # re-decided once, then the new fingerprint holds


def test_a_decision_that_fails_counts_as_off(world):
    profile = make_profile("http://127.0.0.1:1")
    decision = decide(profile, env=world.env)

    def broken():
        raise RuntimeError("disk on fire")

    watch = ConsentWatch(decision, broken)
    write_user_choice(profile, True)
    assert watch.allowed() is False

"""The administrator's system policy file, ``telemetry-policy.toml``: found, parsed and merged.

It can fix the edition, set the machine's default, or lock telemetry on or off for everyone.
Every policy file found is read: the one at the platform's fixed system location
(:meth:`~consent.profile.AppProfile.fixed_policy_path`, which no variable moves) and those along
``XDG_CONFIG_DIRS``. When they disagree the most restrictive wins (docs/decision.md, "The admin
lock"): any lock off locks telemetry off, and a lock on holds only when no file says off. The
edition is taken from the fixed location only: a file along ``XDG_CONFIG_DIRS`` is wherever the
user points it, so its ``edition = "cloud"`` must not turn tracking on against a lock off.

Read once per decision (:attr:`consent.context.ReadContext.policy`) and shared by the two layers
it gives (:mod:`consent.layers.policy`) and by the choice of the edition: which is why it is a
module of its own, below both the context and the layers.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace

from ._model import Edition, Opinion, PolicyFile, file_origin
from ._toml import TomlProblem, key_line, parse, toml_text
from .files import FileText, read_text
from .values import printable, shown

__all__ = ["Policy", "merge", "read_policy"]

_KEYS = ("edition", "telemetry", "locked")


@dataclass(frozen=True, slots=True)
class Policy:
    """What the policy files said, merged (or what one file said, before merging)."""

    path: str | None = None
    edition: Edition | None = None
    telemetry: Opinion = None
    telemetry_origin: str | None = None
    locked: bool = False
    #: Set when a file is unusable: the policy then locks telemetry off (fail closed), and
    #: ``warnings`` holds the one line that says why and what to do.
    problem: str | None = None
    warnings: tuple[str, ...] = ()
    #: Every policy file read, in the order read (the fixed location first).
    files: tuple[PolicyFile, ...] = ()
    #: Every place looked at, found or not (the fixed location first, each once): what the
    #: layers that read the policy watch.
    places: tuple[str, ...] = ()


def read_policy(candidates: list[str], fixed: str | None = None) -> Policy:
    """Every policy file found, at ``fixed`` (the platform's fixed system location) and along
    ``candidates`` (``XDG_CONFIG_DIRS``), merged: the most restrictive wins (``Policy()``: none)."""
    seen: set[str] = set()
    looked: list[str] = []
    found: list[tuple[PolicyFile, Policy]] = []
    places = ([(fixed, True)] if fixed else []) + [(path, False) for path in candidates]
    for path, is_fixed in places:
        key = os.path.normcase(os.path.abspath(path))
        if key in seen:  # XDG_CONFIG_DIRS naming /etc/xdg: one file, read once
            continue
        seen.add(key)
        looked.append(os.fspath(path))
        read = read_text(path)
        if read is not None:
            found.append((PolicyFile(os.fspath(path), is_fixed), _parse(path, read)))
    return replace(merge(found, fixed), places=tuple(looked))


def merge(found: list[tuple[PolicyFile, Policy]], fixed: str | None = None) -> Policy:
    """One policy from several files: a problem anywhere, or any lock off, locks off; a lock on
    holds only when no file says off; an unlocked off beats an unlocked on; the edition only from
    the fixed location (``fixed``, named in the warning about an edition found elsewhere)."""
    if not found:
        return Policy()
    files = tuple(file for file, _ in found)
    policies = [policy for _, policy in found]
    warnings = [w for policy in policies for w in policy.warnings]
    edition = next((p.edition for f, p in found if f.fixed and p.edition is not None), None)
    for file, policy in found:
        if (
            not file.fixed
            and policy.edition is not None
            and _name(policy.edition) != _name(edition)
        ):
            warnings.append(_ignored_edition(file, policy, fixed))
    first_problem = next((p for p in policies if p.problem), None)
    if first_problem is not None:
        # Locked off (fail closed); the fixed location's edition still stands: a broken file the
        # user planted along XDG_CONFIG_DIRS must not take the cloud edition away either.
        return replace(first_problem, warnings=tuple(warnings), files=files, edition=edition)
    locks_off = [p for p in policies if p.locked and p.telemetry == "off"]
    # Only the fixed location can impose "on": a file along XDG_CONFIG_DIRS is wherever the
    # environment points (a repository's .envrc can set it), so its lock on is at most the
    # machine's default, below every opt-out. A lock off anywhere still locks (restrictive wins).
    locks_on = [p for f, p in found if f.fixed and p.locked and p.telemetry == "on"]
    for file, policy in found:
        if not file.fixed and policy.locked and policy.telemetry == "on":
            warnings.append(_ignored_lock_on(file, policy, fixed))
    says_off = [p for p in policies if p.telemetry == "off"]
    first = policies[0]
    if locks_off:
        chosen = locks_off[0]
    elif locks_on and not says_off:
        chosen = locks_on[0]
    else:
        if locks_on:
            warnings.append(
                f"{locks_on[0].telemetry_origin} locks telemetry on, but "
                f"{says_off[0].telemetry_origin} says off: when policy files disagree the most "
                "restrictive wins, so the lock does not hold. Fix (for the administrator): "
                "say the same in both files, or remove one"
            )
        unlocked = [p for p in policies if p.telemetry is not None]
        default = says_off[0] if says_off else (unlocked[0] if unlocked else first)
        chosen = replace(default, locked=False)
    return replace(
        chosen,
        path=chosen.path or first.path,
        edition=edition,
        warnings=tuple(warnings),
        files=files,
    )


def _name(edition: Edition | None) -> str | None:
    return None if edition is None else edition.name


def _ignored_lock_on(file: PolicyFile, policy: Policy, fixed: str | None) -> str:
    where = f"the fixed system location ({fixed})" if fixed else "the fixed system location"
    return (
        f'{policy.telemetry_origin}: locked = true with telemetry = "on" is read as an unlocked '
        "default: only a file in "
        f"{where} can lock telemetry on, because a file along XDG_CONFIG_DIRS is wherever the "
        "environment points, so every opt-out still beats it. Fix: remove locked from "
        f"{printable(file.path)}, or (for an administrator) lock it in the fixed location"
    )


def _ignored_edition(file: PolicyFile, policy: Policy, fixed: str | None) -> str:
    assert policy.edition is not None
    where = f"the fixed system location ({fixed})" if fixed else "the fixed system location"
    return (
        f'{policy.edition.origin}: edition = "{policy.edition.name}" is ignored: the edition is '
        f"taken only from the tool's own code or {where}, because a file along XDG_CONFIG_DIRS "
        "is wherever the environment points (it must not turn tracking on against an "
        f"administrator's lock). Fix: remove edition from {printable(file.path)}, or (for an "
        "administrator) set it in the fixed location"
    )


def _bad(path: str, line: int | None, problem: str, fix: str) -> Policy:
    where = file_origin(path, line)
    return Policy(
        path=where,
        problem=problem,
        warnings=(f"{where}: {problem}; telemetry is treated as locked off. Fix: {fix}",),
    )


def _parse(path: str, read: FileText) -> Policy:
    fix = (
        'the file takes edition = "core"|"cloud", telemetry = "on"|"off", '
        "locked = true|false (ask your administrator)"
    )
    if read.problem:
        return _bad(path, None, f"the system policy file {read.problem}", fix)
    text = read.text or ""
    try:
        data = parse(text)
    except TomlProblem as exc:
        return _bad(path, exc.line, str(exc), fix)

    def at(key: str) -> str:
        return file_origin(path, key_line(text, key))

    unknown = [k for k in sorted(data) if k not in _KEYS]
    if unknown:
        # docs/decision.md: an unknown key is bad input and fails closed (a misspelt `locked` or
        # `telemetry` must not silently leave the machine unlocked).
        return _bad(path, key_line(text, unknown[0]), f"unknown key {shown(unknown[0])!r}", fix)
    edition = None
    if "edition" in data:
        if data["edition"] not in ("core", "cloud"):
            return _bad(
                path,
                key_line(text, "edition"),
                f'edition must be "core" or "cloud" (quoted), not '
                f"{shown(toml_text(data['edition']))}",
                fix,
            )
        edition = Edition(data["edition"], at("edition"))
    telemetry = data.get("telemetry")
    if telemetry is not None and telemetry not in ("on", "off"):
        return _bad(
            path,
            key_line(text, "telemetry"),
            f'telemetry must be "on" or "off" (quoted), not {shown(toml_text(telemetry))}',
            fix,
        )
    locked = data.get("locked", False)
    if not isinstance(locked, bool):
        return _bad(
            path,
            key_line(text, "locked"),
            f"locked must be true or false (no quotes), not {shown(toml_text(locked))}",
            fix,
        )
    if locked and telemetry is None:
        return _bad(
            path,
            key_line(text, "locked"),
            'locked = true needs telemetry = "on" or "off" to say what is locked',
            fix,
        )
    return Policy(
        path=os.fspath(path),
        edition=edition,
        telemetry=telemetry,
        telemetry_origin=at("telemetry") if telemetry is not None else path,
        locked=locked,
    )

"""What the layers read from, gathered once per decision: :class:`ReadContext`, with what more
than one layer needs (the system policy, the edition, the project layer), read once.

It sits between the layers, which read from it, and what it reads with (the readings, the policy
file): it imports no layer."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, TypeVar

from ._model import Edition

if TYPE_CHECKING:
    from ._model import Layer
    from .policy_file import Policy
    from .profile import AppProfile
    from .readings import Reading

__all__ = ["EDITIONS", "ReadContext"]

_T = TypeVar("_T")

EDITIONS = ("core", "cloud")


class ReadContext(NamedTuple):
    """One decision's inputs: the profile, the environment, the working directory, and what the
    host passed in. Built once per :func:`consent.decide`; every layer reads from it.

    What more than one layer needs is read once and kept here (:attr:`policy`, :attr:`edition`,
    :meth:`project`). A NamedTuple rather than a frozen dataclass: every host builds one at
    start-up, and defining a dataclass costs about a millisecond.
    """

    profile: AppProfile
    env: Mapping[str, str]
    #: The working directory; None when it was deleted under the process.
    cwd: str | None
    #: The host's own flag for this run (None: no opinion).
    host_flag: bool | None
    #: The edition the host's code passed (None: not passed), checked by the edition layers.
    host_edition: str | None
    #: What was read once and is shared (see :meth:`once`).
    memo: dict[str, Any]
    #: The project directory named on the command line (``status --project-dir``): its project
    #: file is read exactly, with no upward search. None: the profile's variables, else the
    #: search upward from :attr:`cwd`.
    project_dir: str | None = None

    @classmethod
    def now(
        cls,
        profile: AppProfile,
        *,
        host_flag: bool | None = None,
        edition: str | None = None,
        cwd: str | None = None,
        env: Mapping[str, str] | None = None,
        project_dir: str | None = None,
    ) -> ReadContext:
        """The context of a decision made now: ``env`` defaults to ``os.environ``, ``cwd`` to
        the working directory (None if it no longer exists)."""
        if cwd is None:
            try:
                cwd = os.getcwd()
            except FileNotFoundError:
                cwd = None
        return cls(
            profile, os.environ if env is None else env, cwd, host_flag, edition, {}, project_dir
        )

    def once(self, key: str, read: Callable[[], _T]) -> _T:
        """``read()``, called at most once for this context."""
        if key not in self.memo:
            self.memo[key] = read()
        value: _T = self.memo[key]
        return value

    @property
    def reading(self) -> Reading:
        """How this profile's values are read (docs/decision.md, "Two readings")."""
        from .readings import reading_of

        return reading_of(self.profile)

    @property
    def policy(self) -> Policy:
        """The administrator's system policy, read once: the admin lock, the system default and
        the choice of the edition share it. Every file: the fixed location's and those along
        ``XDG_CONFIG_DIRS``, merged (the most restrictive wins)."""
        from .policy_file import read_policy

        return self.once(
            "policy",
            lambda: read_policy(
                self.profile.system_policy_paths(), self.profile.fixed_policy_path()
            ),
        )

    @property
    def edition(self) -> Edition:
        """The edition of this run: the host's, else the policy's, else the profile's default."""
        return self._edition()[0]

    @property
    def edition_warnings(self) -> tuple[str, ...]:
        return self._edition()[1]

    def _edition(self) -> tuple[Edition, tuple[str, ...]]:
        return self.once("edition", self._choose_edition)

    def _choose_edition(self) -> tuple[Edition, tuple[str, ...]]:
        """The edition of this run and where it came from, with a warning if the host's was
        bad. Never from a file the user controls (docs/decision.md, "The edition")."""
        host = self.host_edition
        warnings: tuple[str, ...] = ()
        if host is not None and host not in EDITIONS:
            warnings = (
                f'the host passed edition={host!r}, which is not "core" or "cloud"; it is '
                'ignored. Fix (for the tool\'s author): pass edition="core" or "cloud"',
            )
            host = None
        if host is not None:
            return Edition("cloud" if host == "cloud" else "core", "host"), warnings
        # A host that never reads the system policy (dbt) never takes an edition from it either.
        policy = self.policy if self.reading.reads("admin_lock") else None
        if policy is not None and policy.edition is not None:
            return policy.edition, warnings
        default: Literal["core", "cloud"] = (
            "cloud" if self.profile.default_edition == "cloud" else "core"
        )
        return Edition(default, "default"), warnings

    def project(self) -> tuple[Layer, list[str]]:
        """The project layer as the profile's reading reads it, and the files it read."""
        cwd = self.cwd
        assert cwd is not None, "no project is looked up without a working directory"
        return self.once(
            "project",
            lambda: self.reading.project(self.profile, self.env, cwd, self.project_dir),
        )

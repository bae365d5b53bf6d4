"""Where a host finds its project file and its user-wide ``profiles.yml``: one answer, shared.

The project layer's two readings (:mod:`consent.readings`), ``telemetry enable/disable
--project`` and the tracker's re-checks all ask here, so that what is read, what is written and
what is watched are the same files. The rules are dbt-core's (1.10 and 1.12 alike), since the
built-in profile mirrors dbt and a tool's own profile has no reason to differ:

- the project: ``--project-dir``, else the first non-empty of the profile's project-dir
  variables (exactly that directory, relative to the cwd), else the nearest file upward;
- ``profiles.yml``: the first non-empty of the profile's profiles-dir variables, taken as click
  takes a path (relative to the cwd, ``~`` not expanded: only a shell expands it), else the cwd
  when it holds the file, else ``~/.dbt``. It never follows the project directory.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from .profile import AppProfile, LegacyFlagFile

__all__ = ["ProfilesAt", "ProjectAt", "find_project_file", "locate_profiles", "locate_project"]

_MAX_DEPTH_SEARCH = 64


def find_project_file(start: str, names: tuple[str, ...]) -> str | None:
    """The nearest file called one of ``names``, from ``start`` upward to the filesystem root."""
    here = os.path.abspath(start)
    for _ in range(_MAX_DEPTH_SEARCH):
        for name in names:
            candidate = os.path.join(here, name)
            if os.path.lexists(candidate):
                return candidate
        parent = os.path.dirname(here)
        if parent == here:
            return None
        here = parent
    return None


class ProjectAt(NamedTuple):
    """Where a project's file is, as the host finds it.

    Named (``--project-dir``, or a profile's variable such as ``DBT_PROJECT_DIR``): exactly that
    directory's file, no upward search and no fallback (dbt-core reads
    ``<project-dir>/dbt_project.yml`` and nothing else). Not named: the nearest file upward from
    the working directory.
    """

    #: The project file to read; None when there is none (there, or from the cwd upward).
    path: str | None
    #: What named the directory: ``--project-dir`` or the variable; None when searched upward.
    named_by: str | None = None
    #: The value as given, and the directory it names (relative values: against the cwd).
    raw: str | None = None
    directory: str | None = None

    @property
    def missing(self) -> bool:
        """The named directory does not exist (dbt refuses to run: click's ``exists=True``)."""
        return self.directory is not None and not os.path.exists(self.directory)


def locate_project(
    profile: AppProfile, env: Mapping[str, str], cwd: str, project_dir: str | None = None
) -> ProjectAt:
    """Where ``profile``'s host finds its project: ``project_dir`` (the command line), else the
    first non-empty of the profile's project-dir variables, else the search upward from ``cwd``."""
    named_by, raw = None, None
    if project_dir is not None:
        named_by, raw = "--project-dir", project_dir
    else:
        # click: an empty variable is unset; the first non-empty one of the list counts.
        named_by, raw = next(
            ((name, env[name]) for name in profile.project_dir_envs if env.get(name)),
            (None, None),
        )
    if named_by is None or raw is None:
        return ProjectAt(find_project_file(cwd, profile.project_files))
    # Relative to the working directory, as dbt's click path is; normalised as dbt reads it.
    directory = os.path.normpath(os.path.join(cwd, raw)) if raw.strip() else os.path.join(cwd, raw)
    path = None
    if os.path.isdir(directory):
        path = next(
            (
                os.path.join(directory, name)
                for name in profile.project_files
                if os.path.exists(os.path.join(directory, name))
            ),
            None,
        )
    return ProjectAt(path, named_by, raw, directory)


class ProfilesAt(NamedTuple):
    """Where the profile's user-wide file (dbt: ``profiles.yml``) is looked for, and why there."""

    #: The directory, as the host takes it (a variable's value joined to the cwd, unexpanded).
    directory: str
    #: The file in it (which may not exist).
    path: str
    #: The variable that named the directory; ``cwd`` or ``home`` when none did.
    found_by: str
    #: The variable's value as given (None when no variable named the directory).
    raw: str | None = None

    @property
    def named(self) -> bool:
        return self.raw is not None

    @property
    def missing(self) -> bool:
        """A variable names a directory that does not exist (dbt refuses to run: click's
        ``--profiles-dir`` must exist)."""
        return self.named and not os.path.exists(self.directory)


def locate_profiles(legacy: LegacyFlagFile, env: Mapping[str, str], cwd: str) -> ProfilesAt:
    """dbt-core's profiles dir: ``DBT_ENGINE_PROFILES_DIR`` / ``DBT_PROFILES_DIR`` (click's
    path: relative to the cwd, ``~`` left as written), else the cwd if it holds profiles.yml
    (``Path.exists``: a dangling link does not count), else ``~/.dbt`` (``Path.home()``)."""
    # dbt 1.12 reads DBT_ENGINE_PROFILES_DIR first; click takes the first non-empty one.
    named = next((name for name in legacy.dir_envs if env.get(name)), None)
    if named is not None:
        directory = os.path.join(cwd, env[named])
        return ProfilesAt(directory, os.path.join(directory, legacy.file_name), named, env[named])
    if legacy.look_in_cwd and os.path.exists(os.path.join(cwd, legacy.file_name)):
        return ProfilesAt(cwd, os.path.join(cwd, legacy.file_name), "cwd")
    home = os.path.join(os.path.expanduser("~"), legacy.home_subdir or "")
    return ProfilesAt(home, os.path.join(home, legacy.file_name), "home")

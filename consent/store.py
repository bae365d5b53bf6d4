"""Writing a user's choice: the user config (atomically, 0600) or the project file (in place).

The project file is edited with ruamel.yaml's round-trip mode so its comments, key order and
layout survive; only ``flags.send_anonymous_usage_stats`` changes (``flags:`` is added if absent).
Both writes go through a temp file and a rename, so concurrent writers and a crash mid-write leave
either the old file or the new one, never half of one.
"""

from __future__ import annotations

import io
import os

from ._atomic import atomic_write
from .errors import NoProjectFile, WriteError
from .profile import AppProfile
from .sources.project import find_project_file
from .sources.user import USER_KEY

_HEADER = """\
# Your choice about {app}'s anonymous usage statistics, written by `telemetry {verb}`.
# `telemetry status` shows every setting that applies and which one decides.
"""


def write_user_choice(profile: AppProfile, enabled: bool) -> str:
    """Write the user config; return its path. Raises :class:`WriteError` with the fix."""
    path = profile.user_config_path()
    verb = "enable" if enabled else "disable"
    text = _HEADER.format(app=profile.label, verb=verb) + f"{USER_KEY} = {str(enabled).lower()}\n"
    try:
        if os.path.isdir(path) and not os.path.islink(path):
            raise IsADirectoryError(21, "Is a directory")
        atomic_write(path, text.encode())
    except OSError as exc:
        raise WriteError(
            f"{path}: could not write your choice ({exc.strerror or exc}); nothing was changed. "
            f"Fix: make {os.path.dirname(path)} writable (or remove what is in the way), "
            f"or set {profile.env_var}={str(enabled).lower()} in your environment"
        ) from exc
    return path


def project_file_for(profile: AppProfile, cwd: str | None = None) -> str:
    cwd = os.getcwd() if cwd is None else cwd
    path = find_project_file(cwd, profile.project_files)
    if path is None:
        raise NoProjectFile(
            f"no {' or '.join(profile.project_files)} found from {cwd} upward, so there is no "
            "project to write to. Fix: run this inside the project, or use --global"
        )
    return path


def write_project_choice(profile: AppProfile, enabled: bool, cwd: str | None = None) -> str:
    """Set the flag in the nearest project file, keeping everything else; return the path."""
    from ruamel.yaml import YAML
    from ruamel.yaml.comments import CommentedMap
    from ruamel.yaml.error import YAMLError

    path = project_file_for(profile, cwd)
    target = os.path.realpath(path)  # a symlinked project file is edited where it really lives
    dotted = ".".join(profile.flag_key_path)
    try:
        with open(target, encoding="utf-8") as fh:
            original = fh.read()
        mode = os.stat(target).st_mode & 0o777
    except (OSError, UnicodeDecodeError) as exc:
        raise WriteError(f"{path}: cannot be read ({exc}); nothing was changed. "
                         "Fix: make it a readable UTF-8 file") from exc
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 4096
    try:
        data = yaml.load(original)
    except YAMLError as exc:
        raise WriteError(f"{path}: is not valid YAML, so it was not edited ({str(exc).splitlines()[0]}). "
                         f"Fix: correct the YAML, then run the command again") from exc
    if data is None:
        data = CommentedMap()
    if not isinstance(data, dict):
        raise WriteError(f"{path}: the document is not a mapping, so {dotted} cannot be set. "
                         "Fix: correct the file, then run the command again")
    node = data
    for key in profile.flag_key_path[:-1]:
        child = node.get(key)
        if child is None:
            child = CommentedMap()
            node[key] = child
        if not isinstance(child, dict):
            raise WriteError(f"{path}: {key} is not a mapping, so {dotted} cannot be set. "
                             f"Fix: make {key}: a mapping, then run the command again")
        node = child
    node[profile.flag_key_path[-1]] = enabled
    out = io.StringIO()
    yaml.dump(data, out)
    try:
        atomic_write(target, out.getvalue().encode("utf-8"), mode=mode)
    except OSError as exc:
        raise WriteError(f"{path}: could not be written ({exc.strerror or exc}); nothing was "
                         "changed. Fix: make the file and its directory writable") from exc
    return path

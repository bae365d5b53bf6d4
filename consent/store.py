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


def _line_start(text: str, index: int) -> int:
    return text.rfind("\n", 0, index) + 1


def _block(key_path: tuple[str, ...], word: str, indent: str, step: str = "  ") -> str:
    lines = [f"{indent}{step * i}{key}:" for i, key in enumerate(key_path)]
    lines[-1] += f" {word}"
    return "\n".join(lines) + "\n"


def edit_flag_text(text: str, key_path: tuple[str, ...], enabled: bool) -> str | None:
    """The smallest text edit that sets the flag, or None when only a full re-dump can.

    Touches one token or inserts lines; every other byte of the file stays as the user wrote it
    (indentation style, blank lines, comments, quoting). The caller checks the result re-reads
    as intended.
    """
    import yaml

    word = "true" if enabled else "false"
    try:
        node = yaml.compose(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError:
        return None
    if node is None or (isinstance(node, yaml.ScalarNode) and node.value == ""):
        sep = "" if not text or text.endswith("\n") else "\n"
        return text + sep + _block(key_path, word, "")
    for depth, key in enumerate(key_path):
        if not isinstance(node, yaml.MappingNode) or node.flow_style:
            return None
        child = next((v for k, v in node.value
                      if isinstance(k, yaml.ScalarNode) and k.value == key), None)
        if child is None:
            remaining = key_path[depth:]
            if not node.value:
                return None
            if depth == 0:
                sep = "" if text.endswith("\n") else "\n"
                return text + sep + _block(remaining, word, "")
            first_key = node.value[0][0]
            at = _line_start(text, first_key.start_mark.index)
            indent = " " * first_key.start_mark.column
            return text[:at] + _block(remaining, word, indent) + text[at:]
        if depth == len(key_path) - 1:
            if not isinstance(child, yaml.ScalarNode) or child.style not in (None, ""):
                return None
            start, end = child.start_mark.index, child.end_mark.index
            if child.tag == "tag:yaml.org,2002:null" and start == end:
                return text[:start] + " " + word + text[end:] if text[start - 1:start] == ":" \
                    else text[:start] + word + text[end:]
            return text[:start] + word + text[end:]
        node = child
    return None


def write_project_choice(profile: AppProfile, enabled: bool, cwd: str | None = None) -> str:
    """Set the flag in the nearest project file, keeping everything else; return the path."""
    path = project_file_for(profile, cwd)
    target = os.path.realpath(path)  # a symlinked project file is edited where it really lives
    try:
        with open(target, encoding="utf-8") as fh:
            original = fh.read()
        mode = os.stat(target).st_mode & 0o777
    except (OSError, UnicodeDecodeError) as exc:
        raise WriteError(f"{path}: cannot be read ({exc}); nothing was changed. "
                         "Fix: make it a readable UTF-8 file") from exc
    edited = edit_flag_text(original, profile.flag_key_path, enabled)
    if edited is not None and _reads_as(edited, profile.flag_key_path, enabled):
        return _save(path, target, edited, mode)
    return _save(path, target, _redump(path, original, profile, enabled), mode)


def _reads_as(text: str, key_path: tuple[str, ...], enabled: bool) -> bool:
    """Whether ``text`` reads back with the flag set as asked (checked with the real reader)."""
    from .sources.project import flag_in_text

    found = flag_in_text(text, key_path)
    return found.problem is None and found.opinion == ("on" if enabled else "off")


def _save(path: str, target: str, text: str, mode: int) -> str:
    try:
        atomic_write(target, text.encode("utf-8"), mode=mode)
    except OSError as exc:
        raise WriteError(f"{path}: could not be written ({exc.strerror or exc}); nothing was "
                         "changed. Fix: make the file and its directory writable") from exc
    return path


def _redump(path: str, original: str, profile: AppProfile, enabled: bool) -> str:
    """Fallback for layouts a text edit cannot handle (flow mappings…): a ruamel round trip."""
    from ruamel.yaml import YAML
    from ruamel.yaml.comments import CommentedMap
    from ruamel.yaml.error import YAMLError

    dotted = ".".join(profile.flag_key_path)
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
    return out.getvalue()

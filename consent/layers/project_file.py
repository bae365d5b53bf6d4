"""The project's choice: ``flags: send_anonymous_usage_stats`` in the nearest project file,
read and written here (docs/decision.md, "Project file").

Reading: the nearest project file from the working directory upward (and the profile's
deprecated place, dbt's ``profiles.yml`` ``config:`` block), found by
:mod:`consent.project_location` and parsed by the profile's reading
(:meth:`consent.readings.base.Reading.project`): :mod:`consent.readings.strict` fails closed,
:mod:`consent.readings.dbt` reads the files as dbt-core does.

Writing (``telemetry enable/disable --project``): the file is edited as text
(:mod:`consent._yaml_edit`): the flag's value changes or its lines are added, and every other
byte stays as the user wrote it. Where no such edit exists, or the edit would leave the host in
a state it refuses (dbt stops when ``flags:`` in dbt_project.yml and ``config:`` in profiles.yml
are both set), nothing is written and :class:`~consent.errors.EditRefused` says why and what to
do instead. Only a regular file inside the project is edited: a FIFO, a device or a directory is
refused without waiting on it, and so is a symlink that leads out of the project's directory (an
edit must not land in ``~/.kube/config``); a symlink within it is edited where it points, and
named ``link → file``. Writes go through a temp file and a rename of the file pointed to
(:func:`consent.files.atomic_write`), so the link stays a link.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, NamedTuple

from .._model import Layer, file_origin
from .._yaml import flag_in_text
from .._yaml_edit import NoMinimalEdit, delete_key, load, same_apart_from, set_flag
from ..errors import EditRefused, NoProjectFile, WriteError
from ..files import MAX_BYTES, NotRegularFile, atomic_write, read_regular
from ..project_location import locate_profiles, locate_project
from ..readings import reading_of
from ..values import printable
from .base import LayerSource, Step, Want, Written, command

if TYPE_CHECKING:
    from ..context import ReadContext
    from ..profile import AppProfile

__all__ = ["ProjectFile", "project_file_for", "write_project_choice"]

#: The project layer when the working directory was deleted under the process.
_NO_CWD = (
    "the working directory no longer exists (it was deleted or moved), so no project "
    "file can be looked up"
)


class ProjectFile(LayerSource):
    """The nearest project file's flag. With the user config it stands at one level, where an
    opt-out sticks: a project can turn telemetry off for everyone in it, but cannot turn it back
    on for a user who turned it off."""

    name = "project_file"
    title = "project file"
    level = "project and user"
    below_user = True
    lasting = True
    scope = "project"

    def read(self, ctx: ReadContext) -> Layer:
        if ctx.cwd is None:
            return Layer(
                self.name,
                "off",
                status="error",
                detail=_NO_CWD,
                warnings=(f"{_NO_CWD}; treated as off. Fix: cd to an existing directory",),
            )
        return ctx.project()[0]

    def watched(self, ctx: ReadContext) -> tuple[str, ...]:
        return () if ctx.cwd is None else tuple(ctx.project()[1])

    def describe(self, layer: Layer) -> str:
        if layer.legacy:
            return f"the deprecated user-wide setting in {layer.origin}"
        return super().describe(layer)

    def repair(self, layer: Layer, want: Want, profile: AppProfile | None) -> Step:
        if layer.raw is not None:
            # The YAML is fine, only the value is wrong: the command rewrites it.
            return self._write_step(want, profile)
        return super().repair(layer, want, profile)

    def change(self, layer: Layer, want: Want, profile: AppProfile | None) -> Step:
        if layer.legacy:
            # A user-wide setting in the host's deprecated place (dbt: profiles.yml's config:):
            # `enable --project` must not write beside it (dbt refuses both), and a project must
            # not undo a user-wide opt-out, so the step is to change that file itself.
            legacy = profile.legacy_flag_file if profile else None
            key = legacy.key_path[-1] if legacy else "the setting"
            return Step(
                f"remove {key} from {layer.origin} (it applies to all your projects)",
                self.name,
                None,
            )
        return self._write_step(want, profile)

    def _write_step(self, want: Want, profile: AppProfile | None) -> Step:
        verb = "enable" if want == "on" else "disable"
        return Step(f"{command(profile)} {verb} --project", self.name, want)

    def write(self, ctx: ReadContext, enabled: bool) -> Written:
        """``telemetry enable/disable --project``: see :func:`write_project_choice`."""
        return write_project_choice(ctx.profile, enabled, ctx.cwd, ctx.env)


# -- writing (``telemetry enable/disable --project``) ----------------------------------------------
def project_file_for(
    profile: AppProfile,
    cwd: str | None = None,
    env: Mapping[str, str] | None = None,
    project_dir: str | None = None,
) -> str:
    """The project file ``--project`` writes: the one the host reads (a directory named by
    ``project_dir`` or the profile's variable, else the nearest one upward)."""
    cwd = os.getcwd() if cwd is None else cwd
    at = locate_project(profile, os.environ if env is None else env, cwd, project_dir)
    path = at.path
    if path is None and at.named_by is not None:
        state = "does not exist" if at.missing else f"holds no {' or '.join(profile.project_files)}"
        raise NoProjectFile(
            f"{at.named_by}={printable(at.raw)} names {printable(at.directory)}, which {state}, "
            "so there is no project to write to (the host reads only that directory's file). "
            f"Fix: point {at.named_by} at the project's directory, or unset it"
        )
    if path is None:
        # --global is no way out for a host that never reads our user config (dbt).
        elsewhere = (
            ", or use --global"
            if reading_of(profile).reads("user_config")
            else f" (dbt reads no user-wide setting of ours: `{command(profile)} disable --shell` "
            "opts you out in every new shell)"
        )
        raise NoProjectFile(
            f"no {' or '.join(profile.project_files)} found from {cwd} upward, so there is no "
            f"project to write to. Fix: run this inside the project{elsewhere}"
        )
    return path


class _Text(NamedTuple):
    path: str
    target: str
    text: str
    bom: str
    mode: int


def _shown(path: str, target: str) -> str:
    """``path`` as messages name it; a symlink as ``link → the file edited``, the target under
    the directory as the user reached it (``…/dbt_project.yml → …/conf/dbt_project.yml``)."""
    where = os.path.dirname(os.path.abspath(path))
    real_dir = os.path.realpath(where)
    if target == os.path.join(real_dir, os.path.basename(path)):
        return path
    inside = os.path.commonpath([real_dir, target]) == real_dir
    return (
        f"{path} → {os.path.join(where, os.path.relpath(target, real_dir)) if inside else target}"
    )


def _read_for_edit(
    path: str, what: str, *, writing: bool = True, in_its_directory: bool = False
) -> _Text:
    """The file's text exactly as stored (no newline translation), or the reason to refuse.

    Only a regular file is edited: a FIFO, a device, a directory is refused, never waited on. A
    symlinked file is edited where it points; ``in_its_directory``: only when that is inside the
    directory holding ``path`` (a project's file must not take the edit out of the project).
    ``writing=False``: only read it for now (a read-only file is refused later, if written)."""
    target = os.path.realpath(path)
    if in_its_directory:
        _refuse_a_link_out_of_its_directory(path, target)
    try:
        raw, st = read_regular(target)
    except NotRegularFile as exc:
        raise EditRefused(
            f"{_shown(path, target)} is {exc.kind}, not a regular file, so it cannot be edited "
            f"safely; nothing was written. Fix: replace it by a regular {what}, then run the "
            "command again"
        ) from exc
    except OSError as exc:
        if isinstance(exc, FileNotFoundError) and os.path.islink(path):
            raise EditRefused(
                f"{path} is a symlink to {target}, which does not exist; nothing was written. "
                f"Fix: restore the file it points to, or replace the link by a regular {what}"
            ) from exc
        if exc.errno == errno.ELOOP:
            raise EditRefused(
                f"{path} is a symlink loop (it never reaches a file); nothing was written. "
                f"Fix: replace the link by a regular {what}"
            ) from exc
        raise WriteError(
            f"{path}: cannot be read ({exc.strerror or exc}); nothing was changed. "
            f"Fix: make it a readable {what}"
        ) from exc
    size = max(st.st_size, len(raw))
    if size > MAX_BYTES:
        raise EditRefused(
            f"{path}: the file is {size:,} bytes, over the 1 MB limit of what is read or "
            "edited, so it was left as it is; nothing was written. Fix: make it smaller, or set "
            "the flag in it by hand"
        )
    file_mode = stat.S_IMODE(st.st_mode)
    if writing:
        _check_writable(path, target, file_mode)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise EditRefused(
            f"{path}: the file is not UTF-8 text (byte {exc.start}), so it was "
            f"left as it is; nothing was written. Fix: make it a UTF-8 {what}"
        ) from exc
    bom = "\ufeff" if text.startswith("\ufeff") else ""
    return _Text(path, target, text[len(bom) :], bom, file_mode)


def _refuse_a_link_out_of_its_directory(path: str, target: str) -> None:
    """Refuse to edit ``path`` when it resolves to ``target`` outside the directory holding it."""
    where = os.path.dirname(os.path.abspath(path))
    real_dir = os.path.realpath(where)
    if os.path.commonpath([real_dir, target]) != real_dir:
        raise EditRefused(
            f"{path} is a symlink to {target}, outside the project ({where}), so it was left "
            "as it is; nothing was written. Fix: edit that file yourself if it is the "
            "project's, or replace the link by a regular file with the project's settings"
        )


def _check_writable(path: str, target: str, mode: int) -> None:
    # Root may write anything: the mode bits still say what the owner meant.
    if not (os.access(target, os.W_OK) and mode & 0o222):
        raise WriteError(
            f"{path}: the file is read-only (mode {mode:o}), so it was left as it is; nothing "
            f"was changed. Fix: chmod u+w {path} if it should be changed, then run the command "
            "again"
        )


def _edited(
    file: _Text, key_path: tuple[str, ...], new_text: str, check: Callable[[str], bool]
) -> bytes:
    if not same_apart_from(file.text, new_text, key_path) or not check(new_text):
        raise EditRefused(
            f"{file.path}: no edit of the flag alone gives the asked-for result, so "
            "the file was left as it is; nothing was written. Fix: set "
            f"{': '.join(key_path)} in it by hand"
        )  # pragma: no cover - a bug
    return (file.bom + new_text).encode("utf-8")


def _save(file: _Text, data: bytes) -> None:
    try:
        atomic_write(file.target, data, mode=file.mode)
    except OSError as exc:
        raise WriteError(
            f"{file.path}: could not be written ({exc.strerror or exc}); nothing "
            "was changed. Fix: make the file and its directory writable"
        ) from exc


def write_project_choice(
    profile: AppProfile, enabled: bool, cwd: str | None = None, env: Mapping[str, str] | None = None
) -> Written:
    """Set the flag in the nearest project file, keeping every other byte.

    Refuses (:class:`EditRefused`, nothing written) when no minimal edit exists, and when the
    profile's legacy file (dbt: ``profiles.yml``) has a ``config:`` block, beside which dbt
    refuses any ``flags:`` — except that a legacy ``true`` alone is removed first (it is dbt's
    default, so no other project changes), which the returned notes say.
    """
    cwd = os.getcwd() if cwd is None else cwd
    path = project_file_for(profile, cwd, env)
    project = _read_for_edit(path, "YAML file", in_its_directory=True)
    word = "true" if enabled else "false"
    try:
        new_text = set_flag(project.text, profile.flag_key_path, word)
    except NoMinimalEdit as exc:
        fix = exc.fix or f"set {': '.join(profile.flag_key_path)}: {word} in it by hand"
        raise EditRefused(
            f"{path}: {exc}, so the flag cannot be set by a minimal edit; the file was left as "
            f"it is and nothing was written. Fix: {fix}"
        ) from exc
    data = _edited(
        project,
        profile.flag_key_path,
        new_text,
        lambda text: _reads_as(text, profile.flag_key_path, enabled),
    )
    notes: tuple[str, ...] = ()
    if profile.legacy_flag_file is not None:
        notes = _clear_the_legacy_place(
            profile, enabled, cwd, os.environ if env is None else env, path
        )
    _save(project, data)
    return Written(_shown(path, project.target), notes)


def _clear_the_legacy_place(
    profile: AppProfile, enabled: bool, cwd: str, env: Mapping[str, str], project_path: str
) -> tuple[str, ...]:
    """Make sure writing the project flag will not create dbt's "both set" refusal."""
    legacy = profile.legacy_flag_file
    assert legacy is not None
    # The very file the dbt reading reads (and dbt itself): one locator for both.
    legacy_path = locate_profiles(legacy, env, cwd).path
    if not os.path.isfile(legacy_path):
        return ()
    file = _read_for_edit(legacy_path, "YAML file", writing=False)
    try:
        data = load(file.text)
    except NoMinimalEdit:
        # dbt cannot read it either, and then ignores every project's flags: (status says so).
        return ()
    block_name, key = legacy.key_path[0], legacy.key_path[-1]
    config = data.get(block_name) if isinstance(data, dict) else None
    if not config or not isinstance(config, dict):
        return ()
    line = flag_in_text(file.text, legacy.key_path).line
    at = file_origin(legacy_path, line)
    if set(config) == {key} and config[key] is False:
        if enabled:
            raise EditRefused(
                f"refused: {at} turns telemetry off for all your projects ({block_name}: {key}: "
                f"false), and a project must not undo a user-wide opt-out; writing "
                f"{profile.flag_key_path[0]}: to {project_path} as well would also make dbt "
                f"refuse to run. Nothing was written. Fix: change line {line} of {legacy_path} "
                "to true, or delete it (it is deprecated), if you mean to opt back in"
            )
        raise EditRefused(
            f"refused: {at} already turns telemetry off for all your projects ({block_name}: "
            f"{key}: false), and writing {profile.flag_key_path[0]}: to {project_path} as well "
            "would make dbt refuse to run. Nothing was written. Fix: to opt out for everyone "
            f"in the project instead, delete line {line} of {legacy_path}, then run the command "
            "again"
        )
    if set(config) == {key} and config[key] is True:
        # true is dbt's default: removing it changes no project, and ends the deprecated block.
        try:
            new_text = delete_key(file.text, legacy.key_path)
        except NoMinimalEdit:
            pass
        else:
            _check_writable(file.path, file.target, file.mode)
            _save(file, _edited(file, legacy.key_path, new_text, lambda _: True))
            return (
                f"Removed {key}: true from {at} (dbt's default, so no other project changes; "
                f"dbt refuses to run with both {block_name}: there and "
                f"{profile.flag_key_path[0]}: in {project_path}).",
            )
    raise EditRefused(
        f"refused: {legacy_path} has a {block_name}: block ({', '.join(sorted(map(str, config)))})"
        f", and dbt refuses to run when {project_path} has {profile.flag_key_path[0]}: too. "
        f"Nothing was written. Fix: move what is under {block_name}: to "
        f"{profile.flag_key_path[0]}: in {project_path}, delete {block_name}: from "
        f"{legacy_path}, then run the command again"
    )


def _reads_as(text: str, key_path: tuple[str, ...], enabled: bool) -> bool:
    """Whether ``text`` reads back with the flag set as asked (checked with the real reader)."""
    found = flag_in_text(text, key_path)
    return found.problem is None and found.opinion == ("on" if enabled else "off")

"""The layers both readings build alike: a flag found in a file, a named project directory that
gives no file, an unset variable. Only where the readings agree; where they differ, each has
its own (:mod:`consent.readings.strict`, :mod:`consent.readings.dbt`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._model import Layer, file_origin
from ..values import printable, shown

if TYPE_CHECKING:
    from .._yaml import Found
    from ..profile import AppProfile
    from ..project_location import ProjectAt

__all__ = ["do_not_track_no_opinion", "layer_from", "named_dir_layer", "unset_layer"]


def do_not_track_no_opinion(raw: str) -> Layer:
    """``DO_NOT_TRACK`` set to a false word, as both readings take it: no opinion, never "on"."""
    return Layer(
        "do_not_track",
        None,
        shown(raw),
        "DO_NOT_TRACK",
        detail="a false value means no opinion (it never turns tracking on)",
    )


def unset_layer(names: tuple[str, ...], empty: list[str]) -> Layer:
    """The env_var layer when no variable gives a value: unset, or set but empty (shown as such:
    a user who exported it empty must not read "not set" and think it is missing)."""
    if empty:
        return Layer(
            "env_var",
            None,
            "",
            empty[0],
            detail=f"{' and '.join(empty)} {'is' if len(empty) == 1 else 'are'} set but "
            "empty, which means not set",
        )
    return Layer("env_var", detail=f"{' / '.join(names)} not set")


def layer_from(path: str, found: Found, key_path: tuple[str, ...]) -> Layer:
    """The project layer for what ``path`` says at ``key_path``."""
    path = printable(path) or path  # from the filesystem or DBT_PROFILES_DIR: anything, any size
    origin = file_origin(path, found.line)
    if found.problem:
        message = f"{origin}: {found.problem}; treated as off. Fix: {found.fix}"
        return Layer(
            "project_file",
            "off",
            shown(found.raw),
            origin,
            status="error",
            detail=found.problem,
            warnings=(message,),
        )
    if found.opinion is None:
        return Layer("project_file", None, None, path, detail=f"no {'.'.join(key_path)} set")
    return Layer("project_file", found.opinion, shown(found.raw), origin)


def named_dir_layer(at: ProjectAt, profile: AppProfile) -> Layer | None:
    """The project layer when a named directory gives no project file to read (None: it does).

    A directory that does not exist is an error (the strict reading fails closed; the dbt reading
    marks it as a refusal); an existing one without the file: no opinion, and no upward search.
    """
    if at.named_by is None or at.path is not None:
        return None
    shown_dir = printable(at.directory)
    if at.missing:
        problem = f"{at.named_by}={shown(at.raw)} names {shown_dir}, which does not exist"
        return Layer(
            "project_file",
            "off",
            shown(at.raw),
            at.named_by,
            status="error",
            detail=problem,
            warnings=(
                f"{problem}; treated as off. Fix: point {at.named_by} at the project's "
                "directory, or unset it",
            ),
        )
    return Layer(
        "project_file",
        None,
        None,
        shown_dir,
        detail=f"no {' or '.join(profile.project_files)} in {shown_dir} (named by "
        f"{at.named_by}; no upward search), so no project setting applies",
    )

"""Layers read from the environment and from the host's own flag."""

from __future__ import annotations

from collections.abc import Mapping

from .._model import Layer
from .._values import FALSE_WORDS, TRUE_WORDS, env_bool, opinion_of, shown

NOT_A_BOOLEAN = "it is not a true/false value"


def unset_layer(names: tuple[str, ...], empty: list[str]) -> Layer:
    """The env_var layer when no variable gives a value: unset, or set but empty (shown as such:
    a user who exported it empty must not read "not set" and think it is missing)."""
    if empty:
        return Layer("env_var", None, "", empty[0],
                     detail=f"{' and '.join(empty)} {'is' if len(empty) == 1 else 'are'} set but "
                            "empty, which means not set")
    return Layer("env_var", detail=f"{' / '.join(names)} not set")


def host_flag_layer(value: bool | None, flag_name: str) -> Layer:
    if value is None:
        return Layer("host_flag", detail="not passed")
    return Layer("host_flag", opinion_of(value), str(value).lower(), flag_name)


def do_not_track_layer(env: Mapping[str, str]) -> Layer:
    """``DO_NOT_TRACK``: a true spelling means off; a false spelling is *no opinion*, never "on"."""
    raw = env.get("DO_NOT_TRACK")
    if raw is None:
        return Layer("do_not_track", detail="not set")
    flag = env_bool(raw)
    if flag is True:
        return Layer("do_not_track", "off", shown(raw), "DO_NOT_TRACK")
    if flag is False:
        return Layer(
            "do_not_track", None, shown(raw), "DO_NOT_TRACK",
            detail="a false value means no opinion (it never turns tracking on)",
        )
    # It was read: it is simply not a true/false word. Off, because the likeliest meaning of
    # setting DO_NOT_TRACK at all is "do not track".
    message = (
        f"DO_NOT_TRACK={shown(raw)!s} in the environment is not a true/false value; treated as "
        "off. Fix: set DO_NOT_TRACK=1 to opt out, or unset it."
    )
    return Layer(
        "do_not_track", "off", shown(raw), "DO_NOT_TRACK", status="error",
        detail=f"{NOT_A_BOOLEAN} ({', '.join(sorted(TRUE_WORDS))} or "
               f"{', '.join(sorted(w for w in FALSE_WORDS if w))})",
        warnings=(message,),
    )


def env_var_layer(env: Mapping[str, str], names: tuple[str, ...]) -> Layer:
    """``<PREFIX>SEND_ANONYMOUS_USAGE_STATS`` and any preferred spelling that beats it."""
    present = [(name, env[name]) for name in names if env.get(name) is not None]
    empty = [n for n, v in present if v.strip() == ""]
    # An empty value is the same as unset (shells export empty strings easily).
    present = [(n, v) for n, v in present if v.strip() != ""]
    if not present:
        return unset_layer(names, empty)
    name, raw = present[0]
    shadowed = [n for n, _ in present[1:]]
    note = f"{', '.join(shadowed)} also set, {name} takes precedence" if shadowed else None
    flag = env_bool(raw)
    if flag is None:
        message = (
            f"{name}={shown(raw)!s} in the environment is not true or false; treated as off. "
            f"Fix: set {name}=false (or true), or unset it."
        )
        return Layer(
            "env_var", "off", shown(raw), name, status="error",
            detail=NOT_A_BOOLEAN, warnings=(message,),
        )
    return Layer("env_var", opinion_of(flag), shown(raw), name, detail=note)

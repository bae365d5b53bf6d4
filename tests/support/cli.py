"""Reading what the ``telemetry`` CLI shows: the layers of ``status``, its hints, flat text.

The world the CLI runs in is :class:`tests.support.world.World`; commands run as a real
subprocess (``World.run``) or, for the many small permutations, through click's ``CliRunner``
against ``telemetry_cli.telemetry_group()`` in the same isolated world (the ``invoke`` fixture of
``tests/telemetry_cli/conftest.py``), because that is ten times faster. Both fail the test
outright when a traceback appears in any output: a telemetry command must never show one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from tests.support.world import REPO, STRICT_PROFILE, World

SCHEMA_PATH = REPO / "contracts" / "status.schema.json"

#: docs/decision.md, highest first. Hard-coded on purpose: the JSON contract promises this order.
PRECEDENCE = (
    "edition_mandate",
    "admin_lock",
    "do_not_track",
    "host_flag",
    "env_var",
    "project_file",
    "user_config",
    "system_default",
    "ci_default",
    "edition_default",
)
#: The words ``status`` shows for each layer, in the same order.
TITLES = (
    "edition mandate",
    "admin lock",
    "DO_NOT_TRACK",
    "host flag",
    "environment variable",
    "project file",
    "user config",
    "system policy default",
    "CI default",
    "edition default",
)

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def strip_ansi(text: str) -> str:
    return _ANSI.sub("", text)


def flat(text: str) -> str:
    """The text with line breaks and runs of spaces collapsed: what a reader sees across wraps."""
    return " ".join(text.split())


def line_with(text: str, needle: str) -> str:
    """The first line containing ``needle`` (fails clearly when there is none)."""
    for line in text.splitlines():
        if needle in line:
            return line
    raise AssertionError(f"no line contains {needle!r} in:\n{text}")


_BLOCK = re.compile(
    r"^(\d+)\. (.+?): (decides|overridden|no opinion|error \(counts as off\)|not read by \S+)$"
)


def table_rows(text: str) -> list[dict[str, str]]:
    """The layers of ``status`` as rows: layer, value, origin, effect.

    Reads both layouts: the table (a terminal wide enough) and one block per layer (plain
    output: piped, NO_COLOR, or a narrow terminal), so a test about what a layer says does not
    depend on where the output went. A table row folded over several lines is joined back (cells
    joined with a space, which is right for words; a path folded mid-name gains a space, and
    tests about folding say so).
    """
    rows: list[dict[str, str]] = []
    lines = text.splitlines()
    if not any("│" in line for line in lines):
        for line in lines:
            block = _BLOCK.match(line)
            if block:
                rows.append(
                    {"layer": block.group(2), "value": "—", "origin": "—", "effect": block.group(3)}
                )
            elif rows and line.startswith("   value: "):
                rows[-1]["value"] = line[len("   value: ") :]
            elif rows and line.startswith("   from: "):
                rows[-1]["origin"] = line[len("   from: ") :]
        return rows
    for line in lines:
        if "│" not in line:
            continue
        cells = [c.strip() for c in line.split("│")]
        if len(cells) != 4:
            continue
        if cells[0]:
            rows.append(dict(zip(("layer", "value", "origin", "effect"), cells, strict=True)))
        elif rows:
            for key, cell in zip(("layer", "value", "origin", "effect"), cells, strict=True):
                if cell:
                    rows[-1][key] = f"{rows[-1][key]} {cell}".strip()
    return rows


def above_layers(text: str) -> str:
    """What ``status`` prints before its layers (the headline and the cloud note)."""
    for marker in ("layer ", "1. edition mandate: "):
        at = text.find("\n" + marker)
        if at >= 0:
            return text[:at]
    raise AssertionError(f"no layers in:\n{text}")


def hint_steps(text: str) -> tuple[str, list[str]]:
    """``("on"|"off", [steps])`` from the ``To turn it on/off:`` line of a wide status."""
    line = line_with(text, "To turn it ")
    match = re.match(r"\s*To turn it (on|off): (.*)$", line)
    assert match, line
    goal, rest = match.groups()
    # "telemetry disable (everywhere for you), or DO_NOT_TRACK=1 …": the first way is the step.
    rest = rest.split(" (", 1)[0]
    return goal, [step.strip() for step in rest.split(", then ")]


def new_shell(env: Mapping[str, str | None], *names: str) -> dict[str, str | None]:
    """What a new login shell (``sh -l``, started with ``env``) gives ``names``: each value its
    startup files leave (None: unset), as a user gets after ``telemetry disable --shell`` and
    opening a new terminal."""
    import subprocess

    script = "".join(f'printf "%s\\0" "${{{n}-<unset>}}"; ' for n in names)
    done = subprocess.run(
        ["sh", "-lc", script],
        env={k: v for k, v in env.items() if v is not None},
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
        stdin=subprocess.DEVNULL,
    )
    values = done.stdout.split("\0")[: len(names)]
    return {n: None if v == "<unset>" else v for n, v in zip(names, values, strict=True)}


def build(
    world: World,
    *,
    project: str | None = None,
    project_text: str | None = None,
    user: str | None = None,
    user_text: str | None = None,
    policy: str | None = None,
    cloud: bool = False,
    strict: bool = False,
    **env: str,
) -> dict:
    """Write the files a case names; return its environment.

    A case that writes our user config or a system policy, or wants the cloud edition (passed
    by the host's code: ``cloud``), runs for the strict test profile (``strict`` asks for it
    alone): dbt never reads those files nor an edition, so the dbt profile only shows them.
    """
    if strict or cloud or user is not None or user_text is not None or policy is not None:
        world.profile = STRICT_PROFILE
        world.cloud = cloud
    if project is not None:
        world.project_flag(project)
    if project_text is not None:
        world.write_project(project_text)
    if user is not None:
        world.user_flag(user)
    if user_text is not None:
        world.write_user(user_text)
    if policy is not None:
        world.write_policy(policy)
    return dict(env)

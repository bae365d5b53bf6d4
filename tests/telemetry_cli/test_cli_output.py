"""What ``status`` looks like on real terminals and pipes, and its ``--json`` contract.

On a terminal: no line wider than ``COLUMNS``, a table when it fits, the key facts still there at
40 columns. Plain (piped, ``NO_COLOR``): no escape codes, no box characters, one block per layer,
and piped text never wrapped, whatever ``COLUMNS`` says (README "What telemetry status shows").
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
from rich.cells import cell_len

from tests.support.cli import PRECEDENCE, TITLES, build, flat, line_with, strip_ansi, table_rows
from tests.support.world import World

ESC = "\x1b"
#: SGR colour parameters (foreground/background, 8/16/256/truecolour); bold and dim are not colour.
_SGR = re.compile(r"\x1b\[([0-9;]*)m")

WORLDS = {
    "default": {},
    "DO_NOT_TRACK": dict(DO_NOT_TRACK="1"),
    "cloud with opt-outs": dict(policy='edition = "cloud"\n', user="false", DO_NOT_TRACK="1"),
    "admin lock": dict(policy='locked = true\ntelemetry = "off"\n'),
    "user off in project on": dict(project="true", user="false"),
    "broken project file": dict(project_text="name: jaffle\nflags:\n  send: [x\n"),
    "long env var": dict(DBT_ENGINE_SEND_ANONYMOUS_USAGE_STATS="no"),
}


BOXES = set("│┃━─╇┡┼┏┓┗┛╋")


def assert_clean(out: str, width: int) -> None:
    assert ESC not in out, "escape codes on a non-TTY or with NO_COLOR"
    too_wide = [line for line in out.splitlines() if cell_len(line) > width]
    assert not too_wide, f"lines wider than {width} columns:\n" + "\n".join(too_wide)


def assert_plain(out: str) -> None:
    """Piped / NO_COLOR output: no escape codes, no box characters, one block per layer."""
    assert ESC not in out, "escape codes in plain output"
    assert not BOXES & set(out), "box characters in plain output"
    for i, title in enumerate(TITLES, 1):
        assert f"\n{i}. {title}: " in out, f"layer {i} ({title}) is not a block of its own"


def assert_key_facts(out: str, width: int) -> None:
    text = flat(out)
    assert re.search(
        r"Anonymous usage statistics are (ON|OFF) for dbt \((core|cloud) edition\)"
        r" — decided by ",
        text,
    ), text
    for fact in ("Anonymous id:", "Events go to:", "Collected:", "telemetry events"):
        assert fact in text, fact
    assert re.search(r"To turn it (on|off): \S", text)
    rows = table_rows(out)
    # Narrow terminals, and tables whose origins would not fit whole, get one block per layer.
    if width < 72 or not rows:
        for i, title in enumerate(TITLES, 1):
            assert f"{i}. {title}: " in text, f"layer {i} ({title}) is missing"
    else:
        assert [row["layer"] for row in rows] == list(TITLES)


@pytest.mark.parametrize("width", [40, 60, 80, 100])
@pytest.mark.parametrize("case", list(WORLDS))
def test_status_fits_the_terminal_and_keeps_the_facts(world: World, invoke, case, width):
    env = build(world, **WORLDS[case])

    # TTY_COMPATIBLE=1: rich's own switch for "this output is a terminal".
    r = invoke("status", COLUMNS=str(width), TTY_COMPATIBLE="1", **env)

    assert r.code == 0 and r.exception is None, r
    out = strip_ansi(r.out)
    assert_clean(out, width)
    assert_key_facts(out, width)


@pytest.mark.parametrize("case", list(WORLDS))
def test_piped_status_is_plain_blocks_and_never_wrapped(world: World, invoke, case):
    env = build(world, **WORLDS[case])

    r = invoke("status", COLUMNS="40", **env)

    assert r.code == 0 and r.exception is None, r
    assert_plain(r.out)
    assert_key_facts(r.out, 10**6)
    assert line_with(r.out, "Anonymous usage statistics are ").endswith("."), r.out
    assert "Every field: telemetry events" in line_with(r.out, "Collected: "), "wrapped:\n" + r.out


@pytest.mark.parametrize("width", [40, 80])
def test_no_color_piped_real_process_is_plain(world: World, width):
    world.write_policy('edition = "cloud"\n')
    world.project_flag("false")

    r = world.run("status", NO_COLOR="1", COLUMNS=str(width), DO_NOT_TRACK="1")

    assert r.code == 0, r
    assert_plain(r.out)
    assert_key_facts(r.out, width)
    assert "cannot be turned off in the cloud edition" in line_with(r.out, "Telemetry cannot")


def test_piped_output_without_columns_is_not_wrapped_at_80(world: World):
    world.write_project("name: jaffle\nflags:\n  send_anonymous_usage_stats: oFF\n")

    r = world.run("status", DO_NOT_TRACK="1")

    assert_plain(r.out)
    warning = line_with(r.out, "dbt reads send_anonymous_usage_stats as the string 'oFF'")
    assert warning.startswith("! ") and warning.endswith("without quotes"), "one line, whole"
    assert cell_len(warning) > 80
    assert "decided by DO_NOT_TRACK=1 in your environment" in flat(r.out)


def _colours(data: str) -> list[str]:
    found = []
    for params in _SGR.findall(data):
        for p in params.split(";"):
            if p.isdigit() and (30 <= int(p) <= 49 or 90 <= int(p) <= 107):
                found.append(p)
    return found


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="pty semantics checked on Linux")
def test_no_color_on_a_real_terminal_drops_colour(world: World):
    import fcntl
    import pty
    import struct
    import termios

    def on_tty(**env):
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 100, 0, 0))
        proc = subprocess.Popen(
            [sys.executable, "-m", "telemetry_cli", "status"],
            cwd=world.cwd,
            env=world.env_with(TERM="xterm-256color", DO_NOT_TRACK="1", **env),
            stdin=slave,
            stdout=slave,
            stderr=slave,
        )
        os.close(slave)
        chunks = []
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        os.close(master)
        assert proc.wait(timeout=30) == 0
        return b"".join(chunks).decode()

    coloured = on_tty()
    plain = on_tty(NO_COLOR="1")

    assert _colours(coloured), "a terminal gets colour (else this test proves nothing)"
    assert "│" in coloured, "a terminal wide enough gets the table"
    assert not _colours(plain), "NO_COLOR=1 must drop every colour"
    assert not BOXES & set(plain) and "1. edition mandate: " in _SGR.sub("", plain), (
        "NO_COLOR gives the plain layout, as piped output does"
    )
    assert "Traceback" not in coloured + plain
    assert "decided by DO_NOT_TRACK=1" in flat(_SGR.sub("", plain))


# -- UX at real widths ----------------------------------------------------------------------------


def test_hint_command_is_never_split_across_lines_at_40_columns(world: World, invoke):
    world.project_flag("false")

    r = invoke("status", COLUMNS="40")

    assert "telemetry enable --project" in flat(r.out), "the hint itself is right"
    assert any("telemetry enable --project" in line for line in r.out.splitlines()), (
        "the command is split:\n" + r.out
    )


def test_file_origin_is_whole_on_one_line_at_80_columns(world: World, invoke):
    world.project_flag("false")

    r = invoke("status", COLUMNS="80")

    assert "~/work/jaffle/dbt_project.yml:4" in r.out, "\n" + r.out


# -- --json ----------------------------------------------------------------------------------------

JSON_WORLDS = {
    **WORLDS,
    "admin lock on": dict(policy='locked = true\ntelemetry = "on"\n', DO_NOT_TRACK="1"),
    "bad user toml": dict(user_text="send_anonymous_usage_stats = maybe\n"),
    "user value not a boolean": dict(user_text='send_anonymous_usage_stats = "no"\n'),
    "bad policy": dict(policy='edition = "enterprise"\n'),
    "unrecognised DO_NOT_TRACK": dict(DO_NOT_TRACK="please"),
    "unrecognised env var": dict(DBT_SEND_ANONYMOUS_USAGE_STATS="sometimes"),
    "project off": dict(project="false"),
    "system default off": dict(policy='telemetry = "off"\n'),
}
BAD_INPUT = {
    "broken project file",
    "bad user toml",
    "user value not a boolean",
    "bad policy",
    "unrecognised env var",
}
#: The dbt profile reads DO_NOT_TRACK as dbt does: "please" is no opt-out (dbt tracks), and a
#: warning says so.
WARNED_BUT_ON = {"unrecognised DO_NOT_TRACK"}


@pytest.mark.parametrize("case", list(JSON_WORLDS))
def test_json_validates_and_is_consistent(world: World, invoke, status_schema, case):
    env = build(world, **JSON_WORLDS[case])

    r = invoke("status", "--json", **env)

    assert r.code == 0 and r.exception is None, r
    doc = r.json()
    status_schema.validate(doc)
    assert doc["app"] == "dbt"
    names = [layer["name"] for layer in doc["layers"]]
    assert names == list(PRECEDENCE), "every layer, in precedence order"
    by_name = {layer["name"]: layer for layer in doc["layers"]}
    winner = by_name[doc["decided_by"]]
    others = [layer for layer in doc["layers"] if layer is not winner]
    assert winner["status"] in ("winner", "error"), winner
    assert all(layer["status"] != "winner" for layer in others)
    expected_on = winner["opinion"] == "on" and winner["status"] != "error"
    assert doc["enabled"] is expected_on, "enabled follows the deciding layer"
    for layer in others:
        if layer["status"] == "no_opinion":
            assert layer["opinion"] is None, layer
    for layer in doc["layers"][: names.index(doc["decided_by"])]:
        if (layer["name"], doc["decided_by"]) == ("project_file", "user_config"):
            continue  # one level, where an opt-out sticks (docs/decision.md)
        assert layer["status"] == "no_opinion", f"{layer['name']} is above the winner"
    assert doc["mandatory"] is (
        doc["edition"]["name"] == "cloud" or (doc["decided_by"] == "admin_lock" and doc["enabled"])
    )
    if case in WARNED_BUT_ON:
        assert doc["warnings"] and doc["enabled"] is True, doc
    if case in BAD_INPUT:
        assert doc["warnings"], "bad input is reported"
        assert doc["enabled"] is False, "bad input fails closed"
        assert any(layer["status"] == "error" for layer in doc["layers"])


def test_json_cloud_edition_names_its_origin_and_keeps_opt_outs(
    world: World, invoke, status_schema
):
    world.write_policy('edition = "cloud"\n')
    world.user_flag("false")

    doc = invoke("status", "--json", DO_NOT_TRACK="1").json()

    status_schema.validate(doc)
    assert doc["enabled"] is True and doc["mandatory"] is True
    assert doc["edition"] == {"name": "cloud", "origin": f"{world.policy_path()}:1"}
    statuses = {layer["name"]: (layer["opinion"], layer["status"]) for layer in doc["layers"]}
    assert statuses["do_not_track"] == ("off", "overridden")
    assert statuses["user_config"] == ("off", "overridden")
    assert any("user config" in w for w in doc["warnings"])


def test_json_layer_origins_name_the_variable_or_file_and_line(world: World, invoke):
    world.project_flag("false")

    doc = invoke("status", "--json", DBT_SEND_ANONYMOUS_USAGE_STATS="false").json()

    by_name = {layer["name"]: layer for layer in doc["layers"]}
    assert by_name["env_var"]["origin"] == "DBT_SEND_ANONYMOUS_USAGE_STATS"
    assert by_name["env_var"]["raw"] == "false"
    assert by_name["project_file"]["origin"] == f"{world.project_file_path()}:4"
    fourth = world.project_file_path().read_text().splitlines()[3]
    assert line_with(fourth, "send_anonymous_usage_stats"), "the line really holds the flag"

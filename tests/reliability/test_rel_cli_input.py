"""Bad input to the CLI: every command with missing, extra and garbage arguments, unknown apps,
non-UTF-8, huge and hostile environment values. Always the documented exit code (0 success,
1 ``--expect`` not met, 2 usage error, 3 refused), at most two lines (the error and a hint), and
never a traceback. Then a fuzz over argv and environment (hypothesis), through click's CliRunner
on ``telemetry_group()`` (how hosts mount it) and through ``telemetry_cli.run`` (the console
script), and a handful of the nastiest cases as real subprocesses.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.reliability import reliability_kit as kit
from tests.support.world import no_traceback

pytestmark = pytest.mark.reliability

EXIT_CODES = {0, 1, 2, 3, 4}

#: (argv, expected exit code). The matrix of "every command with missing/extra/garbage args".
USAGE_ERRORS = [
    *[([cmd, "garbage"], 2) for cmd in ("status", "enable", "disable", "reset", "events", "log")],
    *[
        ([cmd, "--bogus"], 2)
        for cmd in (
            "status",
            "enable",
            "disable",
            "reset",
            "events",
            "log",
            "collector",
            "completion",
        )
    ],
    *[([cmd, "--app"], 2) for cmd in ("status", "enable", "disable", "reset", "events", "log")],
    *[
        ([cmd, "--app", "no-such-tool"], 2)
        for cmd in ("status", "enable", "disable", "reset", "events", "log")
    ],
    (["--app", "no-such-tool", "status"], 2),
    (["--app"], 2),
    (["frobnicate"], 2),
    (["status", "--expect"], 2),
    (["status", "--expect", "maybe"], 2),
    (["status", "--json", "--json", "extra"], 2),
    (["enable", "--project", "--global"], 2),
    (["disable", "--global", "--project"], 2),
    (["log", "-n"], 2),
    (["log", "-n", "0"], 2),
    (["log", "-n", "abc"], 2),
    (["log", "-n", "99999999999999999999"], 2),
    (["collector", "--port", "70000"], 2),
    (["collector", "--port", "abc"], 2),
    (["collector", "extra"], 2),
    (["completion"], 2),
    (["completion", "tcsh"], 2),
    (["completion", "bash", "extra"], 2),
    (["disable", "--project"], 2),  # outside any project
    (["status", "\udcff\udcfe"], 2),  # non-UTF-8 bytes in argv
    (["--\udcff"], 2),
]
FINE = [
    (["status", "--expect", "off"], 1),
    (["--help"], 0),
    ([], 0),
    (["status", "-h"], 0),
    (["completion", "fish"], 0),
]


@pytest.fixture
def run_cli(world, monkeypatch):
    """``telemetry_cli.run(ARGV)`` in-process (what the console script runs), isolated world."""
    from telemetry_cli import run

    def _run(argv, **env):
        for key in list(os.environ):
            monkeypatch.delenv(key)
        for key, value in world.env_with(**env).items():
            monkeypatch.setenv(key, value)
        monkeypatch.chdir(world.cwd)
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = run(list(argv))
        return code, out.getvalue(), err.getvalue()

    return _run


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


@pytest.mark.parametrize(
    "argv,code", USAGE_ERRORS, ids=[" ".join(a) or "-" for a, _ in USAGE_ERRORS]
)
def test_a_usage_error_is_one_line_and_a_hint_with_exit_2(run_cli, argv, code):
    got, out, err = run_cli(argv)
    no_traceback(out, err)
    assert got == code, (got, out, err)
    assert 1 <= len(_lines(err)) <= 2, err
    assert out == ""
    assert "internal error" not in err
    if "no-such-tool" in argv:
        assert "dbt" in err  # the known apps are listed


@pytest.mark.parametrize("argv,code", FINE, ids=[" ".join(a) or "-" for a, _ in FINE])
def test_documented_non_error_exits(run_cli, argv, code):
    got, out, err = run_cli(argv)
    no_traceback(out, err)
    assert got == code, (got, out, err)
    assert len(_lines(err)) <= 1


SUBPROCESS_CASES = [
    (["status", "--bogus"], {}, 2),
    (["--app", "no-such-tool", "status"], {}, 2),
    (["log", "-n", "abc"], {}, 2),
    (["completion"], {}, 2),
    ([b"status", b"\xff\xfe"], {}, 2),
]


@pytest.mark.parametrize(
    "argv,env,code", SUBPROCESS_CASES, ids=[repr(a) for a, _, _ in SUBPROCESS_CASES]
)
def test_usage_errors_as_a_real_process(world, argv, env, code):
    proc = subprocess.run(
        [sys.executable, "-m", "telemetry_cli", *argv],
        cwd=world.cwd,
        env=world.env_with(**env),
        capture_output=True,
        timeout=30,
    )
    out, err = proc.stdout.decode(errors="replace"), proc.stderr.decode(errors="replace")
    no_traceback(out, err)
    assert proc.returncode == code, err
    assert 1 <= len(_lines(err)) <= 2, err


# -- the environment -------------------------------------------------------------------------------
def _bytes_env(world, **extra: bytes) -> dict[bytes, bytes]:
    env = {k.encode(): v.encode() for k, v in world.env_with().items()}
    env.update({k.encode(): v for k, v in extra.items()})
    return env


#: (value, whether the dbt profile says ON). It reads as dbt-core does: dbt does not take an
#: undecodable DO_NOT_TRACK as an opt-out (it tracks; a warning says so), refuses to run with an
#: invalid DBT_[ENGINE_]SEND_ANONYMOUS_USAGE_STATS or a DBT_PROFILES_DIR that does not exist.
NON_UTF8 = {
    "DO_NOT_TRACK": (b"\xff\xfe", True),
    "DBT_SEND_ANONYMOUS_USAGE_STATS": (b"tr\xffue", False),
    "DBT_ENGINE_SEND_ANONYMOUS_USAGE_STATS": (b"\xc3\x28", False),
    "DBT_TELEMETRY_ENDPOINT": (b"https://\xff\xfe.example", True),
    "DBT_PROFILES_DIR": (b"/nonexistent/\xff", False),
    "COLUMNS": (b"\xff", True),
    "NO_COLOR": (b"\xff", True),
    "TERM": (b"\xff\x1b[2J", True),
}


@pytest.mark.parametrize("name", list(NON_UTF8))
def test_non_utf8_environment_values_are_reported_not_crashed_on(world, name):
    value, stays_on = NON_UTF8[name]
    env = _bytes_env(world, **{name: value})
    for args in (["status"], ["status", "--json"]):
        proc = subprocess.run(
            [sys.executable, "-m", "telemetry_cli", *args],
            cwd=world.cwd,
            env=env,
            capture_output=True,
            timeout=30,
        )
        out, err = proc.stdout.decode(errors="replace"), proc.stderr.decode(errors="replace")
        no_traceback(out, err)
        assert proc.returncode == 0, err
        assert err == ""
    doc = json.loads(proc.stdout)
    assert doc["enabled"] is stays_on
    if name.startswith(("DO_NOT_TRACK", "DBT_")) and name != "DBT_TELEMETRY_ENDPOINT":
        assert doc["warnings"], "an undecodable value must be warned about"
        assert all("\udcff" not in w for w in doc["warnings"]), "and shown printable"


def test_a_non_utf8_config_home_works(world):
    home = os.fsencode(world.home) + b"/conf-\xff\xfe"
    env = _bytes_env(world, XDG_CONFIG_HOME=home)
    for args, code in ((["disable"], 0), (["status", "--json"], 0), (["enable"], 0)):
        proc = subprocess.run(
            [sys.executable, "-m", "telemetry_cli", *args],
            cwd=world.cwd,
            env=env,
            capture_output=True,
            timeout=30,
        )
        no_traceback(proc.stdout.decode(errors="replace"), proc.stderr.decode(errors="replace"))
        assert proc.returncode == code, proc.stderr
    assert os.path.exists(home + b"/dbt/telemetry.toml")


#: Linux refuses any single environment string over MAX_ARG_STRLEN (32 pages = 128 KiB) at exec:
#: a 1 MB value cannot reach a real process at all, so it is tried in-process (CliRunner), and
#: the largest value exec accepts is tried as a real process.
EXEC_MAX = 128 * 1024 - 64


@pytest.mark.parametrize(
    "name",
    [
        "DO_NOT_TRACK",
        "DBT_SEND_ANONYMOUS_USAGE_STATS",
        "COLUMNS",
        "DBT_TELEMETRY_ENDPOINT",
        "DBT_PROFILES_DIR",
    ],
)
def test_huge_environment_values_are_bounded(world, run_cli, name):
    huge = "y" * 1_000_000
    code, out, err = run_cli(["status"], **{name: huge})
    no_traceback(out, err)
    assert code == 0, err
    assert len(out) + len(err) < 20_000, "the value was echoed back"
    code, out, err = run_cli(["status", "--json"], **{name: huge})
    assert code == 0 and len(out) < 20_000
    json.loads(out)
    proc = subprocess.run(
        [sys.executable, "-m", "telemetry_cli", "status"],
        cwd=world.cwd,
        env=world.env_with(**{name: "y" * EXEC_MAX}),
        capture_output=True,
        text=True,
        timeout=30,
    )
    no_traceback(proc.stdout, proc.stderr)
    assert proc.returncode == 0 and len(proc.stdout) < 20_000


@pytest.mark.parametrize(
    "env",
    [{"PYTHONIOENCODING": "ascii"}, {"PYTHONIOENCODING": "latin-1"}],
    ids=["ascii", "latin-1"],
)
def test_status_on_a_non_utf8_terminal_still_works(world, env):
    status = world.run("status", **env)
    assert status.code == 0 and "internal error" not in status.err, status


_ESC_DIR = "evil\x1b]0;pwned\x07\x1b[2Jdir"


def test_terminal_escapes_in_a_path_never_reach_the_terminal(world):
    project = world.home / "work" / _ESC_DIR
    project.mkdir(parents=True)
    (project / "dbt_project.yml").write_text("flags:\n  send_anonymous_usage_stats: false\n")
    status = world.run("status", cwd=project, COLUMNS="200")
    narrow = world.run("status", cwd=project, COLUMNS="40")
    enable = world.run("enable", "--project", cwd=project)
    for outcome in (status, narrow, enable):
        assert "\x1b" not in outcome.out + outcome.err and "\x07" not in outcome.out, outcome


def test_terminal_escapes_in_values_never_reach_the_terminal(world):
    nasty = "\x1b]52;c;cHduZWQ=\x07\x1b[2J"  # OSC 52 writes the clipboard on some terminals
    escaped = nasty.encode("unicode_escape").decode()
    world.write_project(f'flags:\n  send_anonymous_usage_stats: "{escaped}"\n')
    outcomes = [
        world.run("status", DO_NOT_TRACK=nasty, COLUMNS="200"),
        world.run("status", DBT_SEND_ANONYMOUS_USAGE_STATS=nasty, COLUMNS="40"),
    ]
    for outcome in outcomes:
        assert outcome.code == 0
        assert "\x1b" not in outcome.out + outcome.err and "\x07" not in outcome.out, outcome


# -- the fuzz --------------------------------------------------------------------------------------
COMMANDS = ["status", "enable", "disable", "reset", "events", "log", "completion"]
TOKENS = [
    "--json",
    "--expect",
    "on",
    "off",
    "--project",
    "--global",
    "--app",
    "dbt",
    "nope",
    "-n",
    "5",
    "0",
    "-1",
    "--last",
    "bash",
    "zsh",
    "fish",
    "--help",
    "-h",
    "--",
    "-",
    "--json=1",
    "--expect=on",
    "status",
]
ENV_NAMES = [
    "DO_NOT_TRACK",
    "DBT_SEND_ANONYMOUS_USAGE_STATS",
    "DBT_ENGINE_SEND_ANONYMOUS_USAGE_STATS",
    "DBT_TELEMETRY_ENDPOINT",
    "DBT_PROFILES_DIR",
    "COLUMNS",
    "NO_COLOR",
    "TERM",
    "FORCE_COLOR",
]
#: Text an environment can hold: no NUL; undecodable bytes appear as lone surrogates (PEP 383).
env_text = st.text(
    st.one_of(
        st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
        st.integers(0x80, 0xFF).map(lambda b: chr(0xDC00 + b)),
    ),
    max_size=40,
)
argv_strategy = st.lists(
    st.one_of(st.sampled_from(TOKENS), st.sampled_from(COMMANDS), st.text(max_size=12)), max_size=6
)
FUZZ_EXAMPLES = 60
FUZZED = {"cases": 0}


@settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    command=st.sampled_from(COMMANDS),
    rest=argv_strategy,
    env=st.dictionaries(st.sampled_from(ENV_NAMES), env_text, max_size=4),
)
def test_fuzzed_argv_and_environment_never_break_the_cli(
    world, run_cli, monkeypatch, command, rest, env
):
    from click.testing import CliRunner

    from telemetry_cli import telemetry_group

    argv = [command, *rest]
    # `\x00` cannot be in argv or environ; `collector` would serve forever (tested apart).
    argv = [a.replace("\x00", "") for a in argv if a != "collector"]
    code, out, err = run_cli(argv, **env)
    no_traceback(out, err)
    assert code in EXIT_CODES, (argv, env, code, err)
    if code >= 2:
        assert len(_lines(err)) <= 2, (argv, env, err)

    # The same, as a host mounts it (click's own usage formatting: several lines, allowed).
    result = CliRunner().invoke(telemetry_group(), argv, prog_name="telemetry", env=env)
    no_traceback(result.stdout, result.stderr)
    escaped = result.exception
    assert escaped is None or isinstance(escaped, SystemExit), (argv, env, repr(escaped))
    assert result.exit_code in EXIT_CODES, (argv, env, result.exit_code, result.output)
    FUZZED["cases"] += 1


def test_fuzz_cases_were_really_tried():
    """Runs after the fuzz above (file order): record how many cases it tried."""
    if not FUZZED["cases"]:
        pytest.skip("the fuzz test was not run in this session (deselected)")
    kit.record(
        "CLI input",
        "hypothesis argv × env fuzz",
        "examples tried (run() and CliRunner)",
        FUZZED["cases"],
    )
    assert FUZZED["cases"] >= FUZZ_EXAMPLES // 2

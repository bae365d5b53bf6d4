"""Does the built-in dbt profile decide what real dbt-core decides? A differential check.

    .venv/bin/python tests/consent/dbt_agreement.py                 # dbt-core 1.10.23 and 1.12.3
    .venv/bin/python tests/consent/dbt_agreement.py --dbt-version 1.12.3 --markdown out.md

Each case is a small world (a HOME with ``~/.dbt``, a project, the environment) built in a temp
dir. Real dbt-core decides in it (``dbt_probe.py``, in dbt's own venv: its click parsing, its
``read_project_flags``, up to the call that starts its tracker), and so does
``consent.decide(DEFAULT_PROFILE)`` in this project's interpreter; the table compares the two:
*tracks*, *off*, or *refuses* (dbt stops before running; ours must say so: the winning layer has
``host_refuses``). dbt-core is never a dependency of this project: the first run creates
``.dbt-venvs/<version>/`` (about a minute each; pip only) and later runs reuse it. Exit status 1
when any case disagrees. ``test_dbt_agreement.py`` runs the same check in the suite whenever
such a venv exists, and skips with that reason when none does.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from consent.ci import CI_VARIABLES

REPO = Path(__file__).resolve().parents[2]

VENVS = REPO / ".dbt-venvs"
PROBE = Path(__file__).with_name("dbt_probe.py")
#: The bench's dbt-core, and the newest one that installs from PyPI alone (the spec's
#: DBT_ENGINE_ measurement was made with 1.12.3).
DEFAULT_VERSIONS = ("1.10.23", "1.12.3")
#: Built from source at install time by downloading a binary from GitHub; dbt does not import it
#: before it decides about tracking, so the check installs everything else.
_UNINSTALLABLE = ("dbt-core-experimental-parser",)
ENGINE = "DBT_ENGINE_SEND_ANONYMOUS_USAGE_STATS"
SEND = "DBT_SEND_ANONYMOUS_USAGE_STATS"


TRACKS, OFF, REFUSES = "tracks", "off", "refuses"
#: ``Case.user_settings``: a directory where the file would be.
DIRECTORY = "<a directory>"


@dataclass(frozen=True)
class Case:
    name: str
    #: What dbt-core 1.12.3 decided in this world when measured (1.10.23 too, except where
    #: ``since`` says it does not read the input): tracks, off, or refuses (stops before running).
    dbt: str
    env: dict[str, str] = field(default_factory=dict)
    #: dbt_project.yml, written as bytes exactly (CRLF kept).
    project: str | None = None
    #: profiles.yml; where it goes: ``home`` (~/.dbt), ``cwd``, or ``dir`` (DBT_PROFILES_DIR);
    #: ``missing``: DBT_PROFILES_DIR names a directory that does not exist.
    profiles: str | None = None
    profiles_in: str = "home"
    #: The host's own flag: dbt's --send-anonymous-usage-stats / --no-send-anonymous-usage-stats.
    flag: bool | None = None
    #: Run from this subdirectory of the project (dbt searches upward too).
    subdir: str = ""
    #: The first dbt-core version that reads this input; older ones show n/a.
    since: str | None = None
    #: A second project's dbt_project.yml, in ``{root}/other`` (not created when None).
    other: str | None = None
    #: Where dbt runs: ``shop`` (the project, then ``subdir``), ``other``, or ``nowhere`` (a
    #: directory with no project above it).
    cwd: str = "shop"
    #: ``--project-dir`` on the command line (``{root}`` is the world's root).
    project_dir: str | None = None
    #: ``~/.dbt/user_settings.yml``, written as bytes exactly (dbt 1.12 reads it; 1.10 does not);
    #: ``DIRECTORY``: a directory of that name instead.
    user_settings: str | bytes | None = None


def _flags(value: str, before: str = "name: shop\n") -> str:
    return f"{before}flags:\n  send_anonymous_usage_stats: {value}\n"


def _user(value: str) -> str:
    """``~/.dbt/user_settings.yml`` setting the flag to ``value`` (YAML as written)."""
    return f"flags:\n  send_anonymous_usage_stats: {value}\n"


def _config(value: str) -> str:
    return (
        f"config:\n  send_anonymous_usage_stats: {value}\nshop:\n  target: dev\n"
        "  outputs:\n    dev: {type: postgres}\n"
    )


CASES: tuple[Case, ...] = (
    Case("nothing set", TRACKS),
    Case("a project without flags", TRACKS, project="name: shop\n"),
    # dbt: os.getenv("DO_NOT_TRACK", "").lower() in ("1", "t", "true", "y", "yes")
    *(
        Case(f"DO_NOT_TRACK={v!r}", dbt, env={"DO_NOT_TRACK": v})
        for v, dbt in (
            ("1", OFF),
            ("t", OFF),
            ("true", OFF),
            ("TRUE", OFF),
            ("y", OFF),
            ("yes", OFF),
            ("on", TRACKS),
            (" 1", TRACKS),
            ("banana", TRACKS),
            ("0", TRACKS),
            ("false", TRACKS),
            ("", TRACKS),
        )
    ),
    # click's boolean option: "" is unset, spaces are false, anything else is a usage error
    *(
        Case(f"{SEND}={v!r}", dbt, env={SEND: v})
        for v, dbt in (
            ("true", TRACKS),
            ("false", OFF),
            ("FALSE", OFF),
            ("off", OFF),
            ("0", OFF),
            ("no", OFF),
            (" false ", OFF),
            ("", TRACKS),
            ("  ", OFF),
            ("maybe", REFUSES),
            ("1.0", REFUSES),
        )
    ),
    Case(
        "DO_NOT_TRACK=0 does not undo the variable", OFF, env={"DO_NOT_TRACK": "0", SEND: "false"}
    ),
    Case("DO_NOT_TRACK=1 beats the variable true", OFF, env={"DO_NOT_TRACK": "1", SEND: "true"}),
    Case(
        "DO_NOT_TRACK=1 and an invalid variable", REFUSES, env={"DO_NOT_TRACK": "1", SEND: "maybe"}
    ),
    Case(
        "DBT_ENGINE_ false beats DBT_ true", OFF, env={ENGINE: "false", SEND: "true"}, since="1.12"
    ),
    Case(
        "DBT_ENGINE_ true beats DBT_ false",
        TRACKS,
        env={ENGINE: "true", SEND: "false"},
        since="1.12",
    ),
    Case("empty DBT_ENGINE_ falls back to DBT_", OFF, env={ENGINE: "", SEND: "false"}),
    Case(
        "invalid DBT_ENGINE_ with a valid DBT_",
        REFUSES,
        env={ENGINE: "maybe", SEND: "false"},
        since="1.12",
    ),
    Case("DBT_ENGINE_ false alone", OFF, env={ENGINE: "false"}, since="1.12"),
    Case("host flag off beats the variable true", OFF, env={SEND: "true"}, flag=False),
    Case("host flag on beats the project's false", TRACKS, project=_flags("false"), flag=True),
    Case("DO_NOT_TRACK=1 beats the host flag on", OFF, env={"DO_NOT_TRACK": "1"}, flag=True),
    Case(
        "host flag on: an invalid variable still refuses", REFUSES, env={SEND: "maybe"}, flag=True
    ),
    Case(
        "host flag off: an invalid variable still refuses", REFUSES, env={SEND: "maybe"}, flag=False
    ),
    # PyYAML's YAML 1.1 booleans only; any other value fails ProjectFlags' validation, and dbt
    # then drops every project flag without a word
    *(
        Case(f"project flag {v}", dbt, project=_flags(v))
        for v, dbt in (
            ("false", OFF),
            ("False", OFF),
            ("FALSE", OFF),
            ("no", OFF),
            ("NO", OFF),
            ("off", OFF),
            ("Off", OFF),
            ("oFF", TRACKS),
            ("n", TRACKS),
            ("y", TRACKS),
            ("0", TRACKS),
            ('"false"', TRACKS),
            ("'no'", TRACKS),
            ("maybe", TRACKS),
            ("true", TRACKS),
            ("yes", TRACKS),
            ("On", TRACKS),
            ("tRuE", TRACKS),
            ("", TRACKS),
        )
    ),
    Case(
        "project flag false, from a subdirectory", OFF, project=_flags("false"), subdir="models/x"
    ),
    Case(
        "project flag false in a flow mapping",
        OFF,
        project="name: shop\nflags: {send_anonymous_usage_stats: false}\n",
    ),
    Case(
        "project flag false with CRLF line ends",
        OFF,
        project="name: shop\r\nflags:\r\n  send_anonymous_usage_stats: false\r\n",
    ),
    Case(
        "project flag false beside an unknown flag",
        OFF,
        project=_flags("false") + "  no_such_flag: 1\n",
    ),
    Case(
        "project flag false beside partial_parse: maybe",
        TRACKS,
        project=_flags("false") + "  partial_parse: maybe\n",
    ),
    Case(
        "project flag false beside printer_width: wide",
        TRACKS,
        project=_flags("false") + "  printer_width: wide\n",
    ),
    Case(
        "project flag false beside partial_parse: null",
        OFF,
        project=_flags("false") + "  partial_parse:\n",
    ),
    Case(
        "project flag set twice, false then true",
        TRACKS,
        project=_flags("false") + "  send_anonymous_usage_stats: true\n",
    ),
    Case(
        "project flag set twice, true then false",
        OFF,
        project=_flags("true") + "  send_anonymous_usage_stats: false\n",
    ),
    Case(
        "two flags: blocks, the opt-out in the first",
        TRACKS,
        project=_flags("false") + "flags:\n  partial_parse: true\n",
    ),
    Case(
        "two flags: blocks, the opt-out in the last",
        OFF,
        project="flags:\n  partial_parse: true\n" + _flags("false"),
    ),
    Case("flags: empty", TRACKS, project="name: shop\nflags:\n"),
    Case("flags: {}", TRACKS, project="name: shop\nflags: {}\n"),
    Case("flags: false (not a mapping)", REFUSES, project="name: shop\nflags: false\n"),
    Case(
        "flags: a list",
        REFUSES,
        project="name: shop\nflags:\n  - send_anonymous_usage_stats: false\n",
    ),
    Case("invalid YAML in dbt_project.yml", REFUSES, project=_flags("false") + "  - oops\n"),
    Case("dbt_project.yml is a list", TRACKS, project="- shop\n"),
    Case(
        "an unknown tag elsewhere in dbt_project.yml",
        REFUSES,
        project=_flags("false") + "vars: !secret x\n",
    ),
    Case('project flag !!bool "false"', OFF, project=_flags('!!bool "false"')),
    Case(
        "the variable true beats the project's false",
        TRACKS,
        env={SEND: "true"},
        project=_flags("false"),
    ),
    Case(
        "DO_NOT_TRACK=1 beats the project's true",
        OFF,
        env={"DO_NOT_TRACK": "1"},
        project=_flags("true"),
    ),
    # profiles.yml's deprecated config: block, combined as read_project_flags does
    Case("profiles.yml config false", OFF, profiles=_config("false")),
    Case("profiles.yml config true", TRACKS, profiles=_config("true")),
    Case("profiles.yml config oFF", TRACKS, profiles=_config("oFF")),
    Case(
        "profiles.yml config false, project without flags",
        OFF,
        profiles=_config("false"),
        project="name: shop\n",
    ),
    Case(
        "profiles.yml config false, project flags: {}",
        OFF,
        profiles=_config("false"),
        project="name: shop\nflags: {}\n",
    ),
    Case(
        "profiles.yml config false, project flags: empty",
        OFF,
        profiles=_config("false"),
        project="name: shop\nflags:\n",
    ),
    Case(
        "both set: config false, flags true",
        REFUSES,
        profiles=_config("false"),
        project=_flags("true"),
    ),
    Case(
        "both set: config false, flags with another key",
        REFUSES,
        profiles=_config("false"),
        project="name: shop\nflags:\n  partial_parse: true\n",
    ),
    Case(
        "both set: config with another key, flags false",
        REFUSES,
        profiles="config:\n  partial_parse: true\n",
        project=_flags("false"),
    ),
    Case(
        "both set, and the variable true",
        REFUSES,
        env={SEND: "true"},
        profiles=_config("false"),
        project=_flags("true"),
    ),
    Case(
        "both set, and the host flag on",
        REFUSES,
        profiles=_config("false"),
        project=_flags("true"),
        flag=True,
    ),
    Case(
        "profiles.yml config: not a mapping", OFF, profiles="config: 1\n", project=_flags("false")
    ),
    Case("profiles.yml empty, project false", TRACKS, profiles="", project=_flags("false")),
    Case(
        "profiles.yml invalid YAML, project false",
        TRACKS,
        profiles="shop: [\n",
        project=_flags("false"),
    ),
    Case(
        "profiles.yml is a list, project false",
        REFUSES,
        profiles="- shop\n",
        project=_flags("false"),
    ),
    Case(
        "profiles.yml in the working directory",
        OFF,
        profiles=_config("false"),
        profiles_in="cwd",
        project="name: shop\n",
    ),
    Case(
        "profiles.yml in DBT_PROFILES_DIR",
        OFF,
        profiles=_config("false"),
        profiles_in="dir",
        project="name: shop\n",
    ),
    Case("DBT_PROFILES_DIR does not exist", REFUSES, profiles_in="missing", project="name: shop\n"),
    # click takes the variable as a path: relative to the working directory, and a `~` that no
    # shell expanded is a directory called `~` (which does not exist, so dbt refuses).
    Case(
        "DBT_PROFILES_DIR relative to the working directory",
        OFF,
        env={"DBT_PROFILES_DIR": "../profiles"},
        profiles=_config("false"),
        profiles_in="dir",
        project="name: shop\n",
    ),
    Case(
        "DBT_PROFILES_DIR='~/.dbt', not expanded",
        REFUSES,
        env={"DBT_PROFILES_DIR": "~/.dbt"},
        profiles=_config("false"),
        project="name: shop\n",
    ),
    # The project dir dbt is told to use: --project-dir, else DBT_ENGINE_PROJECT_DIR (1.12), else
    # DBT_PROJECT_DIR, exactly that directory (no upward search, no fallback to the cwd's).
    Case(
        "DBT_PROJECT_DIR names a project without flags, the cwd's opts out",
        TRACKS,
        env={"DBT_PROJECT_DIR": "{root}/other"},
        project=_flags("false"),
        other="name: other\n",
    ),
    Case(
        "DBT_PROJECT_DIR names an opt-out, the cwd's project has no flags",
        OFF,
        env={"DBT_PROJECT_DIR": "{root}/shop"},
        project=_flags("false"),
        other="name: other\n",
        cwd="other",
    ),
    Case(
        "DBT_PROJECT_DIR names an opt-out, no project around the cwd",
        OFF,
        env={"DBT_PROJECT_DIR": "{root}/shop"},
        project=_flags("false"),
        cwd="nowhere",
    ),
    Case(
        "DBT_PROJECT_DIR names an opt-in, the cwd's project opts out",
        TRACKS,
        env={"DBT_PROJECT_DIR": "{root}/other"},
        project=_flags("false"),
        other=_flags("true", "name: other\n"),
    ),
    Case(
        "DBT_PROJECT_DIR names a subdirectory of an opt-out project: no upward search",
        TRACKS,
        env={"DBT_PROJECT_DIR": "{root}/shop/models"},
        project=_flags("false"),
        cwd="nowhere",
    ),
    Case(
        "DBT_PROJECT_DIR names a directory without dbt_project.yml",
        TRACKS,
        env={"DBT_PROJECT_DIR": "{root}/empty"},
        project=_flags("false"),
    ),
    Case(
        "DBT_PROJECT_DIR names a directory that does not exist",
        REFUSES,
        env={"DBT_PROJECT_DIR": "{root}/missing"},
        project=_flags("false"),
    ),
    Case(
        "DBT_PROJECT_DIR empty is unset",
        OFF,
        env={"DBT_PROJECT_DIR": ""},
        project=_flags("false"),
    ),
    Case(
        "DBT_PROJECT_DIR only spaces",
        REFUSES,
        env={"DBT_PROJECT_DIR": "  "},
        project=_flags("false"),
    ),
    Case(
        "DBT_PROJECT_DIR names a regular file",
        TRACKS,
        env={"DBT_PROJECT_DIR": "{root}/afile"},
        project=_flags("false"),
    ),
    Case(
        "DBT_PROJECT_DIR relative to the cwd",
        OFF,
        env={"DBT_PROJECT_DIR": "../shop"},
        project=_flags("false"),
        cwd="nowhere",
    ),
    Case(
        "DBT_PROJECT_DIR names a project with invalid YAML",
        REFUSES,
        env={"DBT_PROJECT_DIR": "{root}/other"},
        other=_flags("false") + "  - oops\n",
        cwd="nowhere",
    ),
    Case(
        "--project-dir names an opt-out",
        OFF,
        project=_flags("false"),
        other="name: other\n",
        cwd="other",
        project_dir="{root}/shop",
    ),
    Case(
        "--project-dir beats DBT_PROJECT_DIR",
        TRACKS,
        env={"DBT_PROJECT_DIR": "{root}/shop"},
        project=_flags("false"),
        other="name: other\n",
        cwd="nowhere",
        project_dir="{root}/other",
    ),
    Case(
        "--project-dir names a directory that does not exist",
        REFUSES,
        project=_flags("false"),
        project_dir="{root}/missing",
    ),
    Case(
        "DBT_ENGINE_PROJECT_DIR names an opt-out",
        OFF,
        env={"DBT_ENGINE_PROJECT_DIR": "{root}/shop"},
        project=_flags("false"),
        other="name: other\n",
        cwd="other",
        since="1.12",
    ),
    Case(
        "DBT_ENGINE_PROJECT_DIR beats DBT_PROJECT_DIR (opt-out first)",
        OFF,
        env={"DBT_ENGINE_PROJECT_DIR": "{root}/shop", "DBT_PROJECT_DIR": "{root}/other"},
        project=_flags("false"),
        other="name: other\n",
        cwd="nowhere",
        since="1.12",
    ),
    Case(
        "DBT_ENGINE_PROJECT_DIR beats DBT_PROJECT_DIR (opt-out second)",
        TRACKS,
        env={"DBT_ENGINE_PROJECT_DIR": "{root}/other", "DBT_PROJECT_DIR": "{root}/shop"},
        project=_flags("false"),
        other="name: other\n",
        cwd="nowhere",
        since="1.12",
    ),
    Case(
        "DBT_ENGINE_PROJECT_DIR names a directory that does not exist",
        REFUSES,
        env={"DBT_ENGINE_PROJECT_DIR": "{root}/missing"},
        project="name: shop\n",
        since="1.12",
    ),
    Case(
        "profiles.yml in the cwd still counts with DBT_PROJECT_DIR",
        OFF,
        env={"DBT_PROJECT_DIR": "{root}/other"},
        profiles=_config("false"),
        profiles_in="cwd",
        other="name: other\n",
        cwd="nowhere",
    ),
    Case(
        "profiles.yml beside the DBT_PROJECT_DIR project is not read",
        TRACKS,
        env={"DBT_PROJECT_DIR": "{root}/other"},
        profiles=_config("false"),
        profiles_in="other",
        other="name: other\n",
        cwd="nowhere",
    ),
    Case(
        "profiles.yml in DBT_ENGINE_PROFILES_DIR",
        OFF,
        profiles=_config("false"),
        profiles_in="engine-dir",
        project="name: shop\n",
        since="1.12",
    ),
    Case(
        "DBT_ENGINE_PROFILES_DIR does not exist",
        REFUSES,
        profiles_in="engine-missing",
        project="name: shop\n",
        since="1.12",
    ),
    # ~/.dbt/user_settings.yml (dbt 1.12 reads it "as lowest precedence"; 1.10 never does): for
    # send_anonymous_usage_stats the project step has always claimed the flag before it runs
    # (ProjectFlags defaults it to true), so no value there ever takes effect.
    *(
        Case(f"user_settings.yml flag {v}", dbt, user_settings=_user(v))
        for v, dbt in (
            ("false", TRACKS),
            ("true", TRACKS),
            ("no", TRACKS),
            ("off", TRACKS),
            ('"false"', TRACKS),
            ("'no'", TRACKS),
            ("null", TRACKS),
            ("", TRACKS),
            ("0", TRACKS),
            ("maybe", TRACKS),
        )
    ),
    Case(
        "user_settings.yml flag false in a flow mapping",
        TRACKS,
        user_settings="flags: {send_anonymous_usage_stats: false}\n",
    ),
    Case(
        "user_settings.yml flag false with CRLF line ends",
        TRACKS,
        user_settings="flags:\r\n  send_anonymous_usage_stats: false\r\n",
    ),
    Case(
        "user_settings.yml flag false beside use_colors: false",
        TRACKS,
        user_settings=_user("false") + "  use_colors: false\n",
    ),
    Case(
        "user_settings.yml flag false beside partial_parse: maybe",
        TRACKS,
        user_settings=_user("false") + "  partial_parse: maybe\n",
    ),
    Case(
        "user_settings.yml flag false beside an unknown flag",
        TRACKS,
        user_settings=_user("false") + "  no_such_flag: 1\n",
    ),
    Case(
        "user_settings.yml flag set twice, true then false",
        TRACKS,
        user_settings=_user("true") + "  send_anonymous_usage_stats: false\n",
    ),
    Case("user_settings.yml invalid YAML", TRACKS, user_settings=_user("false") + "  - oops\n"),
    Case("user_settings.yml flags: false (not a mapping)", TRACKS, user_settings="flags: false\n"),
    Case(
        "user_settings.yml flags: a list",
        TRACKS,
        user_settings="flags:\n  - send_anonymous_usage_stats: false\n",
    ),
    Case("user_settings.yml flags: empty", TRACKS, user_settings="flags:\n"),
    Case("user_settings.yml empty", TRACKS, user_settings=""),
    Case("user_settings.yml is a list", TRACKS, user_settings="- flags\n"),
    Case("user_settings.yml is a string", TRACKS, user_settings="send_anonymous_usage_stats\n"),
    Case(
        "user_settings.yml flag false at the top level, no flags:",
        TRACKS,
        user_settings="send_anonymous_usage_stats: false\n",
    ),
    Case(
        "user_settings.yml with an unknown top-level key",
        TRACKS,
        user_settings="other: 1\n" + _user("false"),
    ),
    Case("user_settings.yml is not UTF-8", TRACKS, user_settings=b"flags: {x: \xff}\n"),
    Case("user_settings.yml is a directory", TRACKS, user_settings=DIRECTORY),
    Case(
        "user_settings.yml false, project without flags",
        TRACKS,
        user_settings=_user("false"),
        project="name: shop\n",
    ),
    Case(
        "user_settings.yml false, no project around the cwd",
        TRACKS,
        user_settings=_user("false"),
        cwd="nowhere",
    ),
    Case(
        "user_settings.yml false, project flags: {}",
        TRACKS,
        user_settings=_user("false"),
        project="name: shop\nflags: {}\n",
    ),
    Case(
        "user_settings.yml false, project flag of the wrong type",
        TRACKS,
        user_settings=_user("false"),
        project=_flags("maybe"),
    ),
    Case(
        "user_settings.yml true, project flag false",
        OFF,
        user_settings=_user("true"),
        project=_flags("false"),
    ),
    Case(
        "user_settings.yml false, profiles.yml config true",
        TRACKS,
        user_settings=_user("false"),
        profiles=_config("true"),
    ),
    Case(
        "user_settings.yml false, profiles.yml invalid",
        TRACKS,
        user_settings=_user("false"),
        profiles="shop: [\n",
        project="name: shop\n",
    ),
    Case(
        "user_settings.yml false, DBT_PROFILES_DIR elsewhere",
        TRACKS,
        user_settings=_user("false"),
        profiles="shop: {target: dev}\n",
        profiles_in="dir",
    ),
    Case(
        "user_settings.yml true, the variable false",
        OFF,
        env={SEND: "false"},
        user_settings=_user("true"),
    ),
    Case(
        "user_settings.yml false, DO_NOT_TRACK=1",
        OFF,
        env={"DO_NOT_TRACK": "1"},
        user_settings=_user("false"),
    ),
    Case(
        "user_settings.yml false, the host flag on",
        TRACKS,
        user_settings=_user("false"),
        flag=True,
    ),
    Case(
        "user_settings.yml printer_width: wide",
        TRACKS,
        user_settings=_user("false") + "  printer_width: wide\n",
    ),
    # dbt-core has no CI rule: it tracks in CI exactly as elsewhere (the dbt profile's CI layer
    # has no opinion, so status still says what dbt decides).
    Case("CI=true on GitHub Actions", TRACKS, env={"CI": "true", "GITHUB_ACTIONS": "true"}),
    Case(
        "CI=true with the project's opt-out",
        OFF,
        env={"CI": "true", "GITLAB_CI": "true"},
        project=_flags("false"),
    ),
    Case("every CI variable at once", TRACKS, env={name: "true" for name in CI_VARIABLES}),
    Case("CI=true and DO_NOT_TRACK=1", OFF, env={"CI": "true", "DO_NOT_TRACK": "1"}),
    Case(
        "CI=true and the variable false",
        OFF,
        env={"CI": "true", "BUILDKITE": "true", SEND: "false"},
    ),
)


# -- the worlds -----------------------------------------------------------------------------------


def _world(root: Path, case: Case) -> tuple[Path, dict[str, str]]:
    home, project = root / "home", root / "shop"
    (home / ".dbt").mkdir(parents=True)  # dbt needs its profiles dir to exist
    (project / "models").mkdir(parents=True)
    (root / "empty").mkdir()
    (root / "nowhere").mkdir()
    (root / "afile").write_text("not a directory\n")
    if case.other is not None:
        (root / "other").mkdir()
        (root / "other" / "dbt_project.yml").write_bytes(case.other.encode())
    env = {
        "HOME": str(home),
        "PATH": "/usr/bin:/bin",
        "LC_ALL": "C.UTF-8",
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_STATE_HOME": str(home / ".state"),
        "XDG_CONFIG_DIRS": str(root / "etc"),
        "XDG_CACHE_HOME": str(home / ".cache"),
    }
    if case.project is not None:
        (project / "dbt_project.yml").write_bytes(case.project.encode())
    settings = home / ".dbt" / "user_settings.yml"
    if case.user_settings == DIRECTORY:
        settings.mkdir()
    elif case.user_settings is not None:
        raw = case.user_settings
        settings.write_bytes(raw if isinstance(raw, bytes) else raw.encode())
    cwd = {"shop": project / case.subdir, "other": root / "other", "nowhere": root / "nowhere"}[
        case.cwd
    ]
    places = {
        "home": home / ".dbt",
        "cwd": cwd,
        "dir": root / "profiles",
        "engine-dir": root / "profiles",
        "other": root / "other",
    }
    if case.profiles_in == "dir":
        env["DBT_PROFILES_DIR"] = str(places["dir"])
    elif case.profiles_in == "engine-dir":
        env["DBT_ENGINE_PROFILES_DIR"] = str(places["dir"])
    elif case.profiles_in == "missing":
        env["DBT_PROFILES_DIR"] = str(root / "no-such-dir")
    elif case.profiles_in == "engine-missing":
        env["DBT_ENGINE_PROFILES_DIR"] = str(root / "no-such-dir")
    if case.profiles is not None:
        where = places[case.profiles_in]
        where.mkdir(parents=True, exist_ok=True)
        (where / "profiles.yml").write_bytes(case.profiles.encode())
    cwd.mkdir(parents=True, exist_ok=True)
    env.update({name: value.replace("{root}", str(root)) for name, value in case.env.items()})
    return cwd, env


def _project_dir(root: Path, case: Case) -> str | None:
    return None if case.project_dir is None else case.project_dir.replace("{root}", str(root))


def _dbt_args(case: Case, project_dir: str | None = None) -> list[str]:
    # --project-dir is the subcommand's option (`dbt parse --project-dir X`), not the group's.
    command = ["parse", *(["--project-dir", project_dir] if project_dir is not None else [])]
    if case.flag is None:
        return command
    return [f"--{'' if case.flag else 'no-'}send-anonymous-usage-stats", *command]


def _run_lines(argv: list[str], lines: list[str], cwd: Path | None = None) -> list[dict]:
    done = subprocess.run(
        argv,
        input="".join(f"{line}\n" for line in lines),
        text=True,
        capture_output=True,
        timeout=600,
        check=False,
        cwd=cwd,
    )
    out = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or len(out) < len(lines):
        raise SystemExit(f"{argv[0]} failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
    return out


# -- our side: decide() in this project's interpreter, one process for every case -----------------


def _ours_main() -> None:
    """``--ours``: read cases like dbt_probe.py does and print our decision for each.

    Run as ``python -m tests.consent.dbt_agreement --ours`` from the repository root, so that
    ``consent`` is this checkout's."""
    from consent import DEFAULT_PROFILE, decide

    for line in sys.stdin:
        case = json.loads(line)
        os.environ.clear()
        os.environ.update(case["env"])
        os.chdir(case["cwd"])
        decision = decide(
            DEFAULT_PROFILE, host_flag=case["flag"], project_dir=case.get("project_dir")
        )
        outcome = (
            "refuses" if decision.winner.host_refuses else "tracks" if decision.enabled else "off"
        )
        print(
            json.dumps(
                {
                    "outcome": outcome,
                    "decided_by": decision.decided_by,
                    "warnings": list(decision.warnings),
                }
            ),
            flush=True,
        )


# -- dbt-core in its own venv ---------------------------------------------------------------------


def ensure_dbt(version: str, log=print) -> str:
    """The python of ``.dbt-venvs/<version>``, created with dbt-core ``version`` if missing."""
    venv = VENVS / version
    python = venv / "bin" / "python"
    probe = "import importlib.metadata as m; print(m.version('dbt-core'))"
    have = (
        subprocess.run([str(python), "-c", probe], capture_output=True, text=True, check=False)
        if python.exists()
        else None
    )
    if have is not None and have.stdout.strip() == version:
        return str(python)
    log(f"creating {venv} with dbt-core=={version} (once; about a minute) ...")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]

    def run(argv: list[str]) -> subprocess.CompletedProcess:
        return subprocess.run(argv, capture_output=True, text=True, check=False)

    if run([*pip, f"dbt-core=={version}"]).returncode:
        # dbt-core 1.12 needs a parser whose build downloads a binary: install the rest.
        done = run([*pip, "--no-deps", f"dbt-core=={version}"])
        if not done.returncode:
            listing = run(
                [
                    str(python),
                    "-c",
                    "import importlib.metadata as m; "
                    "print('\\n'.join(m.requires('dbt-core') or []))",
                ]
            ).stdout
            needed = [
                r
                for r in listing.splitlines()
                if "extra ==" not in r
                and not r.replace("_", "-").lower().startswith(_UNINSTALLABLE)
            ]
            done = run([*pip, *needed])
        if done.returncode:
            raise SystemExit(
                f"could not install dbt-core=={version} into {venv}:\n{done.stderr[-3000:]}"
            )
    return str(python)


def find_dbt_venvs() -> dict[str, str]:
    """Versions whose venv already exists under ``.dbt-venvs`` (for the test: never installs)."""
    found = {}
    if VENVS.is_dir():
        for venv in sorted(VENVS.iterdir()):
            python = venv / "bin" / "python"
            if python.exists():
                found[venv.name] = str(python)
    return found


# -- the comparison -------------------------------------------------------------------------------


@dataclass
class Row:
    case: Case
    ours: dict
    dbt: dict[str, dict]

    def verdict(self, version: str) -> str:
        if self.case.since and _older(version, self.case.since):
            return "n/a"
        theirs = self.dbt[version]["outcome"]
        # The recorded answer must still be dbt's, or the suite's own table has gone stale.
        return "agree" if theirs == self.ours["outcome"] == self.case.dbt else "DISAGREE"


def _older(version: str, since: str) -> bool:
    def parts(v: str) -> tuple[int, ...]:
        return tuple(int(p) for p in v.split(".")[:2])

    return parts(version) < parts(since)


def compare(pythons: dict[str, str], cases: Iterable[Case] = CASES) -> list[Row]:
    cases = list(cases)
    with tempfile.TemporaryDirectory(prefix="dbt-agreement-") as tmp:
        roots = [Path(tmp) / str(i) for i in range(len(cases))]
        worlds = [_world(root, case) for root, case in zip(roots, cases, strict=True)]
        dirs = [_project_dir(root, case) for root, case in zip(roots, cases, strict=True)]
        ours = _run_lines(
            [sys.executable, "-m", "tests.consent.dbt_agreement", "--ours"],
            [
                json.dumps(
                    {"cwd": str(cwd), "env": env, "flag": case.flag, "project_dir": project_dir}
                )
                for case, (cwd, env), project_dir in zip(cases, worlds, dirs, strict=True)
            ],
            cwd=REPO,
        )
        theirs: dict[str, list[dict]] = {}
        for version, python in pythons.items():
            answers = _run_lines(
                [python, str(PROBE)],
                [
                    json.dumps({"cwd": str(cwd), "env": env, "args": _dbt_args(case, project_dir)})
                    for case, (cwd, env), project_dir in zip(cases, worlds, dirs, strict=True)
                ],
            )
            if answers[0].get("dbt") != version:
                raise SystemExit(f"{python} runs dbt-core {answers[0].get('dbt')}, not {version}")
            theirs[version] = answers[1:]
    return [Row(case, ours[i], {v: theirs[v][i] for v in pythons}) for i, case in enumerate(cases)]


def _inputs(case: Case) -> str:
    parts = [f"{k}={v!r}" for k, v in case.env.items()]
    if case.project_dir is not None:
        parts.append(f"--project-dir {case.project_dir}")
    if case.cwd != "shop":
        parts.append(f"cwd {case.cwd}")
    if case.other is not None:
        parts.append(f"other/dbt_project.yml {case.other!r}")
    if case.flag is not None:
        parts.append(f"--{'' if case.flag else 'no-'}send-anonymous-usage-stats")
    if case.project is not None:
        parts.append(f"dbt_project.yml {case.project!r}")
    if case.profiles is not None:
        parts.append(f"profiles.yml ({case.profiles_in}) {case.profiles!r}")
    if case.user_settings is not None:
        parts.append(f"~/.dbt/user_settings.yml {case.user_settings!r}")
    return "; ".join(parts).replace("|", "\\|") or "—"


def table(rows: list[Row], versions: list[str]) -> str:
    head = ["case", "inputs", *(f"dbt {v}" for v in versions), "ours", "verdict"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        verdicts = {row.verdict(v) for v in versions} - {"n/a"}
        verdict = "DISAGREE" if "DISAGREE" in verdicts else "agree" if verdicts else "n/a"
        cells = [
            row.case.name.replace("|", "\\|"),
            f"`{_inputs(row.case)}`",
            *(
                row.dbt[v]["outcome"]
                + (f" (n/a: not read before {row.case.since})" if row.verdict(v) == "n/a" else "")
                for v in versions
            ),
            f"{row.ours['outcome']} ({row.ours['decided_by']})",
            verdict,
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def disagreements(rows: list[Row], versions: list[str]) -> list[str]:
    return [
        f"{row.case.name}: dbt {v} {row.dbt[v]['outcome']} "
        f"{row.dbt[v].get('error', '')} (recorded: {row.case.dbt}), ours {row.ours['outcome']} "
        f"(decided by {row.ours['decided_by']}; warnings {row.ours['warnings']})"
        for row in rows
        for v in versions
        if row.verdict(v) == "DISAGREE"
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--dbt-version",
        action="append",
        dest="versions",
        help=f"dbt-core version(s) to compare with (default: {', '.join(DEFAULT_VERSIONS)})",
    )
    parser.add_argument(
        "--dbt-python",
        action="append",
        default=[],
        metavar="VERSION=PATH",
        help="use this interpreter (which has dbt-core VERSION) instead of a venv",
    )
    parser.add_argument("--markdown", type=Path, help="also write the table to this file")
    args = parser.parse_args(argv)
    pythons = dict(item.split("=", 1) for item in args.dbt_python)
    for version in args.versions or ([] if pythons else list(DEFAULT_VERSIONS)):
        pythons.setdefault(version, ensure_dbt(version, log=lambda m: print(m, file=sys.stderr)))
    versions = list(pythons)
    rows = compare(pythons)
    text = table(rows, versions)
    agreed = sum(all(row.verdict(v) != "DISAGREE" for v in versions) for row in rows)
    summary = f"\n{agreed} of {len(rows)} cases agree with dbt-core {', '.join(versions)}."
    print(text + summary)
    if args.markdown:
        args.markdown.write_text(text + summary + "\n")
    for line in disagreements(rows, versions):
        print(f"DISAGREE: {line}", file=sys.stderr)
    return 0 if agreed == len(rows) else 1


if __name__ == "__main__":
    if sys.argv[1:] == ["--ours"]:
        _ours_main()
    else:
        sys.exit(main())

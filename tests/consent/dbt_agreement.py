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


def _flags(value: str, before: str = "name: shop\n") -> str:
    return f"{before}flags:\n  send_anonymous_usage_stats: {value}\n"


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
)


# -- the worlds -----------------------------------------------------------------------------------


def _world(root: Path, case: Case) -> tuple[Path, dict[str, str]]:
    home, project = root / "home", root / "shop"
    (home / ".dbt").mkdir(parents=True)  # dbt needs its profiles dir to exist
    project.mkdir()
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
    places = {"home": home / ".dbt", "cwd": project / case.subdir, "dir": root / "profiles"}
    if case.profiles_in == "dir":
        env["DBT_PROFILES_DIR"] = str(places["dir"])
    elif case.profiles_in == "missing":
        env["DBT_PROFILES_DIR"] = str(root / "no-such-dir")
    if case.profiles is not None:
        where = places[case.profiles_in]
        where.mkdir(parents=True, exist_ok=True)
        (where / "profiles.yml").write_bytes(case.profiles.encode())
    cwd = project / case.subdir
    cwd.mkdir(parents=True, exist_ok=True)
    env.update(case.env)
    return cwd, env


def _dbt_args(case: Case) -> list[str]:
    if case.flag is None:
        return ["parse"]
    return [f"--{'' if case.flag else 'no-'}send-anonymous-usage-stats", "parse"]


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
        decision = decide(DEFAULT_PROFILE, host_flag=case["flag"])
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
        worlds = [_world(Path(tmp) / str(i), case) for i, case in enumerate(cases)]
        ours = _run_lines(
            [sys.executable, "-m", "tests.consent.dbt_agreement", "--ours"],
            [
                json.dumps({"cwd": str(cwd), "env": env, "flag": case.flag})
                for case, (cwd, env) in zip(cases, worlds, strict=True)
            ],
            cwd=REPO,
        )
        theirs: dict[str, list[dict]] = {}
        for version, python in pythons.items():
            answers = _run_lines(
                [python, str(PROBE)],
                [
                    json.dumps({"cwd": str(cwd), "env": env, "args": _dbt_args(case)})
                    for case, (cwd, env) in zip(cases, worlds, strict=True)
                ],
            )
            if answers[0].get("dbt") != version:
                raise SystemExit(f"{python} runs dbt-core {answers[0].get('dbt')}, not {version}")
            theirs[version] = answers[1:]
    return [Row(case, ours[i], {v: theirs[v][i] for v in pythons}) for i, case in enumerate(cases)]


def _inputs(case: Case) -> str:
    parts = [f"{k}={v!r}" for k, v in case.env.items()]
    if case.flag is not None:
        parts.append(f"--{'' if case.flag else 'no-'}send-anonymous-usage-stats")
    if case.project is not None:
        parts.append(f"dbt_project.yml {case.project!r}")
    if case.profiles is not None:
        parts.append(f"profiles.yml ({case.profiles_in}) {case.profiles!r}")
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

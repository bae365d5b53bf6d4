"""The opt-in question on a REAL terminal (a pty that is the child's controlling terminal), and
proof that without one it is never asked and never waited for."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from consent.ci import CI_VARIABLES
from tests.support.terminal import CTRL_C, CTRL_D, ENTER, HANG_S, run_on_pty
from tests.support.world import REPO
from tracking.prompt import question

#: The child: ``python -m tests.support.prompt_child`` (PYTHONPATH: this checkout).
CHILD = ["-m", "tests.support.prompt_child"]
#: Short, so that a test of "no answer" is quick; the default (15 s) is the profile's.
TIMEOUT_S = "0.5"
#: For tests that answer: long enough that a loaded machine never times out before the keys.
ANSWER_WITHIN_S = "20"

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX terminals only")


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in CI_VARIABLES}
    env["PYTHONPATH"] = str(REPO)
    env.update(extra)
    return env


def _result(path: Path) -> dict:
    return json.loads(path.read_text())


ANSWERS = {
    # id: (keys typed after the question, the answer)
    "y": (b"y" + ENTER, "yes"),
    "YES with spaces": (b"  YES " + ENTER, "yes"),
    "n": (b"n" + ENTER, "no"),
    "no": (b"no" + ENTER, "no"),
    "Enter alone: the default, No": (ENTER, "no"),
    "Ctrl-D on an empty line": (CTRL_D, "eof"),
    "y then Ctrl-D, no Enter: the line counts": (b"y" + CTRL_D, "yes"),
    "Ctrl-C": (CTRL_C, "interrupt"),
    "an unknown word, then y: asked again": (b"maybe" + ENTER + b"y" + ENTER, "yes"),
}


@pytest.mark.parametrize("case", ANSWERS)
def test_an_answer_typed_on_the_terminal(tmp_path, case):
    keys, answer = ANSWERS[case]
    result = tmp_path / "result.json"

    run = run_on_pty([sys.executable, *CHILD, str(result), ANSWER_WITHIN_S], _env(), keys=keys)

    assert run.typed, run.screen
    assert _result(result) == {"why_not": None, "answer": answer}, run.screen
    assert "Share anonymous usage statistics with askfirst?" in run.screen
    assert "Every field: `askfirst telemetry events`." in run.screen
    assert "[y/N]" in run.screen
    assert "host goes on" in run.screen, "the host run continues, Ctrl-C included"
    assert run.returncode == 7, "the host's own exit code"
    assert "Traceback" not in run.screen
    if case.startswith("an unknown word"):
        assert "Please answer y or n." in run.screen


def test_no_answer_times_out_and_the_host_goes_on(tmp_path):
    result = tmp_path / "result.json"

    run = run_on_pty([sys.executable, *CHILD, str(result), TIMEOUT_S], _env())

    assert _result(result) == {"why_not": None, "answer": "timeout"}
    assert "[y/N]" in run.screen and "host goes on" in run.screen
    assert run.returncode == 7
    assert run.elapsed_s < HANG_S


def test_a_half_typed_answer_is_no_answer(tmp_path):
    result = tmp_path / "result.json"

    run = run_on_pty([sys.executable, *CHILD, str(result), TIMEOUT_S], _env(), keys=b"y")

    assert run.typed
    assert _result(result)["answer"] == "timeout", "a y without Enter is not consent"


def test_typeahead_before_the_question_is_not_an_answer(tmp_path):
    result, go = tmp_path / "result.json", tmp_path / "go"

    run = run_on_pty(
        [sys.executable, *CHILD, str(result), TIMEOUT_S, str(go)],
        _env(),
        keys=b"y" + ENTER,
        before=go,
    )

    assert go.exists(), run.screen
    assert _result(result) == {"why_not": None, "answer": "timeout"}, run.screen


# -- never without a terminal, and never waiting there -----------------------------------------


def test_never_asks_a_background_process_group_and_is_never_stopped(tmp_path):
    """A job started with `&` shares the terminal but is not in its foreground: reading it would
    stop the host with SIGTTIN (and writing may stop it with SIGTTOU)."""
    result = tmp_path / "result.json"

    run = run_on_pty(
        [sys.executable, *CHILD, str(result), ANSWER_WITHIN_S], _env(), background=True
    )

    assert _result(result) == {"why_not": "in the background", "answer": None}
    assert "[y/N]" not in run.screen
    assert run.returncode == 7 and run.elapsed_s < HANG_S


@pytest.mark.parametrize("variable", ["CI", "GITHUB_ACTIONS", "BUILDKITE"])
def test_never_asks_in_ci_even_on_a_terminal(tmp_path, variable):
    result = tmp_path / "result.json"

    run = run_on_pty(
        [sys.executable, *CHILD, str(result), ANSWER_WITHIN_S], _env(**{variable: "true"})
    )

    assert _result(result) == {"why_not": f"CI ({variable})", "answer": None}
    assert "[y/N]" not in run.screen


def test_never_asks_when_stdin_is_a_pipe_and_never_reads_it(tmp_path):
    # The pipe stays open and empty: a read would wait until the bound above fails the test.
    result = tmp_path / "result.json"
    proc = subprocess.Popen(
        [sys.executable, *CHILD, str(result), ANSWER_WITHIN_S],
        env=_env(),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        _out, err = proc.communicate(timeout=HANG_S)
    finally:
        proc.kill()
    assert _result(result) == {"why_not": "stdin is not a terminal", "answer": None}
    assert b"[y/N]" not in err and proc.returncode == 7


def test_never_asks_when_stderr_goes_to_a_file_even_with_a_terminal_for_stdin(tmp_path):
    result, log = tmp_path / "result.json", tmp_path / "stderr.log"
    script = (
        "import os, subprocess, sys; "
        f"err = open({str(log)!r}, 'w'); "
        f"sys.exit(subprocess.call([sys.executable, *{CHILD!r}, {str(result)!r}, "
        f"{ANSWER_WITHIN_S!r}], stderr=err))"
    )

    run = run_on_pty([sys.executable, "-c", script], _env())

    assert _result(result) == {"why_not": "stderr is not a terminal", "answer": None}
    assert "[y/N]" not in run.screen and "[y/N]" not in log.read_text()
    assert run.returncode == 7


def test_the_question_names_the_tool_and_where_every_field_is():
    text = question("jaffle", "command and duration", "jaffle telemetry")

    assert text.startswith("Share anonymous usage statistics with jaffle?")
    assert "command and duration" in text
    assert "Every field: `jaffle telemetry events`." in text
    assert text.endswith("[y/N] ")

"""Nothing a user would call private ever leaves the machine, nor lands in the local event log.

Property-based: for arbitrary model SQL, project names, directory names, user names, environment
values and credential-looking strings planted in the project, none of them appears in any byte
the collector received (raw tracker parameters, and ``ue_px``/``cx`` decoded from base64) nor in
``<XDG_STATE_HOME>/testapp/events.log``. One collector for the module; each example is a fresh
world and an in-process :class:`tracking.Tracker` (a subprocess each would cost ~0.5 s); a few
fixed hostile values then go through the real host process too.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import tempfile
import urllib.parse
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tests.reliability import reliability_kit as kit
from tests.support.tracking import everything_sent, make_profile
from tracking import Tracker
from tracking.state import acknowledge_notice

pytestmark = pytest.mark.reliability

EXAMPLES = 50
MODELS = 3


@pytest.fixture(scope="module")
def shared_collector():
    from telemetry_collector import Collector

    with Collector() as running:
        yield running


@contextmanager
def environ(values: dict[str, str], cwd: Path):
    """``os.environ`` and the cwd replaced for one example (platformdirs reads both)."""
    saved_env, saved_cwd = dict(os.environ), os.getcwd()
    os.environ.clear()
    os.environ.update(values)
    os.chdir(cwd)
    try:
        yield
    finally:
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)


# -- what a hostile world holds --------------------------------------------------------------------
_NAME_CHARS = st.characters(
    blacklist_categories=("Cs", "Cc", "Zl", "Zp"), blacklist_characters="/\\\x00"
)
#: Names of files and directories: anything a file system takes, no separators.
dir_names = st.text(_NAME_CHARS, min_size=1, max_size=30).filter(
    lambda s: s.strip(". ") != "" and len(s.encode()) < 200
)
#: Environment values: anything but NUL (which no environment can hold).
env_values = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
    min_size=1,
    max_size=60,
)
#: Anything at all (SQL, project names).
anything = st.text(min_size=1, max_size=200)
credentials = st.one_of(
    st.from_regex(r"AKIA[0-9A-Z]{16}", fullmatch=True),
    st.from_regex(r"ghp_[0-9A-Za-z]{36}", fullmatch=True),
    st.from_regex(r"xox[bp]-[0-9]{10}-[0-9A-Za-z]{24}", fullmatch=True),
    st.from_regex(
        r"postgres://[a-z]{3,8}:[A-Za-z0-9]{8,16}@db[0-9]\.internal/[a-z]{4}", fullmatch=True
    ),
    st.builds(
        lambda s: f"-----BEGIN PRIVATE KEY-----{s}-----END PRIVATE KEY-----",
        st.from_regex(r"[A-Za-z0-9+/]{40}", fullmatch=True),
    ),
)
#: A tag that makes each planted value findable even when the fuzzed part is short or common.
tags = st.from_regex(r"Zq[A-Z][a-z]{5}[A-Z]Qz", fullmatch=True)


def needles(planted: dict[str, str], baseline: str) -> dict[str, str]:
    """The strings to look for: each planted value, and every long, distinctive piece of it."""
    out: dict[str, str] = {}
    for carrier, value in planted.items():
        pieces = {value, *re.split(r"[\s'\"/\\,;:=@{}\[\]()]+", value)}
        for piece in pieces:
            # Short or hex-only pieces could appear by chance inside hashes, uuids or timestamps;
            # pieces the protocol itself contains (field names…) would prove nothing.
            if (
                len(piece) >= 6
                and not re.fullmatch(r"[0-9a-fA-F.\-]+", piece)
                and piece not in baseline
            ):
                out[f"{carrier}: {piece!r}"] = piece
    return out


def variants(text: str, baseline: str = "") -> set[str]:
    """How a string could appear in bytes on the wire or in a JSON log."""
    forms = {
        text,
        json.dumps(text)[1:-1],
        json.dumps(text, ensure_ascii=False)[1:-1],
        urllib.parse.quote(text),
        urllib.parse.quote_plus(text),
    }
    raw = text.encode("utf-8", "surrogatepass")
    for encode, decode in (
        (base64.b64encode, base64.b64decode),
        (base64.urlsafe_b64encode, base64.urlsafe_b64decode),
    ):
        # Inside a longer base64 text the value starts at any offset modulo 3: for each, the
        # 4-character groups made only of the value's own bytes are the same whatever surrounds it.
        for shift in range(3):
            encoded = encode(b"\0" * shift + raw).decode()
            stable = encoded[4 if shift else 0 : -4]
            # Those groups stand for only part of the value: a part the protocol itself sends
            # ("vocati" of "vocati0" is in every "invocation") proves nothing, as in needles().
            part = decode(stable).decode("utf-8", "ignore")
            if len(stable) >= 8 and part not in baseline:
                forms.add(stable)
    return {f for f in forms if f}


def log_text(state_dir: Path) -> str:
    path = state_dir / "events.log"
    if not path.exists():
        return ""
    raw = path.read_text(encoding="utf-8", errors="replace")
    decoded = []
    for line in raw.splitlines():
        try:
            decoded.append(json.dumps(json.loads(line), ensure_ascii=False))
        except ValueError:
            decoded.append(line)
    return raw + "\n" + "\n".join(decoded)


def wire_text(collector) -> str:
    """Everything the collector received: good and bad, raw params, decoded payloads, headers."""
    text = everything_sent(collector)
    for event in collector.bad():
        raw = (event.get("collectorPayload") or {}).get("body") or ""
        text += "\n" + raw
    return text


def assert_absent(found_in: dict[str, str], wanted: dict[str, str], baseline: str = "") -> None:
    leaks = []
    for where, text in found_in.items():
        for name, needle in wanted.items():
            hits = [form for form in variants(needle, baseline) if form in text]
            if hits:
                leaks.append(f"{name} found in {where} as {hits[0]!r}")
    assert not leaks, "private data left the machine:\n" + "\n".join(leaks)


# -- one world per example -------------------------------------------------------------------------
_BASELINE: dict[str, str] = {}


def baseline(collector, tmp_path_factory) -> str:
    """What a neutral run sends: protocol words, field names, the tool's own versions.

    Kept out of the test's arguments so that hypothesis does not print it with every example.
    """
    if "sent" not in _BASELINE:
        root = tmp_path_factory.mktemp("privacy-baseline")
        _BASELINE["sent"], _ = _one_run(
            collector,
            root,
            user="alice",
            project_dir="shop",
            project_name="shop",
            sql="select 1",
            env_extra={},
            credential="nothing",
        )
    return _BASELINE["sent"]


def _one_run(
    collector,
    root: Path,
    *,
    user: str,
    project_dir: str,
    project_name: str,
    sql: str,
    env_extra: dict[str, str],
    credential: str,
) -> tuple[str, str]:
    home = root / "home" / user
    project = home / "work" / project_dir
    project.mkdir(parents=True)
    (project / "testapp_project.yml").write_text(
        yaml.safe_dump(
            {
                "name": project_name,
                "password": credential,
                "flags": {"send_anonymous_usage_stats": True},
            },
            allow_unicode=True,
        ),
        encoding="utf-8",
    )
    (project / ".env").write_text(f"DATABASE_URL={credential}\n", encoding="utf-8")
    (project / "profiles.yml").write_text(
        yaml.safe_dump({"default": {"outputs": {"dev": {"password": credential}}}}),
        encoding="utf-8",
    )
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "USER": user,
        "LOGNAME": user,
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_STATE_HOME": str(home / ".local/state"),
        "XDG_CONFIG_DIRS": str(root / "etc"),
        "XDG_DATA_HOME": str(home / ".local/share"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "PGPASSWORD": credential,
        "AWS_SECRET_ACCESS_KEY": credential,
        "TESTAPP_PASSWORD": credential,
        "TESTAPP_TELEMETRY_APIKEY": credential,
        **env_extra,
    }
    collector.reset()
    with environ(env, project):
        profile = make_profile(collector.url)
        acknowledge_notice(profile)  # the user was told in an earlier run: this one sends
        tracker = Tracker(profile, cwd=str(project), env=env, project_name=project_name)
        assert tracker.plan.kind == "record", tracker.decision
        with tracker.invocation("run") as inv:
            for index in range(MODELS):
                inv.model_run(
                    contents=f"{sql}\n-- {index}",
                    status="success",
                    execution_time_s=0.01,
                    materialization="table",
                )
                inv.count("model")
        assert tracker.flush(20)  # delivered in this process, the local log written
        tracker.close()
        state_dir = Path(profile.state_dir())
    assert collector.wait_for(good=MODELS + 2, timeout=10), collector.totals()
    assert collector.totals() == {
        "total": MODELS + 2,
        "good": MODELS + 2,
        "bad": 0,
        "duplicates": 0,
        "evicted": 0,
    }
    return wire_text(collector), log_text(state_dir)


TRIED = {"examples": 0}


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=False,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    tag=tags,
    model_name=anything,
    sql=anything,
    project_name=anything,
    project_dir=dir_names,
    user=dir_names,
    env_value=env_values,
    credential=credentials,
)
def test_nothing_private_is_ever_sent_or_logged(
    shared_collector,
    tmp_path_factory,
    tag,
    model_name,
    sql,
    project_name,
    project_dir,
    user,
    env_value,
    credential,
):
    planted = {
        "model name": f"{tag}_{model_name}",
        "model SQL": f"select '{tag}' as {tag}_name, {sql!r} from {tag}_source",
        "SQL (raw)": sql,
        "project name": f"{tag}_{project_name}",
        "project directory": f"{tag}{project_dir}",
        "user name": f"{tag}{user}",
        "environment value": f"{tag}={env_value}",
        "credential": credential,
    }
    public = baseline(shared_collector, tmp_path_factory)
    wanted = needles(planted, public)
    assume(wanted)
    root = Path(tempfile.mkdtemp(dir=tmp_path_factory.getbasetemp(), prefix="privacy-"))
    try:
        sent, logged = _one_run(
            shared_collector,
            root,
            user=planted["user name"],
            project_dir=planted["project directory"],
            project_name=planted["project name"],
            sql=f"-- model: {planted['model name']}\n{planted['model SQL']}",
            env_extra={
                "SECRET_TOKEN": planted["environment value"],
                "TESTAPP_TELEMETRY_NOTE": planted["environment value"],
            },
            credential=credential,
        )
    finally:
        shutil.rmtree(root, ignore_errors=True)
    TRIED["examples"] += 1
    assert logged, "nothing was logged: the check below would prove nothing"
    assert_absent(
        {"what the collector received": sent, "the local event log": logged}, wanted, public
    )


def test_privacy_examples_were_really_tried():
    """Runs after the property above (file order): record how many worlds it attacked."""
    if not TRIED["examples"]:
        pytest.skip("the property test was not run in this session (deselected)")
    kit.record("privacy", "in-process tracker, hypothesis", "examples tried", TRIED["examples"])
    assert TRIED["examples"] >= EXAMPLES // 2


def test_the_leak_detector_does_find_a_leak():
    """The check is real: a planted value that is present (even base64'd, even escaped) is found."""
    secret = "ZqPasswordQz\u00e9"
    blob = base64.urlsafe_b64encode(json.dumps({"x": secret}).encode()).decode()
    for text in (secret, json.dumps({"x": secret}), blob):
        with pytest.raises(AssertionError, match="private data left"):
            assert_absent({"somewhere": text}, needles({"c": secret}, ""))


HOSTILE = [
    {
        "user": "ada.lovelace",
        "project": "acme_payroll_2024",
        "marker": "CustomerSsnTable",
        "secret": "AKIAIOSFODNN7EXAMPLE",
    },
    {
        "user": "jöhn dœ",
        "project": "projet été",
        "marker": "Zq\u00fcml\u00e4\u00fctQz",
        "secret": "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
    },
    {
        "user": "x'; DROP TABLE users; --",
        "project": 'p"quoted"',
        "marker": "QuoteMarker'\"",
        "secret": "postgres://admin:hunter2hunter2@db1.internal/prod",
    },
]


@pytest.mark.parametrize("case", HOSTILE, ids=[c["project"][:10] for c in HOSTILE])
def test_the_real_host_process_sends_nothing_private(tracking_world, collector, case):
    world = tracking_world
    world.acknowledge()
    project = world.project / case["project"]
    project.mkdir()
    (project / "testapp_project.yml").write_text(
        f"name: {json.dumps(case['project'])}\npassword: {json.dumps(case['secret'])}\n"
    )
    env = {
        "USER": case["user"],
        "LOGNAME": case["user"],
        "PGPASSWORD": case["secret"],
        "HOST_PROJECT": case["project"],
        "HOST_MARKER": case["marker"],
        "TESTAPP_TELEMETRY_FLUSH_DEADLINE": "10",
    }
    run = world.run_host(cwd=project, endpoint=world.collector_url, env=env)

    assert run.returncode == 0 and run.stderr_lines == [], run.stderr
    assert collector.wait_for(good=52, timeout=10), collector.totals()
    planted = {
        "user name": case["user"],
        "project name": case["project"],
        "model name/SQL marker": case["marker"],
        "credential": case["secret"],
        "project path": str(project),
    }
    wanted = {f"{k}: {v!r}": v for k, v in planted.items()}
    assert_absent(
        {
            "what the collector received": wire_text(collector),
            "the local event log": log_text(world.state_dir()),
        },
        wanted,
    )

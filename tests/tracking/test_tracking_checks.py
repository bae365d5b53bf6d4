"""The built-in schemas' checks, generated ahead of time (tracking/_checks.py): up to date with
the schema files, and accepting and refusing exactly what those files do.

The host runs these checks on every event it records without importing any schema library;
if they drifted from the schema files, a host would spool events a collector rejects (or refuse
good ones). Regenerate with ``python tools/gen_checks.py``.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys

import fastjsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tools import gen_checks as _gen_checks
from tracking import _checks
from tracking.catalog import DEFAULT_CATALOG, host_check

jsonschema = pytest.importorskip("jsonschema")
SCHEMAS = _gen_checks.schema_files()


def test_every_shipped_schema_has_a_check_generated_from_its_current_text():
    assert {uri for uri, _ in SCHEMAS} == set(_checks.CHECKS) == set(_checks.SCHEMA_SHA256)
    for uri, path in SCHEMAS:
        assert _checks.SCHEMA_SHA256[uri] == hashlib.sha256(path.read_bytes()).hexdigest(), (
            f"{path} changed since tracking/_checks.py was generated: "
            "run `python tools/gen_checks.py`"
        )


@pytest.mark.skipif(
    fastjsonschema.VERSION != _checks.FASTJSONSCHEMA_VERSION,
    reason="another fastjsonschema generates other (equivalent) text",
)
def test_regenerating_gives_the_committed_module_byte_for_byte():
    assert _gen_checks.generate() == _gen_checks.TARGET.read_text(encoding="utf-8")


def test_the_host_uses_them_and_imports_nothing_for_them():
    assert all(host_check(spec) is _checks.CHECKS[spec.iglu_uri] for spec in DEFAULT_CATALOG)
    code = (
        "import sys; from tracking._checks import CHECKS; "
        "print(sorted(n for n in sys.modules if n.split('.')[0] in "
        "('fastjsonschema', 'decimal', 'jsonschema', 'pydantic')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def _schema(path):
    """The schema file as the independent validator should read it: like fastjsonschema, a
    ``pattern``'s ``$`` means the very end (Python's ``$`` also matches before a final newline,
    which would let ``"run\\n"`` through as a command)."""
    import json

    def strict(node):
        if isinstance(node, dict):
            return {
                k: (v[:-1] + "\\Z" if k == "pattern" and v.endswith("$") else strict(v))
                for k, v in node.items()
            }
        if isinstance(node, list):
            return [strict(v) for v in node]
        return node

    from tracking.schema_check import draft_04

    return strict(draft_04(json.loads(path.read_text(encoding="utf-8"))))


def _values() -> st.SearchStrategy:
    """JSON-like values, biased towards the shapes and edges our schemas talk about."""
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-5, 2**31),
        st.floats(allow_nan=False, allow_infinity=False),
        st.sampled_from(
            [
                "run",
                "run\n",
                "docs generate",
                "RUN",
                "run --select x",
                "table",
                "success",
                "exploded",
                "core",
                "cloud",
                "Linux",
                "3.12.4",
                "",
                "0" * 64,
                "0" * 63,
                "0" * 64 + "\n",
                "a" * 65,
                "5f2b8a6e-6c1d-4f0a-9b7e-2d4c6a8e0f13",
            ]
        ),
        st.text(max_size=70),
    )
    return st.recursive(
        scalars,
        lambda inner: st.one_of(
            st.lists(inner, max_size=3),
            st.dictionaries(
                st.sampled_from(
                    [
                        "command",
                        "success",
                        "duration_s",
                        "node_counts",
                        "model",
                        "model_key",
                        "status",
                        "execution_time_s",
                        "materialization",
                        "os",
                        "python_version",
                        "tool_version",
                        "invocation_id",
                        "anonymous_user_id",
                        "project_id",
                        "edition",
                        "Bad Key",
                        "x",
                    ]
                ),
                inner,
                max_size=6,
            ),
        ),
        max_leaves=12,
    )


def _examples(spec) -> st.SearchStrategy:
    example = spec.example
    mutated = st.builds(
        lambda key, value: {**example, key: value}, st.sampled_from(sorted(example)), _values()
    )
    dropped = st.builds(
        lambda key: {k: v for k, v in example.items() if k != key}, st.sampled_from(sorted(example))
    )
    return st.one_of(st.just(example), mutated, dropped, _values())


@pytest.mark.parametrize("uri,path", SCHEMAS, ids=[u.split("/")[1] for u, _ in SCHEMAS])
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_the_generated_check_agrees_with_the_schema_file(uri, path, data):
    # An older version (invocation 1-0-0) is drawn from its successor's examples.
    spec = DEFAULT_CATALOG.get(uri) or DEFAULT_CATALOG.get(uri.split("/")[1])
    value = data.draw(_examples(spec))
    independent = jsonschema.Draft4Validator(_schema(path))
    expected = independent.is_valid(value)
    try:
        _checks.CHECKS[uri](value)
        accepted = True
    except _checks.JsonSchemaValueException:
        accepted = False
    assert accepted == expected, value

"""Each event model and its shipped Iglu schema agree, and the schema says what
docs/guarantees.md promises.

The schema file is the contract a collector enforces; the model is how code builds instances.
If they drift, either the tracker refuses good events or a collector rejects what we send.
Checked both ways with generated instances: whatever the model accepts, the file accepts (two
validators: our compiled fastjsonschema and the independent ``jsonschema`` Draft 4), and
whatever the file accepts, the model accepts.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from tracking.catalog import DEFAULT_CATALOG, SELF_DESC_SCHEMA, VENDOR
from tracking.errors import EventInvalid

jsonschema = pytest.importorskip("jsonschema")

SCHEMAS = Path(__file__).resolve().parents[2] / "tracking" / "schemas"
SPECS = list(DEFAULT_CATALOG)
IDS = [spec.name for spec in SPECS]


def _file(spec) -> dict:
    path = SCHEMAS / VENDOR / spec.name / "jsonschema" / spec.version
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_the_schema_is_a_self_describing_iglu_schema_in_the_iglu_layout(spec):
    schema = _file(spec)  # exactly tracking/schemas/<vendor>/<name>/jsonschema/<version>
    assert schema["$schema"] == SELF_DESC_SCHEMA
    # 1-0-0 for each, but the invocation context: 1-0-1 (an ADDITION, the id pattern widened).
    assert spec.version == ("1-0-1" if spec.name == "invocation" else "1-0-0")
    assert schema["self"] == {
        "vendor": "dev.telemetry-consent",
        "name": spec.name,
        "format": "jsonschema",
        "version": spec.version,
    }
    assert spec.iglu_uri == f"iglu:dev.telemetry-consent/{spec.name}/jsonschema/{spec.version}"
    assert schema["type"] == "object"
    assert schema["additionalProperties"] is False
    assert spec.schema() == schema
    jsonschema.Draft4Validator.check_schema({k: v for k, v in schema.items() if k != "self"})


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_every_string_is_bounded_and_every_hash_is_a_keyed_hash(spec):
    for name, prop in _file(spec)["properties"].items():
        types = prop["type"] if isinstance(prop["type"], list) else [prop["type"]]
        if "string" in types:
            assert "maxLength" in prop, f"{spec.name}.{name} has no maxLength"
        if name.endswith(("_key", "project_id")):
            assert prop["pattern"] == "^[0-9a-f]{64}$"
        if "object" in types:
            assert prop.get("additionalProperties") is False


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_model_and_schema_name_the_same_fields_required_alike_described_alike(spec):
    schema = _file(spec)
    model = spec.model_class.model_json_schema()
    assert set(model["properties"]) == set(schema["properties"])
    assert set(model.get("required", ())) | _defaulted(spec) == set(schema["required"])
    for name, prop in schema["properties"].items():
        assert model["properties"][name].get("description") == prop.get("description"), name


def _defaulted(spec) -> set[str]:
    """Fields the model fills in itself (always present in what it dumps, so required there)."""
    return {
        name for name, field in spec.model_class.model_fields.items() if not field.is_required()
    }


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_the_catalog_example_is_valid_for_both(spec):
    spec.validate(spec.example)
    assert spec.model_class(**spec.example).model_dump(mode="json") == spec.example


# -- generated instances ----------------------------------------------------------------------
def _strategy(schema: dict, defs: dict | None = None) -> st.SearchStrategy:
    """Values valid for a JSON schema, as far as our schemas (and pydantic's) use the keywords."""
    defs = defs if defs is not None else schema.get("$defs", {})
    if "$ref" in schema:
        return _strategy(defs[schema["$ref"].rsplit("/", 1)[-1]], defs)
    if "anyOf" in schema:
        return st.one_of(*[_strategy(s, defs) for s in schema["anyOf"]])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    if "const" in schema:
        return st.just(schema["const"])
    kind = schema.get("type")
    if isinstance(kind, list):
        return st.one_of(*[_strategy({**schema, "type": k}, defs) for k in kind])
    if kind == "null":
        return st.none()
    if kind == "boolean":
        return st.booleans()
    if kind == "integer":
        return st.integers(schema.get("minimum", -(2**31)), schema.get("maximum", 2**31))
    if kind == "number":
        return st.floats(
            schema.get("minimum"), schema.get("maximum"), allow_nan=False, allow_infinity=False
        )
    if kind == "string":
        max_size = schema.get("maxLength", 100)
        if "pattern" in schema:
            return st.from_regex(schema["pattern"], fullmatch=True).filter(
                lambda s: schema.get("minLength", 0) <= len(s) <= max_size
            )
        return st.text(min_size=schema.get("minLength", 0), max_size=max_size)
    if kind == "object":
        if "properties" in schema:
            props = schema["properties"]
            return st.fixed_dictionaries({k: _strategy(v, defs) for k, v in props.items()})
        patterns = schema.get("patternProperties")
        if patterns:
            ((pattern, values),) = patterns.items()
        else:  # pydantic: a dict with constrained keys
            pattern = schema["propertyNames"]["pattern"]
            values = schema["additionalProperties"]
        return st.dictionaries(
            st.from_regex(pattern, fullmatch=True),
            _strategy(values, defs),
            max_size=schema.get("maxProperties", 5),
        )
    raise AssertionError(f"no strategy for {schema}")


def _both_validators(spec):
    file_schema = {k: v for k, v in _file(spec).items() if k not in ("$schema", "self")}
    independent = jsonschema.Draft4Validator(file_schema)
    return spec.validator, independent


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(data=st.data())
def test_whatever_the_model_accepts_the_schema_file_accepts(spec, data):
    values = data.draw(_strategy(spec.model_class.model_json_schema()))
    dumped = spec.model_class(**values).model_dump(mode="json")
    ours, independent = _both_validators(spec)
    ours(dumped)
    independent.validate(dumped)


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(data=st.data())
def test_whatever_the_schema_file_accepts_the_model_accepts(spec, data):
    values = data.draw(_strategy(_file(spec)))
    _, independent = _both_validators(spec)
    independent.validate(values)
    rebuilt = spec.model_class(**values).model_dump(mode="json")
    for key, value in values.items():
        if isinstance(value, float):
            assert math.isclose(rebuilt[key], value)
        else:
            assert rebuilt[key] == value


@pytest.mark.parametrize(
    "bad",
    [
        {
            "model_key": "0" * 63,
            "status": "success",
            "execution_time_s": 1,
            "materialization": "table",
        },
        {
            "model_key": "A" * 64,
            "status": "success",
            "execution_time_s": 1,
            "materialization": "table",
        },
        {
            "model_key": "0" * 64 + "\n",
            "status": "success",
            "execution_time_s": 1,
            "materialization": "table",
        },
        {"model_key": "0" * 64, "status": "ok", "execution_time_s": 1, "materialization": "table"},
        {
            "model_key": "0" * 64,
            "status": "success",
            "execution_time_s": -1,
            "materialization": "table",
        },
        {
            "model_key": "0" * 64,
            "status": "success",
            "execution_time_s": 1,
            "materialization": "Table",
        },
        {
            "model_key": "0" * 64,
            "status": "success",
            "execution_time_s": 1,
            "materialization": "table",
            "name": "customers",
        },
    ],
)
def test_a_model_run_that_could_carry_a_name_or_text_is_refused_by_both(bad):
    spec = DEFAULT_CATALOG.get("model_run")
    with pytest.raises(ValidationError):
        spec.model_class(**bad)
    with pytest.raises(EventInvalid):
        spec.validate(bad)


@pytest.mark.parametrize(
    "command",
    ["run --select customers", "run ./models/x.sql", "RUN", "", "docs generate now", "-v"],
)
def test_a_command_with_arguments_is_refused(command):
    spec = DEFAULT_CATALOG.get("invocation_start")
    with pytest.raises(ValidationError):
        spec.model_class(command=command)
    with pytest.raises(EventInvalid):
        spec.validate({"command": command})

"""dbt-core's own reading of its inputs, for the built-in dbt profile (docs/decision.md,
"Two readings").

The dbt profile exists to tell a dbt user what dbt decides, so every input is read exactly as
dbt-core 1.12 reads it, surprises included, and a warning names each surprise:

- ``DO_NOT_TRACK`` opts out only when ``value.lower()`` is one of ``1 t true y yes`` (no strip):
  with ``on`` or `` 1`` dbt tracks.
- ``DBT_ENGINE_SEND_ANONYMOUS_USAGE_STATS``, then ``DBT_SEND_ANONYMOUS_USAGE_STATS``: click's
  boolean option. The first non-empty one is read (an empty value is unset; only spaces is
  false); any other word is a usage error, so dbt refuses to run and sends nothing, even when
  its own ``--[no-]send-anonymous-usage-stats`` flag is given.
- ``flags:`` in the nearest ``dbt_project.yml`` and ``config:`` in ``profiles.yml``, as
  ``dbt.config.project.read_project_flags`` combines them: PyYAML's YAML 1.1 booleans only (``oFF``
  and ``n`` are strings), the last of duplicate keys, both blocks set is an error that stops dbt,
  and a value of the wrong type anywhere in the block makes dbt drop the whole block silently.
- ``~/.dbt/user_settings.yml`` (dbt 1.12; 1.10 does not read it): its ``flags:`` are applied "as
  lowest precedence", after the project step, which always claims this flag (``ProjectFlags``
  defaults it to true). So no value there ever takes effect, and a warning says so: a user who
  wrote ``send_anonymous_usage_stats: false`` there believes they opted out.

``tests/consent/dbt_agreement.py`` runs real dbt-core over these inputs and compares.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, ClassVar

from .._model import Layer, file_origin
from .._yaml import compose_checked, file_problem, pairs_named
from ..files import read_text
from ..profile import AppProfile, LegacyFlagFile
from ..project_location import locate_profiles, locate_project
from ..values import FALSE_WORDS, TRUE_WORDS, opinion_of, printable, shown
from .base import Reading
from .common import do_not_track_no_opinion, layer_from, named_dir_layer, unset_layer

__all__ = [
    "DBT_DO_NOT_TRACK",
    "KEY",
    "READING",
    "REFUSES",
    "DbtReading",
    "do_not_track_layer",
    "env_var_layer",
    "origin_of_key",
    "project_layer",
    "user_settings_note",
]

#: dbt/cli/flags.py: ``os.getenv("DO_NOT_TRACK", "").lower() in ("1", "t", "true", "y", "yes")``.
DBT_DO_NOT_TRACK = ("1", "t", "true", "y", "yes")
KEY = "send_anonymous_usage_stats"
REFUSES = "dbt refuses to run with it (it stops before running), so nothing is sent"
USER_SETTINGS = "user_settings.yml"
#: PyYAML's YAML 1.1 false words: these exact spellings, no other case mixes.
_YAML_FALSE = ("false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF")

#: The typed fields of dbt-core's ``ProjectFlags`` (1.10 and 1.12 alike): a value of another type
#: fails its validation, and dbt then silently uses no project flags at all. Keys not listed are
#: accepted as they are (the class is extensible).
_BOOL = "a boolean"
_FLAG_TYPES: dict[str, tuple[str, bool]] = {  # key: (type, null allowed)
    **{
        k: (_BOOL, False)
        for k in (
            KEY,
            "require_event_names_in_deprecations",
            "require_explicit_package_overrides_for_builtin_materializations",
            "require_generic_test_arguments_property",
            "require_resource_names_without_spaces",
            "source_freshness_run_project_hooks",
            "state_modified_compare_vars",
            "require_all_warnings_handled_by_warn_error",
            "require_batched_execution_for_custom_microbatch_strategy",
            "require_nested_cumulative_type_params",
            "require_yaml_configuration_for_mf_time_spines",
            "skip_nodes_if_on_run_start_fails",
            "state_modified_compare_more_unrendered_values",
            "validate_macro_args",
        )
    },
    **{
        k: (_BOOL, True)
        for k in (
            "cache_selected_only",
            "debug",
            "fail_fast",
            "partial_parse",
            "populate_cache",
            "static_parser",
            "use_colors",
            "use_colors_file",
            "use_experimental_parser",
            "version_check",
            "warn_error",
            "write_json",
        )
    },
    **{
        k: ("a string", True)
        for k in (
            "indirect_selection",
            "log_format",
            "log_format_file",
            "log_level",
            "log_level_file",
        )
    },
    "printer_width": ("an integer", True),
    "warn_error_options": ("a mapping", True),
}


class DbtReading(Reading):
    """For the built-in dbt profile: every value read exactly as dbt-core reads it (the rules
    above), and a warning wherever that is not what the user meant."""

    name: ClassVar[str] = "dbt"
    #: dbt-core never reads our user config (telemetry.toml) or our system policy file (nor,
    #: so, an edition from it): after `telemetry disable` dbt still tracks, so the mirror must
    #: not say off.
    unread: ClassVar[frozenset[str]] = frozenset({"admin_lock", "system_default", "user_config"})

    def do_not_track(self, env: Mapping[str, str]) -> Layer:
        return do_not_track_layer(env)

    def env_var(self, env: Mapping[str, str], names: tuple[str, ...]) -> Layer:
        return env_var_layer(env, names)

    def project(
        self,
        profile: AppProfile,
        env: Mapping[str, str],
        cwd: str,
        project_dir: str | None = None,
    ) -> tuple[Layer, list[str]]:
        layer, watched = project_layer(cwd, profile, env, project_dir)
        note, path = user_settings_note(profile.legacy_flag_file)
        if note is not None:
            layer = replace(layer, warnings=(*layer.warnings, note))
        return layer, [*watched, path]


READING = DbtReading()


def _has_type(value: object, kind: str) -> bool:
    if kind == _BOOL:
        return isinstance(value, bool)
    if kind == "an integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "a string":
        return isinstance(value, str)
    return isinstance(value, dict)


def _as_typed(raw: str) -> str:
    """A variable's value as the user would type it: quoted when spaces make it ambiguous."""
    text = shown(raw) or ""
    return repr(text) if text != text.strip() or not text else text


def _what(value: object) -> str:
    """A YAML value in words: how dbt sees it."""
    if value is None:
        return "no value (null)"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, str):
        return f"the string {shown(value)!r}"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


# -- the environment ------------------------------------------------------------------------------


def do_not_track_layer(env: Mapping[str, str]) -> Layer:
    raw = env.get("DO_NOT_TRACK")
    if raw is None:
        return Layer("do_not_track", detail="not set")
    if raw.lower() in DBT_DO_NOT_TRACK:
        return Layer("do_not_track", "off", shown(raw), "DO_NOT_TRACK")
    if raw.strip().lower() in FALSE_WORDS:
        return do_not_track_no_opinion(raw)
    # dbt tracks here. Anyone who sets DO_NOT_TRACK to something that is not a "no" meant to
    # opt out: say that dbt does not read it that way.
    message = (
        f"dbt does not read DO_NOT_TRACK={_as_typed(raw)} as an opt-out: use DO_NOT_TRACK=1. "
        f"dbt reads only {', '.join(DBT_DO_NOT_TRACK)} (any case, no spaces), so it tracks"
    )
    return Layer(
        "do_not_track",
        None,
        shown(raw),
        "DO_NOT_TRACK",
        detail="dbt does not read this value as an opt-out",
        warnings=(message,),
    )


def env_var_layer(env: Mapping[str, str], names: tuple[str, ...]) -> Layer:
    present = [(n, env[n]) for n in names if env.get(n) is not None]
    # click: an empty variable is unset; the first non-empty one of the list is the value.
    given = [(n, v) for n, v in present if v != ""]
    if not given:
        return unset_layer(names, [n for n, _ in present])
    name, raw = given[0]
    shadowed = [n for n, _ in given[1:]]
    note = f"{', '.join(shadowed)} also set, {name} takes precedence" if shadowed else None
    word = raw.strip().lower()
    if word in TRUE_WORDS or word in FALSE_WORDS:
        warnings: tuple[str, ...] = ()
        if word == "":
            warnings = (
                f"{name} holds only spaces, which dbt reads as false (it does not track); "
                f"Fix: set {name}=false to say so, or unset it",
            )
        return Layer(
            "env_var",
            opinion_of(word in TRUE_WORDS),
            shown(raw),
            name,
            detail=note,
            warnings=warnings,
        )
    # A usage error even when the host's flag is given: the option exists on both dbt's group
    # and its subcommand, and click reads the variable for whichever lacks the flag.
    message = (
        f"dbt will refuse to run with {name}={shown(raw)!s}: it is not true or false (a usage "
        f"error before anything runs, so nothing is sent). Fix: set {name}=false (or true), or "
        "unset it"
    )
    return Layer(
        "env_var",
        "off",
        shown(raw),
        name,
        status="error",
        detail=REFUSES,
        warnings=(message,),
        host_refuses=True,
    )


# -- dbt_project.yml and profiles.yml ------------------------------------------------------------


def _construct(node: Any) -> Any:
    """A node's value as dbt's loader builds it: YAML 1.1 scalars, the last duplicate key wins."""
    import yaml

    return yaml.SafeLoader("").construct_object(node, deep=True)


@dataclass
class _Yaml:
    """One YAML file as dbt sees it: its node tree, built into values only where dbt looks."""

    path: str
    #: Why we cannot read it (too big, binary, an alias bomb): the layer fails closed.
    problem: Layer | None = None
    #: Invalid YAML: the parser's words and the line (dbt: a parse error).
    yaml_cause: str | None = None
    yaml_line: int | None = None
    root: Any = None

    @property
    def yaml_error(self) -> str | None:
        return None if self.yaml_cause is None else f"invalid YAML ({self.yaml_cause})"

    def at(self, node: Any) -> str:
        return file_origin(printable(self.path) or "", node.start_mark.line + 1)

    @property
    def is_mapping(self) -> bool:
        import yaml

        return isinstance(self.root, yaml.MappingNode)

    def whole(self) -> Any:
        """The whole document as dbt loads it (wanted only when it is not a mapping)."""
        return _construct(self.root) if self.root is not None else None

    def empty(self) -> bool:
        """dbt's ``if not yaml_content``."""
        return not self.root.value if self.is_mapping else not self.whole()


def _load(path: str, dotted: str) -> _Yaml | None:
    read = read_text(path)
    if read is None:
        return None
    doc = _Yaml(path)
    if read.problem:
        doc.problem = layer_from(path, file_problem(read, dotted), tuple(dotted.split(".")))
        return doc
    node, found = compose_checked(read.text or "", dotted)
    if found is not None:
        if found.syntax is not None:
            doc.yaml_cause, doc.yaml_line = found.syntax, found.line
        else:
            doc.problem = layer_from(path, found, tuple(dotted.split(".")))
        return doc
    import yaml

    # dbt's loader builds the whole document, and fails on an unknown tag (`!thing`) or a key
    # that cannot be a dict key. Only then is it worth building everything here too: otherwise
    # just the blocks dbt reads are built (a few µs instead of tens, on every host start-up).
    risky = "!" in (read.text or "") or (
        isinstance(node, yaml.MappingNode)
        and any(not isinstance(key, yaml.ScalarNode) for key, _ in node.value)
    )
    if risky:
        try:
            yaml.SafeLoader("").construct_document(node)
        except yaml.YAMLError as exc:
            doc.yaml_cause = str(getattr(exc, "problem", None) or exc)
            doc.yaml_line = node.start_mark.line + 1
            return doc
    doc.root = node
    return doc


def origin_of_key(doc: _Yaml, block_pair: Any) -> str:
    """``path:line`` of the flag inside a block (else of the block, else the path)."""
    import yaml

    if block_pair is None:
        return printable(doc.path) or ""
    named = pairs_named(block_pair[1], KEY) if isinstance(block_pair[1], yaml.MappingNode) else []
    return doc.at(named[-1][1] if named else block_pair[0])


def _refusal(origin: str, why: str, fix: str, raw: str | None = None) -> Layer:
    return Layer(
        "project_file",
        "off",
        raw,
        origin,
        status="error",
        detail=REFUSES,
        warnings=(
            f"{origin}: {why}, which makes dbt refuse to run (it stops before "
            f"running, so nothing is sent). Fix: {fix}",
        ),
        host_refuses=True,
    )


def project_layer(
    cwd: str, profile: AppProfile, env: Mapping[str, str], project_dir: str | None = None
) -> tuple[Layer, list[str]]:
    """What dbt makes of ``flags:`` (dbt_project.yml) and ``config:`` (profiles.yml), combined as
    dbt-core's ``read_project_flags`` does, in the project dbt finds: ``--project-dir``, else
    ``DBT_ENGINE_PROJECT_DIR`` / ``DBT_PROJECT_DIR`` (exactly that directory), else the nearest
    upward from ``cwd``."""
    dotted = ".".join(profile.flag_key_path)
    flags_name = profile.flag_key_path[0]
    at = locate_project(profile, env, cwd, project_dir)
    if at.missing:
        # click's --project-dir must exist: a usage error for every dbt command.
        assert at.named_by is not None
        return _refusal(
            at.named_by,
            f"{printable(at.directory)} does not exist",
            f"point {at.named_by} at your dbt project's directory, or unset it",
            raw=shown(at.raw),
        ), []
    path = at.path
    watched: list[str] = [path] if path else []
    project = _load(path, dotted) if path else None
    if project is not None and project.problem is not None:
        return project.problem, watched
    if project is not None and project.yaml_error:
        # dbt reads the file again for its log path, and stops there on a parse error.
        line = project.yaml_line
        return _refusal(
            file_origin(printable(path) or "", line),
            project.yaml_error,
            "correct the YAML syntax" + (" on that line" if line else ""),
        ), watched
    notes: list[str] = []
    flags, flags_pair = _block(project, flags_name, notes)

    legacy = profile.legacy_flag_file
    profiles: _Yaml | None = None
    if legacy is not None:
        where = locate_profiles(legacy, env, cwd)
        if where.missing:
            # click's --profiles-dir must exist: a usage error for dbt's commands.
            return _refusal(
                where.found_by,
                f"{printable(where.directory)} does not exist",
                f"point {where.found_by} at the directory of your {legacy.file_name}, or unset it",
                raw=shown(where.raw),
            ), watched
        legacy_path = where.path
        watched.append(legacy_path)
        if os.path.isfile(legacy_path):
            profiles = _load(legacy_path, ".".join(legacy.key_path))
    if legacy is None or profiles is None:
        if project is None and at.named_by is not None:
            named = named_dir_layer(at, profile)
            assert named is not None
            return replace(named, warnings=tuple(notes)), watched
        return _flags_layer(
            project, flags, flags_pair, flags_name, dotted, notes, profile.project_files, cwd
        ), watched
    if profiles.problem is not None:
        return profiles.problem, watched
    if profiles.yaml_error or profiles.empty():
        # dbt's read_profile raises, and read_project_flags swallows that by returning its
        # defaults: the flags of dbt_project.yml are silently dropped too.
        why = f"invalid YAML: {profiles.yaml_cause}" if profiles.yaml_cause else "it is empty"
        if isinstance(flags, dict) and KEY in flags:
            notes.append(
                f"{printable(profiles.path)}: dbt cannot read this file ({why}) and "
                f"then ignores {flags_name}: in {printable(path)} as well, so it tracks "
                f"(and fails later, when it needs your profile). Fix: correct "
                f"{printable(profiles.path)}"
            )
        return Layer(
            "project_file",
            None,
            None,
            printable(path),
            detail=f"ignored by dbt: {printable(profiles.path)} cannot be read",
            warnings=tuple(notes),
        ), watched
    if not profiles.is_mapping:
        return _refusal(
            printable(profiles.path) or "",
            f"the file is {_what(profiles.whole())}, not a mapping",
            "make it a mapping of profiles",
        ), watched
    config_name = legacy.key_path[0]
    config, config_pair = _block(profiles, config_name, [])
    if not (isinstance(config, dict) and all(isinstance(k, str) for k in config)):
        config = None  # dbt's coerce_dict_str: anything else counts as no config: block
    if flags and config and project is not None:
        here = project.at(flags_pair[0]) if flags_pair else printable(path) or ""
        there = profiles.at(config_pair[0]) if config_pair else printable(profiles.path) or ""
        layer = _refusal(
            here,
            f"{flags_name}: is set here and {config_name}: is set in {there}",
            f"move what is under {config_name}: in {printable(profiles.path)} to "
            f"{flags_name}: in {printable(path)}, then delete {config_name}: from "
            f"{printable(profiles.path)}",
        )
        return replace(layer, warnings=(*notes, *layer.warnings)), watched
    if not config:
        if project is None and at.named_by is not None:
            named = named_dir_layer(at, profile)
            assert named is not None
            return replace(named, warnings=tuple(notes)), watched
        return _flags_layer(
            project, flags, flags_pair, flags_name, dotted, notes, profile.project_files, cwd
        ), watched
    layer = _flags_layer(
        profiles, config, config_pair, config_name, dotted, notes, profile.project_files, cwd
    )
    if KEY in config:
        layer = replace(
            layer,
            legacy=True,
            warnings=(
                *layer.warnings,
                f"{origin_of_key(profiles, config_pair)}: {'.'.join(legacy.key_path)} "
                "is deprecated (it applies to all your dbt projects). "
                f"Fix: move it to {profile.project_files[0]} as {dotted} "
                f"and remove it from {legacy.file_name}",
            ),
        )
        if layer.opinion is not None:
            layer = replace(layer, detail=f"deprecated location ({legacy.file_name})")
    return layer, watched


def _block(doc: _Yaml | None, name: str, notes: list[str]) -> tuple[Any, Any]:
    """dbt's value of the top-level key ``name`` (``{}`` when absent) and its node pair."""
    if doc is None:
        return {}, None
    if not doc.is_mapping:
        if doc.whole() is not None:
            notes.append(
                f"{printable(doc.path)}: the file is not a YAML mapping, so dbt ignores "
                f"its {name}: (it still reports the run, then stops with an error)"
            )
        return {}, None
    named = pairs_named(doc.root, name)
    if len(named) > 1:
        lines = " and ".join(str(k.start_mark.line + 1) for k, _ in named)
        notes.append(
            f"{doc.at(named[-1][0])}: {name}: appears {len(named)} times (lines "
            f"{lines}); dbt reads only the last one. Fix: merge them into one"
        )
    return (_construct(named[-1][1]), named[-1]) if named else ({}, None)


def _flags_layer(
    doc: _Yaml | None,
    block: Any,
    block_pair: Any,
    block_name: str,
    dotted: str,
    notes: list[str],
    project_files: tuple[str, ...],
    cwd: str,
) -> Layer:
    """The layer for the flags block dbt reads (``flags:``, or the legacy ``config:``)."""
    if doc is None:
        return Layer(
            "project_file",
            detail=f"no {' or '.join(project_files)} found from {cwd} upward",
            warnings=tuple(notes),
        )
    if block is None:
        return Layer(
            "project_file",
            None,
            None,
            printable(doc.path),
            detail=f"no {dotted} set",
            warnings=tuple(notes),
        )
    if not isinstance(block, dict):
        # read_project_flags calls .get() on it: an AttributeError that stops dbt.
        where = doc.at(block_pair[1]) if block_pair else printable(doc.path) or ""
        layer = _refusal(
            where,
            f"{block_name}: is {_what(block)}, not a mapping",
            f"write it as {block_name}: ⏎   {KEY}: false",
        )
        return replace(layer, warnings=(*notes, *layer.warnings))
    import yaml

    mapping = block_pair[1] if block_pair and isinstance(block_pair[1], yaml.MappingNode) else None
    key_pairs = pairs_named(mapping, KEY) if mapping is not None else []
    value_node = key_pairs[-1][1] if key_pairs else None
    origin = doc.at(value_node) if value_node is not None else printable(doc.path) or ""
    if KEY not in block:
        return Layer(
            "project_file",
            None,
            None,
            printable(doc.path),
            detail=f"no {dotted} set",
            warnings=tuple(notes),
        )
    if len(key_pairs) > 1:
        lines = " and ".join(str(k.start_mark.line + 1) for k, _ in key_pairs)
        earlier_off = any(
            isinstance(v, yaml.ScalarNode) and v.value in _YAML_FALSE for _, v in key_pairs[:-1]
        )
        story = (
            ", so it tracks although an opt-out is written above it"
            if block[KEY] is True and earlier_off
            else ""
        )
        notes.append(
            f"{origin}: {KEY} is set {len(key_pairs)} times (lines {lines}); dbt uses "
            f"the last one ({_what(block[KEY])}){story}. Fix: delete all but one"
        )
    raw = shown(value_node.value) if isinstance(value_node, yaml.ScalarNode) else None
    wrong = [
        (k, v)
        for k, v in block.items()
        if k in _FLAG_TYPES
        and not (v is None and _FLAG_TYPES[k][1])
        and not _has_type(v, _FLAG_TYPES[k][0])
    ]
    if not wrong:
        return Layer("project_file", opinion_of(block[KEY]), raw, origin, warnings=tuple(notes))
    # ProjectFlags.validate fails, and read_project_flags then returns its defaults: every
    # setting in the block is dropped without a word, the opt-out included.
    bad_key, bad_value = next((w for w in wrong if w[0] == KEY), wrong[0])
    bad_pairs = pairs_named(mapping, bad_key) if mapping is not None else []
    bad_at = doc.at(bad_pairs[-1][1]) if bad_pairs else origin
    if bad_key == KEY:
        notes.append(
            f"{bad_at}: dbt reads {KEY} as {_what(bad_value)}, not a boolean (YAML 1.1 "
            f"booleans only: true/false, yes/no, on/off in one case), so it ignores "
            f"every setting under {block_name}: and tracks. Fix: write {KEY}: false (or "
            "true), without quotes"
        )
    else:
        notes.append(
            f"{bad_at}: {bad_key} is {_what(bad_value)}, not {_FLAG_TYPES[bad_key][0]}, "
            f"so dbt ignores every setting under {block_name}:, {KEY} at {origin} "
            f"included, and tracks. Fix: correct {bad_key}"
        )
    return Layer(
        "project_file",
        None,
        raw,
        origin,
        detail=f"dbt ignores every setting under {block_name}: (a value of the wrong type)",
        warnings=tuple(notes),
    )


def user_settings_note(legacy: LegacyFlagFile | None) -> tuple[str | None, str]:
    """A warning when ``~/.dbt/user_settings.yml`` sets the flag (dbt never applies it), and the
    file's path (watched: writing it changes what status says)."""
    home_dir = os.path.join(os.path.expanduser("~"), (legacy.home_subdir if legacy else "") or "")
    path = os.path.join(home_dir, USER_SETTINGS)
    if not os.path.isfile(path):
        return None, path
    doc = _load(path, f"flags.{KEY}")
    if doc is None or doc.problem is not None or doc.yaml_error or not doc.is_mapping:
        return None, path
    flags, flags_pair = _block(doc, "flags", [])
    if not (isinstance(flags, dict) and KEY in flags):
        return None, path
    return (
        f"{origin_of_key(doc, flags_pair)}: dbt never applies {KEY} from {USER_SETTINGS} "
        "(dbt 1.12 reads the file after the project's default has already set this flag; "
        "dbt 1.10 does not read the file), so this line changes nothing. To opt out of all "
        "your dbt projects: telemetry disable --shell (or DO_NOT_TRACK=1); of one project: "
        "telemetry disable --project"
    ), path

"""The project's choice: ``flags: send_anonymous_usage_stats`` in the nearest project file.

Read with PyYAML's composer rather than its loader: the node tree keeps line numbers for the
origin, and aliases stay shared nodes, so an anchor bomb ("billion laughs") is never expanded.
Scalars are read as YAML 1.1, the way dbt's own parser reads them (``yes``/``off`` are booleans).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from .._model import Layer
from .._values import YAML_FALSE, YAML_TRUE, opinion_of, printable, shown
from ..profile import LegacyFlagFile
from ._files import FileText, read_text

_BOOL_TAG = "tag:yaml.org,2002:bool"
_STR_TAG = "tag:yaml.org,2002:str"
_NULL_TAG = "tag:yaml.org,2002:null"
#: A plain (unquoted) scalar's style: None from the pure-Python composer, "" from libyaml's.
_PLAIN = (None, "")
_MAX_DEPTH_SEARCH = 64


def find_project_file(start: str, names: tuple[str, ...]) -> str | None:
    """The nearest file called one of ``names``, from ``start`` upward to the filesystem root."""
    here = os.path.abspath(start)
    for _ in range(_MAX_DEPTH_SEARCH):
        for name in names:
            candidate = os.path.join(here, name)
            if os.path.lexists(candidate):
                return candidate
        parent = os.path.dirname(here)
        if parent == here:
            return None
        here = parent
    return None


class _Found:
    __slots__ = ("opinion", "raw", "line", "problem", "fix")

    def __init__(self, opinion=None, raw=None, line=None, problem=None, fix=None):
        self.opinion, self.raw, self.line, self.problem, self.fix = opinion, raw, line, problem, fix


def _compose(text: str):
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    # libyaml does not count a byte-order mark in its marks: compose without it, so that every
    # mark indexes the text the caller holds once it has dropped the BOM too.
    return yaml.compose(text.removeprefix("\ufeff"), Loader=loader)


def file_problem(read: FileText, dotted: str) -> _Found:
    """A file that could not be read as text, as a problem with its fix."""
    if read.too_big:
        fix = ("the file is over 1 MB, which is not read: make it smaller, or opt out another way "
               "(`telemetry disable` for you, DO_NOT_TRACK=1 for a shell)")
    else:
        fix = f"make it a readable UTF-8 YAML file with {dotted.replace('.', ': ')}: false"
    return _Found(problem=f"the file {read.problem}, so {dotted} cannot be read", fix=fix)


def read_yaml_flag(path: str, key_path: tuple[str, ...]) -> _Found | None:
    """The flag at ``key_path`` in a YAML file; None when the file does not exist."""
    read = read_text(path)
    if read is None:
        return None
    if read.problem:
        return file_problem(read, ".".join(key_path))
    return flag_in_text(read.text or "", key_path)


def compose_checked(text: str, dotted: str):
    """``(node, None)`` for YAML ``text`` that is safe to walk, else ``(None, problem)``.

    Unsafe: invalid YAML, or aliases that would expand past ``MAX_EXPANDED_NODES``.
    """
    # Imported only now: most runs outside a project have no YAML to read at all.
    import yaml

    try:
        node = _compose(text)
    except (yaml.YAMLError, RecursionError) as exc:
        # RecursionError: the pure-Python composer on deep nesting (libyaml has its own limit).
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or (str(exc).splitlines() or [type(exc).__name__])[0]
        return None, _Found(line=line,
                            problem=f"invalid YAML ({problem}), so {dotted} cannot be read",
                            fix="correct the YAML syntax" + (" on that line" if line else ""))
    bomb = _alias_bomb(node)
    if bomb is not None:
        line, size = bomb
        return None, _Found(line=line,
                            problem=f"its YAML aliases expand to over {size:,} nodes (an alias "
                                    f"bomb, which dbt's parser would try to expand), so {dotted} "
                                    "is not trusted",
                            fix="remove the nested anchors and aliases (&name / *name)")
    return node, None


def pairs_named(mapping, key: str) -> list:
    """Every ``(key node, value node)`` of ``mapping`` whose key is ``key``, in file order."""
    import yaml

    return [(k, v) for k, v in mapping.value
            if isinstance(k, yaml.ScalarNode) and k.value == key]


def flag_in_text(text: str, key_path: tuple[str, ...]) -> _Found:
    """The flag at ``key_path`` in YAML ``text`` (also used to check an edit before saving it)."""
    import yaml

    dotted = ".".join(key_path)
    example = "\n".join(f"{'  ' * i}{k}:" for i, k in enumerate(key_path)) + " false"
    node, problem = compose_checked(text, dotted)
    if problem is not None:
        return problem
    for depth, key in enumerate(key_path):
        if node is None or (node.tag == _NULL_TAG and not isinstance(node, yaml.MappingNode)):
            return _Found()
        if not isinstance(node, yaml.MappingNode):
            where = ".".join(key_path[:depth]) or "the document"
            return _Found(line=node.start_mark.line + 1,
                          problem=f"{where} must be a mapping",
                          fix=f"write it as:\n{example}".replace("\n", " ⏎ "))
        named = pairs_named(node, key)
        if len(named) > 1:
            # Which one a parser keeps is its own choice (PyYAML: the last); a strict reading
            # does not guess, because the likeliest story is an opt-out overwritten by mistake.
            lines = " and ".join(str(k.start_mark.line + 1) for k, _ in named)
            return _Found(line=named[-1][0].start_mark.line + 1,
                          problem=f"{'.'.join(key_path[:depth + 1])} is set {len(named)} times "
                                  f"(lines {lines}), so which {dotted} applies is not clear",
                          fix="keep one of them and delete the others")
        node = named[0][1] if named else None
    if node is None:
        return _Found()
    line = node.start_mark.line + 1
    if not isinstance(node, yaml.ScalarNode):
        return _Found(line=line, problem=f"{dotted} must be true or false, not a {node.id}",
                      fix=f"write {key_path[-1]}: false")
    if node.tag == _NULL_TAG:
        return _Found(line=line)
    word = node.value.strip().lower()
    is_bool = node.tag == _BOOL_TAG or (node.tag == _STR_TAG and node.style in _PLAIN)
    if is_bool and (word in YAML_TRUE or word in YAML_FALSE):
        return _Found(opinion_of(word in YAML_TRUE), node.value, line)
    kind = "a quoted string" if node.style in ("'", '"') else "not a boolean"
    return _Found(raw=node.value, line=line,
                  problem=f"{dotted} is {shown(node.value)!r}, {kind}",
                  fix=f"write {key_path[-1]}: false or true, without quotes")


#: Expanded size past which a document's aliases are an attack, not configuration.
MAX_EXPANDED_NODES = 100_000


def _alias_bomb(root) -> tuple[int, int] | None:
    """``(line, limit)`` when aliases would expand the document past ``MAX_EXPANDED_NODES``.

    The composer shares aliased nodes instead of copying them, so counting the expanded size
    with a memo by node identity costs one visit per distinct node (bounded by the file size).
    Iterative, so deep nesting cannot exhaust the stack.
    """
    import yaml

    if root is None:
        return None
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()  # on the current path: meeting one again is a cycle
    stack: list[tuple[object, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        if id(node) in sizes:
            continue
        if isinstance(node, yaml.ScalarNode):
            sizes[id(node)] = 1
            continue
        if isinstance(node, yaml.MappingNode):
            children = [n for pair in node.value for n in pair]
        else:
            children = list(node.value)
        if not children_done:
            if id(node) in open_nodes:
                return node.start_mark.line + 1, MAX_EXPANDED_NODES  # a recursive alias
            open_nodes.add(id(node))
            stack.append((node, True))
            stack.extend((c, False) for c in children if id(c) not in sizes)
            continue
        open_nodes.discard(id(node))
        total = 1 + sum(sizes.get(id(c), 1) for c in children)
        sizes[id(node)] = total
        if total > MAX_EXPANDED_NODES:
            return node.start_mark.line + 1, MAX_EXPANDED_NODES
    return None


def _layer_from(path: str, found: _Found, key_path: tuple[str, ...]) -> Layer:
    path = printable(path) or path  # from the filesystem or DBT_PROFILES_DIR: anything, any size
    origin = f"{path}:{found.line}" if found.line else path
    if found.problem:
        message = f"{origin}: {found.problem}; treated as off. Fix: {found.fix}"
        return Layer("project_file", "off", shown(found.raw), origin, status="error",
                     detail=found.problem, warnings=(message,))
    if found.opinion is None:
        return Layer("project_file", None, None, path, detail=f"no {'.'.join(key_path)} set")
    return Layer("project_file", found.opinion, shown(found.raw), origin)


def _legacy_path(legacy: LegacyFlagFile, env: Mapping[str, str], cwd: str) -> str:
    if legacy.dir_env and env.get(legacy.dir_env):
        return os.path.join(os.path.expanduser(env[legacy.dir_env]), legacy.file_name)
    if legacy.look_in_cwd and os.path.lexists(os.path.join(cwd, legacy.file_name)):
        return os.path.join(cwd, legacy.file_name)
    return os.path.join(os.path.expanduser("~"), legacy.home_subdir or "", legacy.file_name)


def project_file_layer(
    cwd: str,
    names: tuple[str, ...],
    key_path: tuple[str, ...],
    legacy: LegacyFlagFile | None = None,
    env: Mapping[str, str] | None = None,
) -> tuple[Layer, list[str]]:
    """The project layer, and the files it read (so a tracker can re-check them cheaply)."""
    path = find_project_file(cwd, names)
    watched: list[str] = []
    layer = Layer("project_file", detail=f"no {' or '.join(names)} found from {cwd} upward")
    if path is not None:
        watched.append(path)
        found = read_yaml_flag(path, key_path)
        if found is not None:
            layer = _layer_from(path, found, key_path)
    if legacy is None:
        return layer, watched
    legacy_path = _legacy_path(legacy, env if env is not None else os.environ, cwd)
    watched.append(legacy_path)
    old = read_yaml_flag(legacy_path, legacy.key_path)
    if old is None or (old.opinion is None and old.problem is None):
        return layer, watched
    old_layer = _layer_from(legacy_path, old, legacy.key_path)
    old_layer = Layer(old_layer.name, old_layer.opinion, old_layer.raw, old_layer.origin,
                      old_layer.status, old_layer.detail,
                      (*old_layer.warnings, *layer.warnings))
    if old_layer.is_error:
        return old_layer, watched
    dotted = ".".join(legacy.key_path)
    deprecation = (
        f"{old_layer.origin}: {dotted} is deprecated. Fix: move it to "
        f"{names[0]} as {'.'.join(key_path)} and remove it from {legacy.file_name}"
    )
    if layer.is_error:
        # The project file is already off for its own problem; it did not "also set" the flag.
        return Layer(layer.name, layer.opinion, layer.raw, layer.origin, layer.status,
                     layer.detail, (*layer.warnings, deprecation)), watched
    if layer.opinion is not None:
        both = (
            f"{layer.origin} and {old_layer.origin} both set the flag, which dbt refuses; treated "
            f"as off. Fix: remove {dotted} from {legacy.file_name}"
        )
        return Layer("project_file", "off", layer.raw, layer.origin, status="error",
                     detail=f"the flag is also set in {old_layer.origin}",
                     warnings=(*layer.warnings, both)), watched
    return Layer("project_file", old_layer.opinion, old_layer.raw, old_layer.origin,
                 detail=f"deprecated location ({legacy.file_name})",
                 warnings=(deprecation,), legacy=True), watched

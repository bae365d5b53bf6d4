"""Reading YAML as dbt's parser reads it, safely: a node tree with line numbers, never expanded.

PyYAML's composer, not its loader: the node tree keeps line numbers for the origin of a layer,
and aliases stay shared nodes, so an anchor bomb ("billion laughs") is found by counting, never
expanded. Scalars are read as YAML 1.1, the way dbt's own parser reads them (``yes``/``off``
are booleans). Used by the project file's reading (both readings) and by its minimal edits
(:mod:`consent._yaml_edit`), which check every edit by reading it back with
:func:`flag_in_text`.
"""

from __future__ import annotations

from typing import Any

from ._model import Opinion
from .files import FileText, read_text
from .values import YAML_FALSE, YAML_TRUE, opinion_of, shown

BOOL_TAG = "tag:yaml.org,2002:bool"
STR_TAG = "tag:yaml.org,2002:str"
NULL_TAG = "tag:yaml.org,2002:null"
#: A plain (unquoted) scalar's style: None from the pure-Python composer, "" from libyaml's.
PLAIN = (None, "")


class UnsafeYaml(Exception):
    """A text that is not safe to walk: invalid YAML (``cause``), or an alias bomb (``bomb``)."""

    def __init__(
        self, line: int | None, *, cause: BaseException | None = None, bomb: bool = False
    ) -> None:
        super().__init__(str(cause) if cause is not None else "an alias bomb")
        self.line = line
        self.cause = cause
        self.bomb = bomb


def compose(text: str) -> Any:
    """The node tree of ``text`` (None for an empty document); raises :class:`UnsafeYaml`.

    Unsafe: invalid YAML, nesting too deep for the composer, or aliases that would expand past
    ``MAX_EXPANDED_NODES``.
    """
    # Imported only now: most runs outside a project have no YAML to read at all.
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        # libyaml does not count a byte-order mark in its marks: compose without it, so that
        # every mark indexes the text the caller holds once it has dropped the BOM too.
        node = yaml.compose(text.removeprefix("\ufeff"), Loader=loader)
    except (yaml.YAMLError, RecursionError) as exc:
        # RecursionError: the pure-Python composer on deep nesting (libyaml has its own limit).
        mark = getattr(exc, "problem_mark", None)
        raise UnsafeYaml(mark.line + 1 if mark is not None else None, cause=exc) from exc
    bomb = alias_bomb(node)
    if bomb is not None:
        raise UnsafeYaml(bomb[0], bomb=True)
    return node


class Found:
    """What a YAML file says about one flag: its opinion, the value as written, its line, or the
    problem that makes it unreadable and its fix. (A plain class: built on every start-up.)"""

    __slots__ = ("fix", "line", "opinion", "problem", "raw", "syntax")

    def __init__(
        self,
        opinion: Opinion = None,
        raw: str | None = None,
        line: int | None = None,
        problem: str | None = None,
        fix: str | None = None,
        syntax: str | None = None,
    ) -> None:
        self.opinion, self.raw, self.line, self.problem, self.fix = opinion, raw, line, problem, fix
        #: The parser's own words when the text is not valid YAML (else None).
        self.syntax = syntax


def file_problem(read: FileText, dotted: str) -> Found:
    """A file that could not be read as text, as a problem with its fix."""
    if read.too_big:
        fix = (
            "the file is over 1 MB, which is not read: make it smaller, or opt out another way "
            "(`telemetry disable` for you, DO_NOT_TRACK=1 for a shell)"
        )
    else:
        fix = f"make it a readable UTF-8 YAML file with {dotted.replace('.', ': ')}: false"
    return Found(problem=f"the file {read.problem}, so {dotted} cannot be read", fix=fix)


def read_yaml_flag(path: str, key_path: tuple[str, ...]) -> Found | None:
    """The flag at ``key_path`` in a YAML file; None when the file does not exist."""
    read = read_text(path)
    if read is None:
        return None
    if read.problem:
        return file_problem(read, ".".join(key_path))
    return flag_in_text(read.text or "", key_path)


def compose_checked(text: str, dotted: str) -> tuple[Any, Found | None]:
    """``(node, None)`` for YAML ``text`` that is safe to walk, else ``(None, problem)``."""
    try:
        return compose(text), None
    except UnsafeYaml as unsafe:
        line = unsafe.line
        if unsafe.bomb:
            return None, Found(
                line=line,
                problem=f"its YAML aliases expand to over {MAX_EXPANDED_NODES:,} nodes (an alias "
                f"bomb, which dbt's parser would try to expand), so {dotted} is not trusted",
                fix="remove the nested anchors and aliases (&name / *name)",
            )
        exc = unsafe.cause
        problem = (
            getattr(exc, "problem", None) or (str(exc).splitlines() or [type(exc).__name__])[0]
        )
        return None, Found(
            line=line,
            problem=f"invalid YAML ({problem}), so {dotted} cannot be read",
            fix="correct the YAML syntax" + (" on that line" if line else ""),
            syntax=problem,
        )


def pairs_named(mapping: Any, key: str) -> list[tuple[Any, Any]]:
    """Every ``(key node, value node)`` of ``mapping`` whose key is ``key``, in file order."""
    import yaml

    return [(k, v) for k, v in mapping.value if isinstance(k, yaml.ScalarNode) and k.value == key]


def flag_in_text(text: str, key_path: tuple[str, ...]) -> Found:
    """The flag at ``key_path`` in YAML ``text`` (also used to check an edit before saving it)."""
    import yaml

    dotted = ".".join(key_path)
    example = "\n".join(f"{'  ' * i}{k}:" for i, k in enumerate(key_path)) + " false"
    node, problem = compose_checked(text, dotted)
    if problem is not None:
        return problem
    for depth, key in enumerate(key_path):
        if node is None or (node.tag == NULL_TAG and not isinstance(node, yaml.MappingNode)):
            return Found()
        if not isinstance(node, yaml.MappingNode):
            where = ".".join(key_path[:depth]) or "the document"
            return Found(
                line=node.start_mark.line + 1,
                problem=f"{where} must be a mapping",
                fix=f"write it as:\n{example}".replace("\n", " ⏎ "),
            )
        named = pairs_named(node, key)
        if len(named) > 1:
            # Which one a parser keeps is its own choice (PyYAML: the last); a strict reading
            # does not guess, because the likeliest story is an opt-out overwritten by mistake.
            lines = " and ".join(str(k.start_mark.line + 1) for k, _ in named)
            return Found(
                line=named[-1][0].start_mark.line + 1,
                problem=f"{'.'.join(key_path[: depth + 1])} is set {len(named)} times "
                f"(lines {lines}), so which {dotted} applies is not clear",
                fix="keep one of them and delete the others",
            )
        node = named[0][1] if named else None
    if node is None:
        return Found()
    line = node.start_mark.line + 1
    if not isinstance(node, yaml.ScalarNode):
        return Found(
            line=line,
            problem=f"{dotted} must be true or false, not a {node.id}",
            fix=f"write {key_path[-1]}: false",
        )
    if node.tag == NULL_TAG:
        return Found(line=line)
    word = node.value.strip().lower()
    is_bool = node.tag == BOOL_TAG or (node.tag == STR_TAG and node.style in PLAIN)
    if is_bool and (word in YAML_TRUE or word in YAML_FALSE):
        return Found(opinion_of(word in YAML_TRUE), node.value, line)
    kind = "a quoted string" if node.style in ("'", '"') else "not a boolean"
    return Found(
        raw=node.value,
        line=line,
        problem=f"{dotted} is {shown(node.value)!r}, {kind}",
        fix=f"write {key_path[-1]}: false or true, without quotes",
    )


#: Expanded size past which a document's aliases are an attack, not configuration.
MAX_EXPANDED_NODES = 100_000


def alias_bomb(root: Any) -> tuple[int, int] | None:
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
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
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

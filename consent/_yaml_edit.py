"""Minimal text edits of a YAML file: change one value, add one key, or delete one line.

Never a re-dump: every byte the edit does not need to touch stays as the user wrote it (line
ends, comments, quoting, indentation, anchors, ``---`` and ``...`` markers). Where no such edit
exists (a key set twice, a value shared through an anchor, a block scalar) :class:`NoMinimalEdit`
says why, and the caller leaves the file alone. Every edit is checked by reading both texts back:
the document must be the same apart from the one key.
"""

from __future__ import annotations

import re
from typing import Any

from ._yaml import NULL_TAG, UnsafeYaml, compose, pairs_named

_DOCUMENT_END = re.compile(r"^\.\.\.[ \t]*(?:#.*)?$", re.MULTILINE)


class NoMinimalEdit(ValueError):
    """No edit of a few bytes does it; the message says why, in the user's words, and ``fix``
    what to do when it is not "make the change by hand"."""

    def __init__(self, why: str, fix: str | None = None):
        super().__init__(why)
        self.fix = fix


def newline_of(text: str) -> str:
    """The file's own line end: CRLF when its first line ends so, else LF."""
    first = text.find("\n")
    return "\r\n" if first > 0 and text[first - 1] == "\r" else "\n"


def _compose(text: str) -> Any:
    try:
        return compose(text)
    except UnsafeYaml as unsafe:
        if unsafe.bomb:
            raise NoMinimalEdit(
                "its YAML aliases expand to a huge document (an alias bomb)",
                "remove the nested anchors and aliases (&name / *name)",
            ) from None
        where = f" at line {unsafe.line}" if unsafe.line is not None else ""
        problem = getattr(unsafe.cause, "problem", None) or type(unsafe.cause).__name__
        raise NoMinimalEdit(
            f"it is not valid YAML ({problem}{where})",
            f"correct the YAML{where}, then run the command again",
        ) from unsafe


def _shared(root: Any) -> set[int]:
    """Nodes reached more than once: anchored and used again through an alias."""
    import yaml

    seen: set[int] = set()
    shared: set[int] = set()
    stack = [root] if root is not None else []
    while stack:
        node = stack.pop()
        if id(node) in seen:
            shared.add(id(node))
            continue
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            stack.extend(n for pair in node.value for n in pair)
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)
    return shared


def _line_start(text: str, index: int) -> int:
    return text.rfind("\n", 0, index) + 1


def _line_end(text: str, index: int) -> int:
    """Index just after the line break of the line holding ``index`` (or the end of the text)."""
    end = text.find("\n", index)
    return len(text) if end < 0 else end + 1


def _block(keys: tuple[str, ...], word: str, indent: str, step: str, nl: str) -> str:
    lines = [f"{indent}{step * i}{key}:" for i, key in enumerate(keys)]
    lines[-1] += f" {word}"
    return nl.join(lines) + nl


def _flow(keys: tuple[str, ...], word: str) -> str:
    """``a: {b: word}`` for keys ``(a, b)``: an entry of a flow mapping."""
    inner = f"{keys[-1]}: {word}"
    for key in reversed(keys[:-1]):
        inner = f"{key}: {{{inner}}}"
    return inner


def _step(root: Any) -> str:
    """The file's own indentation step: how far its first nested block mapping is indented."""
    import yaml

    for key, value in root.value if isinstance(root, yaml.MappingNode) else ():
        if isinstance(value, yaml.MappingNode) and not value.flow_style and value.value:
            width: int = value.value[0][0].start_mark.column - key.start_mark.column
            if width > 0:
                return " " * width
    return "  "


def _where(keys: tuple[str, ...], depth: int) -> str:
    return ".".join(keys[: depth + 1])


def set_flag(text: str, key_path: tuple[str, ...], word: str) -> str:
    """``text`` with ``key_path`` set to ``word`` (a YAML scalar), by the smallest edit."""
    root = _compose(text)
    nl = newline_of(text)
    if root is None:  # empty, or only comments and markers
        return _append(text, _block(key_path, word, "", "  ", nl))
    import yaml

    if not isinstance(root, yaml.MappingNode):
        raise NoMinimalEdit("the document is not a mapping of keys")
    shared = _shared(root)
    step = _step(root)
    node = root
    for depth, key in enumerate(key_path):
        if id(node) in shared:
            raise NoMinimalEdit(
                f"{_where(key_path, depth - 1)} is shared through a YAML anchor "
                "(&name / *name): changing it here would change it everywhere "
                "it is used"
            )
        if pairs_named(node, "<<"):
            raise NoMinimalEdit(
                f"{_where(key_path, depth - 1) if depth else 'the document'} "
                "uses a YAML merge key (<<), which may already set the flag"
            )
        named = pairs_named(node, key)
        if len(named) > 1:
            lines = " and ".join(str(k.start_mark.line + 1) for k, _ in named)
            raise NoMinimalEdit(
                f"{_where(key_path, depth)} is set {len(named)} times (lines {lines})",
                "keep one of them, then run the command again",
            )
        if not named:
            return _add(text, node, key_path[depth:], word, nl, step, at_root=depth == 0)
        key_node, value = named[0]
        if depth == len(key_path) - 1:
            return _replace_value(text, value, word, shared, _where(key_path, depth))
        if isinstance(value, yaml.ScalarNode) and value.tag == NULL_TAG:
            remaining = key_path[depth + 1 :]
            if value.start_mark.index == value.end_mark.index:  # `flags:` with nothing after
                at = _line_end(text, key_node.start_mark.index)
                indent = " " * key_node.start_mark.column + step
                before = text[:at] if text[:at].endswith("\n") else text[:at] + nl
                return before + _block(remaining, word, indent, step, nl) + text[at:]
            start, end = value.start_mark.index, value.end_mark.index  # `flags: ~` / `null`
            if text[start] in "&!":
                raise NoMinimalEdit(f"{_where(key_path, depth)} carries a YAML anchor or tag")
            return text[:start] + "{" + _flow(remaining, word) + "}" + text[end:]
        if not isinstance(value, yaml.MappingNode):
            raise NoMinimalEdit(
                f"{_where(key_path, depth)} (line {value.start_mark.line + 1}) is not a mapping"
            )
        node = value
    raise NoMinimalEdit("the key path is empty")  # pragma: no cover - callers pass a key


def _append(text: str, block: str) -> str:
    """``block`` added at the end of the document: before a ``...`` end marker if there is one."""
    marker = _DOCUMENT_END.search(text)
    at = marker.start() if marker else len(text)
    before = text[:at]
    sep = "" if not before or before.endswith("\n") else newline_of(text)
    return before + sep + block + text[at:]


def _add(
    text: str, mapping: Any, keys: tuple[str, ...], word: str, nl: str, step: str, at_root: bool
) -> str:
    """Add ``keys`` (nested, ending in ``word``) to ``mapping``, which lacks ``keys[0]``."""
    if mapping.flow_style:
        brace = text.find("{", mapping.start_mark.index, mapping.end_mark.index)
        if brace < 0:
            raise NoMinimalEdit("its flow mapping could not be located")  # pragma: no cover
        entry = _flow(keys, word) + (", " if mapping.value else "")
        return text[: brace + 1] + entry + text[brace + 1 :]
    if not mapping.value:
        raise NoMinimalEdit("an empty block mapping")  # pragma: no cover - composed as `{}`
    first = mapping.value[0][0]
    indent = " " * first.start_mark.column
    if at_root:
        return _append(text, _block(keys, word, indent, step, nl))
    at = _line_start(text, first.start_mark.index)
    if text[at : first.start_mark.index].strip():
        raise NoMinimalEdit(f"line {first.start_mark.line + 1} holds more than its key")
    return text[:at] + _block(keys, word, indent, step, nl) + text[at:]


def _replace_value(text: str, value: Any, word: str, shared: set[int], dotted: str) -> str:
    import yaml

    if not isinstance(value, yaml.ScalarNode):
        kind = "a list" if isinstance(value, yaml.SequenceNode) else "a mapping"
        raise NoMinimalEdit(f"{dotted} (line {value.start_mark.line + 1}) is {kind}, not a value")
    if id(value) in shared:
        raise NoMinimalEdit(f"the value of {dotted} is shared through a YAML anchor")
    if value.style in ("|", ">"):
        raise NoMinimalEdit(f"the value of {dotted} is a block scalar ({value.style})")
    start, end = value.start_mark.index, value.end_mark.index
    if start == end:  # `key:` with no value
        return text[:start] + (" " if text[start - 1 : start] == ":" else "") + word + text[end:]
    if text[start] in "&!":
        raise NoMinimalEdit(f"the value of {dotted} carries a YAML anchor or tag")
    return text[:start] + word + text[end:]


def delete_key(text: str, key_path: tuple[str, ...]) -> str:
    """``text`` without the line of ``key_path`` (a one-line ``key: value`` in a block mapping)."""
    import yaml

    root = _compose(text)
    node = root
    for depth, key in enumerate(key_path):
        if not isinstance(node, yaml.MappingNode):
            raise NoMinimalEdit(f"{_where(key_path, depth - 1)} is not a mapping")
        named = pairs_named(node, key)
        if len(named) != 1:
            raise NoMinimalEdit(f"{_where(key_path, depth)} is set {len(named)} times")
        key_node, value = named[0]
        if depth < len(key_path) - 1:
            node = value
            continue
        if node.flow_style or not isinstance(value, yaml.ScalarNode) or value.style in ("|", ">"):
            raise NoMinimalEdit(f"{_where(key_path, depth)} is not a one-line `key: value`")
        start = _line_start(text, key_node.start_mark.index)
        if (
            text[start : key_node.start_mark.index].strip()
            or value.end_mark.line != key_node.start_mark.line
        ):
            raise NoMinimalEdit(f"{_where(key_path, depth)} is not a one-line `key: value`")
        return text[:start] + text[_line_end(text, value.end_mark.index) :]
    raise NoMinimalEdit("the key path is empty")  # pragma: no cover


def load(text: str) -> Any:
    """The document, as dbt's loader builds it, once it is known not to be an alias bomb."""
    import yaml

    node = _compose(text)
    try:
        return yaml.SafeLoader("").construct_document(node) if node is not None else None
    except yaml.YAMLError as exc:  # an unknown tag (`!secret`), a key that cannot be a key
        raise NoMinimalEdit(
            f"it cannot be loaded ({getattr(exc, 'problem', None) or exc})",
            "correct that, then run the command again",
        ) from exc


def same_apart_from(before: str, after: str, key_path: tuple[str, ...]) -> bool:
    """Whether two YAML texts load to the same document once ``key_path`` is taken out of both
    (and the mappings that held only it): the proof that an edit touched nothing else."""

    def without(data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        parents = [data]
        for key in key_path[:-1]:
            child = parents[-1].get(key)
            if not isinstance(child, dict):
                break
            parents[-1][key] = child = dict(child)
            parents.append(child)
        else:
            parents[-1].pop(key_path[-1], None)
        for depth in range(len(parents) - 1, 0, -1):  # prune what held only the flag
            if not parents[depth]:
                parents[depth - 1].pop(key_path[depth - 1], None)
        if key_path[0] in data and data[key_path[0]] is None and len(key_path) > 1:
            data.pop(key_path[0])
        return data

    return bool(without(load(before) or {}) == without(load(after) or {}))

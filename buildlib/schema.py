"""A small schema language that validates YAML *nodes*, so every error has a line.

PyYAML's ``compose`` keeps the position of each node; validating the node tree
(rather than the plain dict ``safe_load`` returns) lets a message say
``build.yaml:14: profiles.release.cgo: expected a boolean, got string "no"``.
Sections are plain ``Record`` declarations, so a later feature adds its part of
build.yaml by declaring one more record, not by writing another parser.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import yaml

from .errors import ConfigError

_TYPE_NAMES = {
    "tag:yaml.org,2002:str": "string",
    "tag:yaml.org,2002:int": "integer",
    "tag:yaml.org,2002:float": "number",
    "tag:yaml.org,2002:bool": "boolean",
    "tag:yaml.org,2002:null": "null",
    "tag:yaml.org,2002:timestamp": "date",
}


class Source:
    """Where a document came from, and the line of every key path in it."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.lines: dict[str, int] = {}
        self.values = 0

    def count(self, node: yaml.Node, key: str) -> None:
        """Count the items of a list or mapping about to be validated; refuse alias bombs."""
        self.values += len(node.value)
        if self.values > MAX_VALUES:
            raise self.error(key, f"more than {MAX_VALUES} values (aliases such as *name repeat whole "
                             "lists); write the values out instead", _line(node))

    def error(self, key: str, problem: str, line: int | None = None) -> ConfigError:
        """Build a ConfigError for ``key``, locating it from the recorded lines."""
        if line is None:
            line = self._line_of(key)
        return ConfigError(self.path, line, key, problem)

    def _line_of(self, key: str) -> int | None:
        # A computed key (e.g. a default that was never written) has no line of
        # its own; its nearest written parent is the best place to point at.
        while key:
            if key in self.lines:
                return self.lines[key]
            key = key.rpartition(".")[0] if "." in key else ""
        return None


def _line(node: yaml.Node) -> int | None:
    # Nodes made here (the null standing for an empty document) have no mark.
    return node.start_mark.line + 1 if node.start_mark is not None else None


def _join(parent: str, child: str) -> str:
    return f"{parent}.{child}" if parent else child


def _describe(node: yaml.Node) -> str:
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    kind = _TYPE_NAMES.get(node.tag, node.tag)
    return f'{kind} "{node.value}"' if kind != "null" else "nothing (null)"


_constructor = yaml.SafeLoader("")


def _scalar(node: yaml.Node) -> Any:
    return _constructor.construct_object(node)


class Schema:
    """Validates one node and returns the Python value it stands for."""

    what = "a value"

    def load(self, node: yaml.Node, key: str, src: Source) -> Any:
        raise NotImplementedError

    def accepts(self, node: yaml.Node) -> bool:
        """Whether the node has the right type (its value may still be wrong)."""
        return True

    def wrong_type(self, node: yaml.Node, key: str, src: Source) -> ConfigError:
        return src.error(key, f"expected {self.what}, got {_describe(node)}", _line(node))


@dataclass
class Str(Schema):
    choices: tuple[str, ...] | None = None
    pattern: str | None = None
    pattern_help: str = ""
    check: Callable[[str], str | None] | None = None
    what: str = "a string"

    def accepts(self, node: yaml.Node) -> bool:
        return isinstance(node, yaml.ScalarNode) and node.tag in (
            "tag:yaml.org,2002:str",
            "tag:yaml.org,2002:int",
            "tag:yaml.org,2002:float",
        )

    def load(self, node: yaml.Node, key: str, src: Source) -> str:
        if not self.accepts(node):
            raise self.wrong_type(node, key, src)
        value = node.value
        if self.choices is not None and value not in self.choices:
            hint = difflib.get_close_matches(value, self.choices, n=1)
            maybe = f' (did you mean "{hint[0]}"?)' if hint else ""
            raise src.error(
                key, f'"{value}" is not allowed{maybe}; allowed: {", ".join(self.choices)}', _line(node)
            )
        if self.pattern is not None and not re.fullmatch(self.pattern, value):
            raise src.error(key, f'"{value}" is not {self.pattern_help or "valid"}', _line(node))
        if self.check is not None and (problem := self.check(value)):
            raise src.error(key, f'"{value}": {problem}', _line(node))
        return value


@dataclass
class Int(Schema):
    min: int | None = None
    max: int | None = None
    what: str = "an integer"

    def accepts(self, node: yaml.Node) -> bool:
        return isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:int"

    def load(self, node: yaml.Node, key: str, src: Source) -> int:
        if not self.accepts(node):
            raise self.wrong_type(node, key, src)
        value = int(_scalar(node))
        if (self.min is not None and value < self.min) or (self.max is not None and value > self.max):
            lo = "" if self.min is None else f" >= {self.min}"
            hi = "" if self.max is None else f" <= {self.max}"
            joint = " and" if lo and hi else ""
            raise src.error(key, f"{value} is out of range; allowed: an integer{lo}{joint}{hi}", _line(node))
        return value


@dataclass
class Number(Schema):
    min: float | None = None
    what: str = "a number"

    def load(self, node: yaml.Node, key: str, src: Source) -> float:
        if not isinstance(node, yaml.ScalarNode) or node.tag not in (
            "tag:yaml.org,2002:int",
            "tag:yaml.org,2002:float",
        ):
            raise self.wrong_type(node, key, src)
        value = float(_scalar(node))
        if self.min is not None and value < self.min:
            raise src.error(key, f"{value} is out of range; allowed: a number >= {self.min}", _line(node))
        return value


@dataclass
class Bool(Schema):
    what: str = "a boolean (true or false)"

    def load(self, node: yaml.Node, key: str, src: Source) -> bool:
        if not isinstance(node, yaml.ScalarNode) or node.tag != "tag:yaml.org,2002:bool":
            raise self.wrong_type(node, key, src)
        return bool(_scalar(node))


@dataclass
class Size(Schema):
    """A byte size written as an integer or with a unit: 20MB, 512KiB, 1.5 MB."""

    what: str = 'a size such as 20MB, 512KiB or 1048576'
    _UNITS = {"": 1, "b": 1, "kb": 1000, "mb": 1000**2, "gb": 1000**3,
              "kib": 1024, "mib": 1024**2, "gib": 1024**3}

    def load(self, node: yaml.Node, key: str, src: Source) -> int:
        if not isinstance(node, yaml.ScalarNode) or node.tag == "tag:yaml.org,2002:null":
            raise self.wrong_type(node, key, src)
        m = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([A-Za-z]*)\s*", node.value)
        if not m or m.group(2).lower() not in self._UNITS:
            raise self.wrong_type(node, key, src)
        return int(float(m.group(1)) * self._UNITS[m.group(2).lower()])


@dataclass
class OneOf(Schema):
    """The first option whose type fits the node decides; its errors stand."""

    options: tuple[Schema, ...] = ()
    what: str = ""

    def __post_init__(self) -> None:
        self.what = self.what or " or ".join(o.what for o in self.options)

    def load(self, node: yaml.Node, key: str, src: Source) -> Any:
        for option in self.options:
            if option.accepts(node):
                return option.load(node, key, src)
        raise self.wrong_type(node, key, src)


@dataclass
class Nullable(Schema):
    inner: Schema = field(default_factory=Str)

    @property
    def what(self) -> str:  # type: ignore[override]
        return f"{self.inner.what} or null"

    def load(self, node: yaml.Node, key: str, src: Source) -> Any:
        if isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:null":
            return None
        return self.inner.load(node, key, src)


@dataclass
class ListOf(Schema):
    item: Schema = field(default_factory=Str)
    min_len: int = 0
    unique: bool = True
    what: str = "a list"

    def load(self, node: yaml.Node, key: str, src: Source) -> list[Any]:
        if not isinstance(node, yaml.SequenceNode):
            raise self.wrong_type(node, key, src)
        src.count(node, key)
        out: list[Any] = []
        seen: set[Any] = set()
        for i, child in enumerate(node.value):
            child_key = f"{key}[{i}]"
            if (line := _line(child)) is not None:
                src.lines[child_key] = line
            value = self.item.load(child, child_key, src)
            if self.unique and _seen_before(value, seen, out):
                raise src.error(child_key, f"{value!r} is listed twice", _line(child))
            out.append(value)
        if len(out) < self.min_len:
            raise src.error(key, f"needs at least {self.min_len} item(s)", _line(node))
        return out


def _seen_before(value: Any, seen: set[Any], out: list[Any]) -> bool:
    """Whether ``value`` is already in the list: a set lookup, so a long list costs no n-squared."""
    try:
        if value in seen:
            return True
        seen.add(value)
        return False
    except TypeError:  # an unhashable item (a mapping): compare it with the others
        return value in out


def _mapping_pairs(node: yaml.MappingNode, key: str, src: Source) -> list[tuple[str, yaml.Node]]:
    src.count(node, key)
    seen: dict[str, int] = {}
    pairs = []
    for knode, vnode in node.value:
        if not isinstance(knode, yaml.ScalarNode):
            raise src.error(key, "keys must be plain strings", _line(knode))
        name = str(knode.value)
        if not name.strip():
            raise src.error(key, "a key is empty; write a name before the ':'", _line(knode))
        if name in seen:
            raise src.error(
                _join(key, name), f"duplicate key (first written on line {seen[name]})", _line(knode)
            )
        seen[name] = _line(knode)
        src.lines[_join(key, name)] = _line(knode)
        pairs.append((name, vnode))
    return pairs


@dataclass
class MapOf(Schema):
    """A mapping whose keys are names chosen by the user (binaries, hosts...)."""

    value: Schema = field(default_factory=Str)
    key_pattern: str = r"[A-Za-z0-9][A-Za-z0-9_.-]*"
    key_help: str = "a name of letters, digits, '-', '_' and '.'"
    min_len: int = 0
    what: str = "a mapping"

    def load(self, node: yaml.Node, key: str, src: Source) -> dict[str, Any]:
        if not isinstance(node, yaml.MappingNode):
            raise self.wrong_type(node, key, src)
        out: dict[str, Any] = {}
        for name, vnode in _mapping_pairs(node, key, src):
            child_key = _join(key, name)
            if not re.fullmatch(self.key_pattern, name):
                raise src.error(child_key, f'"{name}" is not {self.key_help}')
            out[name] = self.value.load(vnode, child_key, src)
        if len(out) < self.min_len:
            raise src.error(key, f"needs at least {self.min_len} entry(ies)", _line(node))
        return out


_REQUIRED = object()
# For a section: when absent, load it from an empty mapping so its fields'
# own defaults apply.
SECTION_DEFAULTS = object()
_NULL = yaml.ScalarNode("tag:yaml.org,2002:null", "")


@dataclass
class Field:
    schema: Schema
    default: Any = _REQUIRED
    factory: Callable[[], Any] | None = None

    @property
    def required(self) -> bool:
        return self.default is _REQUIRED and self.factory is None

    def make_default(self, key: str, src: Source) -> Any:
        if self.default is SECTION_DEFAULTS:
            return self.schema.load(_NULL, key, src)
        return self.factory() if self.factory else self.default


@dataclass
class Record(Schema):
    """A mapping with a fixed set of keys, built into ``cls(**values)``."""

    cls: Callable[..., Any] = dict
    fields: dict[str, Field] = field(default_factory=dict)
    what: str = "a mapping"

    def load(self, node: yaml.Node, key: str, src: Source) -> Any:
        if isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:null":
            pairs: list[tuple[str, yaml.Node]] = []
        elif isinstance(node, yaml.MappingNode):
            pairs = _mapping_pairs(node, key, src)
        else:
            raise self.wrong_type(node, key, src)
        values: dict[str, Any] = {}
        for name, vnode in pairs:
            spec = self.fields.get(name)
            if spec is None:
                allowed = sorted(self.fields)
                hint = difflib.get_close_matches(name, allowed, n=1)
                maybe = f' (did you mean "{hint[0]}"?)' if hint else ""
                raise src.error(
                    _join(key, name), f"unknown key{maybe}; allowed keys: {', '.join(allowed)}"
                )
            values[name.replace("-", "_")] = spec.schema.load(vnode, _join(key, name), src)
        for name, spec in self.fields.items():
            if name.replace("-", "_") in values:
                continue
            if spec.required:
                raise src.error(key or name, f'missing required key "{name}"', _line(node))
            values[name.replace("-", "_")] = spec.make_default(_join(key, name), src)
        return self.cls(**values)


# libyaml parses about ten times faster than the pure-Python parser (2 ms for
# build.yaml instead of 21 ms); the pure one stands in where PyYAML was built without it.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
# Deeper than any config needs. Both composers recurse once per level: the
# Python one hits the recursion limit, the C one overflows the stack (a crash).
MAX_DEPTH = 50
# Aliases let a small file stand for a huge tree; validation stops past this many values.
MAX_VALUES = 100_000


def _char(value: int | str) -> str:
    """A character as U+XXXX (the C reader gives its code, the Python one the character)."""
    code = value if isinstance(value, int) else ord(value[:1] or "\0")
    return f"U+{code:04X}"


def _check_depth(text: str, path: str) -> None:
    """Refuse a document nested deeper than MAX_DEPTH, from the parser's events (which do not recurse)."""
    depth = 0
    for event in yaml.parse(text, Loader=_LOADER):
        if isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
            depth += 1
            if depth > MAX_DEPTH:
                # Stop at once: libyaml's flow parser slows down with depth (100000 '[' took 94 s).
                raise ConfigError(path, event.start_mark.line + 1, "", f"lists and mappings nested more than "
                                  f"{MAX_DEPTH} levels deep; a build.yaml needs a handful")
        elif isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
            depth -= 1


def load_document(text: str, path: str, schema: Schema) -> tuple[Any, Source]:
    """Parse ``text`` as YAML and validate it against ``schema``."""
    src = Source(path)
    try:
        _check_depth(text, path)
        node = yaml.compose(text, Loader=_LOADER)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise ConfigError(path, line, "", f"not valid YAML: {exc.problem or exc}") from exc
    except yaml.reader.ReaderError as exc:
        # A control character: the reader knows its offset, not its line.
        line = text[: exc.position].count("\n") + 1
        raise ConfigError(path, line, "", f"not valid YAML: control character {_char(exc.character)} is not "
                          "allowed in a YAML file; remove it") from exc
    if node is None:
        # Empty, or only comments: the caller says what such a file lacks.
        return None, src
    return schema.load(node, "", src), src

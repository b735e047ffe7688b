"""The build.yaml loader under thousands of mutated and random documents.

Every outcome must be a loaded ``Project`` or a ``ConfigError`` that names
``build.yaml:LINE``: never another exception, never a hang. Three sources of
documents: the real build.yaml mutated as text (lines deleted, duplicated,
swapped, re-indented, values replaced, bytes inserted, truncated), the real
build.yaml mutated as data (a value somewhere replaced by a random one) and
YAML that has nothing to do with build.yaml.
"""

from __future__ import annotations

import copy
import os
import re
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from buildlib import ConfigError, config
from buildlib.schema import MapOf, Nullable, OneOf, Record
from tests.helpers.support import REPO, run_invoke

TEMPLATE = (REPO / "build.yaml").read_bytes()
LINES = TEMPLATE.splitlines(keepends=True)
DATA = yaml.safe_load(TEMPLATE)
# The C emitter: the documents are made ten times faster than with the pure-Python one.
DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
# Each example has this long; a loader that hangs (or parses for seconds) fails the case that made it.
DEADLINE_MS = 2000
# Derandomized: CI runs the same documents every time; CONFIG_FUZZ_EXAMPLES runs more by hand.
FUZZ = settings(max_examples=int(os.environ.get("CONFIG_FUZZ_EXAMPLES", "1000")), deadline=DEADLINE_MS,
                derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _keys(schema: Any, out: set[str]) -> set[str]:
    """Every key name the schema knows, so random documents reach past the first unknown key."""
    if isinstance(schema, Record):
        for name, spec in schema.fields.items():
            out.add(name)
            _keys(spec.schema, out)
    elif isinstance(schema, MapOf):
        _keys(schema.value, out)
    elif isinstance(schema, Nullable):
        _keys(schema.inner, out)
    elif isinstance(schema, OneOf):
        for option in schema.options:
            _keys(option, out)
    return out


from buildlib import sections  # noqa: E402,F401 - registers the feature sections before their keys are read

KEYS = sorted(_keys(config.SCHEMA, set()) | {"server", "healthcheck", "release", "dev", "prod"})
WORDS = ["auto", "linux/amd64", "linux/arm64", "./cmd/server", "./internal/version", "release", "dev", "", "~",
         "null", "yes", "no", "0x1F", "0o17", "1_000", "1:20", "2001-12-14", ".inf", "-1", "257", "1e3", "*a",
         "&a x", "!!binary aGk=", "!!python/object:os.system", "'", '"', "{", "[", "- ", ": ", "\t", "#", "%YAML 1.1",
         "---", "...", "|", ">", "?", "é", "\x00", "\ufeff", "\x85", "\u2028"]

scalars = st.one_of(st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
                    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=30), st.sampled_from(WORDS))
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=5)
    | st.dictionaries(st.one_of(st.sampled_from(KEYS), st.text(max_size=12), st.integers()), inner, max_size=5),
    max_leaves=25,
)


@pytest.fixture(scope="module")
def repo_dirs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Directories build.yaml's file checks look for, so a valid document loads."""
    root = tmp_path_factory.mktemp("fuzz")
    for pkg in ("cmd/server", "cmd/healthcheck", "internal/version"):
        (root / pkg).mkdir(parents=True)
    return root


COUNTS: dict[str, int] = {"loaded": 0, "config error": 0}


def check(root: Path, document: bytes) -> None:
    """Load ``document`` as build.yaml: a Project or a ConfigError naming the file and a line."""
    path = root / "build.yaml"
    path.write_bytes(document)
    started = time.monotonic()
    try:
        project = config.load(path)
    except ConfigError as err:
        COUNTS["config error"] += 1
        assert err.line is not None and err.line >= 1, f"no line in: {err}\n--- document:\n{document!r}"
        assert re.match(rf"{re.escape(err.path)}:{err.line}: ", str(err)), str(err)
        assert err.path.endswith("build.yaml"), str(err)
    else:
        COUNTS["loaded"] += 1
        assert project.binaries, document
    assert time.monotonic() - started < DEADLINE_MS / 1000


mutation = st.tuples(
    st.sampled_from(["delete", "duplicate", "swap", "indent", "value", "insert", "truncate", "join"]),
    st.integers(min_value=0, max_value=len(LINES) - 1),
    st.integers(min_value=0, max_value=len(LINES) - 1),
    st.binary(max_size=12) | st.sampled_from([w.encode() for w in WORDS]),
    values,
)


def mutate(lines: list[bytes], op: str, i: int, j: int, junk: bytes, value: Any) -> list[bytes]:
    i, j = min(i, len(lines) - 1), min(j, len(lines) - 1)
    if not lines or i < 0:
        return [junk]
    if op == "delete":
        return lines[: min(i, j)] + lines[max(i, j) + 1:]
    if op == "duplicate":
        return lines[:j] + [lines[i]] + lines[j:]
    if op == "swap":
        out = list(lines)
        out[i], out[j] = out[j], out[i]
        return out
    if op == "indent":
        return lines[:i] + [b" " * (j % 7) + lines[i].lstrip(b" ")] + lines[i + 1:]
    if op == "value":
        key, sep, _ = lines[i].partition(b":")
        flow = yaml.dump(value, default_flow_style=True, width=10**6, Dumper=DUMPER).strip().removesuffix("...").strip()
        return lines[:i] + [key + b": " + flow.encode() + b"\n" if sep else flow.encode() + b"\n"] + lines[i + 1:]
    if op == "insert":
        at = j % (len(lines[i]) + 1)
        return lines[:i] + [lines[i][:at] + junk + lines[i][at:]] + lines[i + 1:]
    if op == "truncate":
        return lines[:i] + [lines[i][: j % (len(lines[i]) + 1)]]
    return lines[:i] + [lines[i].rstrip(b"\n") + junk + lines[j]] + lines[i + 1:]  # join


@FUZZ
@given(st.lists(mutation, min_size=1, max_size=4))
def mutated_template(repo_dirs: Path, mutations: list[Any]) -> None:
    lines = list(LINES)
    for op in mutations:
        lines = mutate(lines, *op)
    check(repo_dirs, b"".join(lines))


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*prefix, i))
    return out


PATHS = [p for p in _paths(DATA) if p]


@FUZZ
@given(st.lists(st.tuples(st.sampled_from(PATHS), st.booleans(), values), min_size=1, max_size=3))
def random_values(repo_dirs: Path, changes: list[Any]) -> None:
    doc = copy.deepcopy(DATA)
    for path, delete, value in changes:
        parent = doc
        try:
            for part in path[:-1]:
                parent = parent[part]
            if delete and isinstance(parent, dict):
                parent.pop(path[-1], None)
            else:
                parent[path[-1]] = value
        except (KeyError, IndexError, TypeError):
            continue  # an earlier change removed or replaced this path
    check(repo_dirs, yaml.dump(doc, allow_unicode=True, Dumper=DUMPER).encode())


@FUZZ
@given(st.one_of(
    values.map(lambda v: yaml.dump(v, allow_unicode=True, Dumper=DUMPER).encode()),
    st.lists(st.sampled_from(WORDS) | st.sampled_from(KEYS) | st.text(max_size=5), max_size=30)
    .map(lambda words: " ".join(words).encode()),
    st.binary(max_size=200),
))
def random_documents(repo_dirs: Path, document: bytes) -> None:
    check(repo_dirs, document)


@pytest.mark.parametrize("fuzz", [mutated_template, random_values, random_documents],
                         ids=["mutated-template", "random-values", "random-documents"])
def test_loader_gives_a_project_or_a_line(repo_dirs: Path, fuzz: Any) -> None:
    before = dict(COUNTS)
    fuzz(repo_dirs)
    loaded, errors = (COUNTS[k] - before[k] for k in ("loaded", "config error"))
    # Shown with `pytest -s`: the figure the README quotes.
    print(f"\n{fuzz.__name__}: {loaded + errors} documents, {loaded} loaded, {errors} config errors")
    assert loaded + errors >= FUZZ.max_examples


def test_a_huge_build_yaml_is_refused_at_once(tmp_path: Path) -> None:
    path = tmp_path / "build.yaml"
    path.write_bytes(TEMPLATE + b"#" * (config.MAX_CONFIG_BYTES))
    started = time.monotonic()
    with pytest.raises(ConfigError, match=r"build\.yaml: is larger than 1 MB; a build\.yaml is a few KB"):
        config.load(path)
    assert time.monotonic() - started < 1


@pytest.mark.parametrize(("document", "message"), [
    pytest.param(b"", r"build\.yaml:1: the file is empty \(or only comments\); it needs at least project and binaries",
                 id="empty"),
    pytest.param(b"# nothing yet\n\n   # still nothing\n", r"build\.yaml:1: the file is empty \(or only comments\)",
                 id="comments-only"),
    pytest.param(TEMPLATE.replace(b"name: ginsvc", b"name: caf\xe9"), r"build\.yaml:5: not UTF-8 text \(byte 0xe9\); "
                 r"save the file as UTF-8", id="latin-1"),
    pytest.param(b"project:\n  name: a\x01b\n",
                 r"build\.yaml:2: not valid YAML: control character U\+0001 is not allowed", id="control-character"),
    # PyYAML 6.0.4's C parser stops such a document itself; older ones reach the loader's own depth check.
    pytest.param(b"a: " + b"[" * 100_000, r"build\.yaml:1: (lists and mappings nested more than 50 levels deep|"
                 r"not valid YAML: exceeded maximum nesting depth)", id="deep-flow"),
    pytest.param(b"- " * 100_000 + b"x\n", r"build\.yaml:1: lists and mappings nested more than 50 levels deep",
                 id="deep-block"),
    pytest.param(b"deploy:\n  groups:\n    g: &a [" + b",".join(b"h%d" % i for i in range(1000)) + b"]\n"
                 + b"".join(b"    g%d: *a\n" % i for i in range(200)),
                 r"build\.yaml:\d+: deploy\.groups\.g\d+: more than 100000 values \(aliases", id="alias-bomb"),
    pytest.param(b"binaries:\n  ? ''\n  : {main: ./cmd/server}\n", r"build\.yaml:2: binaries: a key is empty",
                 id="empty-key"),
])
def test_documents_that_used_to_crash_the_loader(tmp_path: Path, document: bytes, message: str) -> None:
    path = tmp_path / "build.yaml"
    path.write_bytes(document)
    started = time.monotonic()
    with pytest.raises(ConfigError, match=message):
        config.load(path)
    assert time.monotonic() - started < 2


def test_an_empty_build_yaml_exits_2_without_a_traceback(tree: Path) -> None:
    (tree / "build.yaml").write_text("# to be written\n")
    done = run_invoke("--search-root", str(REPO), "info", cwd=tree)
    assert done.returncode == 2, done.stderr
    assert "error: build.yaml:1: the file is empty (or only comments)" in done.stderr
    assert "Traceback" not in done.stderr

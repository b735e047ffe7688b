"""Which files a target is built from, and how to notice that this list may have changed.

``go list -deps`` answers the first question once per platform. Its answer is
kept with the build state, together with what could make it wrong: the file
names in each package directory (a new ``.go`` file joins the package) and the
files the build constraints left out (editing a ``//go:build`` line moves a
file in). While all of those are unchanged the old answer is still right, so an
up-to-date check does not need ``go`` at all.
"""

from __future__ import annotations

import json
import os
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ToolError

if TYPE_CHECKING:
    from .plan import Recipe

# Every field of `go list` that names a file the compiler or linker reads
# (InvalidGoFiles: files that do not parse yet are inputs too, so fixing one counts).
FILE_FIELDS = ("GoFiles", "CgoFiles", "CFiles", "CXXFiles", "MFiles", "HFiles", "FFiles", "SFiles",
               "SwigFiles", "SwigCXXFiles", "SysoFiles", "EmbedFiles", "InvalidGoFiles")
_LIST_FIELDS = ",".join(("ImportPath", "Dir", "Standard", "Deps", "IgnoredGoFiles",
                         "IgnoredOtherFiles", "EmbedPatterns", *FILE_FIELDS))
# A new file with one of these suffixes may join a package's build.
SOURCE_SUFFIXES = (".go", ".c", ".h", ".s", ".S", ".sx", ".cc", ".cpp", ".cxx", ".hh", ".hpp", ".hxx", ".m",
                   ".f", ".F", ".for", ".f90", ".swig", ".swigcxx", ".syso")


@dataclass
class Inputs:
    """What one target is built from, as paths relative to the repository root."""

    files: list[str] = field(default_factory=list)          # their content is part of the key
    ignored: list[str] = field(default_factory=list)        # left out by build constraints, for now
    dirs: dict[str, list[str]] = field(default_factory=dict)  # dir -> "src" or "all" names seen
    dir_modes: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"files": self.files, "ignored": self.ignored, "dirs": self.dirs, "dir_modes": self.dir_modes}

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Inputs:
        return cls(files=list(raw["files"]), ignored=list(raw["ignored"]), dirs=dict(raw["dirs"]),
                   dir_modes=dict(raw["dir_modes"]))


def _rel(root: Path, path: str) -> str:
    rel = os.path.relpath(path, root)
    return path if rel.startswith("..") else rel.replace(os.sep, "/")


def dir_names(root: Path, rel_dir: str, mode: str) -> list[str] | None:
    """The names in a directory that matter: source files ("src") or everything ("all")."""
    try:
        names = os.listdir(root / rel_dir)
    except OSError:
        return None
    if mode == "src":
        names = [n for n in names if n.endswith(SOURCE_SUFFIXES) and not n.endswith("_test.go")
                 and not n.startswith((".", "_"))]
    return sorted(names)


def list_packages(recipe: Recipe, platform: str, mains: list[str],
                  cancel: threading.Event | None = None) -> list[dict[str, Any]]:
    """``go list -deps`` of ``mains`` for ``platform``; -e so a broken package still lists."""
    out = recipe.go_run(platform, "list", "-e", "-deps", f"-json={_LIST_FIELDS}", *recipe.list_flags(), *mains,
                        cancel=cancel, timeout=600, check=True,
                        hint=f"the packages of {platform} could not be listed; `go build ./...` must work")
    return decode_json_stream(out.stdout)


def decode_json_stream(text: str) -> list[dict[str, Any]]:
    """`go list -json` prints one JSON object after another, not a list."""
    decoder = json.JSONDecoder()
    pos, objs = 0, []
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos >= len(text):
            return objs
        obj, pos = decoder.raw_decode(text, pos)
        objs.append(obj)


def _embed_dirs(pkg_dir: Path, patterns: list[str]) -> list[Path]:
    """Directories whose new entries could match one of the package's //go:embed patterns."""
    dirs = []
    for pattern in patterns:
        first = pattern.removeprefix("all:").split("/")[0]
        top = pkg_dir / first
        if any(c in first for c in "*?[") or not top.is_dir():
            dirs.append(pkg_dir)
            continue
        # An empty subdirectory holds no embedded file yet, but a file put in it later would be.
        dirs.extend(Path(d) for d, _, _ in os.walk(top))
    return dirs


def target_inputs(pkgs: list[dict[str, Any]], main_dir: Path, root: Path, modcache: str) -> Inputs:
    """The inputs of the main package in ``main_dir``, from one platform's ``go list -deps``."""
    by_path = {p["ImportPath"]: p for p in pkgs}
    main = next((p for p in pkgs if os.path.realpath(p.get("Dir", "")) == os.path.realpath(main_dir)), None)
    if main is None:
        raise ToolError(f"`go list` did not report the package in {main_dir}")
    inputs = Inputs()
    modcache = os.path.realpath(modcache) + os.sep if modcache else "\0"
    for path in (main["ImportPath"], *main.get("Deps", [])):
        pkg = by_path.get(path)
        if pkg is None or pkg.get("Standard"):
            continue  # the standard library is part of the Go version
        # A package with an error (a syntax error, a missing import) is listed all the same (-e):
        # its files are still inputs, and `go build` will report the error in its own words.
        pkg_dir = pkg.get("Dir")
        if not pkg_dir or os.path.realpath(pkg_dir).startswith(modcache):
            continue  # module cache contents are fixed by go.sum
        for name in FILE_FIELDS:
            inputs.files.extend(_rel(root, os.path.join(pkg_dir, f)) for f in pkg.get(name) or [])
        for name in ("IgnoredGoFiles", "IgnoredOtherFiles"):
            inputs.ignored.extend(_rel(root, os.path.join(pkg_dir, f)) for f in pkg.get(name) or [])
        inputs.dir_modes.setdefault(_rel(root, pkg_dir), "src")
        for d in _embed_dirs(Path(pkg_dir), pkg.get("EmbedPatterns") or []):
            inputs.dir_modes[_rel(root, str(d))] = "all"
    inputs.files = sorted(set(inputs.files))
    inputs.ignored = sorted(set(inputs.ignored))
    inputs.dirs = {d: dir_names(root, d, m) or [] for d, m in sorted(inputs.dir_modes.items())}
    return inputs


def listing_change(root: Path, inputs: Inputs) -> str | None:
    """Why ``inputs`` may no longer be the full list (a file appeared or went), or None."""
    for d, seen in inputs.dirs.items():
        now = dir_names(root, d, inputs.dir_modes.get(d, "src"))
        if now is None:
            return f"directory {d} is gone"
        if now != seen:
            added = sorted(set(now) - set(seen))
            gone = sorted(set(seen) - set(now))
            if added:
                return f"new file: {d}/{added[0]}" + (f" (+{len(added) - 1} more)" if len(added) > 1 else "")
            return f"removed: {d}/{gone[0]}" + (f" (+{len(gone) - 1} more)" if len(gone) > 1 else "")
    return None


def module_go_files(root: Path, skip: set[str]) -> list[str]:
    """Every .go file of the main module (tests and all build tags included), relative to ``root``.

    What `go mod tidy` reads: directories Go ignores (., _, testdata), nested
    modules and ``skip`` (outputs, caches) are left out.
    """
    found: list[str] = []

    def walk(rel: str) -> None:
        try:
            entries = list(os.scandir(root / rel if rel else root))
        except OSError:
            return
        names = {e.name for e in entries}
        if rel and "go.mod" in names:
            return  # another module
        for e in entries:
            path = f"{rel}/{e.name}" if rel else e.name
            if e.is_dir(follow_symlinks=False):
                if not e.name.startswith((".", "_")) and e.name != "testdata" and path not in skip:
                    walk(path)
            elif e.name.endswith(".go"):
                found.append(path)

    walk("")
    return sorted(found)


# -- what of a .go file decides the packages and files a build takes ---------------------------------
_DIRECTIVES = ("//go:build", "// +build", "//go:embed")
_PACKAGE = re.compile(r"\bpackage\s+(\w+)")
_IMPORT = re.compile(r"\s*(?:;\s*)*import\s*(?:\((?P<group>[^)]*)\)|(?P<one>(?:[\w.]+\s+)?(?:\"[^\"]*\"|`[^`]*`)))")
_SPEC = re.compile(r"(?:([\w.]+)\s+)?(\"[^\"]*\"|`[^`]*`)")


def _without_comments(text: str) -> str:
    """``text`` with every comment replaced by a space; strings and runes are kept as they are."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "/" and text.startswith("//", i):
            end = text.find("\n", i)
            i = n if end < 0 else end
            out.append(" ")
        elif c == "/" and text.startswith("/*", i):
            end = text.find("*/", i + 2)
            i = n if end < 0 else end + 2
            out.append(" ")
        elif c in "\"'`":
            j = i + 1
            while j < n and text[j] != c and not (c != "`" and text[j] == "\n"):
                j += 2 if c != "`" and text[j] == "\\" else 1
            out.append(text[i:j + 1])
            i = j + 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def go_header(data: bytes) -> str:
    """The parts of a .go file that decide which packages and files a build takes and what
    `go mod tidy` reads: build constraints, the package clause, the imports and ``//go:embed`` lines.

    An edit anywhere else (a function body, a comment) leaves it unchanged, so the checks keyed on
    it (tidiness, the secret scan of embedded files) need not run again after such an edit.
    """
    text = data.decode("utf-8", "replace")
    directives = [line.strip() for line in text.splitlines() if line.startswith(_DIRECTIVES)]
    code = _without_comments(text)
    package = _PACKAGE.search(code)
    imports: list[str] = []
    pos = package.end() if package else 0
    while (found := _IMPORT.match(code, pos)) is not None:
        specs = found.group("group") if found.group("group") is not None else found.group("one")
        imports += [f"{alias} {path}".strip() for alias, path in _SPEC.findall(specs)]
        pos = found.end()
    return json.dumps([package.group(1) if package else "", directives, imports])

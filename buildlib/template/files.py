"""Which files of a repository are its own: sources, config, templates; not outputs or caches.

Nothing may be committed yet, so ``git ls-files`` alone is not enough: when git
is there, the answer is the tracked files plus the untracked ones .gitignore
does not exclude; without git (or outside a work tree) it is a walk. Both are
then filtered by the same explicit list of outputs and caches, so a missing
.gitignore line never drags ``bin/`` or ``.nox/`` along.
"""

from __future__ import annotations

import fnmatch
import os
import shutil
from collections.abc import Iterable
from pathlib import Path

from .. import tools
from ..errors import ToolError

# Directory names skipped wherever they are.
IGNORED_DIRS = frozenset({
    ".git", ".hg", ".svn", ".nox", ".tox", ".build", ".venv", "venv", "__pycache__", ".pytest_cache",
    ".ruff_cache", ".mypy_cache", "node_modules", ".idea",
})
# Directory names skipped at the top of the repository only (build outputs).
IGNORED_TOP_DIRS = frozenset({"bin", "dist"})
# File name patterns skipped wherever they are.
IGNORED_FILES = ("*.pyc", "*.pyo", "*.egg-info", ".coverage", "*.test", "*.prof", ".DS_Store", "*.swp", "*~")


def _ignored(rel: str, extra_top: frozenset[str]) -> bool:
    parts = rel.split("/")
    if parts[0] in IGNORED_TOP_DIRS or parts[0] in extra_top:
        return True
    if any(p in IGNORED_DIRS or p.endswith(".egg-info") for p in parts[:-1]):
        return True
    return any(fnmatch.fnmatch(parts[-1], pat) for pat in IGNORED_FILES)


def _git_files(root: Path) -> list[str] | None:
    git = shutil.which("git")
    if git is None:
        return None
    # Any failure means "not a git work tree we can list": the caller walks the folder instead.
    try:
        top = tools.run([git, "rev-parse", "--show-toplevel"], cwd=root, timeout=30, check=False)
        if top.returncode != 0 or Path(top.stdout.strip()).resolve() != root.resolve():
            return None
        out = tools.run([git, "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=root,
                        timeout=60, text=False)
    except ToolError:
        return None
    return sorted({f.decode() for f in out.stdout.split(b"\0") if f})


def _walk(root: Path, extra_top: frozenset[str]) -> list[str]:
    found: list[str] = []
    for folder, dirs, files in os.walk(root):
        rel_dir = Path(folder).relative_to(root).as_posix()
        prefix = "" if rel_dir == "." else rel_dir + "/"
        dirs[:] = sorted(d for d in dirs if not _ignored(prefix + d + "/x", extra_top))
        found += [prefix + f for f in sorted(files)]
    return found


def repository_files(root: Path, *, skip_top: Iterable[str] = (), use_git: bool = True) -> list[str]:
    """The repository's own files, as sorted POSIX paths relative to ``root``.

    ``skip_top`` names more top-level directories to leave out (build.yaml's
    out_dir, for one).
    """
    extra = frozenset(s.strip("/").split("/")[0] for s in skip_top if s.strip("/"))
    listed = _git_files(root) if use_git else None
    candidates = listed if listed is not None else _walk(root, extra)
    out = []
    for rel in candidates:
        if _ignored(rel, extra):
            continue
        path = root / rel
        if path.is_symlink() or path.is_file():
            out.append(rel)
    return out

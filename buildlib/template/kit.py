"""The kit's own files, put into a service repository and later brought up to date.

The kit is vendored: `invoke init --adopt` copies buildlib/, tasks.py,
noxfile.py, pyproject.toml, .dockerignore, docker/ and deploy/ into the
service, and records in ``.buildkit.json`` the kit's commit and the sha256
of every file it wrote. A newer kit is taken with `invoke init --update`,
which works like `copier update`: a three-way merge per file between what the
kit wrote then (read back from the kit's git history at the recorded commit),
what the service has now, and what the kit has now. Unchanged files are
replaced, local edits are kept, and edits on both sides are merged by
`git merge-file`; a clash is written with conflict markers and listed.
build.yaml is the service's own and is never touched.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from .. import tools
from ..atomic import write_bytes
from ..errors import SelectionError, ToolError

LOCK_NAME = ".buildkit.json"
# What a repository needs to run the kit: the package, the task and session
# files, the Python project that installs them, and the files the tasks read.
KIT_PATHS: tuple[str, ...] = (
    "buildlib", "tasks.py", "noxfile.py", "pyproject.toml", ".dockerignore", "docker/Dockerfile",
    "docker/rootfs", "deploy",
)
_SKIP_DIRS = frozenset({"__pycache__", ".pytest_cache", ".ruff_cache"})
_SKIP_SUFFIXES = (".pyc", ".pyo")


class Change(StrEnum):
    ADDED = "added"            # new in the kit, written
    UPDATED = "updated"        # unchanged locally, replaced by the kit's newer version
    KEPT = "kept"              # edited locally, unchanged in the kit: the local edit stays
    MERGED = "merged"          # edited on both sides, merged cleanly
    CONFLICT = "conflict"      # edited on both sides, clashing: written with conflict markers
    REMOVED = "removed"        # gone from the kit and unchanged locally: deleted
    ORPHANED = "orphaned"      # gone from the kit but edited locally: left in place
    DELETED = "deleted"        # deleted locally: stays deleted
    SAME = "up to date"


@dataclass(frozen=True)
class KitVersion:
    root: Path
    commit: str | None   # None: the kit is not a git checkout
    dirty: bool

    @property
    def label(self) -> str:
        if self.commit is None:
            return "(no git commit)"
        return self.commit[:12] + ("-dirty" if self.dirty else "")


@dataclass
class FileOutcome:
    """What an install or update did, file by file (sorted paths)."""

    version: KitVersion
    changes: dict[str, Change] = field(default_factory=dict)
    backups: list[str] = field(default_factory=list)

    def of(self, change: Change) -> list[str]:
        return sorted(p for p, c in self.changes.items() if c is change)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _git(root: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    """``git ARGS`` in ``root``; the callers read its status (not a repository, no such commit)."""
    return tools.run(["git", *args], cwd=root, timeout=60, check=False, text=False)


def kit_version(root: Path) -> KitVersion:
    if shutil.which("git") is None:
        return KitVersion(root, None, False)
    head = _git(root, "rev-parse", "HEAD")
    if head.returncode != 0:
        return KitVersion(root, None, False)
    status = _git(root, "status", "--porcelain", "--", *KIT_PATHS)
    return KitVersion(root, head.stdout.decode().strip(), bool(status.stdout.strip()))


def kit_files(root: Path) -> dict[str, bytes]:
    """Relative POSIX path -> content of every kit file under ``root``."""
    out: dict[str, bytes] = {}
    for rel in KIT_PATHS:
        path = root / rel
        if path.is_file():
            out[rel] = path.read_bytes()
            continue
        if not path.is_dir():
            raise ToolError(f"the kit at {root} has no {rel}; run this from a checkout of the kit")
        for folder, dirs, files in os.walk(path):
            dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS and not d.endswith(".egg-info"))
            for name in sorted(files):
                if name.endswith(_SKIP_SUFFIXES):
                    continue
                full = Path(folder) / name
                out[full.relative_to(root).as_posix()] = full.read_bytes()
    return out


def _mode_of(kit_root: Path, rel: str) -> int:
    return 0o755 if os.access(kit_root / rel, os.X_OK) else 0o644


def _write_lock(dest: Path, version: KitVersion, hashes: dict[str, str]) -> None:
    doc = {"kit": {"commit": version.commit, "dirty": version.dirty, "source": str(version.root)},
           "files": dict(sorted(hashes.items()))}
    write_bytes(dest / LOCK_NAME, (json.dumps(doc, indent=2) + "\n").encode())


def read_lock(dest: Path) -> dict:
    path = dest / LOCK_NAME
    if not path.is_file():
        raise SelectionError(f"{path} is missing: {dest} did not get the kit from `invoke init --adopt` (or the "
                             "file was deleted); run `invoke init --adopt --dest {dest} --force` once to install it")
    try:
        doc = json.loads(path.read_text())
        files = doc["files"]
        if not isinstance(files, dict):
            raise TypeError("files is not a mapping")
    except (ValueError, KeyError, TypeError) as exc:
        raise SelectionError(f"{path} is not the kit's lock file ({exc}); restore it from git") from exc
    return doc


def install(kit_root: Path, dest: Path, *, force: bool = False) -> FileOutcome:
    """Copy the kit into ``dest``; a file already there is a conflict unless ``force`` (then kept as FILE.orig)."""
    version = kit_version(kit_root)
    files = kit_files(kit_root)
    if kit_root.resolve() == dest.resolve():
        raise SelectionError("--dest is the kit itself; name the service repository to adopt the kit into")
    # What dest has at each kit path now, read once: equal files are left alone, others are conflicts.
    current = {rel: (dest / rel).read_bytes() for rel in files if (dest / rel).is_file()}
    existing = sorted(rel for rel, data in files.items()
                      if ((dest / rel).exists() and rel not in current) or current.get(rel, data) != data)
    if existing and not force:
        shown = "\n  ".join(existing[:15]) + ("\n  ..." if len(existing) > 15 else "")
        raise SelectionError(
            f"{dest} already has {len(existing)} file(s) the kit would write:\n  {shown}\n"
            "move them away, or pass --force to keep each as FILE.orig beside the kit's version")
    out = FileOutcome(version)
    for rel in existing:
        backup = dest / f"{rel}.orig"
        if backup.exists():
            raise SelectionError(f"{backup} exists already; move it away first (nothing was written)")
    for rel in existing:
        os.replace(dest / rel, dest / f"{rel}.orig")
        out.backups.append(f"{rel}.orig")
    for rel, data in files.items():
        if current.get(rel) == data:
            out.changes[rel] = Change.SAME
            continue
        write_bytes(dest / rel, data, _mode_of(kit_root, rel))
        out.changes[rel] = Change.ADDED
    _write_lock(dest, version, {rel: _sha256(data) for rel, data in files.items()})
    return out


def record(kit_root: Path, dest: Path) -> None:
    """Write the lock for kit files that `invoke init` wrote (renamed for the new service) as they are now."""
    hashes = {rel: _sha256((dest / rel).read_bytes()) for rel in kit_files(kit_root) if (dest / rel).is_file()}
    _write_lock(dest, kit_version(kit_root), hashes)


def _base_content(kit_root: Path, commit: str | None, rel: str, recorded: str) -> bytes | None:
    """The file as the kit wrote it at install: from git at ``commit``, trusted only if its hash matches."""
    if commit is None:
        return None
    shown = _git(kit_root, "show", f"{commit}:{rel}")
    if shown.returncode != 0 or _sha256(shown.stdout) != recorded:
        return None
    return shown.stdout


def _merge(local: bytes, base: bytes, new: bytes) -> tuple[bytes, bool]:
    """Three-way merge with `git merge-file`; (result, clean)."""
    with tempfile.TemporaryDirectory(prefix="kit-merge-") as tmp:
        paths = []
        for name, data in (("local", local), ("base", base), ("kit", new)):
            p = Path(tmp) / name
            p.write_bytes(data)
            paths.append(str(p))
        proc = tools.run(["git", "merge-file", "-p", "-L", "yours", "-L", "kit then", "-L", "kit now", *paths],
                         timeout=60, check=False, text=False)
    # Its status counts the conflicts (up to 127); above that, or killed, it failed.
    if proc.returncode < 0 or proc.returncode > 127:
        raise tools.failed(proc.args, proc)
    return proc.stdout, proc.returncode == 0


def update(kit_root: Path, dest: Path) -> FileOutcome:
    """Bring the kit files in ``dest`` to the kit at ``kit_root``, keeping local edits (see the module doc)."""
    if shutil.which("git") is None:
        raise ToolError("updating the kit merges with `git merge-file`; install git")
    lock = read_lock(dest)
    recorded: dict[str, str] = lock["files"]
    commit = (lock.get("kit") or {}).get("commit")
    version = kit_version(kit_root)
    files = kit_files(kit_root)
    out = FileOutcome(version)
    hashes: dict[str, str] = {}
    for rel in sorted(set(files) | set(recorded)):
        target = dest / rel
        new = files.get(rel)
        local = target.read_bytes() if target.is_file() else None
        was = recorded.get(rel)
        if new is None:  # the kit dropped it
            if local is not None and was is not None and _sha256(local) == was:
                target.unlink()
                out.changes[rel] = Change.REMOVED
            elif local is not None:
                out.changes[rel] = Change.ORPHANED
            continue
        hashes[rel] = _sha256(new)
        if local is None:
            if was is None:
                write_bytes(target, new, _mode_of(kit_root, rel))
                out.changes[rel] = Change.ADDED
            else:
                out.changes[rel] = Change.DELETED
            continue
        if local == new:
            out.changes[rel] = Change.SAME
        elif was is not None and _sha256(local) == was:
            write_bytes(target, new, _mode_of(kit_root, rel))
            out.changes[rel] = Change.UPDATED
        elif was is not None and _sha256(new) == was:
            out.changes[rel] = Change.KEPT
        else:
            base = _base_content(kit_root, commit, rel, was) if was else None
            merged, clean = _merge(local, base if base is not None else b"", new)
            write_bytes(target, merged, _mode_of(kit_root, rel))
            out.changes[rel] = Change.MERGED if clean else Change.CONFLICT
    _write_lock(dest, version, hashes)
    return out

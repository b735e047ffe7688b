"""bin/manifest.json: what is in bin/, for the steps after the build (images, packages, deploys).

Several runs may finish at the same moment, so an update re-reads the file and
merges its own targets into it while holding the state lock, then replaces the
file in one rename.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from . import layout
from .atomic import read_json, write_json

SCHEMA = 1
FILENAME = layout.MANIFEST


def path(out_dir: Path) -> Path:
    return out_dir / FILENAME


def load(out_dir: Path) -> dict[str, Any]:
    data = read_json(path(out_dir), {})
    return data if isinstance(data, dict) and data.get("schema") == SCHEMA else {}


def entry(*, binary: str, platform: str, rel_path: str, sha256: str, size: int, key: str, duration: float,
          status: str, go_version: str, flags: list[str], version: str, profile: str) -> dict[str, Any]:
    """One target's entry; ``status`` is "built" or "skipped" (up to date, not rebuilt)."""
    return {
        "binary": binary, "platform": platform, "path": rel_path, "sha256": sha256, "size": size, "key": key,
        "duration": round(duration, 3), "status": status, "go_version": go_version, "flags": flags,
        "version": version, "profile": profile,
    }


def merge(out_dir: Path, header: dict[str, Any], entries: dict[str, dict[str, Any]],
          known: set[str]) -> dict[str, Any]:
    """Merge ``entries`` (target id -> entry) into the manifest on disk; the caller holds the state lock.

    Targets no longer in build.yaml (``known``) are dropped, so the manifest
    never lists a binary that nothing builds any more.
    """
    data = load(out_dir)
    if not data and not entries:
        return data  # nothing was built yet: no manifest rather than one that names no binary
    new = merged(data, header, entries, known)
    if new != data:  # an unchanged manifest is not rewritten: the no-op build writes nothing
        write_json(path(out_dir), new)
    return new


def merged(data: dict[str, Any], header: dict[str, Any], entries: dict[str, dict[str, Any]],
           known: set[str]) -> dict[str, Any]:
    """The manifest with ``entries`` merged in.

    The header (version, commit, date, profile) says which build the newest entries come from, so it
    changes only together with entries, in the same write: a run that recorded no target (it failed,
    or was stopped) leaves the header of the build whose binaries are still there.
    """
    targets = {k: v for k, v in data.get("targets", {}).items() if k in known}
    targets.update(entries)
    head = header if entries else {}
    return {**data, **head, "schema": SCHEMA, "targets": dict(sorted(targets.items()))}

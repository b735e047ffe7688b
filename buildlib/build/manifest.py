"""bin/manifest.json: what is in bin/, for the steps after the build (images, packages, deploys).

Several runs may finish at the same moment, so an update re-reads the file and
merges its own targets into it while holding the state lock, then replaces the
file in one rename.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import layout
from ..atomic import read_json, write_json
from ..errors import InputError

SCHEMA = 1
FILENAME = layout.MANIFEST


def path(out_dir: Path) -> Path:
    return out_dir / FILENAME


def load(out_dir: Path) -> dict[str, Any]:
    """The manifest as stored, for the build's own merge; {} when there is none of this schema."""
    data = read_json(path(out_dir), {})
    return data if isinstance(data, dict) and data.get("schema") == SCHEMA else {}


class ManifestError(InputError):
    """bin/manifest.json is not what `invoke build` writes; ``problem`` says which part, the hint what to run."""

    def __init__(self, problem: str, hint: str = "run `invoke build` again to write it anew") -> None:
        super().__init__(problem, hint=hint)
        self.problem = problem


@dataclass(frozen=True)
class ManifestEntry:
    """One target of the manifest: where its binary is, its sha256, and the build that made it."""

    id: str
    binary: str
    platform: str
    path: str  # relative to the project root
    sha256: str
    size: int | None
    duration: float
    status: str  # "built" or "skipped" (up to date)
    version: str  # the stamp it was built with ("" in a manifest of an older kit: the header's)
    key: str = ""
    go_version: str = ""
    profile: str = ""
    flags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Manifest:
    """bin/manifest.json, read once: the header of the newest build and every target's entry."""

    project: str
    version: str
    commit: str
    date: str
    profile: str
    go_version: str
    targets: dict[str, ManifestEntry]

    def version_of(self, entry: ManifestEntry) -> str:
        return entry.version or self.version

    @property
    def built(self) -> list[ManifestEntry]:
        """The targets the newest build really compiled (not those it found up to date)."""
        return [t for t in self.targets.values() if t.status == "built"]

    @property
    def build_seconds(self) -> float:
        """Compile time spent on the targets this build really built (up-to-date ones cost nothing)."""
        return sum(t.duration for t in self.built)


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ManifestError(f"{where}: expected a number, got {value!r}")
    return float(value)


def parse(data: Any, where: str = FILENAME) -> Manifest:
    """The typed manifest in ``data`` (the JSON as read); ``where`` names it in the errors."""
    if not isinstance(data, dict) or not isinstance(data.get("targets"), dict):
        raise ManifestError(f"{where}: expected a build manifest with a \"targets\" mapping")
    targets = {}
    for tid, t in data["targets"].items():
        if not isinstance(t, dict):
            raise ManifestError(f"{where}: targets.{tid}: expected a mapping")
        binary, _, platform = str(tid).partition(":")
        size = t.get("size")
        targets[tid] = ManifestEntry(
            id=tid, binary=str(t.get("binary", binary)), platform=str(t.get("platform", platform)),
            path=str(t.get("path", "")), sha256=str(t.get("sha256") or ""),
            size=int(size) if isinstance(size, (int, float)) and not isinstance(size, bool) else None,
            duration=_number(t.get("duration", 0), f"{where}: targets.{tid}.duration"),
            status=str(t.get("status", "built")), version=str(t.get("version") or ""), key=str(t.get("key", "")),
            go_version=str(t.get("go_version", "")), profile=str(t.get("profile", "")),
            flags=tuple(map(str, t["flags"])) if isinstance(t.get("flags"), list) else ())
    return Manifest(project=str(data.get("project", "")), version=str(data.get("version", "")),
                    commit=str(data.get("commit", "")), date=str(data.get("date", "")),
                    profile=str(data.get("profile", "")), go_version=str(data.get("go_version", "")),
                    targets=targets)


def read(out_dir: Path, shown: str | None = None) -> Manifest | None:
    """The manifest beside the binaries in ``out_dir``; None when no build wrote one yet.

    ``shown`` names the file in errors (its path relative to the project)."""
    file = path(out_dir)
    where = shown or str(file)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ManifestError(f"{where}: cannot read: {exc.strerror}") from exc
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ManifestError(f"{where}: not valid JSON ({exc})") from exc
    return parse(data, where)


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


def require(out_dir: Path, shown: str | None = None) -> Manifest:
    """The manifest in ``out_dir``; a ManifestError saying to build when there is none."""
    found = read(out_dir, shown)
    if found is None:
        raise ManifestError(f"{shown or path(out_dir)} does not exist", "run `invoke build` first")
    return found

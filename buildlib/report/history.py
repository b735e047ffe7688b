""".build/history.jsonl: one JSON line per recorded result (build, bench, size_check, debt).

Each line is ``{"time": ISO-8601 UTC, "kind": KIND, "digest": SHA-256 of data, "data": {...}}``.
A line is appended with a single ``write`` on a file opened with O_APPEND, so
concurrent tasks never interleave their lines. The digest lets the report add
the latest result files without recording the same result twice.
"""

from __future__ import annotations

import hashlib
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .. import layout

KINDS = ("build", "bench", "size_check", "debt")
RELATIVE = layout.HISTORY


def digest(data: Any) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _root(root: Path | None) -> Path:
    if root is not None:
        return root
    from ..config import find_config
    from ..errors import ConfigError

    try:
        return find_config().parent
    except ConfigError:
        return Path.cwd()


def path(root: Path | None = None) -> Path:
    return _root(root) / RELATIVE


def record(kind: str, data: Any, root: Path | None = None, *, time: datetime | None = None,
           once: bool = False) -> bool:
    """Append ``data`` as one ``kind`` result; returns whether it was written.

    It is skipped when it equals the last result of its kind, or, with
    ``once``, any recorded result of its kind (the report adds the result
    files it reads this way, so reading them twice records them once).
    """
    if kind not in KINDS:
        raise ValueError(f"unknown history kind {kind!r}; known: {', '.join(KINDS)}")
    file = path(root)
    d = digest(data)
    same_kind = [e for e in read(file) if e["kind"] == kind]
    if (once and any(e.get("digest") == d for e in same_kind)) or (same_kind and same_kind[-1].get("digest") == d):
        return False
    when = (time or datetime.now(UTC)).astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    line = json.dumps({"time": when, "kind": kind, "digest": d, "data": data}, sort_keys=True) + "\n"
    file.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(file, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)
    return True


def read(file: Path) -> list[dict[str, Any]]:
    """Every readable line of the history, oldest first; a damaged line is skipped, not fatal."""
    entries: list[dict[str, Any]] = []
    try:
        text = file.read_text(encoding="utf-8")
    except OSError:
        return entries
    for line in text.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and entry.get("kind") in KINDS and "data" in entry:
            entries.append(entry)
    return entries


def latest(file: Path, kind: str) -> dict[str, Any] | None:
    found = [e for e in read(file) if e["kind"] == kind]
    return found[-1] if found else None

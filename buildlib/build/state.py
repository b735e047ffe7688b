"""The build's private memory in .build/build-state.json.

Per target: its key, the settings and file hashes the key was made of (so
``--explain`` can name what changed), and what ``go list`` said its inputs are.
Besides: remembered file hashes, what ``go env`` reported, and which
preflight checks passed for which go.mod/go.sum. Losing the file only costs
one slower build.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .. import layout
from ..atomic import read_json, write_json
from ..locks import Locks
from . import manifest

SCHEMA = 1
FILENAME = layout.STATE


def load(root: Path) -> dict[str, Any]:
    data = read_json(root / FILENAME, {})
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        data = {}
    for section in ("targets", "hashes", "go", "checks", "last_run"):
        data.setdefault(section, {})
    data["schema"] = SCHEMA
    return data


def record(root: Path, locks: Locks, *, targets: dict[str, Any] | None = None,
           hashes: dict[str, Any] | None = None, go: dict[str, Any] | None = None,
           checks: dict[str, Any] | None = None, last_run: dict[str, Any] | None = None,
           out_dir: Path | None = None, header: dict[str, Any] | None = None,
           entries: dict[str, Any] | None = None, known: set[str] | None = None) -> dict[str, Any]:
    """Merge this run's news into the state (and the manifest) on disk, under the state lock.

    Re-reading inside the lock keeps what a concurrent run recorded meanwhile.
    A merge that would change nothing (the usual no-op build) takes no lock and writes nothing.
    """
    news = {"targets": targets or {}, "hashes": hashes or {}, "checks": checks or {}}

    def merged() -> tuple[dict[str, Any], bool]:
        data = load(root)
        before = json.dumps(data, sort_keys=True)
        for section, values in news.items():
            data[section].update(values)
        if go:
            data["go"] = go
        if last_run:
            data["last_run"] = last_run
        return data, json.dumps(data, sort_keys=True) != before

    def manifest_changes() -> bool:
        if out_dir is None or not (entries or header):
            return False
        old = manifest.load(out_dir)
        return old != manifest.merged(old, header or {}, entries or {}, known or set(entries or {}))

    data, changed = merged()
    if not changed and not manifest_changes():
        return data
    # Held for a merge only: a wait shorter than a second is not worth a message.
    with locks.hold("state", "the build state", quiet_for=1.0):
        data, changed = merged()
        if changed:
            write_json(root / FILENAME, data)
        if out_dir is not None and (entries or header):
            manifest.merge(out_dir, header or {}, entries or {}, known or set(entries or {}))
    return data

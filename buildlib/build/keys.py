"""Content keys: one sha256 over everything that decides a target's bytes.

A target is rebuilt when its key changes and only then. The key covers the
content (not the mtime) of the target's Go and embedded files, go.mod, go.sum,
the Go version, the platform, the flags and the environment that reaches the
compiler. Hashing is cheap because a file whose inode, mtime and size are as
last seen keeps its remembered hash.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from pathlib import Path
from typing import Any

# Environment that never changes a binary's bytes: where caches live, how
# modules are fetched, how many CPUs to use, which toolchain to pick (the Go
# version it resolves to is in the key itself). Everything else that starts
# with GO or CGO_, plus the C toolchain variables, is part of the key.
_ENV_OUTSIDE_KEY = frozenset({
    "GOCACHE", "GOMODCACHE", "GOPATH", "GOCACHEPROG", "GOPROXY", "GONOPROXY", "GOPRIVATE", "GONOSUMDB",
    "GONOSUMCHECK", "GOSUMDB", "GOINSECURE", "GOAUTH", "GOTMPDIR", "GOTELEMETRY", "GOTELEMETRYDIR",
    "GOMAXPROCS", "GOGC", "GOMEMLIMIT", "GOVCS", "GOENV", "GOROOT_FINAL", "GOBIN", "GOTOOLCHAIN",
})
_C_TOOLS = frozenset({"CC", "CXX", "AR", "FC", "PKG_CONFIG"})
# Files inside this many nanoseconds of "now" may still be written to within
# the file system's timestamp granularity, so their hash is not remembered.
_RACY_NS = 2_000_000_000


def env_for_key(env: dict[str, str]) -> dict[str, str]:
    """The part of a ``go`` command's environment that can change what it produces."""
    return {k: v for k, v in sorted(env.items())
            if ((k.startswith(("GO", "CGO_")) and k not in _ENV_OUTSIDE_KEY) or k in _C_TOOLS)}


def sha256_file(path: Path | str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class FileHashes:
    """sha256 of files under ``root``, remembered across runs by (inode, mtime, size)."""

    def __init__(self, root: Path, memo: dict[str, list[Any]] | None = None) -> None:
        self.root = root
        self.memo = dict(memo or {})
        self._lock = threading.Lock()

    def get(self, rel: str) -> str | None:
        """The file's sha256, or None when it does not exist."""
        path = self.root / rel
        try:
            st = os.stat(path)
        except OSError:
            with self._lock:
                self.memo.pop(rel, None)
            return None
        sig = [st.st_ino, st.st_mtime_ns, st.st_size]
        with self._lock:
            seen = self.memo.get(rel)
        if seen and seen[:3] == sig:
            return seen[3]
        digest = sha256_file(path)
        with self._lock:
            self.memo[rel] = [*sig, digest]
        return digest

    def many(self, rels: list[str]) -> dict[str, str | None]:
        return {rel: self.get(rel) for rel in rels}

    def export(self) -> dict[str, list[Any]]:
        """What to remember; a file changed in the last moments is hashed again next time."""
        cutoff = time.time_ns() - _RACY_NS
        with self._lock:
            return {rel: sig for rel, sig in self.memo.items() if sig[1] < cutoff}


def digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def target_key(parts: dict[str, Any], files: dict[str, str | None]) -> str:
    """The key: the target's settings (``parts``) and its files' contents."""
    return digest({"parts": parts, "files": sorted(files.items())})


_PART_LABELS = {
    "go": "Go version", "platform": "platform", "main": "main package", "flags": "go build flags",
    "env": "environment", "go.mod": "go.mod", "go.sum": "go.sum", "stamp": "version stamp",
}


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return text if len(text) <= 60 else text[:57] + "..."


def _changes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    out = []
    for k in sorted(set(old) | set(new)):
        if old.get(k) != new.get(k):
            out.append(f"{k}={_short(old.get(k, '(unset)'))} -> {_short(new.get(k, '(unset)'))}")
    return out


def explain(old: dict[str, Any] | None, parts: dict[str, Any], files: dict[str, str | None]) -> list[str]:
    """Why the key changed, in words: which setting or which input file."""
    if not old:
        return ["no earlier build recorded"]
    reasons = []
    for name, label in _PART_LABELS.items():
        before, after = old.get("parts", {}).get(name), parts.get(name)
        if before == after:
            continue
        if name in ("go.mod", "go.sum"):
            reasons.append(f"{label} changed")
        elif isinstance(before, dict) and isinstance(after, dict):
            reasons.append(f"{label}: " + ", ".join(_changes(before, after)))
        else:
            reasons.append(f"{label}: {_short(before)} -> {_short(after)}")
    old_files: dict[str, str | None] = old.get("files", {})
    changed = sorted(f for f in files if f in old_files and files[f] != old_files[f])
    added = sorted(f for f in files if f not in old_files)
    removed = sorted(f for f in old_files if f not in files)
    for verb, group in (("changed", changed), ("new file", added), ("removed", removed)):
        if group:
            more = f" (+{len(group) - 3} more)" if len(group) > 3 else ""
            reasons.append(f"{verb}: {', '.join(group[:3])}{more}")
    return reasons or ["inputs differ"]

"""Go's caches: where they are, how big, a CI cache key, and pruning.

GOCACHE holds compiled packages, GOMODCACHE downloaded modules. Their
locations come from the environment, then build.yaml's ``cache`` section,
then Go's own defaults. GOCACHEPROG is passed through untouched, so a team
can plug in a shared remote cache program.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
from dataclasses import dataclass

from ..config import Project
from ..errors import SelectionError
from .plan import Recipe

# Entries of GOCACHE: "<64 hex>-a" (action) and "<64 hex>-d" (output) in 256 "xx" directories.
_ENTRY = re.compile(r"[0-9a-f]{64}-[ad]")


@dataclass(frozen=True)
class Location:
    name: str      # GOCACHE | GOMODCACHE
    path: str
    source: str    # "environment" | "build.yaml" | "Go's default"


def locations(recipe: Recipe) -> list[Location]:
    out = []
    project = recipe.project
    for name, setting in (("GOCACHE", project.cache.gocache), ("GOMODCACHE", project.cache.gomodcache)):
        if name in recipe.base_env:
            out.append(Location(name, recipe.base_env[name], "environment"))
        elif setting:
            out.append(Location(name, recipe.env(project.platforms[0])[name], "build.yaml"))
        else:
            out.append(Location(name, recipe.go.env.get(name, ""), "Go's default"))
    return out


def dir_size(path: str) -> tuple[int, int]:
    """(bytes, files) under ``path``; (0, 0) when it does not exist."""
    total = files = 0
    for folder, _, names in os.walk(path):
        for n in names:
            try:
                total += os.lstat(os.path.join(folder, n)).st_size
                files += 1
            except OSError:
                continue
    return total, files


def ci_key(recipe: Recipe, platform: str) -> str:
    """A cache key for CI: equal for equal go.sum, Go version and platform, different otherwise.

    One key per platform keeps cross-compiled caches apart: restoring a
    darwin/arm64 cache into a linux/amd64 job would only waste download time.
    """
    known = project_platforms(recipe.project)
    if platform not in known:
        raise SelectionError(f'unknown platform "{platform}"; valid platforms: {", ".join(known)}')
    try:
        gosum = (recipe.root / "go.sum").read_bytes()
    except OSError:
        gosum = b""  # a module without dependencies has no go.sum
    h = hashlib.sha256()
    for part in (gosum, recipe.go.version.encode(), platform.encode()):
        h.update(hashlib.sha256(part).digest())
    goos, _, goarch = platform.partition("/")
    return f"{recipe.project.project.name}-{recipe.go.version.split()[0]}-{goos}-{goarch}-{h.hexdigest()[:20]}"


@dataclass
class Pruned:
    removed: int = 0
    removed_bytes: int = 0
    kept: int = 0
    kept_bytes: int = 0


def prune_unused(gocache: str, older_than_s: float) -> Pruned:
    """Remove GOCACHE entries unused for ``older_than_s`` seconds.

    Go refreshes an entry's mtime when it uses it (at most once an hour), so an
    old mtime means "not used since"; Go tolerates any entry being missing.
    """
    result = Pruned()
    cutoff = time.time() - older_than_s
    try:
        subdirs = [d for d in os.scandir(gocache) if d.is_dir() and re.fullmatch(r"[0-9a-f]{2}", d.name)]
    except OSError:
        return result
    for sub in subdirs:
        for entry in os.scandir(sub.path):
            if not _ENTRY.fullmatch(entry.name):
                continue
            try:
                st = entry.stat()
            except OSError:
                continue
            if st.st_mtime < cutoff:
                try:
                    os.unlink(entry.path)
                except OSError:
                    continue
                result.removed += 1
                result.removed_bytes += st.st_size
            else:
                result.kept += 1
                result.kept_bytes += st.st_size
    return result


def go_clean(recipe: Recipe, flag: str) -> None:
    """``go clean -cache`` or ``-modcache`` with this project's cache locations."""
    recipe.go_run(None, "clean", flag, timeout=1800, check=True)


def parse_age(text: str) -> float:
    """"36h", "2d", "90m", "1w" -> seconds."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*", text or "")
    if not m:
        raise SelectionError(f'--older-than takes a number and a unit (s, m, h, d, w), e.g. "2d"; got "{text}"')
    return float(m.group(1)) * {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}[m.group(2)]


def project_platforms(project: Project) -> list[str]:
    return sorted({p for b in project.binaries.values() for p in project.platforms_of(b)})

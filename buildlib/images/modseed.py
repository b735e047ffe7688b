"""Seed an in-docker build's module cache from the host, so it needs no network.

The host's `$GOMODCACHE/cache/download` tree is laid out exactly like a module
proxy. The modules of this build's graph are linked from it into
`.build/modseed/cache/download`; the Dockerfile bind-mounts that directory and
points GOPROXY at it (file://) for `go mod download`. go.sum still verifies
every module, so a seeded build is as trustworthy as a downloaded one.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from .. import gotool, layout

if TYPE_CHECKING:
    from ..config import Project

SEED_DIR = layout.MODSEED


def _escape(path: str) -> str:
    # The module cache stores upper-case letters as "!" + lower case.
    return "".join(f"!{ch.lower()}" if ch.isupper() else ch for ch in path)


def _modules(root: Path, env: dict[str, str]) -> list[tuple[str, str]]:
    """(path, version) of every module in the build's graph: their go.mod files decide versions."""
    proc = gotool.run(root, "mod", "graph", env={**env, "GOPROXY": "off"}, timeout=600, check=True,
                      hint="the host's module cache lacks modules this build needs, so it cannot seed the image "
                      "build: run `go mod download` on the host (with network) first, or build without seeding "
                      "(images.seed_modules: false)")
    found = set()
    for word in proc.stdout.split():
        path, _, version = word.partition("@")
        if version and path not in ("go", "toolchain"):
            found.add((path, version))
    return sorted(found)


def _link(src: Path, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dest)
    except OSError:  # another file system: copy, keeping the mtime so the build cache key holds
        shutil.copy2(src, dest)


def seed(project: Project) -> tuple[Path, int, int]:
    """Fill the project's .build/modseed from the module cache its builds use (build.yaml's
    cache.gomodcache, or Go's own); returns (dir, modules, bytes)."""
    root = project.root
    env = gotool.project_env(project)
    cache = Path(gotool.run(root, "env", "GOMODCACHE", env=env, timeout=120, check=True).stdout.strip()
                 ) / "cache" / "download"
    out = root / SEED_DIR
    if out.exists():
        shutil.rmtree(out)
    count = size = 0
    for path, version in _modules(root, env):
        base = cache / _escape(path) / "@v"
        # Zips exist only for modules whose packages are built; a .mod suffices for the rest.
        for ext in (".info", ".mod", ".zip", ".ziphash"):
            src = base / f"{_escape(version)}{ext}"
            if src.exists():
                _link(src, out / "cache" / "download" / src.relative_to(cache))
                size += src.stat().st_size
        count += 1
    return out, count, size

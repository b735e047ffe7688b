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
import subprocess
from pathlib import Path

from .. import layout
from ..errors import ToolError
from ..gotool import find_go

SEED_DIR = layout.MODSEED


def _escape(path: str) -> str:
    # The module cache stores upper-case letters as "!" + lower case.
    return "".join(f"!{ch.lower()}" if ch.isupper() else ch for ch in path)


def _modules(root: Path, go: str) -> list[tuple[str, str]]:
    """(path, version) of every module in the build's graph: their go.mod files decide versions."""
    env = {**os.environ, "GOPROXY": "off"}
    proc = subprocess.run([go, "mod", "graph"], cwd=root, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise ToolError(
            "the host's module cache lacks modules this build needs, so it cannot seed the image build:\n"
            f"{proc.stderr.strip()}\nRun `go mod download` on the host (with network) first, "
            "or build without seeding (images.seed_modules: false)"
        )
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


def seed(root: Path) -> tuple[Path, int, int]:
    """Fill ROOT/.build/modseed from the host cache; returns (dir, modules, bytes)."""
    go = find_go(root)
    cache = Path(subprocess.run([go, "env", "GOMODCACHE"], cwd=root, capture_output=True, text=True,
                                check=True).stdout.strip()) / "cache" / "download"
    out = root / SEED_DIR
    if out.exists():
        shutil.rmtree(out)
    count = size = 0
    for path, version in _modules(root, go):
        base = cache / _escape(path) / "@v"
        # Zips exist only for modules whose packages are built; a .mod suffices for the rest.
        for ext in (".info", ".mod", ".zip", ".ziphash"):
            src = base / f"{_escape(version)}{ext}"
            if src.exists():
                _link(src, out / "cache" / "download" / src.relative_to(cache))
                size += src.stat().st_size
        count += 1
    return out, count, size

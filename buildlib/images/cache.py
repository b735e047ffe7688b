"""What this project's BuildKit cache mounts hold, and clearing them.

The engine's `docker system df` lists cache mounts by an opaque record id and
the command that first used them, never by their `id=`, so it cannot tell one
project's caches from another's. Instead a tiny build mounts the caches by
id, as the real build does, and looks inside (or empties them). That works
with any builder the build itself would use: the local engine, DOCKER_HOST,
or a buildx remote builder.
"""

from __future__ import annotations

import re
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from .. import tools
from ..errors import ToolError
from . import buildlog, dockerfile
from .engine import cli, require_engine, sdk

_MOUNTS = {"Go module cache": "/cache/gomod", "Go build cache": "/cache/gobuild"}
_LINE = re.compile(r"^#\d+ \d+\.\d+ CACHE (\S+) (\d+) (\d+)$", re.M)


@dataclass(frozen=True)
class CacheMount:
    what: str
    id: str
    kib: int
    entries: int
    kib_after: int | None = None  # after a prune


def _probe(builder_image: str, namespace: str, prune: bool) -> list[CacheMount]:
    ids = dockerfile.cache_ids(namespace)
    mounts = " ".join(f"--mount=type=cache,id={ids[w]},target={t}" for w, t in _MOUNTS.items())
    lines = []
    for what, target in _MOUNTS.items():
        key = ids[what]
        # Zips count modules; files count build cache entries.
        count = f"find {target}/cache/download -name '*.zip' | wc -l" if "module" in what else \
            f"find {target} -type f | wc -l"
        lines.append(f'echo "CACHE {key} $(du -sk {target} | cut -f1) $({count})"')
        if prune:
            # Module directories are read-only; make them writable so they can go.
            lines.append(f"chmod -R u+w {target} && find {target} -mindepth 1 -maxdepth 1 -exec rm -rf {{}} +")
            lines.append(f'echo "CACHE {key}-after $(du -sk {target} | cut -f1) 0"')
    script = " && ".join(lines)
    text = f"FROM {builder_image}\nARG NOW\nRUN {mounts} echo \"$NOW\" >/dev/null && {script}\n"
    client = cli()
    with tempfile.TemporaryDirectory(prefix="cache-probe-") as tmp:
        (Path(tmp) / "Dockerfile").write_text(text)
        iid = Path(tmp) / "iid"
        # buildx without --load keeps the result in the builder; the built-in BuildKit
        # always makes an image, which is removed right away.
        argv = [client.path, "buildx", "build"] if client.buildx else [client.path, "build", "--iidfile", str(iid)]
        # Not checked: a failure is read from BuildKit's log below, naming the step that failed.
        proc = tools.run([*argv, "--progress=plain", "--network=none", "--build-arg", f"NOW={time.time_ns()}", tmp],
                         env=client.env(), timeout=1800, check=False)
        if iid.exists():
            client.run("image", "rm", iid.read_text().strip(), check=False)
    log = proc.stdout + proc.stderr
    if proc.returncode != 0:
        found = buildlog.failure(log)
        raise ToolError(f"looking into the cache mounts failed at {found.step}:\n{found.output}")
    seen = {key: (int(kib), int(n)) for key, kib, n in _LINE.findall(log)}
    if any(key not in seen for key in ids.values()):
        raise ToolError(f"the cache probe printed no sizes; its log:\n{log[-2000:]}")
    return [CacheMount(what, key, *seen[key], seen[f"{key}-after"][0] if prune else None)
            for what, key in ids.items()]


def report(builder_image: str, namespace: str) -> list[CacheMount]:
    """Size and entry count of each of this project's cache mounts."""
    require_engine()
    return _probe(builder_image, namespace, prune=False)


def prune(builder_image: str, namespace: str) -> list[CacheMount]:
    """Empty this project's cache mounts; returns what they held before."""
    require_engine()
    return _probe(builder_image, namespace, prune=True)


@dataclass(frozen=True)
class EngineCache:
    records: int
    total: int
    cache_mounts: int
    cache_mount_bytes: int


def engine_summary() -> EngineCache | None:
    """The engine's whole builder cache (all projects), when the engine's own BuildKit is the builder."""
    if cli().buildx:
        return None  # a buildx builder keeps its cache elsewhere: `docker buildx du` shows it
    records = sdk().api.df().get("BuildCache") or []
    mounts = [r for r in records if r.get("Type") == "exec.cachemount"]
    return EngineCache(len(records), sum(r.get("Size", 0) for r in records), len(mounts),
                       sum(r.get("Size", 0) for r in mounts))

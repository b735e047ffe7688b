"""The Dockerfile as BuildKit gets it: cache mount ids made literal, per project.

docker/Dockerfile names its cache mounts `id=${PROJECT}-gomod`. BuildKit
from Docker 23 on expands that ARG; the BuildKit inside Docker 20.10 shows it
expanded in the progress output but keys the cache by the literal text, so
every project on a builder would share one module cache and one build cache
(measured: a file written under PROJECT=a is visible under PROJECT=b). Writing
the ids out here gives each project its own caches on every BuildKit, and
lets `image.cache` find them by name.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING

from .. import layout

if TYPE_CHECKING:
    from ..service import Service

RENDER_DIR = layout.IMAGES
_CACHE_ID = re.compile(r"id=\$\{PROJECT\}-")
_CACHE_MOUNT = re.compile(r"--mount=type=cache,\S+\s*")
_STAGE = re.compile(r"^FROM\s.*?\sAS\s+(\S+)\s*$", re.M | re.I)
# An exec-form ENTRYPOINT of a binary under /usr/local/bin: the line the service's own is written into.
_ENTRYPOINT = re.compile(r'^ENTRYPOINT \["/usr/local/bin/[^"]*"[^\n]*\]$', re.M)


def cache_ids(namespace: str) -> dict[str, str]:
    """The cache mounts of docker/Dockerfile: what each holds -> its id."""
    return {"Go module cache": f"{namespace}-gomod", "Go build cache": f"{namespace}-gobuild"}


def stage_names(dockerfile: Path) -> set[str]:
    return set(_STAGE.findall(dockerfile.read_text()))


_RUNTIME_FILES = re.compile(r"^# kit: runtime files for (\w+)$", re.M)
# The variants whose base has no zone files of its own.
_NEEDS_TZDATA = ("scratch", "alpine")


def runtime_files(svc: Service) -> dict[str, list[str]]:
    """Per variant, the lines that put the service's files, writable directories and zone files in,
    and tell it its port when it reads another variable than PORT (which the Dockerfile sets)."""
    workdir = svc.workdir
    lines = [f"COPY {json.dumps([rel, f'{workdir}/{rel}'])}" for rel in svc.files]
    lines += [f"COPY --from=empty --chown=65532:65532 / {workdir}/{rel}/" for rel in svc.writable]
    if svc.port_env not in (None, "PORT"):
        lines.append(f"ENV {svc.port_env}={svc.port}")
    zone = ["COPY --from=distroless-base /usr/share/zoneinfo /usr/share/zoneinfo"] if svc.tzdata else []
    return {v: lines + (zone if v in _NEEDS_TZDATA else []) for v in ("alpine", "distroless", "scratch")}


def render(source: Path, root: Path, namespace: str, cache_mounts: bool = True,
           entrypoint: tuple[str, ...] | None = None, runtime: dict[str, list[str]] | None = None) -> Path:
    """Write the Dockerfile BuildKit reads; ``cache_mounts=False`` drops them (the benchmark's baseline).

    ``entrypoint`` (the service's binary and arguments) replaces every ENTRYPOINT
    line: unlike COPY or ENV, ENTRYPOINT does not expand build args.
    """
    text = _CACHE_ID.sub(f"id={namespace}-", source.read_text())
    if entrypoint is not None:
        line = "ENTRYPOINT " + json.dumps(list(entrypoint))
        text = _ENTRYPOINT.sub(lambda _: line, text)
    if runtime is not None:
        def block(m: re.Match[str]) -> str:
            lines = runtime.get(m.group(1), [])
            return "\n".join(lines) if lines else "# (no files, writable directories or zone files to add)"

        text = _RUNTIME_FILES.sub(block, text)
    if not cache_mounts:
        # A RUN line holding only cache mounts before its command keeps its continuation.
        text = _CACHE_MOUNT.sub("", text)
    name = "Dockerfile" if cache_mounts else "Dockerfile.no-cache-mounts"
    out = root / RENDER_DIR / name
    out.parent.mkdir(parents=True, exist_ok=True)
    if not out.exists() or out.read_text() != text:  # parallel builds render the same text
        tmp = out.with_suffix(f".{id(text)}.tmp")
        tmp.write_text(text)
        tmp.replace(out)
    return out

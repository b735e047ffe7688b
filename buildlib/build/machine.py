"""How much CPU and memory this process may really use (containers and CI runners included).

``os.cpu_count()`` reports the host's cores even inside a container limited to
two, and a Go link can take more than a gigabyte, so ``--jobs auto`` reads the
cgroup CPU quota, the CPU affinity mask and the available memory instead.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

# What one `go build` job may need at its peak (the link of a large service).
MEMORY_PER_JOB = 1 << 30


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def _cgroup_dirs(controller: str) -> list[Path]:
    """This process's cgroup directories for ``controller`` (v2 unified or v1), innermost first."""
    dirs: list[Path] = []
    text = _read(Path("/proc/self/cgroup")) or ""
    for line in text.splitlines():
        _, names, rel = line.split(":", 2)
        if names == "" or controller in names.split(","):
            base = Path("/sys/fs/cgroup") if names == "" else Path("/sys/fs/cgroup") / controller
            if not base.is_dir() and names != "":
                base = Path("/sys/fs/cgroup") / names
            here = base / rel.lstrip("/")
            while True:
                dirs.append(here)
                if here == base:
                    break
                here = here.parent
    return dirs


def cpu_quota() -> float | None:
    """The cgroup CPU limit in cores (the tightest along the path), or None when unlimited."""
    best: float | None = None
    for d in _cgroup_dirs("cpu"):
        v2 = _read(d / "cpu.max")
        if v2:
            quota, _, period = v2.partition(" ")
            if quota != "max" and period:
                best = min(best or math.inf, int(quota) / int(period))
            continue
        quota_us, period_us = _read(d / "cpu.cfs_quota_us"), _read(d / "cpu.cfs_period_us")
        if quota_us and period_us and int(quota_us) > 0:
            best = min(best or math.inf, int(quota_us) / int(period_us))
    return best


def available_memory() -> int | None:
    """Bytes that can be used without swapping: MemAvailable, or less when a cgroup limit says so."""
    avail = None
    for line in (_read(Path("/proc/meminfo")) or "").splitlines():
        if line.startswith("MemAvailable:"):
            avail = int(line.split()[1]) * 1024
    for d in _cgroup_dirs("memory"):
        limit = _read(d / "memory.max") or _read(d / "memory.limit_in_bytes")
        used = _read(d / "memory.current") or _read(d / "memory.usage_in_bytes")
        if limit and limit.isdigit() and used and used.isdigit() and int(limit) < (1 << 60):
            room = max(0, int(limit) - int(used))
            avail = room if avail is None else min(avail, room)
    return avail


@dataclass(frozen=True)
class Capacity:
    cpus: int            # cores this process may keep busy
    memory: int | None   # bytes available
    why: str             # how the numbers were found, for --explain and the README


def capacity() -> Capacity:
    try:
        affinity = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        affinity = os.cpu_count() or 1
    quota = cpu_quota()
    cpus = max(1, min(affinity, math.ceil(quota) if quota else affinity))
    mem = available_memory()
    why = f"{affinity} CPUs in the affinity mask, cgroup quota {f'{quota:g}' if quota else 'none'}"
    if mem is not None:
        why += f", {mem / (1 << 30):.1f} GiB memory available"
    return Capacity(cpus=cpus, memory=mem, why=why)


def memory_jobs(cap: Capacity) -> int:
    """How many jobs the memory allows (each may link a large binary)."""
    if cap.memory is None:
        return cap.cpus
    return max(1, cap.memory // MEMORY_PER_JOB)

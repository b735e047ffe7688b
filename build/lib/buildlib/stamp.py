"""Version, commit and date stamped into binaries: from git, never from the wall clock.

The date is SOURCE_DATE_EPOCH when set, else the last commit's time, else the
Unix epoch. Two builds of one commit therefore stamp the same bytes, which is
what makes them reproducible.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path

from .errors import BuildlibError

FALLBACK_VERSION = "0.0.0-dev"


@dataclass(frozen=True)
class Stamp:
    version: str
    commit: str
    date: str

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def _git(root: Path, *args: str) -> str | None:
    try:
        out = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 and out.stdout.strip() else None


def _iso(epoch: int) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def stamp(root: Path, version_setting: str, override: str | None = None,
          environ: dict[str, str] | None = None) -> Stamp:
    """The stamp for a build of ``root``; ``override`` (``--version``) wins over build.yaml."""
    environ = os.environ if environ is None else environ
    if override:
        version = override
    elif version_setting != "auto":
        version = version_setting
    else:
        version = _git(root, "describe", "--tags", "--always", "--dirty") or FALLBACK_VERSION
    # One git call for both: the no-op build pays for every process it starts.
    head = (_git(root, "log", "-1", "--format=%H %ct") or "").split()
    commit = head[0] if len(head) == 2 else "unknown"
    sde = environ.get("SOURCE_DATE_EPOCH", "").strip()
    if sde and not sde.isdigit():
        raise BuildlibError(f'SOURCE_DATE_EPOCH must be whole seconds since 1970 (e.g. "$(git log -1 --format=%ct)"), '
                            f'got "{sde}"')
    last_commit = int(head[1]) if len(head) == 2 and head[1].isdigit() else 0
    epoch = int(sde) if sde else last_commit
    return Stamp(version=version, commit=commit, date=_iso(epoch))

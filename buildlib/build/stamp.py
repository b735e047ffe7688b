"""Version, commit and date stamped into binaries: from git, never from the wall clock.

The date is SOURCE_DATE_EPOCH when set, else the last commit's time, else the
Unix epoch. Two builds of one commit therefore stamp the same bytes, which is
what makes them reproducible.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from .. import tools
from ..errors import BuildlibError, SelectionError, ToolError

FALLBACK_VERSION = "0.0.0-dev"


@dataclass(frozen=True)
class Stamp:
    version: str
    commit: str
    date: str

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def git_output(root: Path, *args: str) -> str | None:
    """What ``git ARGS`` printed in ``root``, stripped; None when it failed or printed nothing."""
    try:
        out = tools.run(["git", *args], cwd=root, timeout=30, check=False)
    except ToolError:  # no git, or it hung: the stamp falls back (see stamp())
        return None
    return out.stdout.strip() if out.returncode == 0 and out.stdout.strip() else None


def _iso(epoch: int) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def checked_version(version: str, source: str) -> str:
    """A version that can name a release directory, checked before anything is compiled.

    The deploy makes the version a directory and a word in shell commands, so the rule is the
    deploy's own (``deploy.release.VERSION_RE``): a version it would refuse must not be built
    either, and a quote or a space would make the linker fail half-way through the build.
    """
    from ..deploy.release import VERSION_RE

    if not VERSION_RE.fullmatch(version):
        raise SelectionError(f"{source}: {json.dumps(version)} cannot be a version: it names the release "
                             "directory on the hosts; use 1 to 128 letters, digits and . _ + -, starting with a "
                             "letter or digit (for example --version 1.4.0)")
    return version


def stamp(root: Path, version_setting: str, override: str | None = None,
          environ: dict[str, str] | None = None) -> Stamp:
    """The stamp for a build of ``root``; ``override`` (``--version``) wins over build.yaml."""
    environ = os.environ if environ is None else environ
    if override is not None:
        version = checked_version(override, "--version")
    elif version_setting != "auto":
        version = checked_version(version_setting, "build.yaml: project.version")
    else:
        version = git_output(root, "describe", "--tags", "--always", "--dirty") or FALLBACK_VERSION
    # One git call for both: the no-op build pays for every process it starts.
    head = (git_output(root, "log", "-1", "--format=%H %ct") or "").split()
    commit = head[0] if len(head) == 2 else "unknown"
    sde = environ.get("SOURCE_DATE_EPOCH", "").strip()
    if sde and not sde.isdigit():
        raise BuildlibError(f'SOURCE_DATE_EPOCH must be whole seconds since 1970 (e.g. "$(git log -1 --format=%ct)"), '
                            f'got "{sde}"')
    last_commit = int(head[1]) if len(head) == 2 and head[1].isdigit() else 0
    epoch = int(sde) if sde else last_commit
    return Stamp(version=version, commit=commit, date=_iso(epoch))

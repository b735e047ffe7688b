"""The release to ship: binary, version and checksum per platform, from bin/manifest.json.

`invoke build` writes the manifest; the deploy trusts nothing else about the
binary. The checksum is recomputed here (a stale manifest is caught before
any host is touched) and verified again on each host after the upload.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ..build import manifest
from ..build.keys import sha256_file
from ..config import Project
from ..errors import InputError, SelectionError

# A version becomes a directory name and part of shell commands on the hosts.
VERSION_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,127}")


@dataclass(frozen=True)
class Artifact:
    """One binary of the release, for one platform."""

    platform: str
    path: Path
    sha256: str
    size: int


@dataclass(frozen=True)
class Release:
    version: str
    binary: str
    artifacts: dict[str, Artifact]

    def for_platform(self, platform: str) -> Artifact:
        if platform not in self.artifacts:
            raise InputError(_build_hint(self.binary, platform, self.version,
                                         f"no {self.binary} binary for {platform} in the manifest"))
        return self.artifacts[platform]


def manifest_path(project: Project) -> Path:
    return manifest.path(project.out_path())


def _build_hint(binary: str, platforms: str | list[str], version: str | None, problem: str) -> str:
    flag = f" --version {version}" if version else ""
    only = ",".join(f"{binary}:{p}" for p in ([platforms] if isinstance(platforms, str) else platforms))
    return f"{problem}; run `invoke build --only {only}{flag}` first"


def load_release(project: Project, binary: str, platforms: dict[str, list[str]],
                 version: str | None = None) -> Release:
    """The release of ``binary`` for ``platforms`` (platform -> the hosts that need it), checked on disk.

    ``version`` None takes the manifest's version; otherwise every target must
    have been built with it.
    """
    path = manifest_path(project)
    try:
        built = manifest.read(path.parent, _rel(project, path))
    except manifest.ManifestError as exc:
        raise InputError(_build_hint(binary, list(platforms), version, exc.problem)) from exc
    if built is None:
        raise InputError(_build_hint(binary, list(platforms), version, f"{_rel(project, path)} does not exist"))
    if not version and not built.version:
        raise InputError(_build_hint(binary, list(platforms), version,
                                     f"{_rel(project, path)} is not a build manifest (it names no version)"))
    wanted = version or built.version
    if not VERSION_RE.fullmatch(str(wanted)):
        raise SelectionError(f'version "{wanted}" cannot name a release directory; use letters, digits '
                             "and . _ + - (for example `invoke build --version 1.4.0`)")
    artifacts = {}
    for platform, hosts in platforms.items():
        key = f"{binary}:{platform}"
        target = built.targets.get(key)
        if target is None or not target.sha256:
            raise InputError(_build_hint(binary, platform, version, f"{_rel(project, path)} has no {key} "
                                         f"(needed by {', '.join(hosts)})"))
        if built.version_of(target) != wanted:
            raise InputError(_build_hint(binary, platform, wanted, f"{key} in {_rel(project, path)} is version "
                                         f"{built.version_of(target)}, not {wanted}"))
        artifacts[platform] = _artifact(project, target)
    return Release(version=str(wanted), binary=binary, artifacts=artifacts)


def _artifact(project: Project, target: manifest.ManifestEntry) -> Artifact:
    file = project.root / target.path
    if not target.path or not file.is_file():
        raise InputError(_build_hint(target.binary, target.platform, None,
                                     f"{target.id}: {_rel(project, file)} is missing"))
    digest = sha256_file(file)
    if digest != target.sha256:
        raise InputError(_build_hint(target.binary, target.platform, None,
                                     f"{target.id}: {_rel(project, file)} does not match the sha256 in the "
                                     "manifest (changed after the build)"))
    return Artifact(platform=target.platform, path=file, sha256=digest, size=file.stat().st_size)


def _rel(project: Project, path: Path) -> str:
    try:
        return str(path.relative_to(project.root))
    except ValueError:
        return str(path)

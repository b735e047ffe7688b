"""`invoke release`: the build of a tag (or a snapshot), packed into dist/ as users download it.

The steps, in order:

  build      the binaries of every platform, stamped with the release version (the locked,
             content-addressed build of `invoke build`: up-to-date targets are not compiled again)
  archives   one .tar.gz per platform (.zip for windows): the binaries, LICENSE, README
  sboms      a CycloneDX SBOM per binary, from its own build information
  changelog  CHANGELOG.md: the commits since the previous tag
  packages   deb and rpm of the service (nfpm), with the deploy's units, env file and site
  checksums  checksums.txt over all of the above, as `sha256sum -c` reads it
  sign       checksums.txt.sig (ssh-keygen -Y sign), when release.sign.key is set

Everything is written into a staging folder beside dist/ under a lock; only a complete
release replaces dist/, whole, so a reader never sees two runs' files mixed, and
dist/ is never half-written. A dist/ holding files no release wrote is left alone.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .. import console
from ..atomic import write_json
from ..config import Project
from ..errors import InputError, OutputError, RunFailed
from . import archives, settings, source
from .settings import ReleaseConfig

if TYPE_CHECKING:
    from ..deploy.release import Artifact

MARKER = "release.json"  # in dist/: what the release wrote, so the next one knows what it replaces


@dataclass
class ReleaseRun:
    project: Project
    cfg: ReleaseConfig
    src: source.ReleaseSource
    stage: Path
    echo: Callable[[str], None]
    binaries: dict[str, dict[str, Artifact]] = field(default_factory=dict)  # platform -> binary -> its file
    files: dict[str, str] = field(default_factory=dict)                 # file name -> kind

    def add(self, path: Path, kind: str) -> None:
        self.files[path.name] = kind


def _build(r: ReleaseRun) -> None:
    from ..build.builder import Options, build
    from ..deploy.release import load_release
    from ..tasks.build import errors, report

    only = None if set(r.cfg.binaries) == set(r.project.binaries) else ",".join(r.cfg.binaries)
    result = build(r.project, Options(only=only, version=r.src.version), console.display())
    console.err(report(result, explain=False))
    if not result.ok:
        console.err(errors(result))
        raise RunFailed("the build failed, so nothing was released; dist/ is untouched")
    platforms: dict[str, dict[str, list[str]]] = {}
    for t in result.targets:
        platforms.setdefault(t.target.binary, {})[t.target.platform] = ["the release"]
    # The deploy's own check of bin/: each binary is in the manifest, of this version, with its sha256
    # (another build finishing meanwhile would show here).
    for binary, wanted in sorted(platforms.items()):
        for platform, artifact in load_release(r.project, binary, wanted, r.src.version).artifacts.items():
            r.binaries.setdefault(platform, {})[binary] = artifact


def _archives(r: ReleaseRun) -> None:
    extra = [archives.Member(rel, r.project.root / rel, 0o644) for rel in r.cfg.files]
    for platform, binaries in sorted(r.binaries.items()):
        members = [archives.Member(a.path.name, a.path, 0o755) for a in binaries.values()] + extra
        out = r.stage / archives.archive_name(r.project.project.name, r.src.short_version, platform)
        archives.write(out, members, r.src.epoch)
        r.add(out, "archive")


def _sboms(r: ReleaseRun) -> None:
    from importlib.metadata import PackageNotFoundError, version

    from ..gotool import find_go
    from . import sbom

    go = find_go(r.project.root)
    try:
        kit = version("buildlib")
    except PackageNotFoundError:
        kit = "unknown"
    for platform, binaries in sorted(r.binaries.items()):
        for name, artifact in sorted(binaries.items()):
            info = sbom.build_info(go, artifact.path, dict(os.environ))
            text = sbom.document(info, name=name, version=r.src.version, sha256=artifact.sha256,
                                 platform=platform, epoch=r.src.epoch, tool_version=kit)
            out = r.stage / (f"{r.project.project.name}_{r.src.short_version}_{platform.replace('/', '_')}"
                             f"_{name}.cdx.json")
            out.write_text(text, encoding="utf-8")
            r.add(out, "sbom")


def _changelog(r: ReleaseRun) -> None:
    out = r.stage / "CHANGELOG.md"
    out.write_text(source.changelog(r.project.root, r.src, r.project.project.name), encoding="utf-8")
    r.add(out, "changelog")


def _packages(r: ReleaseRun) -> None:
    if not r.cfg.packages.formats:
        return
    from ..deploy import settings as deploy_settings
    from . import packages

    cfg = deploy_settings.load(r.project)
    linux = {p: b[cfg.binary] for p, b in sorted(r.binaries.items()) if packages.packable(p) and cfg.binary in b}
    if not linux:
        r.echo(f"packages: none, since no Linux platform builds {cfg.binary}")
        return
    nfpm = packages.nfpm_binary(echo=r.echo)
    maintainer = r.cfg.packages.maintainer or r.src.author
    for platform, artifact in linux.items():
        work = r.stage / ".work" / platform.replace("/", "_")
        items, scripts = packages.contents(r.project, cfg, cfg.profile, r.src.version, artifact.path, work)
        script_paths = {}
        for kind, text in scripts.items():
            script_paths[kind] = work / f"{kind}.sh"
            script_paths[kind].write_text(text, encoding="utf-8")
        conf = work / "nfpm.yaml"
        conf.write_text(packages.config_yaml(r.project.project.name, platform, r.src, r.cfg.packages, maintainer,
                                             items, script_paths), encoding="utf-8")
        for packager in r.cfg.packages.formats:
            r.add(packages.build(nfpm, conf, packager, r.stage), packager)
    shutil.rmtree(r.stage / ".work")


def _checksums(r: ReleaseRun) -> None:
    out = r.stage / "checksums.txt"
    out.write_text(archives.checksums([r.stage / name for name in r.files]), encoding="utf-8")
    r.add(out, "checksums")


def _sign(r: ReleaseRun) -> None:
    if r.cfg.sign_key is None:
        r.echo("sign: release.sign.key is null, so checksums.txt is not signed")
        return
    from .signing import sign

    r.add(sign(r.stage / "checksums.txt", r.cfg.sign_key, r.cfg.namespace), "signature")


STEPS: tuple[tuple[str, Callable[[ReleaseRun], None]], ...] = (
    ("build", _build), ("archives", _archives), ("sboms", _sboms), ("changelog", _changelog),
    ("packages", _packages), ("checksums", _checksums), ("sign", _sign),
)


def _foreign(dist: Path) -> list[str]:
    """Files in ``dist`` that no release wrote (a dist/ without our marker is all foreign)."""
    if not dist.exists():
        return []
    if not dist.is_dir():
        return [dist.name]
    try:
        ours = set(json.loads((dist / MARKER).read_text())["files"]) | {MARKER}
    except (OSError, ValueError, KeyError, TypeError):
        ours = set()
    return sorted(p.name for p in dist.iterdir() if p.name not in ours)


def _publish(r: ReleaseRun) -> None:
    """Replace dist/ with the staged release: two renames, the old release removed after."""
    dist = r.cfg.dist
    marker = {"version": r.src.version, "commit": r.src.commit, "snapshot": r.src.snapshot,
              "files": {name: kind for name, kind in sorted(r.files.items())}}
    write_json(r.stage / MARKER, marker)
    old = dist.with_name(f".{dist.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if dist.exists():
        os.rename(dist, old)
    os.rename(r.stage, dist)
    shutil.rmtree(old, ignore_errors=True)


def run(project: Project, snapshot: bool, echo: Callable[[str], None], sign_key: str | None = None) -> ReleaseRun:
    """Make the release into dist/; ``sign_key`` (``--sign-key``) wins over release.sign.key."""
    from ..locks import Locks

    cfg = settings.load(project)
    if sign_key is not None:
        key = Path(sign_key).expanduser()
        if not key.is_file():
            raise InputError(f"--sign-key {sign_key}: no such file; name an SSH private key "
                             "(ssh-keygen -t ed25519 -f FILE)")
        cfg = dataclasses.replace(cfg, sign_key=key.resolve())
    src = source.read(project.root, snapshot)
    dist = cfg.dist
    with Locks(project.root, echo).hold("release", f"another `invoke release` writing {dist.name}/"):
        foreign = _foreign(dist)
        if foreign:
            shown = ", ".join(foreign[:5]) + (", ..." if len(foreign) > 5 else "")
            raise InputError(f"{dist.relative_to(project.root)}/ holds files no release wrote ({shown}); "
                             "a release replaces the folder whole, so move them away (or set release.dist "
                             "to another folder) and run it again")
        stage = dist.with_name(f".{dist.name}.partial")
        shutil.rmtree(stage, ignore_errors=True)  # a killed run's; the lock says no other run is writing
        try:
            stage.mkdir(parents=True)
        except OSError as exc:
            raise OutputError(f"cannot create {stage}: {exc.strerror}") from exc
        r = ReleaseRun(project=project, cfg=cfg, src=src, stage=stage, echo=echo)
        try:
            for name, step in STEPS:
                echo(f"release: {name}")
                step(r)
            _publish(r)
        except BaseException:
            with contextlib.suppress(OSError):
                shutil.rmtree(stage)
            raise
    return r

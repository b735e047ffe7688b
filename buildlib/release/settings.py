"""The ``release:`` section of build.yaml: what `invoke release` puts into dist/."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..config import Project


@dataclass(frozen=True)
class Packages:
    formats: tuple[str, ...]
    maintainer: str | None
    description: str
    homepage: str | None
    license: str | None


@dataclass(frozen=True)
class ReleaseConfig:
    dist: Path
    binaries: tuple[str, ...]
    files: tuple[str, ...]
    sign_key: Path | None
    namespace: str
    packages: Packages


def _default_files(root: Path) -> tuple[str, ...]:
    return tuple(sorted(p.name for p in root.iterdir() if p.is_file()
                        and p.name.upper().startswith(("LICENSE", "LICENCE", "README", "COPYING"))))


def load(project: Project) -> ReleaseConfig:
    from ..deploy.settings import expand_local

    raw = project.extra["release"]
    names = raw["binaries"]
    if names is not None:
        if not names:
            raise project.error("release.binaries", "is empty, so the archives would hold no binary; list the "
                                f"binaries to ship ({', '.join(sorted(project.binaries))}) or leave it out for all")
        unknown = [n for n in names if n not in project.binaries]
        if unknown:
            raise project.error("release.binaries", f"{', '.join(unknown)} not in binaries; known: "
                                f"{', '.join(sorted(project.binaries))}")
    files = raw["files"]
    if files is None:
        files = _default_files(project.root)
    for rel in files:
        if ".." in Path(rel).parts or not (project.root / rel).is_file():
            raise project.error("release.files", f"{rel} is not a file in the repository; list files the "
                                "archives should carry beside the binaries")
    dist = Path(raw["dist"])
    if ".." in dist.parts or dist.parts[0] in {"bin", ".build", ".git"} or dist == Path("."):
        raise project.error("release.dist", f'"{raw["dist"]}" is not a directory of its own; use a new folder '
                            "like dist")
    if project.build.out_dir and dist == Path(project.build.out_dir):
        raise project.error("release.dist", f"{dist} is build.out_dir too; the release needs its own folder")
    key = expand_local(project, raw["sign"]["key"]) if raw["sign"]["key"] else None
    if key is not None and not key.is_file():
        # Checked before anything is built: signing is the last step.
        raise project.error("release.sign.key", f"{key} does not exist; make a key with ssh-keygen -t ed25519 "
                            f"-f {key} -C release (and publish its .pub in your allowed_signers), or set "
                            "release.sign.key to null for unsigned checksums")
    pk = raw["packages"]
    formats = tuple(dict.fromkeys(pk["formats"]))
    return ReleaseConfig(
        dist=project.root / dist,
        binaries=tuple(names) if names is not None else tuple(sorted(project.binaries)),
        files=tuple(files),
        sign_key=key,
        namespace=raw["sign"]["namespace"],
        packages=Packages(formats=formats, maintainer=pk["maintainer"],
                          description=pk["description"] or f"{project.project.name}: an HTTP service",
                          homepage=pk["homepage"], license=pk["license"]),
    )

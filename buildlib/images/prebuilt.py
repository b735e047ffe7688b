"""Prebuilt mode: the binaries `invoke build` leaves in bin/, built if stale and checked before they are packaged.

The kit's own build runs first for exactly the binaries the images package:
it is the authority on what is stale (a no-op when nothing changed), so an
edit needs one command, not `invoke build` and then the image. The image must
then hold exactly what the manifest describes: a binary changed or rebuilt by
hand meanwhile would ship under the manifest's version and checksum, so each
one is hashed again. The version stamp of the image (tags and OCI labels) is
the manifest's, so it matches what the binaries say.
"""

from __future__ import annotations

from collections.abc import Callable

from .. import console
from ..build import manifest
from ..build.keys import sha256_file
from ..build.stamp import Stamp
from ..config import parse_platform
from .bases import is_static
from .errors import MissingBinaries
from .settings import ImageSettings


def build_current(settings: ImageSettings, platforms: tuple[str, ...] = (),
                  log: Callable[[str], None] = console.out) -> None:
    """Build the service binary for ``platforms`` (none: images.platform) unless it is up to date."""
    from ..build.builder import Options, build
    from ..tasks.build import errors, report

    project = settings.project
    binary = settings.service.binary
    platforms = platforms or (settings.platform,)
    built_for = project.platforms_of(project.binaries[binary])
    unlisted = [p for p in platforms if p not in built_for]
    if unlisted:
        raise MissingBinaries(f"prebuilt mode packages what `invoke build` makes, which builds {binary} for "
                              f"{', '.join(built_for)}, not {', '.join(unlisted)}; add "
                              f"{'them' if len(unlisted) > 1 else 'it'} to build.yaml's platforms, or build in "
                              "the image (--mode in-docker)")
    only = ",".join(f"{binary}:{p}" for p in platforms)
    result = build(project, Options(only=only), console.display(quiet=True))
    log(report(result, explain=False).splitlines()[-1])
    if not result.ok:
        raise MissingBinaries(f"the build of {only} failed, so no image was made:\n{errors(result)}")


def stamp(settings: ImageSettings, platforms: tuple[str, ...] = ()) -> Stamp:
    """The stamp of the binaries `invoke build` left for the image's platforms; checks they are current.

    ``platforms``: those of a multi-platform push; none means images.platform.
    """
    project = settings.project
    binary = settings.service.binary
    platforms = platforms or (settings.platform,)
    hint = f"run `invoke build --only {','.join(f'{binary}:{p}' for p in platforms)}` first"
    built = manifest.read(project.out_path(), f"{project.build.out_dir}/{manifest.FILENAME}")
    if built is None:
        raise MissingBinaries(f"prebuilt mode packages what `invoke build` made, but "
                              f"{project.build.out_dir}/{manifest.FILENAME} is missing; {hint}")
    for platform in platforms:
        goos, goarch = parse_platform(platform)
        entry = built.targets.get(f"{binary}:{platform}")
        path = project.out_path() / f"{goos}_{goarch}" / binary
        if entry is None or not path.is_file():
            raise MissingBinaries(f"no {binary} binary for {platform} in {project.build.out_dir}/; {hint}")
        if entry.sha256 != sha256_file(path):
            raise MissingBinaries(f"{path.relative_to(project.root)} does not match "
                                  f"{project.build.out_dir}/{manifest.FILENAME} (changed after the build); {hint}")
        if not is_static(str(path)):
            raise MissingBinaries(f"{path.relative_to(project.root)} is dynamically linked; the images have no C "
                                  "library: build it in-docker (images.mode: in-docker links cgo binaries "
                                  "statically), or set cgo: false in the build profile and rebuild")
    return Stamp(version=built.version or "dev", commit=built.commit or "unknown",
                 date=built.date or "1970-01-01T00:00:00Z")

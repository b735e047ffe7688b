"""Archives and the checksum file: the same bytes from the same commit.

Every member is owned by root (uid and gid 0), dated at the commit, with a fixed
mode, in a fixed order; gzip's own header carries no name and the same time. Two
runs on one commit therefore give archives with the same sha256, which is what
lets a user check a download against a rebuilt one.
"""

from __future__ import annotations

import gzip
import io
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from ..build.keys import sha256_file

ZIP_EPOCH = 315532800  # 1980-01-01: the earliest date a zip entry can hold


@dataclass(frozen=True)
class Member:
    name: str      # the path inside the archive
    source: Path
    mode: int


def archive_name(project: str, version: str, platform: str) -> str:
    goos, goarch = platform.split("/")
    ext = "zip" if goos == "windows" else "tar.gz"
    return f"{project}_{version}_{goos}_{goarch}.{ext}"


def write_tar_gz(path: Path, members: list[Member], epoch: int) -> None:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for m in sorted(members, key=lambda m: m.name):
            info = tarfile.TarInfo(m.name)
            info.size = m.source.stat().st_size
            info.mtime = epoch
            info.mode = m.mode
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            with m.source.open("rb") as handle:
                tar.addfile(info, handle)
    with path.open("wb") as out, gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=epoch,
                                               compresslevel=9) as gz:
        gz.write(raw.getvalue())


def write_zip(path: Path, members: list[Member], epoch: int) -> None:
    import time

    stamp = time.gmtime(max(epoch, ZIP_EPOCH))[:6]
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for m in sorted(members, key=lambda m: m.name):
            info = zipfile.ZipInfo(m.name, date_time=stamp)
            info.create_system = 3  # Unix, so the mode below is read back
            info.external_attr = (0o100000 | m.mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, m.source.read_bytes(), compresslevel=9)


def write(path: Path, members: list[Member], epoch: int) -> None:
    (write_zip if path.name.endswith(".zip") else write_tar_gz)(path, members, epoch)


def checksums(files: list[Path]) -> str:
    """``sha256sum`` output for ``files`` (by name, sorted): what ``sha256sum -c checksums.txt`` reads."""
    return "".join(f"{sha256_file(f)}  {f.name}\n" for f in sorted(files, key=lambda f: f.name))

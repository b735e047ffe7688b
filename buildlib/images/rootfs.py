"""A root file system described in Python and written as a deterministic tar.

Base images are assembled from host files (Debian packages, the Go toolchain)
rather than with a package manager inside a container, which would need a
registry and a network. The description is cheap to fingerprint (paths, modes
and the host files' sizes and mtimes, never their bytes), so deciding that an
image is already up to date costs a stat walk, not a 200 MB read.
"""

from __future__ import annotations

import hashlib
import io
import os
import stat
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

# Every entry gets this mtime: the tar, and so the layer digest, depends only on content.
FIXED_MTIME = 0


@dataclass(frozen=True)
class RootfsEntry:
    path: str  # relative, no leading "/"
    kind: str  # "dir" | "file" | "symlink"
    mode: int
    uid: int = 0
    gid: int = 0
    data: bytes | None = None
    src: str | None = None
    link: str = ""

    def fingerprint(self) -> str:
        if self.src is not None:
            st = os.stat(self.src)
            content = f"{self.src}:{st.st_size}:{st.st_mtime_ns}"
        elif self.data is not None:
            content = hashlib.sha256(self.data).hexdigest()
        else:
            content = self.link
        return f"{self.path}|{self.kind}|{self.mode:o}|{self.uid}|{self.gid}|{content}"


class Rootfs:
    """Files, directories and links of an image, keyed by path; parents are created as needed."""

    def __init__(self) -> None:
        self.entries: dict[str, RootfsEntry] = {}

    def _parents(self, path: str) -> None:
        parent = os.path.dirname(path)
        if parent and parent not in self.entries:
            self.dir(parent)

    def dir(self, path: str, mode: int = 0o755, uid: int = 0, gid: int = 0) -> None:
        path = path.strip("/")
        self._parents(path)
        self.entries[path] = RootfsEntry(path, "dir", mode, uid, gid)

    def file(self, path: str, data: bytes | str, mode: int = 0o644) -> None:
        path = path.strip("/")
        self._parents(path)
        raw = data.encode() if isinstance(data, str) else data
        self.entries[path] = RootfsEntry(path, "file", mode, data=raw)

    def copy(self, path: str, src: str | Path, mode: int | None = None) -> None:
        path = path.strip("/")
        self._parents(path)
        st = os.stat(src)
        self.entries[path] = RootfsEntry(path, "file", mode if mode is not None else stat.S_IMODE(st.st_mode),
                                         src=str(src))

    def symlink(self, path: str, target: str) -> None:
        path = path.strip("/")
        self._parents(path)
        self.entries[path] = RootfsEntry(path, "symlink", 0o777, link=target)

    def tree(self, dest: str, src: str | Path, skip: Callable[[str], bool] = lambda rel: False) -> None:
        """Copy the directory ``src`` to ``dest``; ``skip(relative_path)`` leaves parts out."""
        src = Path(src)
        dest = dest.strip("/")
        self.dir(dest, stat.S_IMODE(src.stat().st_mode))
        for folder, dirs, files in os.walk(src):
            rel_folder = os.path.relpath(folder, src)
            rel_folder = "" if rel_folder == "." else rel_folder
            kept = []
            for d in sorted(dirs):
                rel = os.path.join(rel_folder, d)
                full = os.path.join(folder, d)
                if skip(rel):
                    continue
                if os.path.islink(full):
                    self.symlink(f"{dest}/{rel}", os.readlink(full))
                    continue
                kept.append(d)
                self.dir(f"{dest}/{rel}", stat.S_IMODE(os.stat(full).st_mode))
            dirs[:] = kept
            for f in sorted(files):
                rel = os.path.join(rel_folder, f)
                full = os.path.join(folder, f)
                if skip(rel):
                    continue
                if os.path.islink(full):
                    self.symlink(f"{dest}/{rel}", os.readlink(full))
                else:
                    self.copy(f"{dest}/{rel}", full)

    def digest(self, *extra: str) -> str:
        """A fingerprint of the description (plus ``extra`` strings such as image config)."""
        h = hashlib.sha256()
        for part in extra:
            h.update(part.encode() + b"\0")
        for path in sorted(self.entries):
            h.update(self.entries[path].fingerprint().encode() + b"\n")
        return h.hexdigest()

    def size(self) -> int:
        total = 0
        for e in self.entries.values():
            if e.data is not None:
                total += len(e.data)
            elif e.src is not None:
                total += os.stat(e.src).st_size
        return total

    def write(self, fileobj: IO[bytes]) -> None:
        """Stream the tree as a tar (sorted, fixed mtime and owners) to ``fileobj``."""
        with tarfile.open(fileobj=fileobj, mode="w|", format=tarfile.PAX_FORMAT) as tar:
            for path in sorted(self.entries):
                e = self.entries[path]
                info = tarfile.TarInfo(path)
                info.mode, info.uid, info.gid, info.mtime = e.mode, e.uid, e.gid, FIXED_MTIME
                info.uname = info.gname = ""
                if e.kind == "dir":
                    info.type = tarfile.DIRTYPE
                    tar.addfile(info)
                elif e.kind == "symlink":
                    info.type, info.linkname = tarfile.SYMTYPE, e.link
                    tar.addfile(info)
                elif e.data is not None:
                    info.size = len(e.data)
                    tar.addfile(info, io.BytesIO(e.data))
                else:
                    assert e.src is not None
                    with open(e.src, "rb") as fh:
                        info.size = os.fstat(fh.fileno()).st_size
                        tar.addfile(info, fh)

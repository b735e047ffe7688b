"""An image's layers as `docker save` writes them: real files and sizes, not estimates.

`docker save` gives a tar holding the config and one tar per layer. Reading
those layer tars in order replays the image file system the way the engine
builds it (including whiteouts, the `.wh.` entries a layer uses to delete a
file below it), which answers: how big is each layer and which step made it,
what does the final file system hold, and how many bytes are wasted, in
dive's sense: file versions a later layer overwrote or deleted, which still
ship in the image.
"""

from __future__ import annotations

import json
import posixpath
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from .engine import DockerCLI

_WHITEOUT = ".wh."
_OPAQUE = ".wh..wh..opq"


@dataclass(frozen=True)
class LayerEntry:
    path: str  # absolute, e.g. "/usr/local/bin/server"
    kind: str  # file | dir | symlink | hardlink | other
    size: int
    mode: int
    uid: int
    gid: int
    link: str = ""


@dataclass
class Layer:
    index: int
    diff_id: str
    created_by: str
    entries: list[LayerEntry] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)  # paths a whiteout removes
    opaque: list[str] = field(default_factory=list)   # directories whose lower content is hidden

    @property
    def size(self) -> int:
        return sum(e.size for e in self.entries if e.kind == "file")


@dataclass
class Waste:
    path: str
    bytes: int
    why: str  # "overwritten in layer N" | "deleted in layer N"


@dataclass
class SavedImage:
    ref: str
    config: dict
    layers: list[Layer]
    tar_dir: Path  # where the layer tars are, while the `saved()` block lasts
    layer_tars: list[Path]

    @property
    def user(self) -> str:
        return (self.config.get("config") or {}).get("User") or ""

    @property
    def healthcheck(self) -> list[str]:
        return ((self.config.get("config") or {}).get("Healthcheck") or {}).get("Test") or []

    def filesystem(self) -> dict[str, tuple[int, LayerEntry]]:
        """The final file system: path -> (layer index, entry)."""
        fs: dict[str, tuple[int, LayerEntry]] = {}
        for layer in self.layers:
            _apply_deletions(fs, layer)
            for e in layer.entries:
                fs[e.path] = (layer.index, e)
        return fs

    def waste(self) -> list[Waste]:
        """File versions that a later layer overwrote or deleted (they still take space)."""
        fs: dict[str, tuple[int, LayerEntry]] = {}
        wasted: list[Waste] = []
        for layer in self.layers:
            for _, e in _apply_deletions(fs, layer):
                if e.kind == "file" and e.size:
                    wasted.append(Waste(e.path, e.size, f"deleted in layer {layer.index}"))
            for e in layer.entries:
                old = fs.get(e.path)
                if old and old[1].kind == "file" and old[1].size:
                    wasted.append(Waste(e.path, old[1].size, f"overwritten in layer {layer.index}"))
                fs[e.path] = (layer.index, e)
        return wasted

    def read(self, layer: int, path: str, limit: int = 1 << 20) -> bytes | None:
        """The first ``limit`` bytes of ``path`` as layer ``layer`` holds it."""
        with tarfile.open(self.layer_tars[layer]) as tar:
            try:
                member = tar.getmember(path.lstrip("/"))
            except KeyError:
                return None
            fh = tar.extractfile(member)
            return fh.read(limit) if fh else None

    def iter_files(self, max_size: int) -> Iterator[tuple[int, LayerEntry, bytes]]:
        """Every regular file of every layer (deleted ones too) up to ``max_size`` bytes, with its content."""
        for layer, tar_path in zip(self.layers, self.layer_tars, strict=True):
            with tarfile.open(tar_path) as tar:
                for member in tar:
                    if not member.isreg() or member.size > max_size:
                        continue
                    if posixpath.basename(_norm(member.name)).startswith(_WHITEOUT):
                        continue
                    fh = tar.extractfile(member)
                    data = fh.read() if fh else b""
                    yield layer.index, _entry(member), data


def _apply_deletions(fs: dict[str, tuple[int, LayerEntry]], layer: Layer) -> list[tuple[int, LayerEntry]]:
    removed = []
    for d in layer.opaque:
        prefix = d.rstrip("/") + "/"
        for p in [p for p in fs if p.startswith(prefix)]:
            removed.append(fs.pop(p))
    for path in layer.deleted:
        prefix = path + "/"
        for p in [p for p in fs if p == path or p.startswith(prefix)]:
            removed.append(fs.pop(p))
    return removed


def _norm(name: str) -> str:
    """A tar member name as an absolute path ("./etc/x", "etc/x/" -> "/etc/x")."""
    while name.startswith("./"):
        name = name[2:]
    return "/" + name.strip("/") if name not in ("", ".") else "/"


def _entry(member: tarfile.TarInfo) -> LayerEntry:
    kind = ("file" if member.isreg() else "dir" if member.isdir() else "symlink" if member.issym()
            else "hardlink" if member.islnk() else "other")
    return LayerEntry(_norm(member.name), kind, member.size if member.isreg() else 0, member.mode, member.uid,
                      member.gid, member.linkname)


def _read_layer(index: int, diff_id: str, created_by: str, tar_path: Path) -> Layer:
    layer = Layer(index, diff_id, created_by)
    with tarfile.open(tar_path) as tar:
        for member in tar:
            path = _norm(member.name)
            base, parent = posixpath.basename(path), posixpath.dirname(path)
            if base == _OPAQUE:
                layer.opaque.append(parent)
            elif base.startswith(_WHITEOUT):
                layer.deleted.append(posixpath.join(parent, base[len(_WHITEOUT):]))
            else:
                layer.entries.append(_entry(member))
    return layer


def _history(config: dict) -> list[str]:
    """created_by of each non-empty layer, in order."""
    steps = []
    for h in config.get("history", []):
        if not h.get("empty_layer"):
            text = h.get("created_by", "").replace("/bin/sh -c #(nop) ", "").removesuffix(" # buildkit")
            steps.append(" ".join(text.split()))
    return steps


@contextmanager
def saved(cli: DockerCLI, ref: str, workdir: Path | None = None) -> Iterator[SavedImage]:
    """`docker save REF`, read; the layer tars stay on disk until the block ends."""
    with tempfile.TemporaryDirectory(prefix="saved-", dir=workdir) as tmp:
        archive = Path(tmp) / "image.tar"
        cli.run("save", "-o", str(archive), ref, timeout=900)
        with tarfile.open(archive) as tar:
            tar.extractall(tmp, filter="tar")
        manifest = json.loads((Path(tmp) / "manifest.json").read_text())[0]
        config = json.loads((Path(tmp) / manifest["Config"]).read_text())
        steps = _history(config)
        diff_ids = config.get("rootfs", {}).get("diff_ids", [])
        tars = [Path(tmp) / rel for rel in manifest["Layers"]]
        layers = [
            _read_layer(i, diff_ids[i] if i < len(diff_ids) else "", steps[i] if i < len(steps) else "", t)
            for i, t in enumerate(tars)
        ]
        yield SavedImage(ref, config, layers, Path(tmp), tars)

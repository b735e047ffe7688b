"""Make an image's ID a function of its content and the commit, not of the build's clock.

An image ID is the sha256 of its config, and the config holds the creation
time, one time per history entry, and the digest of every layer tar, whose
entries carry file mtimes. BuildKit 0.8 (Docker 20.10) stamps all of these
with the wall clock and has no SOURCE_DATE_EPOCH support. So after a build
the image is saved, every time is clamped to the commit time (the
SOURCE_DATE_EPOCH rule: newer times become the epoch, older ones stay), the
layers this Dockerfile added are rewritten with clamped mtimes, and the result
is loaded back. Layers that come from the base image are kept byte for byte,
so they stay shared with the base on disk and in a registry.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import tarfile
import tempfile
from pathlib import Path

from .engine import DockerCLI


def _iso(epoch: int) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _clamp_time(text: str | None, epoch: int) -> str:
    if not text:
        return _iso(epoch)
    try:
        when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return _iso(epoch)
    return _iso(min(int(when.timestamp()), epoch))


def _rewrite_layer(src: Path, dest: Path, epoch: int) -> str:
    """Copy a layer tar with mtimes clamped and access/change times dropped; returns its sha256."""
    with (tarfile.open(src, "r:") as tin, open(dest, "wb") as raw,
          tarfile.open(fileobj=raw, mode="w:", format=tarfile.PAX_FORMAT) as tout):
        for info in tin:
            info.mtime = min(int(info.mtime), epoch)
            # Keep extended attributes (file capabilities); drop the clock.
            info.pax_headers = {k: v for k, v in info.pax_headers.items() if k.startswith("SCHILY.xattr.")}
            tout.addfile(info, tin.extractfile(info) if info.isreg() else None)
    h = hashlib.sha256()
    with open(dest, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return "sha256:" + h.hexdigest()


def base_layers(cli: DockerCLI, base: str | None) -> list[str]:
    """The diff IDs of ``base`` (none for scratch, or when it is not in the engine)."""
    if not base or base == "scratch":
        return []
    proc = cli.run("image", "inspect", "--format", "{{json .RootFS.Layers}}", base, check=False)
    if proc.returncode != 0:
        return []
    return json.loads(proc.stdout) or []


def normalise(cli: DockerCLI, image: str, tags: list[str], epoch: int, base: list[str],
              workdir: Path | None = None) -> str:
    """Rewrite ``image`` as described above, tag it with ``tags``; returns the new image ID."""
    with tempfile.TemporaryDirectory(prefix="normalise-", dir=workdir) as tmp:
        src, out = Path(tmp) / "in", Path(tmp) / "out"
        src.mkdir()
        out.mkdir()
        cli.run("save", "-o", str(src / "image.tar"), image, timeout=900)
        with tarfile.open(src / "image.tar") as saved:
            saved.extractall(src, filter="tar")
        manifest = json.loads((src / "manifest.json").read_text())[0]
        cfg = json.loads((src / manifest["Config"]).read_text())
        old_ids = cfg["rootfs"]["diff_ids"]
        keep = 0
        while keep < min(len(base), len(old_ids)) and base[keep] == old_ids[keep]:
            keep += 1
        layer_paths, diff_ids = [], []
        for i, rel in enumerate(manifest["Layers"]):
            tmp_layer = out / f"layer-{i}.tar"
            if i < keep:
                shutil.copyfile(src / rel, tmp_layer)
                digest = old_ids[i]
            else:
                digest = _rewrite_layer(src / rel, tmp_layer, epoch)
            folder = out / digest.split(":")[1]
            folder.mkdir(exist_ok=True)
            os.replace(tmp_layer, folder / "layer.tar")
            layer_paths.append(f"{folder.name}/layer.tar")
            diff_ids.append(digest)
        cfg["rootfs"]["diff_ids"] = diff_ids
        cfg["created"] = _clamp_time(cfg.get("created"), epoch)
        for entry in cfg.get("history", []):
            entry["created"] = _clamp_time(entry.get("created"), epoch)
        raw = json.dumps(cfg, separators=(",", ":")).encode()
        image_id = hashlib.sha256(raw).hexdigest()
        (out / f"{image_id}.json").write_bytes(raw)
        (out / "manifest.json").write_text(json.dumps(
            [{"Config": f"{image_id}.json", "RepoTags": tags, "Layers": layer_paths}]))
        archive = Path(tmp) / "normalised.tar"
        with tarfile.open(archive, "w") as tar:
            for item in sorted(os.listdir(out)):
                tar.add(out / item, arcname=item)
        cli.run("load", "-i", str(archive), timeout=900)
    return f"sha256:{image_id}"

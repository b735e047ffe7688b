"""Helpers for the build tests: copies of the tree, binary headers, manifests."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import struct
from pathlib import Path
from typing import Any

from buildlib.bench.build import copy_tree
from tests.helpers.support import REPO

# ELF e_machine and Mach-O cputype of the architectures in the matrix.
_ELF_MACHINES = {0x3E: "amd64", 0xB7: "arm64"}
_MACHO_CPUS = {0x01000007: "amd64", 0x0100000C: "arm64"}


def copy_sources(dest: Path) -> Path:
    """The repository without outputs, caches or VCS data: a tree nobody else builds in."""
    copy_tree(REPO, dest)
    return dest


def clone(tree: Path, dest: Path) -> Path:
    """A full copy of a built tree, outputs and build state included."""
    shutil.copytree(tree, dest, symlinks=True)
    return dest


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def manifest(tree: Path) -> dict[str, Any]:
    return json.loads((tree / "bin" / "manifest.json").read_text())


def platform_of(path: Path) -> str:
    """GOOS/GOARCH read from the executable's header (ELF or 64-bit Mach-O), not from its name."""
    head = path.read_bytes()[:64]
    if head[:4] == b"\x7fELF":
        assert head[4] == 2, f"{path}: not a 64-bit ELF file"
        assert head[7] == 0, f"{path}: ELF OS ABI {head[7]} is not the one Linux binaries use"
        (machine,) = struct.unpack_from("<H", head, 18)
        return "linux/" + _ELF_MACHINES.get(machine, f"machine-{machine:#x}")
    if head[:4] == b"\xcf\xfa\xed\xfe":
        (cpu,) = struct.unpack_from("<I", head, 4)
        return "darwin/" + _MACHO_CPUS.get(cpu, f"cpu-{cpu:#x}")
    raise AssertionError(f"{path}: neither ELF nor Mach-O (starts with {head[:4]!r})")


def build_settings(path: Path) -> dict[str, str]:
    """The `build` settings Go embeds in every binary (GOOS, GOARCH, -trimpath, -ldflags...)."""
    data = path.read_bytes()
    return {k.decode(): v.decode() for k, v in re.findall(rb"\nbuild\t([\w.-]+)=([^\n]*)", data)}

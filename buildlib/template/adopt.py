"""``invoke init --adopt``: write a build.yaml for an existing Go repository from its own code.

The kit (buildlib/, tasks.py, noxfile.py, docker/, deploy/) is copied in by
hand; this step reads go.mod for the module path and ``go list`` for the main
packages, and writes a build.yaml that names one binary per main package. A
repository without a package for the link-time version gets a small one.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from .. import config
from ..atomic import write_bytes
from ..errors import SelectionError, ToolError
from ..gotool import find_go
from .names import check_name, name_from_module

DEFAULT_PLATFORMS = ("linux/amd64", "linux/arm64")
GITIGNORE_LINES = ("/bin/", "/.build/", "/.nox/", "__pycache__/")

VERSION_GO = """\
// Package version holds build metadata that `invoke build` stamps in at link time
// (-ldflags -X MODULE/PKG.Version=...). Print it from a -version flag or a /version route.
package version

// Variables, not constants: -ldflags -X can only set package-level string variables.
var (
\tVersion = "dev"
\tCommit  = "unknown"
\tDate    = "unknown"
)
"""


@dataclass(frozen=True)
class MainPackage:
    name: str  # binary name
    main: str  # ./cmd/api
    import_path: str


@dataclass
class Adopted:
    root: Path
    module: str
    name: str
    mains: list[MainPackage]
    version_package: str
    created_version_package: bool
    gitignore_added: list[str]


def list_packages(root: Path) -> list[tuple[str, str, Path]]:
    """(package name, import path, directory) of every package of the module at ``root``."""
    result = subprocess.run(
        [find_go(root), "list", "-e", "-f", "{{.Name}} {{.ImportPath}} {{.Dir}}", "./..."],
        cwd=root, capture_output=True, text=True, timeout=600,
    )
    if result.returncode != 0:
        raise ToolError(f"`go list ./...` failed in {root}:\n{result.stderr.strip()[-2000:]}")
    out = []
    for line in result.stdout.splitlines():
        parts = line.split(" ", 2)
        if len(parts) == 3 and parts[0]:
            out.append((parts[0], parts[1], Path(parts[2])))
    return out


def _binary_names(rels: list[str], fallback: str) -> list[str]:
    """One binary name per main package directory: its last element, longer where two would clash."""
    def name_of(rel: str, depth: int) -> str:
        parts = [p for p in rel.split("/") if p not in ("", ".")]
        if parts and parts[0] == "cmd" and len(parts) > 1:
            parts = parts[1:]
        if not parts:
            return fallback
        return "-".join(parts[-depth:])

    names = [name_of(r, 1) for r in rels]
    for depth in range(2, 8):
        clashes = {n for n in names if names.count(n) > 1}
        if not clashes:
            break
        names = [name_of(r, depth) if n in clashes else n for r, n in zip(rels, names, strict=True)]
    return [re.sub(r"[^A-Za-z0-9_.-]", "-", n).lstrip("-_.") or fallback for n in names]


def main_packages(root: Path, module: str, fallback: str) -> list[MainPackage]:
    found = []
    for name, import_path, folder in list_packages(root):
        if name != "main":
            continue
        rel = folder.resolve().relative_to(root.resolve()).as_posix()
        found.append((rel, import_path))
    found.sort()
    names = _binary_names([rel for rel, _ in found], fallback)
    return [MainPackage(n, "./" + rel if rel != "." else "./.", imp) for n, (rel, imp) in zip(names, found,
                                                                                                strict=True)]


def _version_package(root: Path, packages: list[tuple[str, str, Path]]) -> str | None:
    for name, _, folder in sorted(packages, key=lambda p: str(p[2])):
        if name == "version":
            text = "".join(f.read_text(errors="replace") for f in folder.glob("*.go"))
            if re.search(r"\bVersion\b", text):
                return "./" + folder.resolve().relative_to(root.resolve()).as_posix()
    return None


def render(name: str, mains: list[MainPackage], version_package: str, platforms: tuple[str, ...]) -> str:
    binaries = "\n".join(f"  {m.name}:\n    main: {m.main}" for m in mains)
    plats = "\n".join(f"  - {p}" for p in platforms)
    return f"""\
# build.yaml: what this repository builds and how (written by `invoke init --adopt`
# from go.mod and the repository's main packages; edit freely). `invoke --list`
# shows the tasks that read it; a mistake here is reported with its line number.

project:
  name: {name}
  version: auto                         # "auto": `git describe --tags --always --dirty`
  version_package: {version_package}

binaries:
{binaries}

# Every binary is built for every platform unless it lists its own.
platforms:
{plats}

profiles:
  release:              # static, stripped, reproducible
    cgo: false
    trimpath: true
    strip: true
    env:
      GOFLAGS: -buildvcs=false -mod=readonly
  dev:                  # debug info kept, optimisations off for delve
    cgo: false
    trimpath: false
    strip: false
    gcflags: all=-N -l
    env:
      GOFLAGS: -buildvcs=false -mod=readonly

build:
  out_dir: bin
  jobs: auto
  profile: release

environments:
  dev:
    profile: dev
    LOG_LEVEL: debug
    ENABLE_CACHE: false
    API_TIMEOUT_MS: 5000
  test:
    profile: release
    LOG_LEVEL: info
    ENABLE_CACHE: true
    API_TIMEOUT_MS: 3000
  prod:
    profile: release
    LOG_LEVEL: error
    ENABLE_CACHE: true
    API_TIMEOUT_MS: 2000

debt:
  threshold: 20
"""


def adopt(root: Path, name: str | None = None, *, force: bool = False,
          platforms: tuple[str, ...] = DEFAULT_PLATFORMS) -> Adopted:
    root = root.resolve()
    module = config.go_module_path(root)
    target = root / config.CONFIG_NAME
    if target.exists() and not force:
        raise SelectionError(f"{target} already exists; edit it, or pass --force to write a new one over it")
    if name is None:
        name = name_from_module(module)
        if name is None:
            raise SelectionError(f'no service name can be made from the module path "{module}"; pass --name NAME')
    check_name(name)
    packages = list_packages(root)
    mains = main_packages(root, module, name)
    if not mains:
        raise SelectionError(
            f"no main package in {root} (`go list ./...` found {len(packages)} package(s), none named main); "
            "a binary needs a `package main` with a func main, e.g. cmd/server/main.go"
        )
    version_package = _version_package(root, packages)
    created = False
    vfile = root / "internal" / "version" / "version.go"
    if version_package is None:
        version_package = "./internal/version"
        if vfile.exists():
            raise SelectionError(f"{vfile} exists but is not a package named version declaring Version")
        write_bytes(vfile, VERSION_GO.encode())
        created = True
    text = render(name, mains, version_package, platforms)
    # Validate before it replaces anything: load a temporary copy next to the real file.
    probe = root / f".{config.CONFIG_NAME}.adopt-{os.getpid()}"
    try:
        probe.write_text(text)
        config.load(probe)
    except BaseException:
        if created:
            vfile.unlink(missing_ok=True)
            for folder in (vfile.parent, vfile.parent.parent):
                with contextlib.suppress(OSError):
                    folder.rmdir()  # only when empty: it was made here
        raise
    finally:
        probe.unlink(missing_ok=True)
    write_bytes(target, text.encode())
    added = _extend_gitignore(root)
    return Adopted(root, module, name, mains, version_package, created, added)


def _extend_gitignore(root: Path) -> list[str]:
    path = root / ".gitignore"
    existing = path.read_text().splitlines() if path.exists() else []
    missing = [line for line in GITIGNORE_LINES if line not in existing and line.strip("/") not in existing]
    if missing:
        text = "\n".join(existing)
        head = text + "\n" if text else ""
        text = head + "# build outputs and caches of the build kit\n" + "\n".join(missing) + "\n"
        write_bytes(path, text.encode())
    return missing

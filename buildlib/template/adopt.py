"""``invoke init --adopt --dest PATH``: put the kit into an existing Go repository, fitted to its code.

One command does all of it: the kit's files are copied in (see kit.py), and a
build.yaml is written from what the code shows (detect.py): which main is the
service and which are tools, cgo, the port, the health route, the files it
reads and the directories it writes, the time zone database. The service is
built once for linux/amd64 so the image budgets start from its real size.
Everything is checked before anything is written: the new build.yaml is
loaded from a temporary copy first, and a repository that already has files
the kit would write is refused unless --force (then they are kept as .orig).
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import config, gotool
from ..atomic import write_bytes
from ..errors import SelectionError
from . import kit
from .detect import PURE_GO, Facts, Role, detect, service_name
from .names import check_name

DEFAULT_PLATFORMS = ("linux/amd64", "linux/arm64")
HOST_PLATFORM = "linux/amd64"
GITIGNORE_LINES = ("/bin/", "/.build/", "/.nox/", "/.venv/", "__pycache__/", "*.egg-info/")
# What each variant adds to its binaries (the overhead budgets adopt writes) and the probe it ships.
OVERHEAD_MB = {"alpine": 9.0, "distroless": 3.0, "scratch": 0.5}
PROBE_MB = 1.3
_MB = 1_000_000

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


@dataclass
class Adopted:
    root: Path
    module: str
    name: str
    facts: Facts
    binaries: list[dict[str, Any]]
    version_package: str
    created_version_package: bool
    gitignore_added: list[str]
    kit: kit.FileOutcome
    budgets: dict[str, Any]
    tidy: dict[str, str]
    notes: list[str] = field(default_factory=list)   # what the user should confirm


def _version_package(root: Path, facts: Facts) -> str | None:
    """The first package named version (as `go list` found them) that declares Version."""
    for folder in facts.version_dirs:
        text = "".join(f.read_text(errors="replace") for f in folder.glob("*.go") if not f.name.endswith("_test.go"))
        if re.search(r"\bVersion\b", text):
            return "./" + folder.resolve().relative_to(root.resolve()).as_posix()
    return None


def _measure(root: Path, facts: Facts, main: str) -> tuple[int | None, str]:
    """Build the service for linux/amd64 as the release profile would; its size, or None and why not."""
    env = {**os.environ, "GOOS": "linux", "GOARCH": "amd64", "CGO_ENABLED": "1" if facts.cgo else "0",
           "GOFLAGS": "-buildvcs=false -mod=readonly"}
    ldflags = "-s -w" + (" -linkmode external -extldflags=-static" if facts.cgo else "")
    with tempfile.TemporaryDirectory(prefix="adopt-size-") as tmp:
        out = Path(tmp) / "service"
        proc = gotool.run(root, "build", "-trimpath", "-ldflags", ldflags, "-o", str(out), main, env=env,
                          timeout=1800)
        if proc.returncode != 0:
            return None, proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "go build failed"
        return out.stat().st_size, ""


def _tidy(root: Path) -> dict[str, str]:
    """build.tidy as adopt writes it: "error" when go.mod/go.sum are tidy, "warn" (with the size) when not."""
    from ..build.preflight import tidy_summary

    proc = gotool.run(root, "mod", "tidy", "-diff", env={**os.environ, "GOFLAGS": "-mod=mod"}, timeout=900)
    if proc.returncode == 0:
        return {"mode": "error", "why": "go.mod and go.sum are tidy now: a build stops when they drift"}
    summary = tidy_summary(proc.stdout)
    return {"mode": "warn", "why": f"not tidy when adopted ({summary}): run `go mod tidy`, commit, then set error"}


def _mb(n: float) -> str:
    return f"{math.ceil(n)}MB"


# The zone files the scratch and alpine variants get with service.tzdata (distroless has them already).
TZDATA_MB = {"alpine": 0.6, "distroless": 0.0, "scratch": 0.6}


def _budgets(size: int | None, why_not: str, tzdata: bool) -> dict[str, Any]:
    if size is None:
        return {"binary": "20MB", "alpine": "30MB", "distroless": "24MB", "scratch": "22MB",
                **{f"{v}_overhead": f"{o + (TZDATA_MB[v] if tzdata else 0.0):g}MB" for v, o in OVERHEAD_MB.items()},
                "why": f"defaults: the service did not build for linux/amd64 ({why_not}); set these from "
                       "`invoke image.check` once it does"}
    binary = size / _MB
    out: dict[str, Any] = {"binary": _mb(binary * 1.1)}
    for variant, overhead in OVERHEAD_MB.items():
        extra = overhead + (TZDATA_MB[variant] if tzdata else 0.0)
        out[variant] = _mb(binary + PROBE_MB + extra)
        out[f"{variant}_overhead"] = f"{extra:g}MB"
    out["why"] = (f"from the service measured at {binary:.2f} MB (linux/amd64, stripped) + the health probe "
                  f"({PROBE_MB} MB) + each variant's overhead")
    return out


def _binaries(facts: Facts, platforms: tuple[str, ...]) -> list[dict[str, Any]]:
    out = []
    for m in facts.mains:
        # Tools run on the developer's machine; a cgo service cannot be cross-compiled without a C cross toolchain.
        host_only = m.role is Role.TOOL or bool(facts.cgo)
        out.append({"name": m.name, "main": "./" + m.rel if m.rel != "." else "./.", "role": m.role, "why": m.why,
                    "platforms": [HOST_PLATFORM] if host_only and platforms != (HOST_PLATFORM,) else None})
    return out


def port_choice(facts: Facts) -> dict[str, Any]:
    if facts.port:
        return {"value": facts.port.value, "why": f"seen at {facts.port.where}"}
    if facts.port_from_env:
        return {"value": 8080, "why": f"read from ${facts.port_from_env.value} ({facts.port_from_env.where}); "
                                      "the images set it to this port"}
    return {"value": 8080, "why": "check: no listen address was seen in the code"}


def _health(facts: Facts) -> dict[str, Any]:
    if facts.health:
        return {"value": facts.health.value, "why": f"GET route at {facts.health.where}"}
    routes = ", ".join(str(r.value) for r in facts.routes[:5]) or "none"
    return {"value": "null", "why": f"no health route seen (GET routes: {routes}); the probe checks that the "
                                    "port accepts connections; add a route answering 200 and name it here"}


def render(name: str, facts: Facts, binaries: list[dict[str, Any]], version_package: str,
           platforms: tuple[str, ...], budgets: dict[str, Any], tidy: dict[str, str]) -> str:
    import jinja2  # only adopt renders this template

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(Path(__file__).with_name("files"))),
                             keep_trailing_newline=True, undefined=jinja2.StrictUndefined, autoescape=False)
    assert facts.service is not None
    service = next(b for b in binaries if b["name"] == facts.service.name)
    return env.get_template("build.yaml.j2").render(
        name=name, facts=facts, binaries=binaries, version_package=version_package, platforms=platforms,
        service=service, port=port_choice(facts), health=_health(facts), budgets=budgets, tidy=tidy)


def _notes(facts: Facts) -> list[str]:
    notes = []
    if facts.cgo:
        replacements = [f"{p} -> {PURE_GO[k]}" for p in facts.cgo for k in PURE_GO if p == k or p.startswith(k + "/")]
        notes.append(f"cgo: {', '.join(facts.cgo)} need{'s' if len(facts.cgo) == 1 else ''} cgo, so the release "
                     "profile builds with cgo: true (never a stub without it) for linux/amd64 only"
                     + (f"; a pure-Go replacement would allow every platform: {'; '.join(replacements)}"
                        if replacements else ""))
    if not facts.port:
        port = port_choice(facts)
        notes.append(f"port: {port['value']}, {port['why']}")
    if not facts.health:
        notes.append("health: " + _health(facts)["why"])
    if not facts.files:
        notes.append("files: no file of the repository read at run time was seen; list any under service.files")
    return notes


def adopt(root: Path, kit_root: Path, name: str | None = None, *, force: bool = False,
          platforms: tuple[str, ...] = DEFAULT_PLATFORMS) -> Adopted:
    root = root.resolve()
    if not root.is_dir():
        raise SelectionError(f"--dest {root} is not a directory; name the Go repository to adopt the kit into")
    target = root / config.CONFIG_NAME
    if target.exists() and not force:
        raise SelectionError(f"{target} already exists; edit it, or pass --force to write a new one over it "
                             "(the old one is kept as build.yaml.orig)")
    if target.exists() and (root / f"{config.CONFIG_NAME}.orig").exists():
        raise SelectionError(f"{root / (config.CONFIG_NAME + '.orig')} exists already and --force would keep the "
                             "current build.yaml there; move one of them away first (nothing was written)")
    facts = detect(root)
    module = facts.module
    if not facts.mains:
        raise SelectionError(
            f"no main package in {root} (`go list ./...` found {facts.package_count} package(s), none named main); "
            "a binary needs a `package main` with a func main, e.g. cmd/server/main.go")
    if facts.service is None:
        shown = ", ".join(f"{m.rel} ({m.why})" for m in facts.mains)
        raise SelectionError(f"no main package serves HTTP outside the tool folders: {shown}; the kit ships a "
                             "service that imports gin or net/http")
    if name is None:
        name = service_name(module)
        if name is None:
            raise SelectionError(f'no service name can be made from the module path "{module}"; pass --name NAME')
    check_name(name)
    if facts.service.rel == "." and facts.service.name != name:
        facts.service.name = name
    if facts.cgo:
        platforms = (HOST_PLATFORM,)
    binaries = _binaries(facts, platforms)
    version_package = _version_package(root, facts)
    created = False
    vfile = root / "internal" / "version" / "version.go"
    if version_package is None:
        version_package = "./internal/version"
        if vfile.exists():
            raise SelectionError(f"{vfile} exists but is not a package named version declaring Version")
        write_bytes(vfile, VERSION_GO.encode())
        created = True
    try:
        size, why_not = _measure(root, facts, next(b["main"] for b in binaries if b["name"] == facts.service.name))
        budgets = _budgets(size, why_not, facts.tzdata is not None)
        tidy = _tidy(root)
        text = render(name, facts, binaries, version_package, platforms, budgets, tidy)
        # Validate before it replaces anything: load a temporary copy next to the real file.
        probe = root / f".{config.CONFIG_NAME}.adopt-{os.getpid()}"
        try:
            probe.write_text(text)
            config.load(probe)
        finally:
            probe.unlink(missing_ok=True)
        outcome = kit.install(kit_root, root, force=force)
    except BaseException:
        if created:
            vfile.unlink(missing_ok=True)
            for folder in (vfile.parent, vfile.parent.parent):
                with contextlib.suppress(OSError):
                    folder.rmdir()  # only when empty: it was made here
        raise
    if target.exists():
        os.replace(target, root / f"{config.CONFIG_NAME}.orig")
        outcome.backups.append(f"{config.CONFIG_NAME}.orig")
    write_bytes(target, text.encode())
    added = _extend_gitignore(root)
    notes = _notes(facts) + ([f"tidy: {tidy['why']}"] if tidy["mode"] != "error" else [])
    return Adopted(root, module, name, facts, binaries, version_package, created, added, outcome, budgets, tidy,
                   notes)


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

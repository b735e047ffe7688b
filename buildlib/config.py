"""build.yaml: the one declarative description of the project.

``load()`` returns a ``Project``; every mistake in the file is a ``ConfigError``
that names ``build.yaml:LINE``, the key and what is allowed. A new section is a
new ``Record`` in ``SCHEMA`` plus its dataclass.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .errors import ConfigError, SelectionError
from .platforms import KNOWN_PLATFORMS
from .schema import (
    SECTION_DEFAULTS,
    Bool,
    Field,
    ListOf,
    MapOf,
    Nullable,
    OneOf,
    Record,
    Schema,
    Source,
    Str,
    load_document,
)
from .sections import SECTIONS

CONFIG_NAME = "build.yaml"
# Parsing is slow in pure Python (a 25 MB file took 68 s): anything this big is not a build.yaml.
MAX_CONFIG_BYTES = 1024 * 1024


_REL_PATH = r"(?!/)(?!.*(^|/)\.\.(/|$))[A-Za-z0-9_./-]+"
_REL_PATH_HELP = "a relative path inside the repository (no leading '/', no '..')"
_ENV_NAME = r"[A-Z_][A-Z0-9_]*"


MAX_JOBS = 256
JOBS_RULE = f"an integer from 1 to {MAX_JOBS}, or auto"


def jobs_value(value: object) -> int | str:
    """The one rule for build.jobs and ``--jobs``: 1 to MAX_JOBS steps at once, or "auto".

    Raises ValueError; each caller says where the value came from.
    """
    text = str(value).strip().lower()
    if text == "auto":
        return "auto"
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= MAX_JOBS:
        raise ValueError(f'"{value}" is not {JOBS_RULE}')
    return int(text)


def parse_jobs(value: object) -> int | str:
    """``--jobs``: the rule of build.jobs (``jobs_value``); anything else is an error, never a hang."""
    try:
        return jobs_value(value)
    except ValueError as exc:
        raise SelectionError(f"--jobs {exc}") from exc


class Jobs(Schema):
    """build.jobs, validated by ``jobs_value`` like the command line's --jobs."""

    what = JOBS_RULE

    def load(self, node: yaml.Node, key: str, src: Source) -> int | str:
        if not isinstance(node, yaml.ScalarNode) or node.tag not in (
            "tag:yaml.org,2002:int", "tag:yaml.org,2002:str"
        ):
            raise self.wrong_type(node, key, src)
        try:
            return jobs_value(node.value)
        except ValueError as exc:
            raise src.error(key, str(exc), node.start_mark.line + 1 if node.start_mark else None) from exc


@dataclass(frozen=True)
class ProjectInfo:
    name: str
    version: str
    version_package: str


@dataclass(frozen=True)
class Binary:
    name: str
    main: str
    platforms: tuple[str, ...] | None


@dataclass(frozen=True)
class Profile:
    name: str
    cgo: bool
    trimpath: bool
    strip: bool
    gcflags: str
    ldflags: str
    tags: tuple[str, ...]
    env: dict[str, str]

    def go_env(self) -> dict[str, str]:
        """The environment this profile adds to every ``go`` command it runs."""
        return {"CGO_ENABLED": "1" if self.cgo else "0", **self.env}


@dataclass(frozen=True)
class BuildSettings:
    out_dir: str
    jobs: int | str
    profile: str
    secrets_allow: list[str] = field(default_factory=list)  # embedded files the secret scan lets through
    tidy: str = "error"  # go.mod/go.sum not tidy: "error" stops the build, "warn" says so, "off" skips the check


@dataclass(frozen=True)
class CacheSettings:
    gocache: str | None
    gomodcache: str | None


@dataclass
class Project:
    """The validated build.yaml, plus where it lives."""

    root: Path
    source: Source
    project: ProjectInfo
    binaries: dict[str, Binary]
    platforms: tuple[str, ...]
    profiles: dict[str, Profile]
    build: BuildSettings
    cache: CacheSettings
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def path(self) -> Path:
        return Path(self.source.path)

    def error(self, key: str, problem: str) -> ConfigError:
        """A ConfigError pointing at ``key``'s line in build.yaml."""
        return self.source.error(key, problem)

    def profile(self, name: str | None = None) -> Profile:
        name = name or self.build.profile
        if name not in self.profiles:
            from .errors import SelectionError

            raise SelectionError(
                f'unknown profile "{name}"; known profiles: {", ".join(sorted(self.profiles))}'
            )
        return self.profiles[name]

    def platforms_of(self, binary: Binary) -> tuple[str, ...]:
        return binary.platforms if binary.platforms is not None else self.platforms

    def out_path(self) -> Path:
        return self.root / self.build.out_dir


def _allow_glob(value: str) -> str | None:
    """A build.secrets_allow entry: a glob of embedded files, from the repository root."""
    if not value.strip():
        return "is empty; name the fixture's file or directory, e.g. web/static/fixtures/*"
    if value.startswith("/") or ".." in value.split("/"):
        return "must be a path from the repository root (no leading '/', no '..'), e.g. web/static/fixtures/*"
    if not value.strip("*?[]/ "):
        return "would allow every embedded file; name the fixture's file or directory, e.g. web/static/fixtures/*"
    return None


# What the preflight does when go.mod/go.sum do not match the imports.
TIDY_MODES = ("error", "warn", "off")
_PLATFORM = Str(choices=KNOWN_PLATFORMS, what="a platform GOOS/GOARCH")
_PLATFORMS = ListOf(_PLATFORM, min_len=1)

_BINARY = Record(
    cls=dict,
    fields={
        "main": Field(Str(pattern=r"\./" + _REL_PATH, pattern_help="a package path like ./cmd/server")),
        "platforms": Field(Nullable(_PLATFORMS), default=None),
    },
)

_PROFILE = Record(
    cls=dict,
    fields={
        "cgo": Field(Bool(), default=False),
        "trimpath": Field(Bool(), default=True),
        "strip": Field(Bool(), default=True),
        "gcflags": Field(Str(), default=""),
        "ldflags": Field(Str(), default=""),
        "tags": Field(ListOf(Str(pattern=r"[A-Za-z0-9_.]+", pattern_help="a build tag")), factory=list),
        "env": Field(
            MapOf(Str(), key_pattern=_ENV_NAME, key_help="an environment variable name (A-Z, 0-9, _)"),
            factory=dict,
        ),
    },
)

_DEFAULT_PROFILES = {
    "release": {
        "cgo": False, "trimpath": True, "strip": True, "gcflags": "", "ldflags": "",
        "tags": [], "env": {"GOFLAGS": "-buildvcs=false -mod=readonly"},
    },
}

SCHEMA = Record(
    cls=dict,
    fields={
        "project": Field(
            Record(
                cls=dict,
                fields={
                    "name": Field(
                        Str(
                            pattern=r"[a-z][a-z0-9-]{0,62}",
                            pattern_help="a lower-case name (a-z, 0-9, '-'), starting with a letter",
                        )
                    ),
                    "version": Field(Str(), default="auto"),
                    "version_package": Field(
                        Str(pattern=r"\./" + _REL_PATH, pattern_help="a package path like ./internal/version"),
                        default="./internal/version",
                    ),
                },
            )
        ),
        "binaries": Field(MapOf(_BINARY, min_len=1)),
        "platforms": Field(_PLATFORMS, factory=lambda: ["linux/amd64"]),
        "profiles": Field(MapOf(_PROFILE, min_len=1), factory=lambda: dict(_DEFAULT_PROFILES)),
        "build": Field(
            Record(
                cls=dict,
                fields={
                    "out_dir": Field(Str(pattern=_REL_PATH, pattern_help=_REL_PATH_HELP), default="bin"),
                    "jobs": Field(Jobs(), default="auto"),
                    "profile": Field(Str(), default="release"),
                    "secrets_allow": Field(ListOf(Str(check=_allow_glob)), factory=list),
                    # YAML reads a bare `off` as false: both mean "off".
                    "tidy": Field(OneOf((Str(choices=TIDY_MODES), Bool()), what="error, warn or off"),
                                  default="error"),
                },
            ),
            default=SECTION_DEFAULTS,
        ),
        "cache": Field(
            Record(
                cls=dict,
                fields={
                    "gocache": Field(Nullable(Str()), default=None),
                    "gomodcache": Field(Nullable(Str()), default=None),
                },
            ),
            default=SECTION_DEFAULTS,
        ),
        # The feature sections (deploy, images, ...): buildlib/sections, one module each.
        **SECTIONS,
    },
)


def _tidy_mode(value: str | bool) -> str:
    if isinstance(value, bool):
        return "error" if value else "off"
    return value


def _build(raw: dict[str, Any], root: Path, src: Source) -> Project:
    p = raw["project"]
    binaries = {
        name: Binary(
            name=name,
            main=b["main"],
            platforms=tuple(b["platforms"]) if b["platforms"] is not None else None,
        )
        for name, b in raw["binaries"].items()
    }
    profiles = {
        name: Profile(name=name, **{**pr, "tags": tuple(pr["tags"]), "env": dict(pr["env"])})
        for name, pr in raw["profiles"].items()
    }
    project = Project(
        root=root,
        source=src,
        project=ProjectInfo(p["name"], p["version"], p["version_package"]),
        binaries=binaries,
        platforms=tuple(raw["platforms"]),
        profiles=profiles,
        build=BuildSettings(**{**raw["build"], "tidy": _tidy_mode(raw["build"]["tidy"])}),
        cache=CacheSettings(**raw["cache"]),
        extra={k: raw[k] for k in SECTIONS if k in raw},
    )
    _check_references(project, root)
    return project


def _check_references(project: Project, root: Path) -> None:
    """Checks that need more than one key, or the file system."""
    src = project.source
    if project.build.profile not in project.profiles:
        raise src.error(
            "build.profile",
            f'"{project.build.profile}" is not a profile in this file; '
            f'defined profiles: {", ".join(sorted(project.profiles))}',
        )
    for name, binary in project.binaries.items():
        pkg = root / binary.main
        if not pkg.is_dir():
            raise src.error(
                f"binaries.{name}.main",
                f'"{binary.main}" is not a directory under {root}; point it at a main package such as ./cmd/{name}',
            )
    vpkg = root / project.project.version_package
    if not vpkg.is_dir():
        raise src.error(
            "project.version_package",
            f'"{project.project.version_package}" is not a directory under {root}; '
            "it names the package whose Version, Commit and Date are set at link time",
        )
    for name, prof in project.profiles.items():
        if "CGO_ENABLED" in prof.env:
            raise src.error(
                f"profiles.{name}.env.CGO_ENABLED",
                "set cgo: true or false in the profile instead, so there is one place that decides it",
            )


def find_config(start: Path | None = None) -> Path:
    """The build.yaml in ``start`` or the nearest parent directory."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / CONFIG_NAME
        if candidate.is_file():
            return candidate
    raise ConfigError(str(here / CONFIG_NAME), None, "", "not found here or in any parent directory; "
                      "run from the repository root, or copy build.yaml from the template")


def load(path: str | os.PathLike[str] | None = None) -> Project:
    """Read and validate build.yaml (found from the current directory by default)."""
    cfg = Path(path) if path is not None else find_config()
    display = os.path.relpath(cfg) if not os.path.relpath(cfg).startswith("..") else str(cfg)
    raw, src = load_document(read_text(cfg, display), display, SCHEMA)
    if raw is None:
        raise ConfigError(display, 1, "", "the file is empty (or only comments); it needs at least project "
                          "and binaries: copy build.yaml from the template and edit it")
    return _build(raw, cfg.resolve().parent, src)


def read_text(path: Path, display: str, limit: int = MAX_CONFIG_BYTES) -> str:
    """The file's text, refused at once when it is too big to be a config or is not UTF-8."""
    try:
        with path.open("rb") as f:
            # One byte more than allowed tells "too big" without reading a huge file whole.
            data = f.read(limit + 1)
    except OSError as exc:
        raise ConfigError(display, None, "", f"cannot read: {exc.strerror}; check that it is a readable "
                          "file") from exc
    if len(data) > limit:
        raise ConfigError(display, None, "", f"is larger than {limit // 1024 // 1024} MB; a build.yaml is a few "
                          "KB, so this is not one: point at the project's build.yaml")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ConfigError(display, line, "", f"not UTF-8 text (byte 0x{data[exc.start]:02x}); save the file "
                          "as UTF-8") from exc


def parse_platform(text: str) -> tuple[str, str]:
    goos, _, goarch = text.partition("/")
    return goos, goarch


def go_module_path(root: Path) -> str:
    """The module path declared in ``root/go.mod``."""
    gomod = root / "go.mod"
    try:
        text = gomod.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(str(gomod), None, "", f"cannot read: {exc.strerror}; is this a Go module?") from exc
    m = re.search(r"^module\s+(\S+)", text, re.M)
    if not m:
        raise ConfigError(str(gomod), None, "module", "no module line; run `go mod init MODULE`")
    return m.group(1).strip('"')

"""The `service:` section: the application as it runs (binary, port, health route, files)."""

from __future__ import annotations

import posixpath

from ..schema import SECTION_DEFAULTS, Bool, Field, Int, ListOf, Nullable, Record, Str

# The image path of every binary the images run; the health probe sits beside it.
BIN_DIR = "usr/local/bin"
PROBE = "kit-probe"


def _relative_path(value: str) -> str | None:
    """A path inside the working directory: relative, normalised, never climbing out."""
    if value.startswith("/"):
        return "must be relative to the working directory (no leading /)"
    norm = posixpath.normpath(value)
    if norm in (".", "") or norm.startswith(".."):
        return "must name a file or directory inside the working directory (not . or ..)"
    if norm != value.rstrip("/"):
        return f'write it as "{norm}"'
    return None


def _health_path(value: str) -> str | None:
    if not value.startswith("/") or any(c.isspace() for c in value):
        return 'must be a URL path starting with "/", without spaces, e.g. /healthz'
    return None


def _workdir(value: str) -> str | None:
    if not value.startswith("/") or posixpath.normpath(value) != value or value == "/":
        return "must be an absolute, normalised directory other than /, e.g. /app"
    return None


_REL = Str(check=_relative_path, what="a relative path")

SECTION = Field(
    Record(
        cls=dict,
        fields={
            "binary": Field(Nullable(Str()), default=None),
            "port": Field(Int(min=1, max=65535, what="a TCP port (1-65535)"), default=8080),
            # The environment variable the app reads its port from (null: the port is fixed in its
            # code or config): two instances on two ports need it (deploy's hardened profile).
            "port_env": Field(Nullable(Str(pattern=r"[A-Z_][A-Z0-9_]*", pattern_help="an environment variable "
                                           "name like PORT")), default="PORT"),
            # Accepts its listener from systemd (LISTEN_FDS, fd 3): deploy's strict profile needs it.
            "socket_activation": Field(Bool(), default=False),
            "health": Field(Nullable(Str(check=_health_path)), default="/healthz"),
            "args": Field(ListOf(Str()), factory=list),
            "workdir": Field(Str(check=_workdir), default="/app"),
            "files": Field(ListOf(_REL), factory=list),
            "writable": Field(ListOf(_REL), factory=list),
            "tzdata": Field(Bool(), default=False),
        },
    ),
    default=SECTION_DEFAULTS,
)

"""Which docker client can build with BuildKit, and whether an engine answers.

Clients differ: a docker CLI with the buildx plugin builds with
`docker buildx build --load` (and honours a remote builder chosen with
`docker buildx use`); a client older than 23.0 has BuildKit built in and uses
it under DOCKER_BUILDKIT=1; a newer client without buildx cannot build with
BuildKit at all. Several clients may be on PATH, so each is asked, in PATH
order, and the first that can build wins. DOCKER_HOST, DOCKER_CONTEXT and
BUILDX_BUILDER reach the chosen client unchanged, so a remote engine or a
shared builder needs no change here.
"""

from __future__ import annotations

import functools
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import tools
from ..errors import ToolError
from .errors import NoEngine

# A client path to use instead of searching PATH (e.g. a buildx-enabled one elsewhere).
OVERRIDE_ENV = "BUILDLIB_DOCKER"
_PROBE_TIMEOUT = 20


@dataclass(frozen=True)
class DockerCLI:
    """A docker client able to build with BuildKit."""

    path: str
    version: str
    buildx: bool

    @property
    def how(self) -> str:
        return "docker buildx build --load" if self.buildx else "DOCKER_BUILDKIT=1 docker build (built-in BuildKit)"

    def env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        env = {**os.environ, **(extra or {})}
        if not self.buildx:
            env["DOCKER_BUILDKIT"] = "1"
        return env

    def build_argv(self) -> list[str]:
        """The command that starts a BuildKit build whose result lands in the engine's image store."""
        return [self.path, "buildx", "build", "--load"] if self.buildx else [self.path, "build"]

    def run(self, *args: str, input: bytes | None = None, timeout: float | None = 600,
            check: bool = True, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
        """Run ``docker ARGS`` (with ``env`` added); a failure is a ToolError quoting docker's own words."""
        return tools.run([self.path, *args], input=input, env=self.env(env), timeout=timeout, check=check,
                         text=False)

    def json(self, *args: str) -> Any:
        import json

        return json.loads(self.run(*args).stdout)


def _text(data: bytes | None) -> str:
    return (data or b"").decode("utf-8", "replace").strip()


def _candidates() -> list[str]:
    override = os.environ.get(OVERRIDE_ENV)
    if override:
        return [override]
    seen: set[str] = set()
    found: list[str] = []
    for folder in os.environ.get("PATH", "").split(os.pathsep):
        path = Path(folder or ".") / "docker"
        if path.is_file() and os.access(path, os.X_OK):
            real = str(path.resolve())
            if real not in seen:
                seen.add(real)
                found.append(str(path))
    return found


def _probe(path: str) -> tuple[DockerCLI | None, str]:
    """Can this client build with BuildKit? Returns the client, or why not."""
    try:
        bx = tools.run([path, "buildx", "version"], timeout=_PROBE_TIMEOUT, check=False, text=False)
        ver = tools.run([path, "--version"], timeout=_PROBE_TIMEOUT, check=False, text=False)
    except ToolError as exc:
        return None, f"{path}: {exc}"
    m = re.search(r"version (\d+)\.(\d+)[^\s,]*", _text(ver.stdout))
    version = m.group(0).split()[1] if m else "unknown"
    if bx.returncode == 0:
        return DockerCLI(path, version, buildx=True), ""
    # From 23.0 on `docker build` is a buildx alias; before it BuildKit is built in.
    if m and int(m.group(1)) < 23:
        return DockerCLI(path, version, buildx=False), ""
    return None, f"{path}: client {version} has no buildx plugin, and since 23.0 BuildKit needs it"


@functools.cache
def cli() -> DockerCLI:
    """The first docker client on PATH that can build with BuildKit."""
    reasons = []
    for path in _candidates():
        found, why = _probe(path)
        if found:
            return found
        reasons.append(why)
    if not reasons:
        raise ToolError("no `docker` client on PATH; install Docker (Debian: apt-get install docker.io)")
    raise ToolError(
        "no docker client here can build with BuildKit:\n  " + "\n  ".join(reasons) + "\n"
        "Install the buildx plugin (Debian: apt-get install docker-buildx), or put a client that has it "
        f"first on PATH, or name one in {OVERRIDE_ENV}=/path/to/docker"
    )


def where(client: DockerCLI | None = None) -> str:
    """Where the client looks for its engine: DOCKER_HOST, the context's endpoint, or the local socket."""
    if os.environ.get("DOCKER_HOST"):
        return os.environ["DOCKER_HOST"]
    client = client or cli()
    ctx = client.run("context", "inspect", "--format", "{{.Endpoints.docker.Host}}", timeout=_PROBE_TIMEOUT,
                     check=False)
    host = _text(ctx.stdout)
    return host if ctx.returncode == 0 and host else "unix:///var/run/docker.sock"


@functools.cache
def require_engine() -> str:
    """The engine's version; NoEngine naming where the client looked, and how to start one."""
    client = cli()
    try:
        proc = client.run("version", "--format", "{{.Server.Version}}", timeout=_PROBE_TIMEOUT, check=False)
    except ToolError as exc:  # it ran past the timeout: an engine that does not answer
        raise NoEngine(where(client), f"no answer within {_PROBE_TIMEOUT}s") from exc
    version = _text(proc.stdout)
    if proc.returncode != 0 or not version:
        detail = _text(proc.stderr).splitlines()
        raise NoEngine(where(client), detail[-1] if detail else f"exit status {proc.returncode}")
    return version


def sdk() -> Any:
    """A Docker SDK client of the same engine (inspect, run, remove; it cannot build with BuildKit)."""
    import docker

    require_engine()
    host = where()
    try:
        client = docker.DockerClient(base_url=host, timeout=300, use_ssh_client=host.startswith("ssh://"))
        client.ping()
    except Exception as exc:  # noqa: BLE001 - any failure here means the same to the user
        raise NoEngine(host, str(exc)) from exc
    return client

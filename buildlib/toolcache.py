"""Tools built from the Go module proxy with ``go install``, kept per version between runs.

nfpm (and later the registry, buildx and the peers of the benchmark) are Go
programs; ``go install MODULE/cmd@VERSION`` builds the exact version anywhere Go
and the module proxy are, with no download site or package of its own. Each
version gets its own GOBIN under the tools directory, so a second run (or a
second CI run on the same machine) finds the binary and starts nothing.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from . import procs
from .errors import ToolError

TOOLS_ENV = "BUILDLIB_TOOLS"  # where the binaries go; default ~/.cache/buildlib/tools
INSTALL_TIMEOUT_S = 1800


@dataclass(frozen=True)
class GoProgram:
    """A command a Go module builds: ``package`` at ``version`` gives the binary ``name``."""

    name: str
    package: str
    version: str

    @property
    def spec(self) -> str:
        return f"{self.package}@{self.version}"


NFPM = GoProgram("nfpm", "github.com/goreleaser/nfpm/v2/cmd/nfpm", "v2.45.2")


def tools_dir(environ: dict[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    if env.get(TOOLS_ENV):
        return Path(env[TOOLS_ENV])
    cache = env.get("XDG_CACHE_HOME") or os.path.join(env.get("HOME", "/"), ".cache")
    return Path(cache) / "buildlib" / "tools"


def ensure(tool: GoProgram, environ: dict[str, str] | None = None, echo=None) -> Path:
    """The path of ``tool``'s binary, built with ``go install`` the first time it is asked for.

    A lock per version keeps two runs from building it into the same place at once.
    """
    from filelock import FileLock

    env = dict(os.environ if environ is None else environ)
    gobin = tools_dir(env) / f"{tool.name}@{tool.version}"
    binary = gobin / tool.name
    if binary.is_file() and os.access(binary, os.X_OK):
        return binary
    gobin.mkdir(parents=True, exist_ok=True)
    with FileLock(str(gobin) + ".lock"):
        if binary.is_file():
            return binary
        go = shutil.which("go", path=env.get("PATH"))
        if go is None:
            raise ToolError(f"{tool.name} is built with `go install {tool.spec}`, and there is no `go` on PATH; "
                            f"install Go, or put a {tool.name} binary at {binary}")
        if echo:
            echo(f"building {tool.name} {tool.version} (go install {tool.spec}), once per machine")
        # Outside the project's module, so its go.mod and GOFLAGS (-mod=readonly) play no part.
        env.update(GOBIN=str(gobin), GOFLAGS="", GOWORK="off")
        proc = procs.run([go, "install", tool.spec], cwd=gobin, env=env, timeout=INSTALL_TIMEOUT_S,
                         merge_stderr=True, go_tmp=False)
        if proc.returncode != 0 or not binary.is_file():
            tail = "\n".join(proc.stdout.strip().splitlines()[-15:])
            raise ToolError(f"`go install {tool.spec}` failed (exit {proc.returncode}); it needs the Go module "
                            f"proxy (go env GOPROXY) or a module cache that holds it:\n{tail}")
    return binary

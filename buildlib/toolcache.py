"""Tools built from the Go module proxy with ``go install``, kept per version between runs.

nfpm, the registry, buildx and buildkitd (and the peers of the benchmark) are
Go programs; ``go install MODULE/cmd@VERSION`` builds the exact version
anywhere Go and the module proxy are, with no download site or package of its
own. Each version gets its own GOBIN under the tools directory, so a second run
(or a second CI run on the same machine) finds the binary and starts nothing.

``go install pkg@version`` refuses a module whose go.mod has replace or
exclude directives (buildkit's has). Such a program is built the way its own
users vendor it: from a small module of ours that requires it, where those
directives play no part.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from . import gotool
from .errors import ToolError

TOOLS_ENV = "BUILDLIB_TOOLS"  # where the binaries go; default ~/.cache/buildlib/tools
INSTALL_TIMEOUT_S = 1800


@dataclass(frozen=True)
class GoProgram:
    """A command a Go module builds: ``package`` at ``version`` gives the binary ``name``."""

    name: str
    package: str
    version: str
    # Set: build from a wrapper module that requires this module at ``version``.
    wrap: str | None = None

    @property
    def spec(self) -> str:
        return f"{self.package}@{self.version}"


NFPM = GoProgram("nfpm", "github.com/goreleaser/nfpm/v2/cmd/nfpm", "v2.45.2")
# The CNCF distribution registry: a real registry the image tests push to on 127.0.0.1.
REGISTRY = GoProgram("registry", "github.com/distribution/distribution/v3/cmd/registry", "v3.1.2")
# The docker CLI plugin users' clients carry; Debian's 20.10 client has none.
BUILDX = GoProgram("buildx", "github.com/docker/buildx/cmd/buildx", "v0.38.2")
# A peer `invoke bench` measures the no-op against: Task, whose up-to-date check hashes its sources.
TASK = GoProgram("task", "github.com/go-task/task/v3/cmd/task", "v3.54.0")
# The bench's release-builder peer: GoReleaser's `build` of the same matrix, one go build per target.
GORELEASER = GoProgram("goreleaser", "github.com/goreleaser/goreleaser/v2", "v2.17.0")
# The bench's image peer: ko, which builds a Go binary into an image on a base without a Dockerfile.
KO = GoProgram("ko", "github.com/google/ko", "v0.19.1")
# A BuildKit daemon of its own: the shared, remote builder teams run.
BUILDKITD = GoProgram("buildkitd", "github.com/moby/buildkit/cmd/buildkitd", "v0.34.2", wrap="github.com/moby/buildkit")


def tools_dir(environ: dict[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    if env.get(TOOLS_ENV):
        return Path(env[TOOLS_ENV])
    cache = env.get("XDG_CACHE_HOME") or os.path.join(env.get("HOME", "/"), ".cache")
    return Path(cache) / "buildlib" / "tools"


def _binary(tool: GoProgram, environ: dict[str, str]) -> Path:
    return tools_dir(environ) / f"{tool.name}@{tool.version}" / tool.name


def installed(tool: GoProgram, environ: dict[str, str] | None = None) -> Path | None:
    """``tool``'s binary when this machine's tool cache holds it; None otherwise (nothing is built)."""
    binary = _binary(tool, dict(os.environ if environ is None else environ))
    return binary if binary.is_file() and os.access(binary, os.X_OK) else None


def ensure(tool: GoProgram, environ: dict[str, str] | None = None, echo=None) -> Path:
    """The path of ``tool``'s binary, built with ``go install`` the first time it is asked for.

    A lock per version keeps two runs from building it into the same place at once.
    """
    from filelock import FileLock

    env = dict(os.environ if environ is None else environ)
    found = installed(tool, env)
    if found is not None:
        return found
    binary = _binary(tool, env)
    gobin = binary.parent
    gobin.mkdir(parents=True, exist_ok=True)
    with FileLock(str(gobin) + ".lock"):
        if binary.is_file():
            return binary
        go = shutil.which("go", path=env.get("PATH"))
        if go is None:
            raise ToolError(f"{tool.name} is built with `go install {tool.spec}`, and there is no `go` on PATH; "
                            f"install Go, or put a {tool.name} binary at {binary}")
        if echo:
            how = f"go build in a module that requires {tool.wrap}" if tool.wrap else f"go install {tool.spec}"
            echo(f"building {tool.name} {tool.version} ({how}), once per machine")
        # Outside the project's module, so its go.mod and GOFLAGS (-mod=readonly) play no part.
        env.update(GOBIN=str(gobin), GOFLAGS="", GOWORK="off")
        steps = _wrapped(tool, gobin, binary) if tool.wrap else [(gobin, ["install", tool.spec])]
        hint = (f"building {tool.name} {tool.version} needs the Go module proxy (go env GOPROXY) or a module "
                "cache that holds it")
        for cwd, args in steps:
            gotool.run(cwd, *args, env=env, go=go, timeout=INSTALL_TIMEOUT_S, merge_stderr=True, check=True,
                       hint=hint)
        if not binary.is_file():
            raise ToolError(f"`go {' '.join(args)}` succeeded but wrote no {binary}", hint=hint)
    return binary


def _wrapped(tool: GoProgram, gobin: Path, binary: Path) -> list[tuple[Path, list[str]]]:
    """The commands that build ``tool`` inside a module of ours that requires it."""
    src = gobin / "src"
    src.mkdir(exist_ok=True)
    (src / "go.mod").write_text(f"module buildlib.local/tools/{tool.name}\n\ngo 1.22\n")
    return [(src, ["get", f"{tool.package}@{tool.version}"]),
            (src, ["build", "-trimpath", "-o", str(binary), tool.package])]

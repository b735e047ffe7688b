"""The Go toolchain: where it is, which version it is, and what go.mod asks for.

Starting ``go`` costs tens of milliseconds, which the no-op build cannot
afford, so what ``go env`` reports is remembered together with a fingerprint
of everything that could change its answer (the binary, the GO* environment,
the go env files, go.mod). Only a changed fingerprint starts ``go`` again.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import ToolError

if TYPE_CHECKING:
    from .config import Project

# What a build needs from `go env`; asking for names keeps the answer small.
_ENV_NAMES = ("GOVERSION", "GOROOT", "GOCACHE", "GOMODCACHE", "GOHOSTOS", "GOHOSTARCH", "GOENV",
              "GOCACHEPROG", "GOFLAGS", "GOTOOLCHAIN")


@dataclass(frozen=True)
class GoTool:
    path: str
    version: str           # "go1.26.8", as `go env GOVERSION` says
    env: dict[str, str]    # the _ENV_NAMES answers

    @property
    def goroot(self) -> str:
        return self.env.get("GOROOT", "")


def required_version(root: Path) -> str | None:
    """The version on go.mod's ``go`` line (``toolchain`` wins when it is newer)."""
    try:
        text = (root / "go.mod").read_text(encoding="utf-8")
    except OSError:
        return None
    go = re.search(r"^go\s+(\S+)", text, re.M)
    chain = re.search(r"^toolchain\s+go(\S+)", text, re.M)
    need = go.group(1) if go else None
    if chain and (need is None or version_tuple(chain.group(1)) > version_tuple(need)):
        need = chain.group(1)
    return need


def version_tuple(text: str) -> tuple[int, ...]:
    """"go1.26.8" or "1.26" or "go1.27rc1" -> comparable numbers (a release candidate sorts first)."""
    m = re.match(r"(?:go)?(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:(rc|beta)(\d+))?", text.strip())
    if not m:
        return ()
    major, minor, patch = (int(m.group(i) or 0) for i in (1, 2, 3))
    pre = (0 if m.group(4) == "beta" else 1, int(m.group(5))) if m.group(4) else (2, 0)
    return (major, minor, patch, *pre)


def find_go(root: Path) -> str:
    """The ``go`` on PATH, or a ToolError saying which Go this module needs."""
    found = shutil.which("go")
    if found is None:
        need = required_version(root)
        want = f"Go {need} or newer (go.mod's go line)" if need else "Go"
        raise ToolError(f"no `go` on PATH; this module needs {want}: install it from the Go downloads page "
                        "and put its bin directory (e.g. /usr/local/go/bin) on PATH")
    return found


def cache_env(project: Project, environ: Mapping[str, str]) -> dict[str, str]:
    """build.yaml's cache locations (cache.gocache, cache.gomodcache) that ``environ`` does not set.

    The environment wins over build.yaml, as it does over Go's own default: a CI job or the
    benchmark points GOCACHE somewhere without editing the file.
    """
    return {name: str((project.root / os.path.expanduser(value)).resolve())
            for name, value in (("GOCACHE", project.cache.gocache), ("GOMODCACHE", project.cache.gomodcache))
            if value and name not in environ}


def project_env(project: Project) -> dict[str, str]:
    """The environment of the project's own go commands outside a build (the debt scan): this
    process's, with build.yaml's cache locations."""
    return {**os.environ, **cache_env(project, os.environ)}


def run(root: Path, *args: str, env: Mapping[str, str] | None = None, go: str | None = None,
        timeout: float = 900, check: bool = False, hint: str = "", cancel: threading.Event | None = None,
        go_tmp: bool = False, merge_stderr: bool = False) -> subprocess.CompletedProcess[str]:
    """The one way to run ``go ARGS`` in ``root``: through ``procs`` (stopped with the task, never left
    running), output captured as text, failures worded as every tool's (``tools``).

    ``env`` is the whole environment: ``project_env`` outside a build, ``Recipe.env`` inside one; this
    process's when not given (a project whose build.yaml does not exist yet). ``go`` is the toolchain a
    build already found; otherwise the one on PATH, or a ToolError saying which one to install.
    """
    from . import procs

    argv = [go or find_go(root), *args]
    return procs.run(argv, root, dict(os.environ if env is None else env), cancel=cancel, timeout=timeout,
                     merge_stderr=merge_stderr, go_tmp=go_tmp, check=check, hint=hint)


def _env_files(environ: dict[str, str]) -> list[str]:
    """The files `go env` reads besides the environment: the user's go/env and $GOROOT/go.env."""
    files = []
    user = environ.get("GOENV")
    if user is None:
        base = environ.get("XDG_CONFIG_HOME") or os.path.join(environ.get("HOME", "/"), ".config")
        user = os.path.join(base, "go", "env")
    if user != "off":
        files.append(user)
    return files


def _stat_sig(path: str) -> list[int]:
    try:
        st = os.stat(path)
    except OSError:
        return [0, 0, 0]
    return [st.st_ino, st.st_mtime_ns, st.st_size]


def fingerprint(go: str, root: Path, environ: dict[str, str]) -> str:
    """What `go env`'s answer depends on; equal fingerprints mean the remembered answer holds."""
    real = os.path.realpath(go)
    parts: dict[str, Any] = {
        "go": [real, _stat_sig(real)],
        "env": sorted((k, v) for k, v in environ.items() if k.startswith("GO")),
        "files": [(f, _stat_sig(f)) for f in _env_files(environ)],
        "gomod": _stat_sig(str(root / "go.mod")),
    }
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()


def probe(go: str, root: Path, environ: dict[str, str], memo: dict[str, Any] | None = None) -> GoTool:
    """What this ``go`` is; ``memo`` (persisted by the caller) saves starting it when nothing changed."""
    fp = fingerprint(go, root, environ)
    if memo and memo.get("fingerprint") == fp:
        return GoTool(path=go, version=memo["env"]["GOVERSION"], env=memo["env"])
    out = run(root, "env", "-json", *_ENV_NAMES, env=environ, go=go, timeout=120)
    if out.returncode != 0:
        # A Go older than go.mod's go line refuses to start in the module at all.
        too_old = re.search(r"requires go >= (\S+) \(running go (\S+?)[;)]", out.stderr)
        if too_old:
            raise ToolError(_too_old(go, too_old.group(1), "go" + too_old.group(2)))
        raise ToolError(f"`go env` failed in {root}:\n{out.stderr.strip()}")
    env = {k: v for k, v in json.loads(out.stdout).items() if isinstance(v, str)}
    if memo is not None:
        memo.clear()
        memo.update({"fingerprint": fp, "env": env})
    return GoTool(path=go, version=env.get("GOVERSION", "unknown"), env=env)


def _too_old(path: str, need: str, have: str) -> str:
    return (f"go.mod needs Go {need} or newer, but `go` on PATH ({path}) is {have}; "
            f"install Go {need}+ and put it first on PATH, or set GOTOOLCHAIN=auto so go fetches it")


def check_version(tool: GoTool, root: Path) -> None:
    """A ToolError when this Go is older than go.mod needs (development builds pass)."""
    need = required_version(root)
    have = version_tuple(tool.version)
    if need and have and have < version_tuple(need):
        raise ToolError(_too_old(tool.path, need, tool.version))

"""The peers `invoke bench` measures the kit against, each given a configuration equivalent to build.yaml's.

Task (taskfile.dev): one task per platform that runs the same ``go build`` as the
bench's own Go loop (same flags, stamp, environment), with the inputs the kit
recorded for those targets as its ``sources`` and the binaries as its
``generates``. Task then decides "up to date" by hashing those files, the way a
team's Taskfile would. A peer is measured only when it built the same bytes as
the kit for every target; one that is not installed is listed as not measured.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from . import state
from .errors import ToolError
from .keys import sha256_file
from .plan import Recipe
from .targets import Target
from .toolcache import TASK, installed

TASKFILE = "Taskfile.bench.yml"


def find_task(environ: dict[str, str] | None = None) -> Path | None:
    """Task on PATH, or the one the kit's tool cache holds; None when neither is there (it is never built here)."""
    env = os.environ if environ is None else environ
    found = shutil.which("task", path=env.get("PATH"))
    if found:
        return Path(found)
    return installed(TASK, env)


class TaskPeer:
    """A Taskfile for the matrix in ``work``, writing into ``out_dir``, and the ``task`` runs that use it."""

    def __init__(self, binary: Path, work: Path, recipe: Recipe, targets: list[Target], out_dir: str,
                 env: dict[str, str]) -> None:
        self.binary = binary
        self.work = work
        self.recipe = recipe
        self.targets = targets
        self.out_dir = out_dir
        self.env = env

    def _task_name(self, platform: str) -> str:
        return platform.replace("/", "_")

    def output(self, target: Target) -> Path:
        return self.work / target.out_rel(self.out_dir)

    def taskfile(self) -> dict[str, Any]:
        """The Taskfile, from the inputs the kit's last build recorded for each target (.build/build-state.json)."""
        recorded = state.load(self.work)["targets"]
        tasks: dict[str, Any] = {}
        for platform in sorted({t.platform for t in self.targets}):
            mine = [t for t in self.targets if t.platform == platform]
            missing = [t.id for t in mine if t.id not in recorded]
            if missing:
                raise ToolError(f"bench: no inputs recorded for {', '.join(missing)}; run invoke build first")
            sources = sorted({"go.mod", "go.sum", *(f for t in mine for f in recorded[t.id]["files"])})
            folder = str(Path(mine[0].out_rel(self.out_dir)).parent) + "/"
            argv = [self.recipe.go.path, "build", *self.recipe.flags(), "-o", folder,
                    *sorted({t.main for t in mine})]
            # Only what the recipe sets: the rest of the environment is the bench's, as for the Go loop.
            env = {k: v for k, v in self.recipe.env(platform).items() if self.env.get(k) != v}
            tasks[self._task_name(platform)] = {
                "desc": f"go build for {platform}",
                "sources": sources,
                "generates": [str(self.output(t).relative_to(self.work)) for t in mine],
                "env": env,
                "cmds": [" ".join(shlex.quote(a) for a in argv)],
            }
        tasks["default"] = {"deps": [n for n in tasks]}
        return {"version": "3", "tasks": tasks}

    def write(self) -> Path:
        path = self.work / TASKFILE
        path.write_text(yaml.safe_dump(self.taskfile(), sort_keys=False))
        return path

    def runner(self) -> Callable[[], None]:
        def run() -> None:
            done = subprocess.run([str(self.binary), "--taskfile", TASKFILE], cwd=self.work, env=self.env,
                                  capture_output=True, text=True)
            if done.returncode != 0:
                raise ToolError(f"bench: task failed (exit {done.returncode}):\n{done.stdout}{done.stderr}")
        return run

    def check_identical(self, expected: dict[str, str]) -> None:
        """Every target Task built has the sha256 the kit's manifest gives it; else no time is reported."""
        for t in self.targets:
            got = sha256_file(self.output(t)) if self.output(t).is_file() else "missing"
            if got != expected.get(t.id):
                raise ToolError(f"bench: task built {t.id} as {got}, the kit as {expected.get(t.id)}: "
                                "the configurations are not equivalent, so no time is reported")

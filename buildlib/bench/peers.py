"""The peers `invoke bench` measures the kit against, each given a configuration equivalent to build.yaml's.

Task (taskfile.dev): one task per platform that runs the same ``go build`` as the
bench's own Go loop (same flags, stamp, environment), with the inputs the kit
recorded for those targets as its ``sources`` and the binaries as its
``generates``. Task then decides "up to date" by hashing those files, the way a
team's Taskfile would.

GoReleaser (``goreleaser build --snapshot``): one build per target with the
recipe's flags, ldflags and environment, GOARM pinned to Go's own default (7;
GoReleaser's is 6), writing into the kit's layout (``DIR/GOOS_GOARCH/NAME``).
It has no up-to-date check of its own: every run is a ``go build`` of each
target, on Go's cache.

A peer is measured only when it built the same bytes as the kit for every
target; one that is not installed is listed as not measured, never faked.
"""

from __future__ import annotations

import os
import shlex
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import yaml

from .. import tools
from ..build import state
from ..build.keys import sha256_file
from ..build.plan import Recipe
from ..build.targets import Target
from ..errors import ToolError
from ..toolcache import GORELEASER, TASK, GoProgram, installed

GO_DEFAULT_GOARM = "7"  # what Go builds linux/arm for when GOARM is unset


def find(tool: GoProgram, environ: dict[str, str] | None = None) -> Path | None:
    """``tool`` on PATH, or the one the kit's tool cache holds; None when neither is there (it is never built here)."""
    env = os.environ if environ is None else environ
    found = shutil.which(tool.name, path=env.get("PATH"))
    if found:
        return Path(found)
    return installed(tool, env)


class Peer:
    """A peer's configuration for the matrix in ``work``, writing into ``out_dir``, and the runs that use it."""

    tool: ClassVar[GoProgram]
    config_name: ClassVar[str]

    def __init__(self, binary: Path, work: Path, recipe: Recipe, targets: list[Target], out_dir: str,
                 env: dict[str, str]) -> None:
        self.binary = binary
        self.work = work
        self.recipe = recipe
        self.targets = targets
        self.out_dir = out_dir
        self.env = env

    @property
    def name(self) -> str:
        return self.tool.name

    def output(self, target: Target) -> Path:
        return self.work / target.out_rel(self.out_dir)

    def recipe_env(self, platform: str) -> dict[str, str]:
        return recipe_env(self.recipe, platform, self.env)

    def config(self) -> dict[str, Any]:
        raise NotImplementedError

    def argv(self) -> list[str]:
        raise NotImplementedError

    def write(self) -> Path:
        path = self.work / self.config_name
        path.write_text(yaml.safe_dump(self.config(), sort_keys=False))
        return path

    def clean(self, state_too: bool = True) -> None:
        """The peer's outputs removed (and, with ``state_too``, what it remembers of earlier runs)."""
        shutil.rmtree(self.work / self.out_dir, ignore_errors=True)

    def runner(self) -> Callable[[], None]:
        argv = self.argv()

        def run() -> None:
            tools.run(argv, cwd=self.work, env=self.env, timeout=None, merge_stderr=True,
                      hint=f"the bench stopped at {self.name}")
        return run

    def check_identical(self, expected: dict[str, str]) -> None:
        """Every target the peer built has the sha256 the kit's manifest gives it; else no time is reported."""
        for t in self.targets:
            got = sha256_file(self.output(t)) if self.output(t).is_file() else "missing"
            if got != expected.get(t.id):
                raise ToolError(f"bench: {self.name} built {t.id} as {got}, the kit as {expected.get(t.id)}: "
                                "the configurations are not equivalent, so no time is reported")


class TaskPeer(Peer):
    tool = TASK
    config_name = "Taskfile.bench.yml"

    def config(self) -> dict[str, Any]:
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
            tasks[platform.replace("/", "_")] = {
                "desc": f"go build for {platform}",
                "sources": sources,
                "generates": [str(self.output(t).relative_to(self.work)) for t in mine],
                "env": self.recipe_env(platform),
                "cmds": [" ".join(shlex.quote(a) for a in argv)],
            }
        tasks["default"] = {"deps": [n for n in tasks]}
        return {"version": "3", "tasks": tasks}

    def argv(self) -> list[str]:
        return [str(self.binary), "--taskfile", self.config_name]

    def clean(self, state_too: bool = True) -> None:
        super().clean(state_too)
        if state_too:
            shutil.rmtree(self.work / ".task", ignore_errors=True)  # Task's checksums of the sources


class GoReleaserPeer(Peer):
    tool = GORELEASER
    config_name = ".goreleaser.bench.yaml"

    def __init__(self, *args: Any, parallelism: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.parallelism = parallelism

    def config(self) -> dict[str, Any]:
        literal, ldflags = templated_flags(self.recipe)
        builds = []
        for t in self.targets:
            env = {k: v for k, v in self.recipe_env(t.platform).items() if k not in ("GOOS", "GOARCH")}
            builds.append({
                "id": f"{t.binary}-{t.goos}-{t.goarch}",
                "main": t.main,
                # GoReleaser adds .exe for windows itself; no_unique_dist_dir keeps the kit's layout.
                "binary": f"{t.goos}_{t.goarch}/{t.binary}",
                "no_unique_dist_dir": True,
                "goos": [t.goos],
                "goarch": [t.goarch],
                "goarm": [GO_DEFAULT_GOARM],
                "gobinary": self.recipe.go.path,
                "flags": list(literal),
                "ldflags": list(ldflags),
                "env": [f"{k}={v}" for k, v in sorted(env.items())],
            })
        return {"version": 2, "project_name": self.recipe.project.project.name, "dist": self.out_dir,
                "builds": builds}

    def argv(self) -> list[str]:
        return [str(self.binary), "build", "--snapshot", "--clean", "--skip=validate,before",
                "--config", self.config_name, "--parallelism", str(self.parallelism)]


def recipe_env(recipe: Recipe, platform: str, env: dict[str, str]) -> dict[str, str]:
    """What the recipe sets for ``platform`` beyond ``env``, the bench's own environment the peer inherits."""
    return {k: v for k, v in recipe.env(platform).items() if env.get(k) != v}


def templated_flags(recipe: Recipe) -> tuple[list[str], list[str]]:
    """The recipe's go build flags and its ldflags, apart, for a peer that expands Go templates in both
    (GoReleaser, ko): a literal "{{" is written so that it reaches go build as it is."""
    def literal(text: str) -> str:
        return text.replace("{{", '{{ "{{" }}') if "{{" in text else text

    flags = recipe.flags()
    return ([literal(f) for f in flags if not f.startswith("-ldflags=")],
            [literal(f.removeprefix("-ldflags=")) for f in flags if f.startswith("-ldflags=")])

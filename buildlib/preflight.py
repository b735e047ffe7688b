"""Checks before any compile: modules downloaded once, go.mod/go.sum tidy, module cache verified.

Each failure says what is wrong and which command fixes it. A check whose
inputs have not changed since it last passed (recorded in the build state)
is not run again: ``go mod verify`` hashes every module and costs a second.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from typing import Any

from . import procs
from .errors import BuildlibError
from .inputs import module_go_files
from .keys import digest


class PreflightError(BuildlibError):
    """go.mod, go.sum or the module cache is not in a state to build from."""


@dataclass
class StepNote:
    note: str = ""


def _go(ctx: Any, *args: str) -> subprocess.CompletedProcess[str]:
    recipe = ctx.recipe
    env = recipe.env(recipe.project.platforms[0])
    # Through procs: stopped with the build, and never left running after it (see procs).
    return procs.run([recipe.go.path, *args], recipe.root, env, cancel=ctx.cancel, timeout=1800)


def _modcache_sig(path: str) -> list[int]:
    """Identity of the module cache: removing it (go clean -modcache) changes this."""
    try:
        st = os.stat(os.path.join(path, "cache", "download"))
    except OSError:
        return [0, 0]
    return [st.st_dev, st.st_ino]


class Check:
    """A preflight step that is skipped while its recorded key still matches."""

    name = ""
    label = ""
    deps: tuple[str, ...] = ()
    silent = False

    def key(self, ctx: Any) -> str:
        raise NotImplementedError

    def check(self, ctx: Any) -> None:
        raise NotImplementedError

    def run(self, ctx: Any) -> StepNote:
        key = self.key(ctx)
        if not ctx.force and ctx.checks_before.get(self.name) == key:
            return StepNote(" - passed before, inputs unchanged")
        self.check(ctx)
        ctx.checks_passed[self.name] = key
        return StepNote()


class DownloadModules(Check):
    name = "modules"
    label = "download modules (go mod download)"
    weight = 3

    def key(self, ctx: Any) -> str:
        modcache = ctx.recipe.gomodcache()
        return digest([ctx.hashes.get("go.mod"), ctx.hashes.get("go.sum"), modcache, _modcache_sig(modcache)])

    def check(self, ctx: Any) -> None:
        out = _go(ctx, "mod", "download")
        if out.returncode != 0:
            raise PreflightError(
                f"`go mod download` failed:\n{out.stderr.strip()}\n"
                "Check the network or GOPROXY, or fix go.mod (go mod tidy) and run again.")

    def run(self, ctx: Any) -> StepNote:
        note = super().run(ctx)
        # The download changed the module cache's identity if it created it: record the final one.
        ctx.checks_passed[self.name] = self.key(ctx)
        return note


class TidyCheck(Check):
    """go.mod and go.sum list exactly what the code imports (`go mod tidy -diff` is empty)."""

    name = "tidy"
    label = "check go.mod/go.sum are tidy (go mod tidy -diff)"
    deps = ("modules",)
    weight = 2

    def key(self, ctx: Any) -> str:
        # Tidiness depends on go.mod, go.sum and the imports of every .go file of the module.
        root = ctx.recipe.root
        skip = {ctx.recipe.project.build.out_dir, "vendor", "node_modules"}
        files = module_go_files(root, skip)
        return digest([ctx.hashes.get("go.mod"), ctx.hashes.get("go.sum"), ctx.recipe.go.version,
                       sorted(ctx.hashes.many(files).items())])

    def check(self, ctx: Any) -> None:
        out = _go(ctx, "mod", "tidy", "-diff")
        if out.returncode != 0:
            diff = out.stdout.strip() or out.stderr.strip()
            lines = diff.splitlines()
            if len(lines) > 40:
                diff = "\n".join(lines[:40]) + f"\n... ({len(lines) - 40} more lines)"
            raise PreflightError(
                "go.mod/go.sum are not tidy (they do not match the imports):\n"
                f"{diff}\nRun `go mod tidy` and commit go.mod and go.sum.")

class VerifyModules(Check):
    """The downloaded modules are the ones go.sum names (`go mod verify`)."""

    name = "verify"
    label = "verify module cache (go mod verify)"
    deps = ("modules",)
    weight = 3  # the slowest check: start it first
    light = True  # runs beside the compiles (which wait for it only to install), without taking a slot

    def key(self, ctx: Any) -> str:
        modcache = ctx.recipe.gomodcache()
        return digest([ctx.hashes.get("go.sum"), modcache, _modcache_sig(modcache)])

    def check(self, ctx: Any) -> None:
        out = _go(ctx, "mod", "verify")
        if out.returncode != 0:
            raise PreflightError(
                f"`go mod verify` failed: the module cache does not match go.sum:\n"
                f"{(out.stdout + out.stderr).strip()}\n"
                "Run `go clean -modcache` and build again to download clean copies.")


def steps() -> list[Check]:
    return [DownloadModules(), TidyCheck(), VerifyModules()]

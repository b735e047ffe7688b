"""Decide, per target, whether it must be built, and why; the ``go`` flags and environment it gets.

The decision needs no ``go`` when nothing changed: the key is recomputed from
the inputs recorded last time (hashes remembered by inode/mtime/size), and the
recorded directory listings tell whether that list of inputs can still be
trusted. Only a target that looks stale has its inputs listed again (one
``go list`` per platform, the ``ListPackages`` step), which may still show it
up to date, e.g. after a file was touched but not changed.
"""

from __future__ import annotations

import os
import re
import subprocess
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import gotool
from ..config import Profile, Project, go_module_path
from ..errors import BuildlibError
from ..gotool import GoTool, cache_env
from .inputs import Inputs, list_packages, listing_change, target_inputs
from .keys import FileHashes, env_for_key, explain, target_key
from .results import PlatformListing
from .stamp import Stamp
from .step import Step
from .targets import Target

if TYPE_CHECKING:
    from .builder import Context


def _quote(value: str) -> str:
    """Quote a -X value the way Go splits -ldflags: in ' or " quotes, which it cannot escape."""
    if not re.search(r"[\s'\"]", value):
        return value
    if "'" in value and '"' in value:
        raise BuildlibError(f"cannot stamp {value!r}: Go's -ldflags cannot quote a value with both ' and \"")
    return f'"{value}"' if "'" in value else f"'{value}'"


def profile_flags(profile: Profile) -> list[str]:
    """A profile's ``go build`` flags, without the version stamp (kept apart so --explain can tell them apart)."""
    flags = ["-trimpath"] if profile.trimpath else []
    if profile.tags:
        flags.append("-tags=" + ",".join(profile.tags))
    if profile.gcflags:
        flags.append("-gcflags=" + profile.gcflags)
    ld = (["-s", "-w"] if profile.strip else []) + ([profile.ldflags] if profile.ldflags else [])
    if ld:
        flags.append("-ldflags=" + " ".join(ld))
    return flags


def stamp_flags(project: Project, stamp: Stamp) -> list[str]:
    pkg = f"{go_module_path(project.root)}/{project.project.version_package.removeprefix('./')}"
    return [f"-X {pkg}.{name}={_quote(value)}" for name, value in
            (("Version", stamp.version), ("Commit", stamp.commit), ("Date", stamp.date))]


def build_flags(project: Project, profile: Profile, stamp: Stamp, extra_ldflags: str = "") -> list[str]:
    """The ``go build`` flags that decide the output (not -p, -v or -o): the one recipe that
    ``invoke build``, the images' compile stage and the benchmark's peers all compile with.
    ``extra_ldflags`` go last (an image's static link of a cgo binary)."""
    flags = [f for f in profile_flags(profile) if not f.startswith("-ldflags=")]
    ld = ((["-s", "-w"] if profile.strip else []) + stamp_flags(project, stamp)
          + ([profile.ldflags] if profile.ldflags else []) + ([extra_ldflags] if extra_ldflags else []))
    return [*flags, "-ldflags=" + " ".join(ld)]


@dataclass(frozen=True)
class Recipe:
    """Everything about *how* to build that is shared by all targets of one run."""

    project: Project
    profile: Profile
    stamp: Stamp
    go: GoTool
    base_env: dict[str, str]

    @property
    def root(self) -> Path:
        return self.project.root

    def profile_flags(self) -> list[str]:
        return profile_flags(self.profile)

    def flags(self) -> list[str]:
        """The ``go build`` flags that decide the output (not -p, -v or -o)."""
        return build_flags(self.project, self.profile, self.stamp)

    def list_flags(self) -> list[str]:
        """The flags that change which files a package has (build tags)."""
        return [f for f in self.profile_flags() if f.startswith("-tags=")]

    def env(self, platform: str) -> dict[str, str]:
        goos, _, goarch = platform.partition("/")
        return {**self.base_env, **self.profile.go_env(), "GOOS": goos, "GOARCH": goarch,
                **cache_env(self.project, self.base_env)}

    def go_run(self, platform: str | None, *args: str, cancel: threading.Event | None = None,
               timeout: float | None = None, merge_stderr: bool = False, check: bool = False, hint: str = ""
               ) -> subprocess.CompletedProcess[str]:
        """``go ARGS`` with this run's toolchain and environment for ``platform`` (the first of the
        matrix when None), in a GOTMPDIR of its own; stopped when ``cancel`` is set."""
        env = self.env(platform or self.project.platforms[0])
        return gotool.run(self.root, *args, env=env, go=self.go.path, timeout=timeout, check=check, hint=hint,
                          cancel=cancel, go_tmp=True, merge_stderr=merge_stderr)

    def gomodcache(self) -> str:
        return self.env(self.project.platforms[0]).get("GOMODCACHE") or self.go.env.get("GOMODCACHE", "")

    def parts(self, target: Target, hashes: FileHashes) -> dict[str, Any]:
        """The settings part of a target's key (its files are the other part)."""
        return {
            "go": self.go.version, "platform": target.platform, "main": target.main,
            "flags": self.profile_flags(), "stamp": self.stamp.as_dict(),
            "env": env_for_key(self.env(target.platform)),
            "go.mod": hashes.get("go.mod"), "go.sum": hashes.get("go.sum"),
        }


@dataclass
class Plan:
    """One target's decision: its key, whether it must be built, and the reasons."""

    target: Target
    parts: dict[str, Any]
    old: dict[str, Any] | None
    inputs: Inputs | None = None
    files: dict[str, str | None] = field(default_factory=dict)
    ignored: dict[str, str | None] = field(default_factory=dict)
    packages: list[str] = field(default_factory=list)
    key: str | None = None
    stale: bool = True
    needs_list: bool = True
    reasons: list[str] = field(default_factory=list)
    output_sig: list[int] | None = None

    @property
    def id(self) -> str:
        return self.target.id


def output_state(path: Path, old: dict[str, Any] | None) -> tuple[str | None, list[int] | None]:
    """Whether the binary on disk is the one recorded: (problem or None, its inode/mtime/size)."""
    try:
        st = os.stat(path)
    except OSError:
        return "output missing", None
    sig = [st.st_ino, st.st_mtime_ns, st.st_size]
    if not old or "output" not in old:
        return "no earlier build recorded", sig
    if sig == old["output"].get("sig"):
        return None, sig
    from .keys import sha256_file

    if sha256_file(path) != old["output"].get("sha256"):
        return "output changed on disk since it was built", sig
    return None, sig


def plan_target(target: Target, recipe: Recipe, old: dict[str, Any] | None, hashes: FileHashes,
                force: bool) -> Plan:
    """Decide from what was recorded last time, without running ``go``."""
    plan = Plan(target=target, parts=recipe.parts(target, hashes), old=old)
    if not old or "inputs" not in old:
        plan.reasons = ["no earlier build recorded"]
        return plan
    plan.inputs = Inputs.from_json(old["inputs"])
    plan.packages = list(old.get("packages", []))
    plan.files = hashes.many(plan.inputs.files)
    plan.ignored = hashes.many(plan.inputs.ignored)
    plan.key = target_key(plan.parts, plan.files)
    moved = listing_change(recipe.root, plan.inputs)
    if moved is None and plan.ignored != old.get("ignored", {}):
        changed = sorted(f for f in plan.ignored if plan.ignored[f] != old.get("ignored", {}).get(f))
        moved = f"{changed[0] if changed else 'a file left out by build constraints'} changed"
    settings_only = {k for k in plan.parts if plan.parts[k] != old.get("parts", {}).get(k)} <= {"stamp"}
    plan.needs_list = moved is not None or plan.files != old.get("files") or not settings_only
    if plan.key != old.get("key") or moved:
        plan.reasons = ([moved] if moved else []) + (explain(old, plan.parts, plan.files)
                                                     if plan.key != old.get("key") else [])
        return plan
    problem, plan.output_sig = output_state(recipe.root / target.out_rel(recipe.project.build.out_dir), old)
    plan.stale = force or problem is not None
    plan.reasons = ["--force"] if force else ([problem] if problem else ["up to date"])
    return plan


def refresh(plan: Plan, recipe: Recipe, pkgs: list[dict[str, Any]], hashes: FileHashes, force: bool) -> Plan:
    """The plan decided again from a fresh ``go list`` (the inputs may have changed, or not at all): a
    new Plan, ``plan`` is left as it was."""
    inputs = target_inputs(pkgs, recipe.root / plan.target.main, recipe.root, recipe.gomodcache())
    files = hashes.many(inputs.files)
    key = target_key(plan.parts, files)
    by_dir = {os.path.realpath(p.get("Dir", "")): p for p in pkgs}
    main = by_dir.get(os.path.realpath(recipe.root / plan.target.main), {})
    new = replace(plan, inputs=inputs, files=files, ignored=hashes.many(inputs.ignored), key=key,
                  packages=sorted({main.get("ImportPath", ""), *main.get("Deps", [])} - {""}), needs_list=False)
    if plan.old and key == plan.old.get("key") and not force:
        problem, sig = output_state(recipe.root / plan.target.out_rel(recipe.project.build.out_dir), plan.old)
        return replace(new, output_sig=sig, stale=problem is not None,
                       reasons=[problem] if problem else ["up to date (listed again: same inputs)"])
    if plan.old and plan.old.get("key") != key:
        return replace(new, reasons=explain(plan.old, plan.parts, files))
    return new


class ListPackages(Step):
    """``go list -deps`` for one platform, then each of its plans is decided again (returned, not written)."""

    def __init__(self, platform: str, plans: list[Plan], deps: tuple[str, ...]) -> None:
        self.platform = platform
        self.plans = plans
        self.name = f"list {platform}"
        self.label = f"list packages {platform}"
        self.deps = deps
        self.silent = True
        self.weight = 1

    def run(self, ctx: Context) -> PlatformListing:
        recipe = ctx.recipe
        mains = sorted({p.target.main for p in self.plans})
        pkgs = list_packages(recipe, self.platform, mains, ctx.cancel)
        return PlatformListing(self.platform, frozenset(mains), tuple(pkgs),
                               tuple(refresh(plan, recipe, pkgs, ctx.hashes, ctx.force) for plan in self.plans))

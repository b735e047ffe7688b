"""The compile step: one ``go build`` for one or more targets of a platform, installed atomically.

``go build`` writes into a fresh temporary directory next to the outputs; each
binary is then renamed over the old one. A failed or killed build therefore
leaves the previous good binary in place, never a truncated one. Targets are
locked while they are built, and checked again once the lock is held, so a
target another run has just built is not built twice.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from .. import procs
from ..atomic import fsync_dir
from ..errors import BuildlibError
from . import state
from .keys import sha256_file
from .plan import Plan, output_state
from .results import CompileResult, Installed
from .step import Step
from .targets import Target

if TYPE_CHECKING:
    from .builder import Context

TMP_PREFIX = procs.TMP_PREFIX


class CompileError(BuildlibError):
    """``go build`` failed; the message carries Go's own file:line diagnostics."""

    def __init__(self, binaries: str, platform: str, diagnostics: str) -> None:
        self.binaries = binaries
        self.platform = platform
        self.diagnostics = diagnostics
        super().__init__(f"go build failed for {binaries} ({platform}); the previous binaries are untouched:\n"
                         f"{diagnostics}")


def lock_name(target: Target) -> str:
    return f"target-{target.binary}@{target.goos}_{target.goarch}"


def output_name(target: Target, module: str) -> str:
    """The file name ``go build -o DIR/`` gives a main package: its last path element (not a /vN)."""
    parts = target.main.rstrip("/").split("/")
    name = parts[-1]
    if re.fullmatch(r"v\d+", name) and len(parts) > 1 and parts[-2] not in (".", ""):
        name = parts[-2]
    if name == ".":
        name = module.rsplit("/", 1)[-1]
    return name + (".exe" if target.goos == "windows" else "")


def clean_stale_temps(out_platform_dir: Path) -> None:
    """Remove temporary build directories left by runs that no longer exist (killed ones)."""
    procs.clean_stale([out_platform_dir])


def _diagnostics(stderr: str, packages: set[str]) -> tuple[str, int]:
    """Split ``go build -v`` output into Go's messages and the count of packages it compiled."""
    keep, compiled = [], 0
    for line in stderr.splitlines():
        bare = line.strip()
        if bare in packages or (not packages and re.fullmatch(r"[\w.\-~/]+", bare) and "/" in bare):
            compiled += 1
        else:
            keep.append(line)
    return "\n".join(keep).strip(), compiled


class Compile(Step):
    """Build the stale targets of one platform with one ``go build``."""

    def __init__(self, platform: str, plans: list[Plan], deps: tuple[str, ...], after: tuple[str, ...] = (),
                 gate: tuple[str, ...] = ()) -> None:
        self.platform = platform
        self.plans = plans
        self.after = after
        self.gate = gate  # steps that run beside the compile and must pass before its outputs are installed
        self.deps = deps + after
        ids = ", ".join(p.target.binary for p in plans)
        self.name = f"compile {platform}: {ids}" if after else (
            f"compile {platform}" if len(plans) > 1 else f"compile {plans[0].id}")
        self.label = f"build {platform}: {ids}"
        # The most work first, so the longest build does not start last: its packages when the state
        # knows them, else its binaries.
        self.weight = 10 + max(len(plans), len(set().union(*(p.packages for p in plans))))

    def run(self, ctx: Context) -> CompileResult:
        # Kept by the context from the start: a compile that fails or is stopped part-way still tells
        # the builder what it finished.
        result = ctx.begin(self.name, CompileResult())
        plans = ctx.final_plans(self.plans)  # as the listing of this platform decided them again
        todo = [p for p in plans if p.stale]
        result.skipped.extend(p for p in plans if not p.stale)
        if not todo:
            result.note = " - up to date after listing"
            return result
        with ctx.locks.hold_all([lock_name(p.target) for p in todo], lambda n: f"target {n[7:]}"):
            fresh = state.load(ctx.recipe.root)["targets"]
            for plan in list(todo):
                if ctx.force:
                    continue
                rec = fresh.get(plan.id)
                out = ctx.recipe.root / plan.target.out_rel(ctx.out_dir_rel)
                problem, sig = (output_state(out, rec) if rec and rec.get("key") == plan.key
                                else ("not built by another run", None))
                if not problem:
                    # Another run built it while this one waited for the lock.
                    todo.remove(plan)
                    result.skipped.append(replace(plan, output_sig=sig, stale=False, old=rec,
                                                  reasons=["built meanwhile by a concurrent run"]))
            if todo:
                self._build(ctx, todo, result)
        return result

    def _build(self, ctx: Context, todo: list[Plan], result: CompileResult) -> None:
        failed = self._go_build(ctx, todo, result)
        if failed and len(todo) > 1:
            # One broken binary must not cost the others their build, and each error should name
            # its own binary: build them one by one (the healthy ones only link, from the cache).
            failed = [f for plan in todo for f in self._go_build(ctx, [plan], result)]
        if failed:
            raise CompileError(", ".join(p.target.binary for p, _ in failed), self.platform,
                               "\n".join(dict.fromkeys(text for _, text in failed)))

    def _go_build(self, ctx: Context, todo: list[Plan], result: CompileResult) -> list[tuple[Plan, str]]:
        """One ``go build`` of ``todo`` into a temporary directory; install what it produced."""
        recipe = ctx.recipe
        out_dir = (recipe.root / todo[0].target.out_rel(ctx.out_dir_rel)).parent
        out_dir.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=procs.tmp_name() + "-", dir=out_dir))
        try:
            started = time.monotonic()
            done = recipe.go_run(self.platform, "build", f"-p={ctx.go_p}", "-v", *recipe.flags(), "-o",
                                 f"{tmp}{os.sep}", *sorted({p.target.main for p in todo}), cancel=ctx.cancel,
                                 merge_stderr=True)
            code, output = done.returncode, done.stdout
            duration = time.monotonic() - started
            result.duration += duration
            packages = set().union(*(p.packages for p in todo))
            text, compiled = _diagnostics(output, packages)
            result.compiled_packages += compiled
            result.needed_packages += len(packages)
            if code != 0:
                return [(p, text or f"go build exited with status {code}") for p in todo]
            ctx.wait_gate(self.gate)
            built = []
            for plan in todo:
                produced = tmp / output_name(plan.target, ctx.module)
                if not produced.is_file():
                    raise CompileError(plan.target.binary, self.platform,
                                       f"go build reported success but wrote no {produced.name}")
                with open(produced, "rb") as f:
                    os.fsync(f.fileno())  # the rename below must never expose a file still in the page cache only
                digest = sha256_file(produced)
                final = recipe.root / plan.target.out_rel(ctx.out_dir_rel)
                os.replace(produced, final)
                st = os.stat(final)
                result.installed[plan.id] = Installed(digest, st.st_size, round(duration, 3))
                built.append(replace(plan, output_sig=[st.st_ino, st.st_mtime_ns, st.st_size], old=None))
            fsync_dir(out_dir)
            ctx.record_built(built, result.installed, duration)
            result.built.extend(built)
            return []
        finally:
            shutil.rmtree(tmp, ignore_errors=True)



"""``invoke build``: plan every target, then run the steps that are needed as a bounded DAG.

    modules ──┬── tidy ────┬── compile linux/amd64 ──┬── record
              ├── verify ──┤── compile linux/arm64 ──┤
              └── list P ──┘── compile darwin/arm64 ─┘

Nothing of it runs when every target is up to date: the plan needs no ``go``,
so a no-op build costs a Python start, one YAML and one JSON file, a few git
calls and a stat per input file.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from .. import layout, procs
from ..config import Project, go_module_path, parse_jobs
from ..errors import Interrupted, OutputError
from ..gotool import check_version, find_go, probe
from ..locks import Locks
from ..progress import Display
from . import manifest, state
from .keys import FileHashes
from .plan import ListPackages, Plan, Recipe, plan_target
from .results import CheckPassed, CompileResult, Installed, PlatformListing
from .stamp import stamp
from .step import Step, StepStatus, TargetStatus
from .targets import Target, matrix, select

if TYPE_CHECKING:
    from . import scheduler
    from .machine import Capacity

# The scheduler, the preflight checks, the compile step and the machine probe are imported where a
# build has something to do: a no-op build (everything up to date) never loads them.

R = TypeVar("R")


@dataclass
class Options:
    only: str | None = None
    jobs: int | str | None = None     # None: build.yaml's build.jobs
    profile: str | None = None
    version: str | None = None
    force: bool = False
    explain: bool = False


@dataclass(frozen=True)
class Parallelism:
    jobs: int        # steps at once
    go_p: int        # `go build -p` of each compile
    why: str


def parallelism(requested: int | str, compiles: int, cap: Capacity) -> Parallelism:
    """How many steps run at once and how many packages each ``go build`` compiles at once.

    Every ``go build`` gets ``-p`` equal to the cores, so the scheduler is
    work-conserving: a build left running alone (the last platform, the big
    service) still uses every core, where a share of the cores fixed at its
    start (the earlier rule, cores / builds at once) left the others idle for
    the rest of its run. Builds running side by side oversubscribe the cores
    and the kernel shares them; that costs nothing in throughput and fills the
    moments where one ``go build`` waits on a single package or a link.
    "auto" runs one build more than there are cores, no more than memory
    allows (one GiB per compile or link that can run at once, ``-p`` of them
    per build). See the README for the measurements.
    """
    from .machine import memory_jobs

    actions = memory_jobs(cap)
    if requested == "auto":
        jobs = max(1, min(cap.cpus + 1, actions // cap.cpus))
        why = f"auto from {cap.why}"
    else:
        jobs = int(requested)
        why = f"--jobs {jobs}"
    concurrent = max(1, min(jobs, compiles))
    # Memory, not a share of the cores, is what may make -p smaller than the cores.
    go_p = max(1, min(cap.cpus, actions // concurrent))
    return Parallelism(jobs=jobs, go_p=go_p, why=f"{why}; {concurrent} go build(s) at once, each with -p {go_p}")


@dataclass
class TargetResult:
    target: Target
    status: TargetStatus
    reasons: list[str]
    duration: float = 0.0
    size: int | None = None
    previous_size: int | None = None
    sha256: str | None = None
    path: str = ""


@dataclass
class BuildResult:
    targets: list[TargetResult]
    errors: list[scheduler.StepFailed]
    wall: float
    parallelism: Parallelism | None
    stamp: dict[str, str]
    go_version: str
    steps: dict[str, scheduler.Outcome] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors


class Context:
    """What steps share: the recipe, caches, locks, and where results are recorded."""

    def __init__(self, recipe: Recipe, hashes: FileHashes, locks: Locks, display: Display, opts: Options,
                 checks_before: dict[str, str], targets_known: set[str]) -> None:
        self.recipe = recipe
        self.hashes = hashes
        self.locks = locks
        self.display = display
        self.force = opts.force
        self.cancel = threading.Event()
        self.out_dir_rel = recipe.project.build.out_dir
        self.module = go_module_path(recipe.root)
        self.go_p = 1
        self.checks_before = checks_before
        self.targets_known = targets_known
        self._lock = threading.Lock()
        self._gates: dict[str, threading.Event] = {}
        self._gate_ok: dict[str, bool] = {}
        self._results: dict[str, Any] = {}

    def step_finished(self, name: str, ok: bool, value: Any = None) -> None:
        """Called by the scheduler's ``finished`` event as each step ends, before its dependents start:
        keeps what the step returned (see ``result``) and releases the compiles waiting on it to install
        (see ``wait_gate``)."""
        with self._lock:
            self._gates.setdefault(name, threading.Event())
            self._gate_ok[name] = ok
            if ok:
                self._results[name] = value
        self._gates[name].set()

    def begin(self, name: str, result: R) -> R:
        """Keep ``result`` as the step ``name``'s from its start: a step that fills it as it goes (a
        compile) is read even when it fails or is stopped part-way."""
        with self._lock:
            self._results[name] = result
        return result

    def result(self, name: str, kind: type[R]) -> R | None:
        """What the step ``name`` returned when it succeeded, or what it began (``begin``) whatever its end,
        when that is a ``kind``; a step reads only its deps'."""
        with self._lock:
            value = self._results.get(name)
        return value if isinstance(value, kind) else None

    def _all(self, kind: type[R]) -> list[R]:
        with self._lock:
            return [v for v in self._results.values() if isinstance(v, kind)]

    def outputs(self) -> dict[str, Installed]:
        """The binaries this run installed and recorded in the state and the manifest, by target id."""
        return {p.id: r.installed[p.id] for r in self._all(CompileResult) for p in list(r.built)}

    def packages(self) -> dict[str, int]:
        """Go build cache figures: packages compiled (or linked) versus needed by the built targets."""
        compiles = self._all(CompileResult)
        return {"compiled": sum(r.compiled_packages for r in compiles),
                "needed": sum(r.needed_packages for r in compiles)}

    def final_plans(self, plans: list[Plan]) -> list[Plan]:
        """``plans`` as the steps left them: listed again, then built or found up to date by a compile."""
        latest: dict[str, Plan] = {}
        for listing in self._all(PlatformListing):
            latest.update((p.id, p) for p in listing.plans)
        for compiled in self._all(CompileResult):
            latest.update((p.id, p) for p in (*list(compiled.skipped), *list(compiled.built)))
        return [latest.get(p.id, p) for p in plans]

    def wait_gate(self, names: tuple[str, ...]) -> None:
        """Wait for the checks ``names`` that a compile ran beside; ``Blocked`` when one did not pass."""
        for name in names:
            with self._lock:
                event = self._gates.setdefault(name, threading.Event())
            while not event.wait(0.2):
                if self.cancel.is_set():
                    raise procs.Cancelled("stopped")
            if not self._gate_ok.get(name):
                from .scheduler import Blocked

                raise Blocked(f"not installed: {name} failed")

    def header(self) -> dict[str, Any]:
        r = self.recipe
        return {"project": r.project.project.name, **r.stamp.as_dict(), "profile": r.profile.name,
                "go_version": r.go.version}

    @staticmethod
    def _output(plan: Plan, installed: Installed | None) -> dict[str, Any]:
        """What is known of a target's binary: installed by this run, else as the state recorded it."""
        if installed is not None:
            return {"sha256": installed.sha256, "size": installed.size, "duration": installed.duration}
        return (plan.old or {}).get("output", {})

    def entry(self, plan: Plan, status: TargetStatus, duration: float,
              installed: Installed | None = None) -> dict[str, Any]:
        out = self._output(plan, installed)
        r = self.recipe
        return manifest.entry(
            binary=plan.target.binary, platform=plan.target.platform, rel_path=plan.target.out_rel(self.out_dir_rel),
            sha256=out.get("sha256", ""), size=out.get("size", 0), key=plan.key or "", duration=duration,
            status=status, go_version=r.go.version, flags=r.flags(), version=r.stamp.version, profile=r.profile.name)

    def state_record(self, plan: Plan, installed: Installed | None = None) -> dict[str, Any]:
        assert plan.inputs is not None and plan.key is not None
        out = self._output(plan, installed)
        return {"key": plan.key, "parts": plan.parts, "files": plan.files, "ignored": plan.ignored,
                "inputs": plan.inputs.to_json(), "packages": plan.packages,
                "output": {**out, "sig": plan.output_sig}}

    def record_built(self, plans: list[Plan], installed: dict[str, Installed], duration: float) -> None:
        """Record finished targets at once: a run killed later keeps what it completed."""
        try:
            state.record(self.recipe.root, self.locks,
                         targets={p.id: self.state_record(p, installed[p.id]) for p in plans},
                         out_dir=self.recipe.project.out_path(), header=self.header(),
                         entries={p.id: self.entry(p, TargetStatus.BUILT, duration, installed[p.id]) for p in plans},
                         known=self.targets_known)
        except OSError as exc:
            raise output_error(exc, self.recipe.root, recorded=False, what=self.records()) from exc

    def records(self) -> list[Path]:
        """The files a record writes: the build state and the manifest."""
        return [self.recipe.root / state.FILENAME, manifest.path(self.recipe.project.out_path())]


class RecordStep(Step):
    """Post step: record skipped targets, the passed checks and this run's figures."""

    name = "record"
    label = "record manifest and state"
    always = True
    silent = True

    def __init__(self, deps: tuple[str, ...], plans: list[Plan], go_memo: dict[str, Any],
                 checks: tuple[str, ...] = ()) -> None:
        self.deps = deps
        self.plans = plans
        self.go_memo = go_memo
        self.checks = checks  # the check steps whose passes are recorded (ancestors of ``deps``)

    def passed(self, ctx: Context) -> dict[str, str]:
        """The checks that passed in this run, with the key each passed for."""
        found = (ctx.result(name, CheckPassed) for name in self.checks)
        return {r.name: r.key for r in found if r is not None}

    def run(self, ctx: Context) -> None:
        skipped = [p for p in ctx.final_plans(self.plans) if not p.stale and p.key and p.inputs is not None]
        last_run = {"targets": len(self.plans), "built": len(ctx.outputs()), "skipped": len(skipped),
                    "go_packages": ctx.packages(), "profile": ctx.recipe.profile.name,
                    "gocache": ctx.recipe.env(ctx.recipe.project.platforms[0]).get("GOCACHE")
                    or ctx.recipe.go.env.get("GOCACHE")}
        try:
            state.record(
                ctx.recipe.root, ctx.locks,
                targets={p.id: ctx.state_record(p) for p in skipped},
                hashes=ctx.hashes.export(), go=self.go_memo, checks=self.passed(ctx), last_run=last_run,
                out_dir=ctx.recipe.project.out_path(), header=ctx.header(),
                entries={p.id: ctx.entry(p, TargetStatus.SKIPPED, 0.0) for p in skipped}, known=ctx.targets_known)
        except OSError as exc:
            raise output_error(exc, ctx.recipe.root, what=ctx.records()) from exc


def _shown(path: str | Path, root: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(root.resolve()))
    except (ValueError, OSError):
        return str(path)


def output_error(exc: OSError, root: Path, recorded: bool = True, what: list[Path] | None = None) -> OutputError:
    """One sentence for a file the build cannot write: which file, why, and what to do.

    ``what``: the files being written, for errors that carry no file name (a
    write() into a file already open fails that way on a full disk).
    """
    if exc.filename2:  # a rename onto ``filename2``: that is the file the user knows
        where = _shown(exc.filename2, root)
    elif exc.filename:
        where = _shown(exc.filename, root)
    else:
        where = " or ".join(_shown(p, root) for p in what or [root / layout.BUILD_DIR])
    folder = " ".join(_shown(Path(root / w).parent, root) for w in where.split(" or "))
    advice = {
        errno.ENOSPC: f"free space (df -h {folder}) and run again",
        errno.EDQUOT: "free space and run again",
        errno.EROFS: "remount it read-write, or set build.out_dir to a writable directory",
        errno.EACCES: f"check the owner and mode of the directory (ls -ld {folder})",
        errno.EPERM: f"check the owner, mode and attributes of the directory (ls -ld {folder}; lsattr -d {folder})",
        errno.EISDIR: "move it away and run again",
        errno.ENOTDIR: "a part of that path is a file, not a directory: move it away and run again",
    }.get(exc.errno or 0, "check the disk and the directory, then run again")
    tail = "" if recorded else ("; the binaries of this run are installed but not recorded, so the next build "
                                "builds them again")
    reason = (exc.strerror or str(exc)).lower()
    return OutputError(f"cannot write {where}: {reason}; {advice}{tail}")


def _writable(path: Path) -> Path | None:
    """The directory that stops ``path`` from being written (or made), if any; no file is created."""
    here = path
    while not here.exists() and here != here.parent:
        here = here.parent
    return None if os.access(here, os.W_OK | os.X_OK) else here


def check_outputs(project: Project, stale: list[Plan]) -> None:
    """Refuse before any compile when an output cannot be written: a failure after it wastes the build."""
    root = project.root
    manifest_path = manifest.path(project.out_path())
    if manifest_path.is_dir():
        raise OutputError(f"{_shown(manifest_path, root)} is a directory, not the build's manifest file: move it "
                          f"away (mv {_shown(manifest_path, root)} {_shown(manifest_path, root)}.old) and run again")
    if not stale:
        return  # a no-op build writes nothing, so a read-only checkout may run it
    dirs = {project.out_path(), root / layout.BUILD_DIR} | {(root / p.target.out_rel(project.build.out_dir)).parent
                                                   for p in stale}
    for folder in sorted(dirs):
        blocked = _writable(folder)
        if blocked is None:
            continue
        readonly = False
        with contextlib.suppress(OSError):
            readonly = bool(os.statvfs(blocked).f_flag & os.ST_RDONLY)
        code = errno.EROFS if readonly else errno.EACCES
        raise output_error(OSError(code, os.strerror(code), str(blocked)), root)


def _compile_groups(stale: list[Plan], module: str) -> list[list[Plan]]:
    """As few ``go build`` runs per platform as output names allow: usually one with all its mains.

    ``go build -o DIR/`` cannot write two mains of the same name (``tools/a/gen`` and ``tools/b/gen``),
    so those go into a second run of the same platform, which ``build()`` orders after the first: it
    then only compiles what the first did not (the cache has the rest) instead of the same packages
    twice at the same time.
    """
    from .gobuild import output_name

    by_platform: dict[str, list[Plan]] = defaultdict(list)
    for plan in stale:
        by_platform[plan.target.platform].append(plan)
    groups = []
    for plans in by_platform.values():
        runs: list[list[Plan]] = []
        for plan in plans:
            name = output_name(plan.target, module)
            home = next((r for r in runs if all(output_name(p.target, module) != name and p.target.main
                                                != plan.target.main for p in r)), None)
            if home is None:
                runs.append([plan])
            else:
                home.append(plan)
        groups.extend(runs)
    return groups


def prepare(project: Project, opts: Options, environ: dict[str, str] | None = None
            ) -> tuple[Recipe, list[Target], dict[str, Any], dict[str, Any]]:
    """Find Go, the stamp and the selected targets; raises before anything is built."""
    environ = dict(os.environ if environ is None else environ)
    root = project.root
    targets = select(matrix(project), opts.only)
    profile = project.profile(opts.profile)
    saved = state.load(root)
    go_memo = dict(saved["go"])
    go = probe(find_go(root), root, environ, go_memo)
    check_version(go, root)
    recipe = Recipe(project=project, profile=profile, stamp=stamp(root, project.project.version, opts.version,
                                                                  environ), go=go, base_env=environ)
    return recipe, targets, saved, go_memo


@contextlib.contextmanager
def _stop_on_signals() -> Iterator[None]:
    """Turn the first SIGTERM or SIGINT into ``Interrupted`` in the main thread; ignore repeats meanwhile.

    The exception unwinds the scheduler, which cancels the steps: each stops its ``go`` process group
    and removes its temporary directory before the build returns. A second signal must not cut that
    clean-up short, so from the first one on the handlers only note it.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    seen: list[int] = []

    def handler(signum: int, frame: object) -> None:
        seen.append(signum)
        if len(seen) == 1:
            raise Interrupted(signum)

    old = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, previous in old.items():
            signal.signal(sig, previous)


def _stopped_message(exc: Interrupted, ctx: Context | None, previous: dict[str, Any]) -> str:
    """One line: what stopped the build, what it stopped, and which binaries are there now."""
    name = signal.Signals(exc.signum).name
    kept = sorted(ctx.outputs()) if ctx else []
    text = f"stopped by {name}: its go processes were stopped and its temporary files removed; "
    if kept:
        text += f"kept {len(kept)} target(s) finished before it ({', '.join(kept)}), recorded in the manifest"
    else:
        text += "no target was finished"
    others = sorted(set(previous) - set(kept))
    if others:
        text += f"; the other {len(others)} binaries are the previous build's, untouched"
    return text


def _temp_dirs(project: Project) -> list[Path]:
    """Where runs put temporary directories: go's $WORK under .build/tmp, outputs next to the binaries."""
    dirs = {project.root / procs.GO_TMP}
    for t in matrix(project):
        dirs.add((project.root / t.out_rel(project.build.out_dir)).parent)
    return sorted(dirs)


def build(project: Project, opts: Options, display: Display | None = None,
          environ: dict[str, str] | None = None) -> BuildResult:
    """Build the selected targets; see the module docstring for the steps.

    SIGTERM and SIGINT stop it cleanly (``Interrupted``, exit status 143 or 130); a run killed outright
    leaves temporary directories that the next run removes first.
    """
    display = display or Display()
    ctx_box: list[Context] = []
    previous: dict[str, Any] = {}
    with _stop_on_signals():
        try:
            # A killed run could not remove its temporary directories; its pid tells they are orphans.
            procs.clean_stale(_temp_dirs(project))
            previous.update(manifest.load(project.out_path()).get("targets", {}))
            return _build(project, opts, display, environ, ctx_box)
        except Interrupted as exc:
            display.close()
            raise Interrupted(exc.signum, _stopped_message(exc, ctx_box[0] if ctx_box else None,
                                                           previous)) from None


def _build(project: Project, opts: Options, display: Display, environ: dict[str, str] | None,
           ctx_box: list[Context]) -> BuildResult:
    t0 = time.monotonic()
    requested = parse_jobs(opts.jobs if opts.jobs not in (None, "") else project.build.jobs)
    recipe, targets, saved, go_memo = prepare(project, opts, environ)
    root = recipe.root
    hashes = FileHashes(root, saved["hashes"])
    locks = Locks(root, display.message)
    plans = [plan_target(t, recipe, saved["targets"].get(t.id), hashes, opts.force) for t in targets]
    ctx = Context(recipe, hashes, locks, display, opts, saved["checks"], {t.id for t in matrix(project)})
    ctx_box.append(ctx)
    previous = manifest.load(project.out_path()).get("targets", {})

    stale = [p for p in plans if p.stale]
    check_outputs(project, stale)
    to_list = sorted({p.target.platform for p in stale if p.needs_list})
    steps: list[Any] = []
    par = None
    outcomes: dict[str, scheduler.Outcome] = {}
    if stale:
        from . import preflight, scheduler
        from .gobuild import Compile
        from .machine import capacity

        listing = [ListPackages(platform, [p for p in stale if p.target.platform == platform and p.needs_list],
                                deps=("modules",)) for platform in to_list]
        checks = preflight.steps(stale, tuple(step.name for step in listing))
        steps.extend(checks)
        steps.extend(listing)
        groups = _compile_groups(stale, ctx.module)
        # Runs of one platform go one after the other (see _compile_groups): platforms is what can overlap.
        par = parallelism(requested, len({g[0].target.platform for g in groups}), capacity())
        ctx.go_p = par.go_p
        compile_names = []
        last_of: dict[str, str] = {}
        for group in groups:
            platform = group[0].target.platform
            # go mod verify (seconds: it hashes every module) runs beside the compile, whose binaries are
            # installed only once it passed; the tidy check and the secret scan still come before any compile.
            deps = ("tidy", "secrets") + ((f"list {platform}",) if platform in to_list else ())
            # A second run of one platform waits for the first to end, however it ended.
            after = (last_of[platform],) if platform in last_of else ()
            step = Compile(platform, group, deps, after=after, gate=("verify",))
            compile_names.append(step.name)
            last_of[platform] = step.name
            steps.append(step)
        record = RecordStep(tuple(compile_names), plans, go_memo, tuple(c.name for c in checks))
        steps.append(record)
        display.message(f"building {len(stale)} of {len(plans)} target(s): {par.why}")
        def finished(step: Any, outcome: scheduler.Outcome) -> None:
            ctx.step_finished(step.name, outcome.status == StepStatus.OK, outcome.value)
            display.finished(step, outcome)

        events = scheduler.Events(started=display.started, finished=finished)
        try:
            outcomes = scheduler.run(steps, ctx, par.jobs, events, ctx.cancel)
        finally:
            display.close()
    else:
        RecordStep((), plans, go_memo).run(ctx)
    for o in outcomes.values():
        # An output that cannot be written is the machine's problem: a sentence, not a traceback.
        if o.error is not None and isinstance(o.error.cause, OSError):
            from .scheduler import StepFailed

            o.error = StepFailed(o.name, output_error(o.error.cause, root))
            o.detail = ""
    errors = [o.error for o in outcomes.values() if o.status == StepStatus.FAILED and o.error is not None]
    for o in outcomes.values():
        if o.detail:
            display.message(o.detail)
    results = _results(plans, steps, outcomes, ctx, previous, recipe)
    return BuildResult(targets=results, errors=errors, wall=time.monotonic() - t0, parallelism=par,
                       stamp=recipe.stamp.as_dict(), go_version=recipe.go.version, steps=outcomes)


def _results(plans: list[Plan], steps: list[Any], outcomes: dict[str, scheduler.Outcome], ctx: Context,
             previous: dict[str, Any], recipe: Recipe) -> list[TargetResult]:
    step_of: dict[str, Any] = {}
    if steps:
        from .gobuild import Compile

        step_of = {p.id: s for s in steps if isinstance(s, Compile) for p in s.plans}
    rows = []
    outputs = ctx.outputs()
    for plan in ctx.final_plans(plans):
        prev = previous.get(plan.id, {})
        row = TargetResult(target=plan.target, status=TargetStatus.SKIPPED, reasons=plan.reasons,
                           previous_size=prev.get("size"), path=plan.target.out_rel(ctx.out_dir_rel))
        out = outputs.get(plan.id)
        step = step_of.get(plan.id)
        outcome = outcomes.get(step.name) if step else None
        if out is not None:
            row.status = TargetStatus.BUILT
            row.size, row.sha256, row.duration = out.size, out.sha256, out.duration
        elif plan.stale:
            row.status = (TargetStatus.FAILED if outcome and outcome.status == StepStatus.FAILED
                          else TargetStatus.NOT_BUILT)
            if outcome and outcome.error:
                row.reasons = [*plan.reasons, f"not built: {_first_line(outcome.error)}"]
            row.size = _size(recipe.root / row.path)
        else:
            old_out = (plan.old or {}).get("output", {})
            row.size, row.sha256 = old_out.get("size", _size(recipe.root / row.path)), old_out.get("sha256")
        rows.append(row)
    return rows


def _first_line(exc: BaseException) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def _size(path: Path) -> int | None:
    try:
        return path.stat().st_size
    except OSError:
        return None


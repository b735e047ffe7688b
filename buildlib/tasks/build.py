"""The build task: compile the Go binaries of build.yaml for every platform, in parallel."""

from __future__ import annotations

import json
from pathlib import Path

from invoke import Collection, Context

from .. import console, layout
from ..build import manifest
from ..build.builder import BuildResult, Options, output_error
from ..build.builder import build as run_build
from ..build.step import TargetStatus
from ..build.targets import matrix
from ..config import parse_jobs
from ..errors import OutputError, RunFailed, SelectionError
from ..tables import human_size, table
from .common import not_blank, one, project, selection, task


def _delta(size: int | None, before: int | None) -> str:
    if size is None or before is None or size == before:
        return ""
    sign = "+" if size > before else "-"
    return f" ({sign}{human_size(abs(size - before))})"


def report(result: BuildResult, explain: bool) -> str:
    """The end-of-build table (target, built or skipped, time, size) and the total."""
    lines = []
    if explain:
        lines.append("why:")
        for r in result.targets:
            verb = {TargetStatus.BUILT: "rebuilt", TargetStatus.SKIPPED: "skipped"}.get(r.status, r.status)
            lines.append(f"  {r.target.id:<28} {verb}: {'; '.join(r.reasons)}")
        lines.append("")
    rows = [[r.target.id, r.status, f"{r.duration:.1f}s" if r.status == TargetStatus.BUILT else "-",
             human_size(r.size) + _delta(r.size, r.previous_size)] for r in result.targets]
    lines.append(table(["target", "result", "time", "size"], rows, right={2}))
    built = sum(r.status == TargetStatus.BUILT for r in result.targets)
    skipped = sum(r.status == TargetStatus.SKIPPED for r in result.targets)
    failed = len(result.targets) - built - skipped
    total = f"total: {built} built, {skipped} up to date"
    if failed:
        total += f", {failed} failed"
    total += f" in {result.wall:.2f}s"
    if result.parallelism:
        total += f" ({result.parallelism.why})"
    lines.append(total)
    return "\n".join(lines)


def errors(result: BuildResult) -> str:
    """The failures, with one compile error shown once for all the platforms it broke."""
    from ..build.gobuild import CompileError

    compile_errors: dict[tuple[str, str], list[str]] = {}
    lines: list[str] = []
    for err in result.errors:
        cause = err.cause
        if isinstance(cause, CompileError):
            compile_errors.setdefault((cause.binaries, cause.diagnostics), []).append(cause.platform)
        elif isinstance(cause, OutputError):
            # Every step that writes meets the same full disk: one line says it.
            if f"error: {cause}" not in lines:
                lines.append(f"error: {cause}")
        else:
            lines.append(f"error: {err}")
    for (binaries, diagnostics), platforms in compile_errors.items():
        names = binaries.split(", ")
        kept = any(r.size is not None for r in result.targets
                   if r.status == TargetStatus.FAILED and r.target.binary in names and r.target.platform in platforms)
        # Only a target built before has a previous binary to keep.
        note = "; the previous binaries are untouched" if kept else ""
        lines.append(f"error: go build failed for {binaries} on {', '.join(platforms)}{note}:\n{diagnostics}")
    return "\n".join(lines)


@task(
    help={
        "only": "build a subset: comma-separated BINARY, BINARY:GOOS/GOARCH or GOOS/GOARCH (e.g. server:linux/arm64)",
        "jobs": 'steps at once: a positive number or "auto" (CPU quota and free memory); default from build.yaml',
        "profile": "a profile of build.yaml (release, dev); default build.profile",
        "version": 'version stamped into the binaries instead of build.yaml\'s ("auto": git describe)',
        "force": "rebuild even the targets that are up to date",
        "explain": "print per target why it was rebuilt (which input changed) or skipped",
    },
)
def build(c: Context, only: str | None = None, jobs: str | None = None, profile: str | None = None,
          version: str | None = None, force: bool = False, explain: bool = False) -> None:
    """Build the Go binaries into bin/<goos>_<goarch>/ and write bin/manifest.json."""
    p = project(c)
    targets = matrix(p)
    selectors = [*sorted({t.binary for t in targets}), *sorted({t.platform for t in targets})]
    selection("only", only, selectors, "every target")
    opts = Options(only=only, jobs=parse_jobs(jobs) if jobs is not None else None,
                   profile=one("profile", profile, sorted(p.profiles), f"build.profile ({p.build.profile})"),
                   version=not_blank("version", version, "build.yaml's project.version"),
                   force=force, explain=explain)
    result = run_build(p, opts, console.display())
    console.out(report(result, explain))
    # Up-to-date runs compile nothing: recording them would put zeros into the build-time trend.
    # A failed run is not a figure of the trend either (and may have met a full disk).
    built = any(t.status == TargetStatus.BUILT for t in result.targets)
    if result.ok and built and (stored := manifest.load(p.out_path())):
        from ..report import history

        try:
            history.record("build", stored, p.root)
        except OSError as exc:
            raise output_error(exc, p.root) from exc
    if not result.ok:
        # Each failure is an "error:" line; the one conversion of errors (tasks.common) adds the first.
        raise RunFailed(errors(result).removeprefix("error: "))


@task(help={
    "cases": "which cases to run, comma-separated letters: a (serial loop), b (go build per platform), "
             "c (--jobs 1), d (--jobs 8), e (--jobs auto), t (Task), g (GoReleaser); default all "
             "(a peer that is not installed is listed as not measured)",
    "warm_only": "skip the cold runs (each cold run compiles the standard library for every platform)",
    "platforms": "build these GOOS/GOARCH platforms instead of build.yaml's, comma-separated "
                 "(in the bench's copy only)",
    "out": "where to write the JSON figures (default .build/bench.json)",
})
def bench(c: Context, cases: str | None = None, warm_only: bool = False, platforms: str | None = None,
          out: str | None = None) -> None:
    """Measure serial and parallel builds of the matrix against the peers, cold and warm, and the no-op build."""
    from ..bench import build as benchmark
    from ..platforms import KNOWN_PLATFORMS
    from ..report import history

    p = project(c)
    chosen = selection("cases", cases, benchmark.Bench.CASES, "every case") or list(benchmark.Bench.CASES)
    unknown = [x for x in chosen if x not in benchmark.Bench.CASES]
    if unknown:
        raise SelectionError(f"unknown bench case(s) {', '.join(unknown)}; valid: {', '.join(benchmark.Bench.CASES)}")
    matrix_platforms = selection("platforms", platforms, KNOWN_PLATFORMS, "build.yaml's platforms")
    odd = [x for x in matrix_platforms or [] if x not in KNOWN_PLATFORMS]
    if odd:
        raise SelectionError(f"--platforms: unknown platform(s) {', '.join(odd)}; `go tool dist list` gives "
                             "the valid GOOS/GOARCH pairs")
    out = not_blank("out", out, str(layout.BENCH))
    path = Path(out) if out else p.root / layout.BENCH
    report = benchmark.run(p, chosen, cold=not warm_only, out=path,
                           echo=console.err, platforms=matrix_platforms)
    console.out(benchmark.render(report))
    history.record("bench", json.loads(path.read_text()), p.root)
    console.out(f"\nmachine: {report.machine['capacity']}; {report.machine['go']}; figures in {path}")


ns = Collection(build, bench)

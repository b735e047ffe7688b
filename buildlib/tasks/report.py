"""The build report."""

from __future__ import annotations

from pathlib import Path

from invoke import Collection, Context

from .. import console
from ..report import DEFAULT_OUTPUT
from .common import not_blank, project, task


@task(
    help={
        "output": f"where to write the page (default {DEFAULT_OUTPUT})",
        "manifest": "build manifest to read (default: bin/manifest.json under build.yaml's out_dir)",
        "bench": "bench figures to read (default .build/bench.json)",
        "sizes": "size_check result to read (default .build/size_check.json)",
        "debt": "debt card to read (default .build/debt.json)",
        "no_record": "do not add these results to .build/history.jsonl",
    }
)
def report(c: Context, output: str | None = None, manifest: str | None = None, bench: str | None = None,
           sizes: str | None = None, debt: str | None = None, no_record: bool = False) -> None:
    """Write an HTML page of charts from the last build, bench, size_check and debt results."""
    from ..report.generate import default_paths, generate

    output = not_blank("output", output, str(DEFAULT_OUTPUT))
    p = project(c)
    paths = default_paths(p)
    for kind, flag, given in (("build", "manifest", manifest), ("bench", "bench", bench),
                              ("size_check", "sizes", sizes), ("debt", "debt", debt)):
        if not_blank(flag, given, f"the default {kind} file"):
            paths[kind] = Path(given).absolute()
    done = generate(p, Path(output or DEFAULT_OUTPUT), paths, record_latest=not no_record)
    for kind in ("build", "bench", "size_check", "debt"):
        console.out(f"{kind:<11} {'included' if kind in done.latest else 'none yet'}"
                    f"   history: {done.history.get(kind, 0)} result(s)")
    if done.skipped:
        console.out(f"left out {done.skipped} history line(s) of an older format")
    console.out(f"wrote {done.path}\nopen: file://{done.path}")


ns = Collection(report)

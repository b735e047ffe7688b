"""The build report."""

from __future__ import annotations

from pathlib import Path

from invoke import Collection, Context

from ..report.generate import DEFAULT_OUTPUT, default_paths, generate
from .common import project, task


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
def report(c: Context, output: str = str(DEFAULT_OUTPUT), manifest: str | None = None, bench: str | None = None,
           sizes: str | None = None, debt: str | None = None, no_record: bool = False) -> None:
    """Write an HTML page of charts from the last build, bench, size_check and debt results."""
    p = project(c)
    paths = default_paths(p)
    for kind, given in (("build", manifest), ("bench", bench), ("size_check", sizes), ("debt", debt)):
        if given:
            paths[kind] = Path(given).absolute()
    done = generate(p, Path(output), paths, record_latest=not no_record)
    for kind in ("build", "bench", "size_check", "debt"):
        print(f"{kind:<11} {'included' if kind in done.latest else 'none yet'}"
              f"   history: {done.history.get(kind, 0)} result(s)")
    if done.skipped:
        print(f"left out {done.skipped} history line(s) of an older format")
    print(f"wrote {done.path}\nopen: file://{done.path}")


ns = Collection(report)

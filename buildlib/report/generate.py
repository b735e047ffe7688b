"""Gather the latest results and the history, and write the report page."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .. import layout
from ..atomic import write_bytes
from ..config import Project
from . import history, inputs
from .page import HistoryEntry, PageData, render


def default_paths(project: Project) -> dict[str, Path]:
    """Where each result is written by the task that makes it."""
    root = project.root
    return {
        "build": project.out_path() / layout.MANIFEST,
        "bench": root / layout.BENCH,
        "size_check": root / layout.SIZE_CHECK,
        "debt": root / layout.DEBT,
    }


@dataclass
class Written:
    path: Path
    latest: dict[str, Any]
    history: dict[str, int]
    skipped: int


def _rel(project: Project, path: Path) -> str:
    try:
        return path.resolve().relative_to(project.root.resolve()).as_posix()
    except ValueError:
        return str(path)


def generate(project: Project, output: Path, paths: dict[str, Path], *, record_latest: bool = True,
             now: datetime | None = None) -> Written:
    root = project.root
    latest: dict[str, Any] = {}
    sources: list[tuple[str, str]] = []
    for kind, path in paths.items():
        raw = inputs.read_json(path, _rel(project, path))
        if raw is None:
            continue
        latest[kind] = inputs.PARSERS[kind](raw, _rel(project, path))
        sources.append((kind, _rel(project, path)))
        if record_latest:
            history.record(kind, raw, root, once=True)
    hist_file = history.path(root)
    entries: dict[str, list[HistoryEntry]] = {k: [] for k in history.KINDS}
    skipped = 0
    for e in history.read(hist_file):
        try:
            entries[e["kind"]].append(HistoryEntry(str(e.get("time", "")), inputs.PARSERS[e["kind"]](e["data"])))
        except inputs.ReportInputError:
            skipped += 1  # a result of an older format: left out of the trends
    for kind in history.KINDS:
        entries[kind].sort(key=lambda e: e.time)  # lines are appended in the order tasks finished
        if kind not in latest and entries[kind]:
            latest[kind] = entries[kind][-1].value
            sources.append((kind, f"{_rel(project, hist_file)} (last recorded, {entries[kind][-1].time})"))
    if hist_file.exists():
        sources.append(("history", f"{_rel(project, hist_file)} ({sum(len(v) for v in entries.values())} results)"))
    generated = (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    page = render(PageData(
        project=project.project.name, generated=generated, build=latest.get("build"), bench=latest.get("bench"),
        sizes=latest.get("size_check"), debt=latest.get("debt"), history=entries, sources=sources,
    ))
    out = output if output.is_absolute() else root / output
    write_bytes(out, page.encode("utf-8"))
    return Written(out, latest, {k: len(v) for k, v in entries.items()}, skipped)

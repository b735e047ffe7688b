"""The report page: one self-contained HTML file (inline CSS and SVG; no script, no link, no font to fetch).

This module computes what the page shows; files/page.html.j2 lays it out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..build.manifest import Manifest
from . import inputs
from .svg import PALETTE, Bar, Series, bar_chart, line_chart

CASE_NAMES = {
    "a": "serial loop (go build per target)",
    "b": "go build per platform",
    "c": "invoke build --jobs 1",
    "d": "invoke build --jobs 8",
    "e": "invoke build --jobs auto",
    "t": "task, a task per platform",
    "v": "invoke --version (start-up)",
}
MODE_COLORS = {"cold": "#2f6fb0", "warm": "#d9822b", "fresh": "#7256a8", "noop": "#3f9a5a"}
BUILT, UP_TO_DATE = "#2f6fb0", "#a9c1dc"
WITHIN, OVER = "#3f9a5a", "#b03a48"


def _one_decimal(v: float) -> str:
    return f"{v:.0f}" if abs(v - round(v)) < 1e-9 or v >= 100 else f"{v:.1f}"


def seconds(v: float) -> str:
    if v == 0:
        return "0 s"
    if v < 1:
        return f"{v * 1000:.0f} ms"
    return f"{_one_decimal(v)} s"


def megabytes(v: float) -> str:
    return f"{_one_decimal(v / 1e6)} MB"


def points(v: float) -> str:
    return f"{v:g}"


@dataclass
class HistoryEntry:
    """One recorded result of the history, already parsed."""

    time: str
    value: Any


@dataclass
class PageData:
    project: str
    generated: str
    build: Manifest | None = None
    bench: inputs.BenchFigures | None = None
    sizes: list[inputs.ImageSize] | None = None
    debt: inputs.Debt | None = None
    history: dict[str, list[HistoryEntry]] = field(default_factory=dict)
    sources: list[tuple[str, str]] = field(default_factory=list)  # (what, where)


def _short_time(iso: str) -> str:
    # 2026-11-27T08:07:12Z -> 11-27 08:07
    return iso[5:16].replace("T", " ") if len(iso) >= 16 else iso


# --- sections: what the template (files/page.html.j2) shows; None when there is no result ------------------------


def build_section(b: Manifest | None) -> dict[str, Any] | None:
    if b is None or not b.targets:
        return None
    targets = sorted(b.targets.values(), key=lambda t: (-t.duration, t.id))
    bars = [Bar(t.id, t.duration, BUILT if t.status == "built" else UP_TO_DATE,
                note=f"{seconds(t.duration)}" + (f" · {megabytes(t.size)}" if t.size else "")
                + ("" if t.status == "built" else " · up to date"))
            for t in targets]
    return {
        "version": b.version, "commit": b.commit, "profile": b.profile, "go_version": b.go_version,
        "built": len(b.built), "total": len(b.targets), "seconds": seconds(b.build_seconds),
        "chart": _markup(bar_chart("chart-build-times", "Build time per target", bars, seconds, label_width=230,
                                   axis_label="seconds per target (go build, run in parallel)",
                                   legend=[("built", BUILT), ("up to date (not rebuilt)", UP_TO_DATE)])),
        "head": ["target", "status", "seconds", "bytes"],
        "rows": [[t.id, t.status, f"{t.duration:.3f}", t.size or ""] for t in targets],
    }


def bench_section(bn: inputs.BenchFigures | None) -> dict[str, Any] | None:
    if bn is None or not bn.measures:
        return None
    timed = [m for m in bn.measures if m.mode != "noop"]
    modes = [m for m in ("cold", "warm", "fresh") if any(x.mode == m for x in timed)]
    cases = sorted({m.case for m in timed})
    bars = []
    for case in cases:
        for mode in modes:
            m = bn.get(case, mode)
            if m is not None:
                bars.append(Bar(CASE_NAMES.get(case, case), m.wall, MODE_COLORS.get(mode, PALETTE[5]),
                                note=f"{seconds(m.wall)} {mode}", group=mode))
    a_warm, e_warm = bn.get("a", "warm"), bn.get("e", "warm")
    speedup = None
    if a_warm and e_warm and e_warm.wall > 0:
        speedup = {"parallel": seconds(e_warm.wall), "serial": seconds(a_warm.wall),
                   "ratio": f"{a_warm.wall / e_warm.wall:.1f}"}
    machine = ""
    if bn.machine.get("capacity"):
        machine = bn.machine["capacity"] + (f"; {bn.machine['go']}" if bn.machine.get("go") else "")
    noops = [m for m in bn.measures if m.mode == "noop"]
    noop_chart = None
    if noops:
        nbars = [Bar(CASE_NAMES.get(m.case, m.case), m.wall, MODE_COLORS["noop"]) for m in noops]
        noop_chart = _markup(bar_chart("chart-noop", "No-op build time", nbars, seconds, label_width=250,
                                       axis_label="median wall seconds"))
    return {
        "speedup": speedup, "machine": machine, "noop_chart": noop_chart,
        "chart": _markup(bar_chart("chart-bench", "Wall time of the whole matrix, serial versus parallel", bars,
                                   seconds, label_width=250, group_gap=True,
                                   axis_label="wall seconds to build every target",
                                   legend=[(m, MODE_COLORS.get(m, PALETTE[5])) for m in modes])),
        "head": ["case", "mode", "wall s", "cpu s"],
        "rows": [[CASE_NAMES.get(m.case, m.case), m.mode, f"{m.wall:.3f}", "" if m.cpu is None else f"{m.cpu:.2f}"]
                 for m in bn.measures],
    }


def sizes_section(sz: list[inputs.ImageSize] | None) -> dict[str, Any] | None:
    if not sz:
        return None
    bars = []
    for im in sz:
        if im.budget:
            note = f"{megabytes(im.size)} of {megabytes(im.budget)} ({100 * im.size / im.budget:.0f}%)"
        else:
            note = f"{megabytes(im.size)} (no budget)"
        bars.append(Bar(im.name, im.size, OVER if im.over else WITHIN, note=note, marker=im.budget,
                        marker_label=f"budget {megabytes(im.budget)}" if im.budget else ""))
    return {
        "count": len(sz), "over": [im.name for im in sz if im.over],
        "chart": _markup(bar_chart("chart-image-sizes", "Image size against budget", bars, megabytes,
                                   label_width=160, axis_label="MB (10^6 bytes)",
                                   legend=[("within budget", WITHIN), ("over budget", OVER)])),
        "head": ["image", "bytes", "budget bytes", "verdict"],
        "rows": [[im.name, im.size, im.budget or "", "over" if im.over else "ok"] for im in sz],
    }


def debt_section(d: inputs.Debt | None) -> dict[str, Any] | None:
    if d is None:
        return None
    ok = d.score <= d.threshold
    names = {"marker": "TODO / FIXME (+1 each)", "coverage": "packages under coverage (+3)",
             "dependency": "stale dependencies (+2)"}
    order = [k for k in names if k in d.totals] + [k for k in d.totals if k not in names]
    bars = [Bar(names.get(k, k), d.totals[k], PALETTE[i % len(PALETTE)], note=f"+{d.totals[k]}")
            for i, k in enumerate(order)]
    bars.append(Bar("total", d.score, WITHIN if ok else OVER, note=f"{d.score} of {d.threshold}",
                    marker=d.threshold, marker_label=f"threshold {d.threshold}"))
    rows = [[i.get("kind", ""), i.get("where", ""), "unknown" if i.get("points") is None else f"+{i['points']}",
             i.get("detail", "")] for i in d.items if i.get("points") is None or i.get("points")]
    return {
        "ok": ok, "score": d.score, "threshold": d.threshold, "unknown": d.unknown,
        "chart": _markup(bar_chart("chart-debt", "Debt points by rule", bars, points, label_width=230,
                                   axis_label="points")),
        "head": ["kind", "where", "points", "detail"], "rows": rows[:40], "more": max(0, len(rows) - 40),
    }


def trends_section(history: dict[str, list[HistoryEntry]]) -> list[dict[str, Any]]:
    """The trend charts in order, each {title, chart}, or {missing, command} where nothing was recorded."""
    out: list[dict[str, Any]] = []
    sizes: list[HistoryEntry] = history.get("size_check", [])
    if sizes:
        names: list[str] = []
        for e in sizes:
            names += [im.name for im in e.value if im.name not in names]
        series = []
        for k, name in enumerate(names):
            pts = [(i, float(im.size), f"{_short_time(e.time)} {name}: {megabytes(im.size)}")
                   for i, e in enumerate(sizes) for im in e.value if im.name == name]
            series.append(Series(name, pts, PALETTE[k % len(PALETTE)]))
        out.append({"title": "Image sizes", "chart": _markup(line_chart(
            "chart-trend-sizes", "Image sizes over time", series, [_short_time(e.time) for e in sizes], megabytes,
            axis_label="MB per image"))})
    else:
        out.append({"missing": "recorded size_check", "command": "nox -s size_check"})
    builds = [e for e in history.get("build", []) if e.value.built]
    if builds:
        pts = [(i, e.value.build_seconds, f"{_short_time(e.time)}: {seconds(e.value.build_seconds)} for "
                f"{len(e.value.built)} target(s), version {e.value.version}") for i, e in enumerate(builds)]
        series = [Series("compile time of the targets built", pts, PALETTE[0])]
        out.append({"title": "Build time", "chart": _markup(line_chart(
            "chart-trend-build", "Build time over time", series, [_short_time(e.time) for e in builds], seconds,
            axis_label="seconds of go build per recorded build (up-to-date targets cost 0)"))})
    else:
        out.append({"missing": "recorded build", "command": "invoke build"})
    benches = history.get("bench", [])
    if benches:
        series = []
        for k, (case, mode) in enumerate((("a", "warm"), ("e", "warm"), ("a", "cold"), ("e", "cold"))):
            pts = [(i, m.wall, f"{_short_time(e.time)} {CASE_NAMES[case]} {mode}: {seconds(m.wall)}")
                   for i, e in enumerate(benches) if (m := e.value.get(case, mode)) is not None]
            if pts:
                series.append(Series(f"{'serial' if case == 'a' else 'jobs auto'} {mode}", pts,
                                     PALETTE[k % len(PALETTE)]))
        if series:
            out.append({"title": "Serial versus parallel (bench)", "chart": _markup(line_chart(
                "chart-trend-bench", "Bench: serial versus parallel over time", series,
                [_short_time(e.time) for e in benches], seconds, axis_label="wall seconds for the whole matrix"))})
    debts = history.get("debt", [])
    if debts:
        pts = [(i, float(e.value.score), f"{_short_time(e.time)}: score {e.value.score}")
               for i, e in enumerate(debts)]
        out.append({"title": "Debt score", "chart": _markup(line_chart(
            "chart-trend-debt", "Debt score over time", [Series("debt score", pts, PALETTE[3])],
            [_short_time(e.time) for e in debts], points, threshold=float(debts[-1].value.threshold),
            threshold_label=f"threshold {debts[-1].value.threshold}", axis_label="points"))})
    return out


CSS = """
body{margin:0;background:#f5f6f8;color:#1d2530;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
main{max-width:880px;margin:0 auto;padding:24px}
h1{font-size:26px;margin:0 0 4px}h2{font-size:19px;margin:0 0 8px}h3{font-size:15px;margin:18px 0 6px}
header p{margin:0;color:#5b6573}
section{background:#fff;border:1px solid #e3e6ea;border-radius:8px;padding:16px 18px;margin:16px 0;overflow-x:auto}
.cards{display:flex;gap:12px;flex-wrap:wrap;margin-top:14px}
.card{flex:1 1 180px;background:#fff;border:1px solid #e3e6ea;border-radius:8px;padding:10px 14px}
.card b{display:block;font-size:22px}.card span{color:#5b6573;font-size:13px}
.good{color:#2c7a45}.bad{color:#b03a48}.lede{margin:4px 0 10px}.machine{color:#5b6573;font-size:13px;margin:0 0 8px}
.missing{color:#5b6573;font-style:italic}
table{border-collapse:collapse;font-size:13px;margin-top:6px}
th,td{text-align:left;padding:3px 10px 3px 0;border-bottom:1px solid #eef0f2;vertical-align:top}
details{margin-top:6px;font-size:13px}summary{cursor:pointer;color:#2f6fb0}
code{background:#eef0f2;padding:1px 4px;border-radius:3px}
footer{color:#5b6573;font-size:13px;margin:24px 0}
"""


def _cards(data: PageData) -> list[dict[str, str]]:
    cards = []
    if data.build:
        cards.append((seconds(data.build.build_seconds), f"compile time, {len(data.build.built)} of "
                      f"{len(data.build.targets)} targets built", ""))
    if data.bench:
        a, e = data.bench.get("a", "warm"), data.bench.get("e", "warm")
        if a and e and e.wall:
            cards.append((f"{a.wall / e.wall:.1f}×", "parallel build against a serial loop (warm)", ""))
    if data.sizes:
        over = sum(im.over for im in data.sizes)
        cards.append((f"{len(data.sizes) - over} / {len(data.sizes)}", "images within budget",
                      "bad" if over else "good"))
    if data.debt:
        ok = data.debt.score <= data.debt.threshold
        cards.append((f"{data.debt.score} / {data.debt.threshold}", "debt score / threshold", "good" if ok else "bad"))
    return [{"value": v, "label": label, "cls": cls} for v, label, cls in cards]


def _markup(svg: str) -> Any:
    """A chart svg.py made (it escapes its own text), passed to the template as markup."""
    from markupsafe import Markup

    return Markup(svg)


def render(data: PageData) -> str:
    import jinja2  # only the report renders this page

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(Path(__file__).with_name("files"))),
                             autoescape=True, undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    return env.get_template("page.html.j2").render(
        project=data.project, generated=data.generated, css=_markup(CSS),
        counts=", ".join(f"{len(v)} {k}" for k, v in data.history.items() if v) or "nothing yet",
        cards=_cards(data), build=build_section(data.build), bench=bench_section(data.bench),
        sizes=sizes_section(data.sizes), debt=debt_section(data.debt), trends=trends_section(data.history),
        sources=data.sources)

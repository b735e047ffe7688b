"""Charts as inline SVG, written by hand: horizontal bars (with an optional marker per bar, e.g. a
budget), grouped bars, and line charts over a run history. No script, no external resource.

Every drawn value carries ``data-value`` (and a ``<title>`` tooltip), so the
numbers a chart shows can be read back from the page.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

WIDTH = 820
FONT = 'font-family="system-ui, -apple-system, Segoe UI, Roboto, sans-serif"'
PALETTE = ("#2f6fb0", "#d9822b", "#3f9a5a", "#b03a48", "#7256a8", "#1f9aa5", "#8a6d3b", "#5c6b7a")
GRID = "#e3e6ea"
INK = "#1d2530"
MUTED = "#5b6573"

Fmt = Callable[[float], str]


def esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def nice_ticks(top: float, count: int = 5) -> list[float]:
    """Round tick values from 0 to at least ``top``."""
    if top <= 0 or not math.isfinite(top):
        return [0.0, 1.0]
    raw = top / count
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    ticks = [0.0]
    while ticks[-1] < top - 1e-12:
        ticks.append(round(ticks[-1] + step, 12))
    return ticks


def _svg(chart_id: str, title: str, width: int, height: int, body: list[str]) -> str:
    return (
        f'<svg id="{esc(chart_id)}" class="chart" role="img" aria-label="{esc(title)}" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" {FONT} font-size="12">'
        f"<title>{esc(title)}</title>" + "".join(body) + "</svg>"
    )


@dataclass
class Bar:
    label: str
    value: float
    color: str = PALETTE[0]
    note: str = ""          # text right of the bar; default: the formatted value
    marker: float | None = None  # e.g. a budget, drawn as a vertical tick across the bar
    marker_label: str = ""
    group: str = ""         # for grouped bars: the series name


def bar_chart(chart_id: str, title: str, bars: Sequence[Bar], fmt: Fmt, *, label_width: int = 210,
              axis_label: str = "", legend: Sequence[tuple[str, str]] = (), group_gap: bool = False) -> str:
    """Horizontal bars, one per row; consecutive bars with the same label form a group when ``group_gap``."""
    row_h, bar_h, top, note_w = 24, 16, 34 if legend else 14, 190
    x0, x1 = label_width, WIDTH - note_w
    rows: list[tuple[Bar, float]] = []
    y = top + 18
    prev_label: str | None = None
    for b in bars:
        if group_gap and prev_label is not None and b.label != prev_label:
            y += 10
        rows.append((b, y))
        y += row_h
        prev_label = b.label
    height = int(y + 36)
    peak = max([b.value for b in bars] + [b.marker or 0 for b in bars] + [0.0])
    ticks = nice_ticks(peak * 1.02)
    scale = (x1 - x0) / ticks[-1] if ticks[-1] else 0
    body: list[str] = []
    for i, (name, color) in enumerate(legend):
        lx = x0 + i * 150
        body.append(f'<rect x="{lx}" y="8" width="12" height="12" fill="{color}"/>'
                    f'<text x="{lx + 17}" y="18" fill="{INK}">{esc(name)}</text>')
    for t in ticks:
        tx = x0 + t * scale
        body.append(f'<line x1="{tx:.1f}" y1="{top + 10}" x2="{tx:.1f}" y2="{y}" stroke="{GRID}"/>'
                    f'<text x="{tx:.1f}" y="{y + 14}" text-anchor="middle" fill="{MUTED}">{esc(fmt(t))}</text>')
    if axis_label:
        body.append(f'<text x="{x1}" y="{y + 31}" text-anchor="end" fill="{MUTED}">{esc(axis_label)}</text>')
    prev_label = None
    for b, by in rows:
        if not group_gap or b.label != prev_label:
            body.append(f'<text x="{x0 - 8}" y="{by + bar_h - 4}" text-anchor="end" fill="{INK}">'
                        f"{esc(b.label)}</text>")
        prev_label = b.label
        w = max(b.value * scale, 1.0 if b.value > 0 else 0.0)
        note = b.note or fmt(b.value)
        tip = f"{b.label}{' ' + b.group if b.group else ''}: {note}"
        body.append(
            f'<rect class="bar" x="{x0}" y="{by}" width="{w:.1f}" height="{bar_h}" fill="{b.color}" rx="2" '
            f'data-label="{esc(b.label)}" data-group="{esc(b.group)}" data-value="{b.value:g}">'
            f"<title>{esc(tip)}</title></rect>"
        )
        end = x0 + w
        if b.marker is not None:
            mx = x0 + b.marker * scale
            body.append(f'<line class="marker" x1="{mx:.1f}" y1="{by - 4}" x2="{mx:.1f}" y2="{by + bar_h + 4}" '
                        f'stroke="{INK}" stroke-width="2" stroke-dasharray="3 2" data-value="{b.marker:g}">'
                        f"<title>{esc(b.marker_label or fmt(b.marker))}</title></line>")
            end = max(end, mx)
        body.append(f'<text class="value" x="{end + 6:.1f}" y="{by + bar_h - 4}" fill="{INK}">{esc(note)}</text>')
    return _svg(chart_id, title, WIDTH, height, body)


@dataclass
class Series:
    name: str
    points: list[tuple[int, float, str]] = field(default_factory=list)  # (x index, value, tooltip)
    color: str = PALETTE[0]


def line_chart(chart_id: str, title: str, series: Sequence[Series], x_labels: Sequence[str], fmt: Fmt, *,
               threshold: float | None = None, threshold_label: str = "", axis_label: str = "") -> str:
    """Values over the recorded runs: x is the run's position in the history, labelled with its time."""
    height, left, right, top, bottom = 300, 74, 24, 40, 52
    x0, x1, y0, y1 = left, WIDTH - right, height - bottom, top
    values = [v for s in series for _, v, _ in s.points] + ([threshold] if threshold is not None else [])
    ticks = nice_ticks(max(values + [0.0]) * 1.08)
    n = max(len(x_labels), 1)

    def px(i: int) -> float:
        return x0 + (x1 - x0) * (i / (n - 1) if n > 1 else 0.5)

    def py(v: float) -> float:
        return y0 - (y0 - y1) * (v / ticks[-1] if ticks[-1] else 0)

    body: list[str] = []
    for i, s in enumerate(series):
        lx = x0 + i * 170
        body.append(f'<rect x="{lx}" y="10" width="12" height="12" fill="{s.color}"/>'
                    f'<text x="{lx + 17}" y="20" fill="{INK}">{esc(s.name)}</text>')
    for t in ticks:
        ty = py(t)
        body.append(f'<line x1="{x0}" y1="{ty:.1f}" x2="{x1}" y2="{ty:.1f}" stroke="{GRID}"/>'
                    f'<text x="{x0 - 6}" y="{ty + 4:.1f}" text-anchor="end" fill="{MUTED}">{esc(fmt(t))}</text>')
    step = max(1, math.ceil(n / 6))
    shown = sorted({0, n - 1, *(i for i in range(0, n, step) if n - 1 - i >= step / 2 or i == n - 1)})
    for i in shown:
        if i < len(x_labels):
            anchor = "middle" if n == 1 else "start" if i == 0 else "end" if i == n - 1 else "middle"
            body.append(f'<text x="{px(i):.1f}" y="{y0 + 18}" text-anchor="{anchor}" fill="{MUTED}">'
                        f"{esc(x_labels[i])}</text>")
    if axis_label:
        body.append(f'<text x="{x0}" y="{y0 + 40}" fill="{MUTED}">{esc(axis_label)}</text>')
    if threshold is not None:
        ty = py(threshold)
        body.append(f'<line class="threshold" x1="{x0}" y1="{ty:.1f}" x2="{x1}" y2="{ty:.1f}" stroke="#b03a48" '
                    f'stroke-dasharray="6 4" stroke-width="1.5" data-value="{threshold:g}"/>'
                    f'<text x="{x1}" y="{ty - 5:.1f}" text-anchor="end" fill="#b03a48">'
                    f"{esc(threshold_label or fmt(threshold))}</text>")
    for s in series:
        pts = [(px(i), py(v), v, tip) for i, v, tip in s.points]
        if len(pts) > 1:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y, _, _ in pts)
            body.append(f'<polyline points="{path}" fill="none" stroke="{s.color}" stroke-width="2"/>')
        for x, y, v, tip in pts:
            body.append(f'<circle class="point" cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{s.color}" '
                        f'data-series="{esc(s.name)}" data-value="{v:g}"><title>{esc(tip)}</title></circle>')
    if not any(s.points for s in series):
        body.append(f'<text x="{(x0 + x1) / 2}" y="{(y0 + y1) / 2}" text-anchor="middle" fill="{MUTED}">'
                    "no recorded results yet</text>")
    body.append(f'<line x1="{x0}" y1="{y0}" x2="{x1}" y2="{y0}" stroke="{MUTED}"/>')
    return _svg(chart_id, title, WIDTH, height, body)

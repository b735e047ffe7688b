"""Read the result files the report draws from, into small typed records.

- build: ``bin/manifest.json``, as the build's own reader (``manifest.parse``) types it
- bench: ``.build/bench.json`` (``measures``: [{case, mode, wall, cpu}], ``machine``)
- size_check: ``invoke image.check --report FILE`` (``nox -s size_check -- --report FILE``):
  ``{"images": [{"variant", "size": {"size", "budget", ...}}]}``; also accepted: a mapping
  name -> {size, budget}, or a list of {name|variant|image, size, budget}, sizes in bytes
- debt: ``.build/debt.json`` as ``invoke debt`` writes it

A file that is missing gives None; one that is not what it should be is a
ReportInputError naming the file and what was expected.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..build.manifest import Manifest, ManifestError
from ..build.manifest import parse as parse_manifest
from ..errors import BuildlibError


class ReportInputError(BuildlibError):
    """A result file the report reads is not what it should be."""


@dataclass(frozen=True)
class MeasuredCase:
    case: str
    mode: str
    wall: float
    cpu: float | None


@dataclass
class BenchFigures:
    machine: dict[str, Any]
    measures: list[MeasuredCase]

    def get(self, case: str, mode: str) -> MeasuredCase | None:
        return next((m for m in self.measures if m.case == case and m.mode == mode), None)


@dataclass(frozen=True)
class ImageSize:
    name: str
    size: int
    budget: int | None

    @property
    def over(self) -> bool:
        return self.budget is not None and self.size > self.budget


@dataclass
class Debt:
    score: int
    threshold: int
    unknown: int
    totals: dict[str, int]
    items: list[dict[str, Any]] = field(default_factory=list)


def read_json(path: Path, display: str | None = None) -> Any | None:
    """The JSON in ``path``; None when there is no such file (the result was never made)."""
    where = display or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ReportInputError(f"{where}: cannot read: {exc.strerror}") from exc
    try:
        return json.loads(text)
    except ValueError as exc:
        raise ReportInputError(f"{where}: not valid JSON ({exc})") from exc


def _num(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ReportInputError(f"{where}: expected a number, got {value!r}")
    return float(value)


def build(data: Any, where: str = "manifest") -> Manifest:
    try:
        return parse_manifest(data, where)
    except ManifestError as exc:
        raise ReportInputError(exc.problem) from exc


def bench(data: Any, where: str = "bench") -> BenchFigures:
    if not isinstance(data, dict) or not isinstance(data.get("measures"), list):
        raise ReportInputError(f"{where}: expected bench figures with a \"measures\" list")
    measures = []
    for i, m in enumerate(data["measures"]):
        if not isinstance(m, dict) or "case" not in m or "wall" not in m:
            raise ReportInputError(f"{where}: measures[{i}]: expected {{case, mode, wall, cpu}}")
        cpu = m.get("cpu")
        measures.append(MeasuredCase(str(m["case"]), str(m.get("mode", "")), _num(m["wall"], f"{where}: measures[{i}]"),
                                     float(cpu) if isinstance(cpu, (int, float)) else None))
    machine = data.get("machine") if isinstance(data.get("machine"), dict) else {}
    return BenchFigures(machine, measures)


_SIZE_KEYS = ("size", "bytes", "size_bytes", "image_size")
_BUDGET_KEYS = ("budget", "budget_bytes", "limit", "max_size")
_NAME_KEYS = ("name", "variant", "image", "tag")


def _first(d: dict[str, Any], keys: tuple[str, ...]) -> Any:
    return next((d[k] for k in keys if k in d), None)


def sizes(data: Any, where: str = "size_check") -> list[ImageSize]:
    container = data
    if isinstance(data, dict):
        for key in ("images", "variants", "results"):
            if key in data:
                container = data[key]
                break
    entries: list[tuple[str, dict[str, Any]]] = []
    if isinstance(container, dict):
        entries = [(str(k), v) for k, v in container.items() if isinstance(v, dict)]
    elif isinstance(container, list):
        for i, v in enumerate(container):
            if not isinstance(v, dict) or _first(v, _NAME_KEYS) is None:
                raise ReportInputError(f"{where}: item {i}: expected {{name, size, budget}}")
            entries.append((str(_first(v, _NAME_KEYS)), v))
    out = []
    for name, v in entries:
        size = _first(v, _SIZE_KEYS)
        budget = _first(v, _BUDGET_KEYS)
        if isinstance(size, dict):  # image.check --report: {"variant", "size": {"size", "budget", ...}}
            size, budget = _first(size, _SIZE_KEYS), _first(size, _BUDGET_KEYS)
        if size is None:
            continue  # a policy-only check: no size to draw
        out.append(ImageSize(name, int(_num(size, f"{where}: {name}.size")),
                             int(_num(budget, f"{where}: {name}.budget")) if budget is not None else None))
    if not entries:
        raise ReportInputError(f"{where}: no images found; expected images/variants/results with "
                               "{name, size, budget} in bytes")
    return out  # may be empty: a policy-only check measures no size


def debt(data: Any, where: str = "debt") -> Debt:
    if not isinstance(data, dict) or "score" not in data:
        raise ReportInputError(f"{where}: expected the JSON of `invoke debt` (with a \"score\")")
    totals = data.get("totals") if isinstance(data.get("totals"), dict) else {}
    return Debt(int(_num(data["score"], f"{where}: score")), int(_num(data.get("threshold", 20), where)),
                int(data.get("unknown", 0) or 0), {str(k): int(v) for k, v in totals.items()},
                [i for i in data.get("items", []) if isinstance(i, dict)])


PARSERS = {"build": build, "bench": bench, "size_check": sizes, "debt": debt}

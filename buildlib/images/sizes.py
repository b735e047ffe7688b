"""Image sizes against the budgets of build.yaml, from the image's own layers."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from .layers import SavedImage
from .settings import ImageSettings

BIN_DIR = "/usr/local/bin"
_TOP = 3


def mb(n: int | float) -> str:
    """Decimal megabytes, as `docker images` and the budgets in build.yaml count them."""
    return f"{n / 1e6:.2f} MB"


@dataclass
class LayerRow:
    index: int
    size: int
    step: str


@dataclass
class SizeReport:
    variant: str
    image: str
    size: int
    budget: int
    overhead_budget: int | None
    binaries: dict[str, int]
    layers: int
    largest: list[LayerRow]
    wasted: int
    wasted_files: list[dict[str, object]]
    breaches: list[str] = field(default_factory=list)

    @property
    def overhead(self) -> int:
        """What the image adds to the binaries it ships."""
        return self.size - sum(self.binaries.values())

    def as_dict(self) -> dict[str, object]:
        return {**asdict(self), "overhead": self.overhead, "ok": not self.breaches}


def _describe_layers(rows: list[LayerRow]) -> str:
    return "; ".join(f"#{r.index} {mb(r.size)} {r.step[:70]}" for r in rows)


def measure(settings: ImageSettings, variant: str, image: SavedImage, size: int) -> SizeReport:
    """Size, layers, waste and budget breaches of ``image`` (``size`` as the engine reports it)."""
    budget = settings.budgets[variant]
    fs = image.filesystem()
    binaries = {b: fs[f"{BIN_DIR}/{b}"][1].size for b in settings.binaries if f"{BIN_DIR}/{b}" in fs}
    rows = sorted((LayerRow(layer.index, layer.size, layer.created_by or "(base image)") for layer in image.layers),
                  key=lambda r: -r.size)
    waste = sorted(image.waste(), key=lambda w: -w.bytes)
    report = SizeReport(
        variant=variant, image=image.ref, size=size, budget=budget.max, overhead_budget=budget.overhead,
        binaries=binaries, layers=len(image.layers), largest=rows[:_TOP], wasted=sum(w.bytes for w in waste),
        wasted_files=[{"path": w.path, "bytes": w.bytes, "why": w.why} for w in waste[:5]],
    )
    if size > budget.max:
        report.breaches.append(
            f"{variant}: the image is {mb(size)}, {mb(size - budget.max)} over its budget of {mb(budget.max)} "
            f"(images.budgets.{variant}.max); largest layers: {_describe_layers(report.largest)}"
        )
    if budget.overhead is not None and report.overhead > budget.overhead:
        report.breaches.append(
            f"{variant}: the image adds {mb(report.overhead)} to its binaries, {mb(report.overhead - budget.overhead)} "
            f"over images.budgets.{variant}.overhead ({mb(budget.overhead)}); largest layers: "
            f"{_describe_layers(report.largest)}"
        )
    for name, n in binaries.items():
        if n > settings.binary_budget:
            report.breaches.append(
                f"{variant}: {BIN_DIR}/{name} is {mb(n)}, {mb(n - settings.binary_budget)} over "
                f"images.budgets.binary ({mb(settings.binary_budget)})"
            )
    missing = [b for b in settings.binaries if b not in binaries]
    if missing:
        report.breaches.append(f"{variant}: {', '.join(f'{BIN_DIR}/{b}' for b in missing)} not in the image")
    return report

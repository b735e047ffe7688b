"""`image.check`: size budgets and policy rules for each built variant, as a table or JSON."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import BuildlibError
from ..tables import table
from . import policy, sizes
from .engine import cli, require_engine
from .layers import saved
from .settings import ImageSettings


@dataclass
class CheckResult:
    variant: str | None
    image: str
    image_id: str
    size: sizes.SizeReport | None
    findings: list[policy.PolicyFinding]

    @property
    def problems(self) -> list[str]:
        found = list(self.size.breaches) if self.size else []
        who = self.variant or self.image
        found += [f"{who}: {f.rule}: {f.detail}" for f in self.findings if not f.ok]
        return found

    def as_dict(self) -> dict[str, Any]:
        return {"variant": self.variant, "image": self.image, "image_id": self.image_id,
                "size": self.size.as_dict() if self.size else None,
                "policy": policy.as_dicts(self.findings), "ok": not self.problems}


def _inspect(ref: str, hint: str) -> tuple[str, int]:
    proc = cli().run("image", "inspect", "--format", "{{.Id}} {{.Size}}", ref, check=False)
    if proc.returncode != 0:
        raise BuildlibError(f"no image {ref} in the engine; {hint}")
    image_id, size = proc.stdout.decode().split()
    return image_id, int(size)


def check_variant(settings: ImageSettings, variant: str, ref: str) -> CheckResult:
    require_engine()
    image_id, size = _inspect(ref, f"build it first: invoke image.build --variant {variant}")
    with saved(cli(), ref) as img:
        return CheckResult(variant, ref, image_id, sizes.measure(settings, variant, img, size),
                           policy.check(img, variant))


def check_image(ref: str) -> CheckResult:
    """Policy rules only (no budget), the strict set: for an image that is not one of the variants."""
    require_engine()
    image_id, _ = _inspect(ref, "pull or build it first")
    with saved(cli(), ref) as img:
        return CheckResult(None, ref, image_id, None, policy.check(img, None))


def summary(results: list[CheckResult]) -> str:
    rows = []
    for r in results:
        s = r.size
        passed = sum(f.ok for f in r.findings)
        rows.append([
            r.variant or "-", r.image,
            sizes.mb(s.size) if s else "-", sizes.mb(s.budget) if s else "-",
            sizes.mb(sum(s.binaries.values())) if s else "-",
            sizes.mb(s.overhead) if s else "-", str(s.layers) if s else "-",
            f"{s.wasted} B" if s else "-", f"{passed}/{len(r.findings)}",
            "ok" if not r.problems else "FAIL",
        ])
    return table(["variant", "image", "size", "budget", "binaries", "overhead", "layers", "wasted", "policy",
                  "result"], rows, right={2, 3, 4, 5, 6, 7})


def details(r: CheckResult) -> str:
    lines = [f"{r.variant or r.image} ({r.image}, {r.image_id[7:19]})"]
    if r.size:
        s = r.size
        lines.append("  largest layers: " + "; ".join(f"#{x.index} {sizes.mb(x.size)} {x.step[:60]}"
                                                   for x in s.largest))
        if s.wasted_files:
            lines.append("  wasted: " + "; ".join(f"{w['path']} {w['bytes']} B ({w['why']})" for w in s.wasted_files))
    for f in r.findings:
        lines.append(f"  {'ok  ' if f.ok else 'FAIL'} {f.rule}: {f.detail}")
    return "\n".join(lines)

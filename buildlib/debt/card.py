"""The scorecard: build.yaml's debt settings, every item, the score and its verdict."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .. import gotool, layout
from ..config import Project
from ..template.files import repository_files
from .coverage import coverage
from .dependencies import Proxy, dependencies
from .item import POINTS, Item
from .markers import markers

SECTION = "debt"


@dataclass
class Settings:
    threshold: int = 20
    min_coverage: float = 70.0
    max_dependency_age_months: int = 6
    test_timeout: float = 120.0

    @classmethod
    def of(cls, project: Project) -> Settings:
        raw = project.extra.get(SECTION) or {}
        keys = ("threshold", "min_coverage", "max_dependency_age_months", "test_timeout")
        return cls(**{k: raw[k] for k in keys if k in raw})


@dataclass
class Scorecard:
    project: str
    time: str
    settings: Settings
    items: list[Item]

    @property
    def score(self) -> int:
        return sum(i.points or 0 for i in self.items)

    @property
    def unknown(self) -> int:
        return sum(1 for i in self.items if i.unknown)

    @property
    def passed(self) -> bool:
        return self.score <= self.settings.threshold

    @property
    def not_measured(self) -> list[str]:
        """Packages whose coverage is not in the score (their tests failed, did not build or timed out)."""
        return [i.where for i in self.items if i.kind == "failing"]

    def totals(self) -> dict[str, int]:
        return {kind: sum(i.points or 0 for i in self.items if i.kind == kind) for kind in POINTS}

    def as_dict(self) -> dict[str, Any]:
        return {
            "schema": 1,
            "project": self.project,
            "time": self.time,
            "score": self.score,
            "threshold": self.settings.threshold,
            "passed": self.passed,
            "unknown": self.unknown,
            "not_measured": self.not_measured,
            "totals": self.totals(),
            "rules": {"points": POINTS, "min_coverage": self.settings.min_coverage,
                      "max_dependency_age_months": self.settings.max_dependency_age_months,
                      "test_timeout": self.settings.test_timeout},
            "items": [{k: v for k, v in asdict(i).items() if k != "facts"} | i.facts for i in self.items],
        }

    def table(self) -> str:
        rows = [("kind", "where", "points", "detail")]
        for i in self.items:
            rows.append((i.kind, i.where, "unknown" if i.unknown else f"+{i.points}", i.detail))
        widths = [min(max(len(r[c]) for r in rows), 60) for c in range(3)]
        lines = ["  ".join(r[c].ljust(widths[c]) for c in range(3)) + "  " + r[3] for r in rows]
        t = self.totals()
        lines.append("")
        lines.append(f"markers +{t['marker']}, coverage +{t['coverage']}, failing tests +{t['failing']}, "
                     f"dependencies +{t['dependency']}" + (f", {self.unknown} unknown" if self.unknown else ""))
        if self.not_measured:
            lines.append(f"not measured: the coverage of {len(self.not_measured)} package(s) whose tests failed, "
                         f"did not build or timed out: {', '.join(self.not_measured)}")
        verdict = "within" if self.passed else "ABOVE"
        lines.append(f"debt score {self.score} ({verdict} the threshold {self.settings.threshold})")
        return "\n".join(line.rstrip() for line in lines) + "\n"


def scorecard(project: Project, *, proxy: Proxy | None = None) -> Scorecard:
    root = project.root
    settings = Settings.of(project)
    files = repository_files(root, skip_top=[project.build.out_dir])
    items = markers(root, files)
    env = gotool.project_env(project)  # build.yaml's GOCACHE and GOMODCACHE, as the build's go commands use
    items += coverage(root, settings.min_coverage, settings.test_timeout, env)
    items += dependencies(root, settings.max_dependency_age_months, proxy, env)
    now = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    return Scorecard(project.project.name, now, settings, items)


def last_result_path(project: Project) -> Path:
    return project.root / layout.DEBT

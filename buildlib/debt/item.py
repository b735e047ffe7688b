"""One line of the scorecard, and the points each kind of line is worth."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

POINTS = {"marker": 1, "coverage": 3, "failing": 3, "dependency": 2}


@dataclass
class Item:
    """One line of the scorecard. ``points`` is None when it cannot be known ("unknown")."""

    kind: str  # marker | coverage | failing | dependency
    where: str
    points: int | None
    detail: str
    facts: dict[str, Any] = field(default_factory=dict)

    @property
    def unknown(self) -> bool:
        return self.points is None

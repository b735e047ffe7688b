"""What the scheduler runs: a named step with its dependencies, and the states a step goes through.

Kept apart from the scheduler (threads, futures) so that the modules defining
steps, which a no-op build imports, stay free of what only a compile needs.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class Step:
    """One node of the graph. A step sets ``name`` and ``deps`` and implements ``run``; the rest are
    defaults it may change."""

    name: str = ""
    label: str = ""                # what the display shows; the name when empty
    deps: tuple[str, ...] = ()     # steps that must succeed first
    after: tuple[str, ...] = ()    # deps that order this step without passing their failure on
    always: bool = False           # runs after a failure or Ctrl-C too (recording results)
    silent: bool = False           # shown only when it does not succeed
    light: bool = False            # takes no slot of ``jobs`` (a check that mostly reads or waits)
    weight: int = 0                # of the ready steps, the heaviest starts first

    @property
    def title(self) -> str:
        return self.label or self.name

    def run(self, ctx: Any) -> Any:
        raise NotImplementedError


class StepStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    OK = "ok"
    FAILED = "failed"
    BLOCKED = "blocked"        # a step it needs failed
    CANCELLED = "cancelled"    # Ctrl-C came before it started


class TargetStatus(StrEnum):
    """What a run did with one target (the manifest stores the first two)."""

    BUILT = "built"
    SKIPPED = "skipped"        # up to date: not compiled again
    FAILED = "failed"
    NOT_BUILT = "not built"    # its compile did not run (a step it needed failed, or Ctrl-C)

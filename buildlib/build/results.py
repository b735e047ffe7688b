"""What steps return: small frozen records that the steps after them and the builder read.

A step hands its work on by returning one of these; the scheduler keeps it
in the step's ``Outcome.value``, and the builder's ``Context.result`` gives
it to the steps that depend on it. No step writes a field for another to
read. Kept apart from the steps so that the no-op build, which runs only the
record step, imports none of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .plan import Plan


@dataclass(frozen=True)
class StepNote:
    """A step that finished with nothing to hand on but a note for the display (a check not run)."""

    note: str = ""


@dataclass(frozen=True)
class CheckPassed:
    """A preflight check passed for ``key``: the record step stores it, so an unchanged key skips it next time."""

    name: str
    key: str
    note: str = ""


@dataclass(frozen=True)
class PlatformListing:
    """What one ``go list -deps`` printed for the mains of a platform, and the plans of its targets
    decided again from it (new plans: the ones the builder made are left as they were)."""

    platform: str
    mains: frozenset[str]
    packages: tuple[dict[str, Any], ...]
    plans: tuple[Plan, ...] = ()


@dataclass(frozen=True)
class Installed:
    """A binary a compile put in place: what the manifest and the state record of it."""

    sha256: str
    size: int
    duration: float


@dataclass
class CompileResult:
    """What one compile step did, as it goes: the builder reads it when the step ends however it ends
    (failed part-way, stopped by a signal), so a target finished before that is never forgotten.

    Only the compile's own thread writes it; ``built`` grows only once a target is installed *and*
    recorded in the state and the manifest, with the plan as it was then.
    """

    built: list[Plan] = field(default_factory=list)
    installed: dict[str, Installed] = field(default_factory=dict)  # by target id
    skipped: list[Plan] = field(default_factory=list)             # up to date after all, with their plans
    compiled_packages: int = 0
    needed_packages: int = 0
    duration: float = 0.0
    note: str = ""

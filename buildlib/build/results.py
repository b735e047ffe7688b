"""What steps return: small frozen records that the steps after them and the builder read.

A step hands its work on by returning one of these; the scheduler keeps it
in the step's ``Outcome.value``, and the builder's ``Context.result`` gives
it to the steps that depend on it. No step writes a field for another to
read. Kept apart from the steps so that the no-op build, which runs only the
record step, imports none of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


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
    """What one ``go list -deps`` printed for the mains of a platform."""

    platform: str
    mains: frozenset[str]
    packages: tuple[dict[str, Any], ...]

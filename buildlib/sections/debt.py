"""The `debt:` section: the scorecard's threshold and what it measures."""

from __future__ import annotations

from ..schema import SECTION_DEFAULTS, Field, Int, Number, Record

SECTION = Field(
    Record(
        cls=dict,
        fields={
            "threshold": Field(Int(min=0), default=20),
            "min_coverage": Field(Number(min=0), default=70.0),
            "max_dependency_age_months": Field(Int(min=1, max=120), default=6),
            # Each package's tests are time-boxed: one that hangs (or dials a server that is not there)
            # is scored as failing instead of holding up the card.
            "test_timeout": Field(Number(min=1), default=120),
        },
    ),
    default=SECTION_DEFAULTS,
)

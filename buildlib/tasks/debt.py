"""The tech-debt scorecard."""

from __future__ import annotations

from pathlib import Path

from invoke import Collection, Context

from .. import console
from ..atomic import write_json
from ..errors import CheckFailed, SelectionError
from .common import not_blank, project, task

FORMATS = ("table", "json")


@task(
    help={
        "format": "table (default) or json (the whole card, for CI)",
        "output": "also write the JSON card to this file (it is always written to .build/debt.json)",
        "threshold": "fail above this score instead of build.yaml's debt.threshold",
    }
)
def debt(c: Context, format: str = "table", output: str | None = None,  # noqa: A002 - the flag is --format
         threshold: str | None = None) -> None:
    """Score the tech debt (markers, coverage, stale dependencies); fail above the threshold."""
    output = not_blank("output", output, "only .build/debt.json")
    if format not in FORMATS:
        raise SelectionError(f'unknown format "{format}"; allowed: {", ".join(FORMATS)}')
    if threshold is not None:
        try:
            limit = int(threshold)
        except ValueError:
            limit = -1
        if limit < 0:
            raise SelectionError(f'--threshold "{threshold}" is not an integer >= 0')
    from ..debt import card as scorecard
    from ..report import record

    p = project(c)
    card = scorecard.scorecard(p)
    if threshold is not None:
        card.settings.threshold = limit
    data = card.as_dict()
    write_json(scorecard.last_result_path(p), data)
    if output:
        write_json(Path(output), data)
    record("debt", data, p.root)
    if format == "json":
        console.json(data)
    else:
        console.out(card.table(), end="")
    if not card.passed:
        raise CheckFailed(
            f"debt score {card.score} is above the threshold {card.settings.threshold} "
            f"({'--threshold' if threshold is not None else 'build.yaml debt.threshold'}); "
            "pay some of the items above back, or raise the threshold on purpose"
        )


ns = Collection(debt)

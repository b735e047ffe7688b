"""waiting.until, the one polling loop: what it returns, and that it looks once more at the deadline."""

from __future__ import annotations

import time

from buildlib import waiting


def test_returns_the_first_true_answer() -> None:
    answers = iter([None, "", "ready", "later"])
    assert waiting.until(lambda: next(answers), timeout=5, interval=0.001) == "ready"


def test_none_after_the_timeout_having_looked_at_the_deadline() -> None:
    calls: list[float] = []

    def never() -> bool:
        calls.append(time.monotonic())
        return False

    started = time.monotonic()
    assert waiting.until(never, timeout=0.2, interval=0.05) is None
    took = time.monotonic() - started
    assert 0.2 <= took < 2.0  # a loaded machine oversleeps; the bound is that it stops at all
    assert calls[-1] - started >= 0.2  # the last look is at the deadline, not one interval before it
    assert 2 <= len(calls) <= 8  # it sleeps between looks (a busy loop would make thousands)


def test_a_condition_true_at_the_first_look_does_not_sleep() -> None:
    started = time.monotonic()
    assert waiting.until(lambda: True, timeout=10, interval=5) is True
    assert time.monotonic() - started < 0.5

"""Wait for something to become true, within a bound: the one polling loop of the kit (and of its tests)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def until(check: Callable[[], T], timeout: float, interval: float,
          clock: Callable[[], float] = time.monotonic) -> T | None:
    """Call ``check`` every ``interval`` seconds until it returns something true, and return that;
    None once ``timeout`` seconds have passed. ``check`` runs at least once, and once more at the
    deadline, so a condition that came true during the last sleep is not missed."""
    deadline = clock() + timeout
    while True:
        found = check()
        if found:
            return found
        left = deadline - clock()
        if left <= 0:
            return None
        time.sleep(min(interval, left))

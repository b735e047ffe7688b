"""What a build shows while it runs: live lines on a terminal, plain lines in CI.

On a terminal there is one line per running step with its elapsed time,
redrawn in place a few times a second; messages (a lock wait, a compile error)
are printed above them. Anywhere else (CI, a pipe, TERM=dumb) each start and
end is one plain line with a timestamp, so logs stay readable. A few ANSI
sequences are all the live lines need, which keeps the build free of a
terminal UI dependency and its import time on the no-op path.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from typing import TYPE_CHECKING, TextIO

from .build.step import StepStatus

if TYPE_CHECKING:
    from .build.scheduler import Outcome
    from .build.step import Step

_REFRESH_S = 0.1
_CLEAR_LINE = "\x1b[2K"


def is_live(stream: TextIO, environ: dict[str, str] | None = None) -> bool:
    """Live lines only on a real terminal outside CI."""
    environ = os.environ if environ is None else environ
    return (hasattr(stream, "isatty") and stream.isatty() and environ.get("TERM", "") != "dumb"
            and not environ.get("CI"))


class Display:
    """Receives step starts/ends and messages; prints them for a terminal or a log."""

    def __init__(self, stream: TextIO | None = None, live: bool | None = None, quiet: bool = False) -> None:
        self.stream = stream or sys.stderr
        self.live = is_live(self.stream) if live is None else live
        self.quiet = quiet
        self.t0 = time.monotonic()
        self._running: dict[str, tuple[str, float]] = {}
        self._drawn = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None

    # -- events -------------------------------------------------------------
    def started(self, step: Step) -> None:
        with self._lock:
            self._running[step.name] = (step.title, time.monotonic())
            if not self.live and not self.quiet and not step.silent:
                self._print(f"[{self._clock()}] start  {step.title}")
            elif self.live:
                self._ensure_ticker()

    def finished(self, step: Step, outcome: Outcome) -> None:
        with self._lock:
            self._running.pop(step.name, None)
            if step.silent and outcome.status == StepStatus.OK:
                return
            word = {StepStatus.OK: "done  ", StepStatus.FAILED: "FAILED"}.get(outcome.status, outcome.status)
            note = getattr(outcome.value, "note", "") if outcome.status == StepStatus.OK else ""
            if self.quiet and outcome.status == StepStatus.OK:
                return
            self._print(f"[{self._clock()}] {word} {step.title} ({outcome.duration:.1f}s){note}")

    def message(self, text: str) -> None:
        with self._lock:
            self._print(text)

    def close(self) -> None:
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join()
        with self._lock:
            self._erase()

    # -- drawing ------------------------------------------------------------
    def _clock(self) -> str:
        return f"{time.monotonic() - self.t0:6.1f}s"

    def _print(self, text: str) -> None:
        if self.live:
            self._erase()
        self.stream.write(text.rstrip("\n") + "\n")
        if self.live:
            self._draw()
        self.stream.flush()

    def _erase(self) -> None:
        if self._drawn:
            self.stream.write(f"\x1b[{self._drawn}A" + (_CLEAR_LINE + "\n") * self._drawn + f"\x1b[{self._drawn}A")
            self._drawn = 0

    def _draw(self) -> None:
        now = time.monotonic()
        width = _columns()
        lines = [f"  {'⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏'[int(now * 10) % 10]} {label}  {now - since:5.1f}s"
                 for label, since in self._running.values()]
        for line in lines:
            self.stream.write(_CLEAR_LINE + line[:width - 1] + "\n")
        self._drawn = len(lines)

    def _ensure_ticker(self) -> None:
        if self._ticker is None:
            self._ticker = threading.Thread(target=self._tick, name="progress", daemon=True)
            self._ticker.start()

    def _tick(self) -> None:
        while not self._stop.wait(_REFRESH_S):
            with self._lock:
                self._erase()
                self._draw()
                self.stream.flush()


def _columns() -> int:
    try:
        return os.get_terminal_size(sys.stderr.fileno()).columns
    except OSError:
        return 100

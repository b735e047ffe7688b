"""What a build shows while it runs: live lines on a terminal, plain lines in CI.

On a terminal there is one line per running step with a spinner and its
elapsed time, redrawn in place (rich's ``Live``); messages (a lock wait, a
compile error) and every other line the console prints go above them. Anywhere
else (CI, a pipe, TERM=dumb) each start and end is one plain line with a
timestamp, so logs stay readable.

rich is imported when the first step starts on a terminal, never before: a
no-op build runs no step, and its 30 ms of imports would be a third of what
the kit adds to starting invoke.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from typing import TYPE_CHECKING, Any, TextIO

from . import console
from .build.step import StepStatus

if TYPE_CHECKING:
    from .build.scheduler import Outcome
    from .build.step import Step

_REFRESH_PER_S = 10


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
        self._lock = threading.RLock()
        self._view: Any = None       # rich.live.Live, once a step started on a terminal
        self._spinners: dict[str, Any] = {}

    # -- events -------------------------------------------------------------
    def started(self, step: Step) -> None:
        with self._lock:
            self._running[step.name] = (step.title, time.monotonic())
            if not self.live and not self.quiet and not step.silent:
                self._print(f"[{self._clock()}] start  {step.title}")
            elif self.live:
                self._start_view()

    def finished(self, step: Step, outcome: Outcome) -> None:
        with self._lock:
            self._running.pop(step.name, None)
            self._spinners.pop(step.name, None)
            if self._view is not None:
                self._view.refresh()   # its running line goes before the line saying it ended
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

    def above(self, text: str, stream: TextIO) -> None:
        """A line another part of the task prints while the running lines are drawn: above them when it
        goes to the terminal, straight to its stream when that is redirected."""
        with self._lock:
            if self._view is not None and hasattr(stream, "isatty") and stream.isatty():
                self._print(text)
            else:
                stream.write(text + "\n")
                stream.flush()

    def close(self) -> None:
        with self._lock:
            view, self._view = self._view, None
        if view is not None:
            view.stop()   # transient: the running lines are erased
            console.detach(self)

    # -- drawing ------------------------------------------------------------
    def _clock(self) -> str:
        return f"{time.monotonic() - self.t0:6.1f}s"

    def _print(self, text: str) -> None:
        if self._view is not None:
            from rich.text import Text

            self._view.console.print(Text(text.rstrip("\n")), soft_wrap=True)
            return
        self.stream.write(text.rstrip("\n") + "\n")
        self.stream.flush()

    def _start_view(self) -> None:
        if self._view is not None:
            return
        from rich.console import Console
        from rich.live import Live

        term = Console(file=self.stream, force_terminal=True, highlight=False)
        self._view = Live(console=term, get_renderable=self._running_lines, refresh_per_second=_REFRESH_PER_S,
                          transient=True, redirect_stdout=False, redirect_stderr=False)
        self._view.start()
        console.attach(self)

    def _running_lines(self) -> Any:
        from rich.spinner import Spinner
        from rich.table import Table
        from rich.text import Text

        grid = Table.grid(padding=(0, 1))
        grid.add_column(width=1)
        grid.add_column(no_wrap=True, overflow="ellipsis")
        grid.add_column(justify="right", no_wrap=True)
        now = time.monotonic()
        # Called by Live's refresh thread with Live's lock held, while a step's end may hold ours and wait
        # for Live's to print: taking ours here could deadlock. Copying a dict is one step under the GIL.
        for name, (label, since) in list(self._running.items()):
            spinner = self._spinners.setdefault(name, Spinner("dots"))
            grid.add_row(spinner, Text(label), Text(f"{now - since:5.1f}s"))
        return grid

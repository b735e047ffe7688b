"""The one console of every task: what a task prints goes through here.

- ``out``: a task's result (a table, a summary, its JSON) on standard output, so
  ``invoke build > file`` and ``--format json | jq`` keep working.
- ``err``: progress of a long run (a release's steps, a bench's cases) on standard error.
- ``host``: one host's lines during a rollout, prefixed ``[host]``, whole lines even
  from hosts running in parallel.
- ``table`` and ``json``: the two shapes of a result.
- ``display``: the live display of a build's running steps (``progress.Display``):
  redrawn in place on a terminal, plain timestamped lines in CI and pipes.

While a live display is drawing, every line goes above it, so nothing written
from another thread tears the running lines.

The streams are looked up at each write, not kept, so a caller that swaps
``sys.stdout`` (a test capturing output, a redirect) is honoured.
"""

from __future__ import annotations

import json as _json
import sys
import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, TextIO

from .tables import table as _table

if TYPE_CHECKING:
    from .progress import Display

_lock = threading.RLock()
_live: list[Display] = []


def _write(stream: TextIO, text: str, end: str = "\n") -> None:
    with _lock:
        if _live:
            _live[-1].above((text + end).removesuffix("\n"), stream)
            return
        stream.write(text + end)
        stream.flush()


def out(text: str = "", end: str = "\n") -> None:
    """A line (or lines) of a task's result, on standard output; ``end=""`` for a document that ends
    with its own newline (an env file, the debt card)."""
    _write(sys.stdout, text, end)


def err(text: str = "") -> None:
    """A line of progress, on standard error."""
    _write(sys.stderr, text)


def host(name: str, text: str) -> None:
    """Lines about one host, each prefixed ``[name]``."""
    _write(sys.stdout, "\n".join(f"[{name}] {line}" for line in text.splitlines() or [""]))


def table(headers: list[str], rows: Iterable[list[str]], right: set[int] | None = None) -> None:
    """A result table with a header rule, columns aligned (``right``: the columns aligned right)."""
    out(_table(headers, list(rows), right))


def json(data: Any) -> None:
    """A result as indented JSON."""
    out(_json.dumps(data, indent=2))


def lines(texts: Iterable[str]) -> None:
    """Result lines, one after the other (aligned columns, a list)."""
    for text in texts:
        out(text)


def display(quiet: bool = False) -> Display:
    """The display of a run's steps, on standard error."""
    from .progress import Display

    return Display(quiet=quiet)


def attach(display: Display) -> None:
    """From now until ``detach``, lines are printed above ``display``'s running lines."""
    with _lock:
        _live.append(display)


def detach(display: Display) -> None:
    with _lock:
        if display in _live:
            _live.remove(display)

"""Plain text for the terminal and CI logs: aligned columns, tables with a rule, sizes.

Every task prints its tables through ``console.table``, which renders them here. A table library
stays out on purpose: the build prints its table after every run, a no-op run included, and on
top of what that run already imports, tabulate costs about 20 ms (it loads importlib.metadata)
and rich's console and table about 31 ms, against some 76 ms that the kit's whole no-op adds to
starting invoke. rich draws only the live display (``progress``), which a no-op never starts.
"""

from __future__ import annotations

from collections.abc import Sequence


def columns(rows: Sequence[Sequence[object]], right: set[int] | None = None) -> list[str]:
    """Rows as lines of aligned columns, two spaces apart, without trailing blanks."""
    right = right or set()
    cells = [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(cells[0]))] if cells else []
    return ["  ".join(c.rjust(w) if i in right else c.ljust(w)
                      for i, (c, w) in enumerate(zip(row, widths, strict=True))).rstrip()
            for row in cells]


def table(headers: list[str], rows: list[list[str]], right: set[int] | None = None) -> str:
    """A plain text table (copy-pasteable into a README or a CI log)."""
    head, *body = columns([headers, *rows], right)
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]
    rule = "  ".join("-" * w for w in widths)
    return "\n".join([head, rule, *body])


def human_size(n: int | None) -> str:
    if n is None:
        return "-"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return str(n)

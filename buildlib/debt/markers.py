"""TODO and FIXME markers in the comments of Go and Python files (+1 each)."""

from __future__ import annotations

import io
import re
import tokenize
from collections.abc import Callable, Iterable
from pathlib import Path

from .item import POINTS, Item

MARKER = re.compile(r"\b(TODO|FIXME)\b")


def go_comments(text: str) -> Iterable[tuple[int, str]]:
    """(line, text) of every comment in Go source; strings, raw strings and runes are skipped."""
    i, n, line = 0, len(text), 1
    while i < n:
        ch = text[i]
        if ch == "\n":
            line += 1
            i += 1
        elif text.startswith("//", i):
            end = text.find("\n", i)
            end = n if end < 0 else end
            yield line, text[i:end]
            i = end
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            end = n if end < 0 else end + 2
            for k, part in enumerate(text[i:end].split("\n")):
                yield line + k, part
            line += text.count("\n", i, end)
            i = end
        elif ch == "`":
            end = text.find("`", i + 1)
            end = n if end < 0 else end + 1
            line += text.count("\n", i, end)
            i = end
        elif ch in "\"'":
            j = i + 1
            while j < n and text[j] != ch and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            i = j + 1
        else:
            i += 1


def python_comments(text: str) -> Iterable[tuple[int, str]]:
    """(line, text) of every ``#`` comment in Python source."""
    try:
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            if tok.type == tokenize.COMMENT:
                yield tok.start[0], tok.string
    except (tokenize.TokenError, SyntaxError, IndentationError):
        # A file Python cannot tokenize still has its comment lines counted.
        for no, raw in enumerate(text.splitlines(), 1):
            if raw.lstrip().startswith("#"):
                yield no, raw.strip()


def markers(root: Path, files: Iterable[str]) -> list[Item]:
    items: list[Item] = []
    for rel in files:
        if rel.endswith(".go"):
            comments: Callable[[str], Iterable[tuple[int, str]]] = go_comments
        elif rel.endswith(".py"):
            comments = python_comments
        else:
            continue
        try:
            text = (root / rel).read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        for line, comment in comments(text):
            for m in MARKER.finditer(comment):
                snippet = comment[m.start():].strip()
                snippet = snippet if len(snippet) <= 70 else snippet[:67] + "..."
                items.append(Item("marker", f"{rel}:{line}", POINTS["marker"], snippet))
    return items

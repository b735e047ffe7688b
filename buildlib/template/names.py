"""The rules a Go module path and a service name must follow; each error names the rule it breaks.

The module path rules are those Go applies to a module others fetch with
``go get`` (golang.org/x/mod's CheckPath; ``go mod init`` alone is more
lenient): checked here first so the message says which rule, before any file
is written.
"""

from __future__ import annotations

import re

from ..errors import SelectionError

NAME_PATTERN = r"[a-z][a-z0-9-]{0,62}"
_ELEM_CHARS = re.compile(r"[A-Za-z0-9._~-]+")
_FIRST_CHARS = re.compile(r"[a-z0-9.-]+")
_WINDOWS_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(1, 10)), *(f"lpt{i}" for i in range(1, 10))}


def module_path_problem(path: str) -> str | None:
    """The rule ``path`` breaks, or None when Go accepts it as a module path."""
    if not path:
        return "it is empty; a module path looks like github.com/acme/orders"
    if path != path.strip() or any(c.isspace() for c in path):
        return "it contains white space; path elements use letters, digits and '-', '.', '_', '~'"
    if path.startswith("/") or path.endswith("/") or "//" in path:
        return "empty path element: it may not start or end with '/' or contain '//'"
    elems = path.split("/")
    first = elems[0]
    if "." not in first:
        return (f'the first path element "{first}" has no dot: it must be a domain name such as github.com '
                "(e.g. github.com/acme/orders)")
    if not _FIRST_CHARS.fullmatch(first):
        return (f'the first path element "{first}" may use only lower-case letters, digits, \'.\' and \'-\' '
                "(it is a domain name)")
    if first.startswith("-"):
        return f'the first path element "{first}" may not start with \'-\''
    for elem in elems:
        if elem in (".", ".."):
            return f'path element "{elem}" is not allowed (no "." or ".." elements)'
        bad = sorted({c for c in elem if not _ELEM_CHARS.fullmatch(c)})
        if bad:
            shown = ", ".join(repr(c) for c in bad)
            return (f'path element "{elem}" has characters that are not allowed ({shown}); '
                    "allowed: letters, digits and '-', '.', '_', '~'")
        if elem.startswith(".") or elem.endswith("."):
            return f'path element "{elem}" may not start or end with a dot'
        if elem.split(".")[0].lower() in _WINDOWS_RESERVED:
            return f'path element "{elem}" is a reserved file name on Windows'
        if re.search(r"~[0-9]+$", elem):
            return f'path element "{elem}" may not end in a tilde followed by digits (a Windows short name)'
    last = elems[-1]
    m = re.fullmatch(r"v([0-9]+)", last)
    if len(elems) > 1 and m:
        digits = m.group(1)
        if digits.startswith("0") or int(digits) < 2:
            return (f'the major version suffix "/{last}" is not allowed: only /v2 and above are written, '
                    "with no leading zero (drop it for v0 and v1)")
    return None


def check_module_path(path: str) -> str:
    problem = module_path_problem(path)
    if problem:
        raise SelectionError(f'invalid module path "{path}": {problem}')
    return path


def check_name(name: str) -> str:
    if not re.fullmatch(NAME_PATTERN, name):
        raise SelectionError(
            f'invalid service name "{name}": it must be a lower-case name (a-z, 0-9, \'-\'), starting with a '
            "letter, at most 63 characters; it names the project, its image and its systemd unit"
        )
    return name


def name_from_module(path: str) -> str | None:
    """A service name from a module path's last element (skipping a /vN suffix), when one can be made."""
    elems = path.split("/")
    if len(elems) > 1 and re.fullmatch(r"v[0-9]+", elems[-1]):
        elems = elems[:-1]
    guess = re.sub(r"[^a-z0-9-]+", "-", elems[-1].lower()).strip("-")
    return guess if re.fullmatch(NAME_PATTERN, guess) else None

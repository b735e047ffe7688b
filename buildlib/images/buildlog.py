"""Find the failing step, and its output, in BuildKit's plain progress log.

`--progress=plain` prints every step as `#N [stage i/n] INSTRUCTION`, its
output as `#N 1.234 text` and a failure as `#N ERROR: reason`, with the
steps of parallel stages interleaved. Grouping by N gives back each step's
own output, so the user sees the step that failed and what it printed, not
the last screenful of an interleaved log.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_TITLE = re.compile(r"^#(\d+) (\[.+)$")
_OUTPUT = re.compile(r"^#(\d+) \d+\.\d+ ?(.*)$")
_ERROR = re.compile(r"^#(\d+) ERROR: (.*)$")
_TAIL = 40


@dataclass(frozen=True)
class Failure:
    step: str
    output: str


def failure(log: str) -> Failure:
    """The failing step of ``log`` (or its last lines when BuildKit named no step)."""
    titles: dict[str, str] = {}
    output: dict[str, list[str]] = {}
    failed: tuple[str, str] | None = None
    for line in log.splitlines():
        if m := _ERROR.match(line):
            failed = (m.group(1), m.group(2))
        elif m := _TITLE.match(line):
            titles.setdefault(m.group(1), m.group(2))
        elif m := _OUTPUT.match(line):
            output.setdefault(m.group(1), []).append(m.group(2))
    if failed is None:
        lines = [ln for ln in log.splitlines() if ln.strip()]
        return Failure("(no step named; the end of the log follows)", "\n".join(lines[-_TAIL:]))
    step, reason = failed
    printed = output.get(step, [])[-_TAIL:]
    return Failure(titles.get(step, f"step #{step}"), "\n".join([*printed, f"ERROR: {reason}"]))


_METADATA = re.compile(r"^\[internal\] load metadata for (\S+)$")
# What BuildKit says when a registry cannot be reached (DNS, TCP, TLS, proxy): not a missing image.
_UNREACHABLE = re.compile(r"failed to do request|dial tcp|no such host|i/o timeout|connection refused|"
                          r"TLS handshake|network is unreachable|proxyconnect", re.I)


def unreachable_base(found: Failure) -> str | None:
    """The image reference whose registry could not be reached, when that is why the build failed."""
    m = _METADATA.match(found.step)
    if m and _UNREACHABLE.search(found.output):
        return m.group(1)
    return None


def short_ref(ref: str) -> str:
    """docker.io/library/golang:1.26 -> golang:1.26, as build.yaml writes it."""
    for prefix in ("docker.io/library/", "docker.io/"):
        if ref.startswith(prefix):
            return ref[len(prefix):]
    return ref

"""The target matrix (binaries x platforms) and the selectors that pick part of it."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from ..config import Project
from ..errors import SelectionError

SELECTOR_HELP = "a selector is BINARY, BINARY:GOOS/GOARCH or GOOS/GOARCH, comma-separated"


@dataclass(frozen=True, order=True)
class Target:
    binary: str
    platform: str   # "linux/amd64"
    main: str       # "./cmd/server"

    @property
    def id(self) -> str:
        return f"{self.binary}:{self.platform}"

    @property
    def goos(self) -> str:
        return self.platform.partition("/")[0]

    @property
    def goarch(self) -> str:
        return self.platform.partition("/")[2]

    @property
    def filename(self) -> str:
        return self.binary + (".exe" if self.goos == "windows" else "")

    def out_rel(self, out_dir: str) -> str:
        """Where the binary goes, relative to the repository root."""
        return f"{out_dir}/{self.goos}_{self.goarch}/{self.filename}"


def matrix(project: Project) -> list[Target]:
    """Every target build.yaml describes, in a stable order."""
    return sorted(
        Target(name, platform, binary.main)
        for name, binary in project.binaries.items()
        for platform in project.platforms_of(binary)
    )


def _unknown(word: str, kind: str, kinds: str, known: list[str]) -> SelectionError:
    hint = difflib.get_close_matches(word, known, n=1)
    maybe = f' (did you mean "{hint[0]}"?)' if hint else ""
    return SelectionError(f'unknown {kind} "{word}"{maybe}; valid {kinds}: {", ".join(known)}; {SELECTOR_HELP}')


def select(targets: list[Target], selectors: str | None) -> list[Target]:
    """The targets matched by ``selectors``; all of them when it is empty.

    An unknown binary or platform is an error listing the valid ones, so a typo
    never turns into "built nothing" with exit status 0.
    """
    words = [w for w in re.split(r"[,\s]+", selectors or "") if w]
    if not words:
        return list(targets)
    binaries = sorted({t.binary for t in targets})
    platforms = sorted({t.platform for t in targets})
    chosen: set[Target] = set()
    for word in words:
        binary, sep, platform = word.partition(":")
        if not sep and "/" in word:
            binary, platform = "", word
        if binary and binary not in binaries:
            raise _unknown(binary, "binary", "binaries", binaries)
        if platform and platform not in platforms:
            raise _unknown(platform, "platform", "platforms", platforms)
        if sep and not platform:
            raise SelectionError(f'"{word}" names no platform; {SELECTOR_HELP}')
        hits = {t for t in targets if (not binary or t.binary == binary) and (not platform or t.platform == platform)}
        if not hits:
            theirs = ", ".join(t.platform for t in targets if t.binary == binary)
            raise SelectionError(f'{binary} is not built for {platform}; its platforms: {theirs}')
        chosen |= hits
    return sorted(chosen)


"""Secret detection for what ships inside a binary: the files it embeds, and the binary's own strings.

The rules are detect-secrets' plugins (private key headers, cloud keys, service
tokens, keyword assignments, high-entropy strings), not patterns of our own.
Two sets apply:

- a text file (an embedded asset, as written in the repository) gets every
  plugin but ``IPPublicDetector`` (an address is not a secret), with
  detect-secrets' own false-positive filters and its per-file-type keyword rules;
- the printable strings of a binary get only the plugins that match a token by
  its *shape* (a PEM header, ``AKIA`` + 16, ``ghp_`` + 36, a JWT...). Measured on
  Go binaries: the keyword rules flag protobuf tags (``name=secret,proto3`` in
  the docker client, ``secretRef`` in containerd), the entropy rules flag build
  ids in our own darwin server, and the keyword-plus-value rules (Cloudant, IBM,
  SoftLayer) cost half of the scan time while only looking for words next to
  values, which Go's packed string tables are full of.

detect-secrets is imported inside the scanning functions only: it takes most of
a second to import, and a build with nothing new to scan must not pay for it.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Part of every cache key of a scan: bump it when the rules or their selection change.
RULES = "detect-secrets-1"
_NOT_SECRETS = frozenset({"IPPublicDetector"})
_NOISY_IN_BINARIES = frozenset({
    "KeywordDetector", "Base64HighEntropyString", "HexHighEntropyString",
    "CloudantDetector", "IbmCloudIamDetector", "IbmCosHmacDetector", "SoftlayerDetector",
})
# Runs of printable bytes at least this long, like strings(1) (whose default is 4: too short to hold a token).
_PRINTABLE_RUN = re.compile(rb"[\t\n\r\x20-\x7e]{8,}")
_TEXT_SNIFF = 8192


@dataclass(frozen=True)
class Hit:
    rule: str    # detect-secrets' name for what it found, e.g. "Private Key"
    where: str   # "line 3" in a text file, "offset 0x1a2b" in a binary

    def __str__(self) -> str:
        return f"{self.rule} ({self.where})"


def rules_version() -> str:
    """The rules and the library's version, for cache keys (no import of the library)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"{RULES}/{version('detect-secrets')}"
    except PackageNotFoundError:
        return f"{RULES}/missing"


def is_text(data: bytes) -> bool:
    """Text as detect-secrets reads it: UTF-8 without NUL bytes."""
    if b"\0" in data[:_TEXT_SNIFF]:
        return False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def allowed_by(name: str, patterns: Iterable[str]) -> str | None:
    """The first glob of ``patterns`` that ``name`` matches (``*`` also crosses ``/``), or None."""
    return next((p for p in patterns if fnmatch.fnmatchcase(name, p)), None)


@contextmanager
def scanner() -> Iterator[Scanner]:
    """detect-secrets configured once for a batch of files (its settings are process-wide)."""
    try:
        from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class
        from detect_secrets.settings import get_plugins, transient_settings
    except ImportError as exc:
        from ..errors import ToolError

        raise ToolError("the secret scan needs detect-secrets, which is not installed: "
                        "python3 -m pip install 'detect-secrets>=1.5' (the kit's pyproject.toml lists it)") from exc
    names = sorted(c.__name__ for c in get_mapping_from_secret_type_to_class().values()
                   if c.__name__ not in _NOT_SECRETS)
    with transient_settings({"plugins_used": [{"name": n} for n in names]}) as settings:
        # Judge a file by its bytes, not its name: a key saved as logo.png is still a key.
        settings.disable_filters("detect_secrets.filters.heuristic.is_non_text_file")
        yield Scanner([p for p in get_plugins() if type(p).__name__ not in _NOISY_IN_BINARIES])


class Scanner:
    """Scans files and binaries; made by ``scanner()``, valid inside its ``with`` block."""

    def __init__(self, binary_plugins: list[Any]) -> None:
        self._binary_plugins = binary_plugins

    def scan_path(self, path: Path) -> list[Hit]:
        """Scan a file on disk: as text when it is text, else its printable strings."""
        data = path.read_bytes()
        if is_text(data):
            return self.scan_text_file(path)
        return self.scan_binary(data)

    def scan_text_file(self, path: Path) -> list[Hit]:
        from detect_secrets.core.scan import scan_file

        found = {(s.type, s.line_number) for s in scan_file(str(path))}
        return [Hit(rule, f"line {line}") for rule, line in sorted(found, key=lambda x: (x[1], x[0]))]

    def scan_binary(self, data: bytes) -> list[Hit]:
        """The printable strings of ``data``, against the plugins that match a token's shape."""
        blob = "\n".join(m.decode("ascii") for m in _PRINTABLE_RUN.findall(data))
        found: dict[tuple[str, str], int] = {}
        for plugin in self._binary_plugins:
            for value in plugin.analyze_string(blob):
                value = value if isinstance(value, str) else str(value)
                if not value or _padding(value):
                    continue
                found.setdefault((plugin.secret_type, value), data.find(value.encode("ascii", "replace")))
        hits = {(rule, offset) for (rule, _), offset in found.items()}
        return [Hit(rule, f"offset {offset:#x}" if offset >= 0 else "in its strings")
                for rule, offset in sorted(hits, key=lambda x: (x[1], x[0]))]


def _padding(value: str) -> bool:
    """A match that is mostly one character (``AC7300000...``) is a filler table, not a token."""
    return max(value.count(c) for c in set(value)) * 2 > len(value)


def summarise(hits: list[Hit], limit: int = 4) -> str:
    """``AWS Access Key (lines 2, 3), Secret Keyword (line 3)``: each rule once, the rest counted."""
    by_rule: dict[str, list[str]] = {}
    for h in hits:
        by_rule.setdefault(h.rule, []).append(h.where)
    parts = []
    for rule, wheres in by_rule.items():
        kind, _, _ = wheres[0].partition(" ")
        if len(wheres) > 1 and all(w.startswith(kind + " ") for w in wheres):
            shown = ", ".join(w.partition(" ")[2] for w in wheres[:limit])
            more = f" and {len(wheres) - limit} more" if len(wheres) > limit else ""
            parts.append(f"{rule} ({kind}s {shown}{more})")
        else:
            parts.append(f"{rule} ({wheres[0]})")
    return ", ".join(parts)

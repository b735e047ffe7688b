"""The images' health probe: its Go source, put where the Dockerfile's probe stage reads it.

The probe (``_probe/main.go``, standard library only) is compiled inside the
image build, for the image's platform, so neither mode needs it on the host.
Its source lives in the kit rather than the service's module, and is written
into ``.build/probe/`` (which .dockerignore lets through) before each build.
The ``_probe`` folder name keeps it out of the service module's ``./...``.
"""

from __future__ import annotations

from pathlib import Path

from .. import layout
from ..atomic import write_bytes

SOURCE = Path(__file__).with_name("_probe") / "main.go"
BUILD_DIR = layout.PROBE


def write_source(root: Path) -> Path:
    """Write the probe's main.go under ``root``/.build/probe (only when it changed)."""
    out = root / BUILD_DIR / "main.go"
    text = SOURCE.read_bytes()
    if not out.is_file() or out.read_bytes() != text:
        write_bytes(out, text)
    return out

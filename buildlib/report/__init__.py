"""The build report: a history of results and an HTML page of charts drawn from it.

``record(kind, data)`` is the hook the build, bench, size_check and debt tasks
call with their result; ``invoke report`` turns the latest results and the
history into one self-contained HTML page (inline SVG, no script, no network).
"""

from .. import layout
from .history import KINDS, record

DEFAULT_OUTPUT = layout.REPORT  # where `invoke report` writes the page

__all__ = ["DEFAULT_OUTPUT", "KINDS", "record"]

"""Plain helpers for tests (fixtures live in conftest.py)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
MODULE_VERSION_PKG = "internal/version"


def go_binary() -> str:
    go = shutil.which("go") or ("/usr/local/go/bin/go" if Path("/usr/local/go/bin/go").exists() else None)
    if go is None:
        pytest.fail("no `go` on PATH: install Go (see README prerequisites)")
    return go


def module_path() -> str:
    for line in (REPO / "go.mod").read_text().splitlines():
        if line.startswith("module "):
            return line.split()[1]
    raise AssertionError("go.mod has no module line")


STAMP = {"Version": "9.8.7-test", "Commit": "abc1234", "Date": "2026-01-02T03:04:05Z"}


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate: Callable[[], bool], timeout: float, what: str, interval: float = 0.05) -> None:
    """Poll ``predicate`` until it holds; fail naming ``what`` after ``timeout`` seconds."""
    from buildlib import waiting

    if not waiting.until(predicate, timeout, interval):
        pytest.fail(f"timed out after {timeout}s waiting for {what}")


def run_invoke(*args: str, cwd: Path = REPO, env: dict[str, str] | None = None,
               timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """Run ``invoke ARGS`` in ``cwd`` as a user would, capturing its output."""
    return subprocess.run(
        [sys.executable, "-m", "invoke", *args], cwd=cwd, text=True, capture_output=True,
        env={**os.environ, **(env or {})}, timeout=timeout,
    )


@contextlib.contextmanager
def shared(shared_dir: Path, name: str, make: Callable[[], Any], release: Callable[[Any], None]) -> Iterator[Any]:
    """A resource the workers of a run share: made by the first that needs it, released by the last.

    ``make`` returns something JSON can hold (ports, pids, paths); a worker that
    comes after the last one let go makes it again.
    """
    from filelock import FileLock

    state = shared_dir / f"{name}.json"
    lock = FileLock(str(shared_dir / f"{name}.lock"))
    with lock:
        data = json.loads(state.read_text()) if state.exists() else {"users": 0, "value": None}
        if data["value"] is None:
            data["value"] = make()
        data["users"] += 1
        state.write_text(json.dumps(data))
    try:
        yield data["value"]
    finally:
        with lock:
            data = json.loads(state.read_text())
            data["users"] -= 1
            if data["users"] == 0:
                release(data["value"])
                data["value"] = None
            state.write_text(json.dumps(data))

"""File locks between concurrent runs on one tree, that say who holds them.

The locks are ``flock`` locks (filelock): the kernel drops them when their
holder dies, even by SIGKILL, so a killed run never blocks the next one. Next
to each lock a small JSON file names the holder (pid, command, since when), so
a run that has to wait can say what it waits for.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from . import layout
from .procs import pid_exists

LOCK_DIR = layout.LOCKS
# How often a waiting run repeats what it is waiting for.
_REMIND_S = 15.0


def _command() -> str:
    """How the holder was started, short: "invoke build --jobs 2"."""
    prog = "invoke" if "invoke" in sys.argv[0] else os.path.basename(sys.argv[0])
    return " ".join([prog, *sys.argv[1:4]])


class Locks:
    """Named locks under ``root/.build/locks``; ``notify`` hears about every wait."""

    def __init__(self, root: Path, notify: Callable[[str], None]) -> None:
        self.dir = root / LOCK_DIR
        self.root = root
        self.notify = notify
        # flock excludes other processes; this excludes this process's other threads.
        self._local: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def path(self, name: str) -> Path:
        return self.dir / f"{name}.lock"

    def holder(self, name: str) -> str:
        """Who holds ``name``, as far as its holder file tells."""
        try:
            info = json.loads(self.path(name).with_suffix(".holder").read_text())
            pid = int(info["pid"])
        except (OSError, ValueError, KeyError, TypeError):
            return "a process that has not written its name yet"
        if not pid_exists(pid):
            return "a process that has not written its name yet"
        age = time.time() - float(info.get("since", time.time()))
        return f"pid {pid} ({info.get('command', '?')}, for {age:.0f}s)"

    def _thread_lock(self, name: str) -> threading.Lock:
        with self._guard:
            return self._local.setdefault(name, threading.Lock())

    @contextlib.contextmanager
    def hold(self, name: str, what: str, quiet_for: float = 0.0) -> Iterator[None]:
        """Hold lock ``name``; when another run has it, say so (after ``quiet_for`` seconds) and wait."""
        from filelock import FileLock, Timeout  # here: a no-op build takes no lock and skips the import

        self.dir.mkdir(parents=True, exist_ok=True)
        path = self.path(name)
        local = self._thread_lock(name)
        lock = FileLock(str(path))
        with local:
            try:
                lock.acquire(timeout=quiet_for, poll_interval=0.02)
            except Timeout:
                rel = os.path.relpath(path, self.root)
                self.notify(f"waiting for {what}: {rel} is held by {self.holder(name)}")
                started = time.monotonic()
                while True:
                    try:
                        lock.acquire(timeout=_REMIND_S, poll_interval=0.05)
                        break
                    except Timeout:
                        self.notify(f"still waiting for {what} ({time.monotonic() - started:.0f}s): "
                                    f"{rel} is held by {self.holder(name)}")
            holder = path.with_suffix(".holder")
            try:
                holder.write_text(json.dumps({"pid": os.getpid(), "since": time.time(), "command": _command()}))
                yield
            finally:
                with contextlib.suppress(OSError):
                    holder.unlink()
                lock.release()

    @contextlib.contextmanager
    def hold_all(self, names: list[str], what: Callable[[str], str]) -> Iterator[None]:
        """Hold several locks, taken in sorted order so two runs can never wait on each other."""
        with contextlib.ExitStack() as stack:
            for name in sorted(set(names)):
                stack.enter_context(self.hold(name, what(name)))
            yield

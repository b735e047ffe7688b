"""Every ``go`` command of a build runs here, so that none of them outlives the build.

Which death reaches what:

- A ``go`` command runs in a process group of its own, led by ``reaper.py``;
  ``go`` and the compilers and linkers it starts inherit the group. Stopping
  the build (SIGTERM, SIGINT, a step cancelled) is one ``killpg`` of that group.
- The build being killed outright (SIGKILL of invoke alone, or of its whole
  process group as a CI timeout does) runs no code of the build at all. The
  reaper holds the read end of a pipe whose write end only the build holds;
  the kernel closes it when the build dies, the reaper reads end of file and
  kills its group. A parent-death signal (``prctl(PR_SET_PDEATHSIG)``) would
  reach ``go`` only: Linux clears it in every child ``go`` forks, so the
  compilers and the linker would run on; it also fires when the *thread* that
  started the child ends, not the process, and exists only on Linux.
- Keeping ``go`` in invoke's own process group would let a group kill reach
  everything, but not ``kill -9`` of invoke alone, and a stop of the build
  could then not signal ``go`` and its compilers without signalling itself.

``go`` also gets its own GOTMPDIR (its ``$WORK``, which it leaves behind when
it is killed) inside a temporary directory named after the build's pid, which
the next run removes once that pid is gone: see ``clean_stale``.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from . import layout, tools, waiting
from .errors import BuildlibError

REAPER = Path(__file__).resolve().with_name("reaper.py")
TMP_PREFIX = ".tmp-"
# Where go's own temporary files go ($WORK), per run: .build/tmp/.tmp-<pid>-<n>.
GO_TMP = layout.GO_TMP
STOP_GRACE_S = 3.0

_guard = threading.Lock()
_life: list[int] = []
_count = [0]


class Cancelled(BuildlibError):
    """The build is being stopped: the command was stopped with it."""


def _life_fd() -> int:
    """The read end of the pipe whose write end dies with this process (both ends non-inheritable)."""
    with _guard:
        if not _life:
            _life.extend(os.pipe())
        return _life[0]


def tmp_name() -> str:
    """A name for a temporary directory of this run: the next run removes it once this pid is gone."""
    with _guard:
        _count[0] += 1
        return f"{TMP_PREFIX}{os.getpid()}-{_count[0]}"


def go_tmpdir(root: Path) -> Path:
    """A fresh GOTMPDIR for one ``go`` command of this run."""
    path = root / GO_TMP / tmp_name()
    path.mkdir(parents=True, exist_ok=True)
    return path


def popen(argv: list[str], cwd: Path, env: dict[str, str], **kwargs: object) -> subprocess.Popen[str]:
    """Start ``argv`` under the reaper, in a new process group, with no terminal input."""
    fd = _life_fd()
    try:
        return subprocess.Popen([sys.executable, "-S", "-E", str(REAPER), str(fd), "--", *argv], cwd=cwd, env=env,
                                stdin=subprocess.DEVNULL, pass_fds=(fd,), process_group=0, text=True,
                                **kwargs)  # type: ignore[call-overload]
    except OSError as exc:
        raise tools.not_runnable(argv, exc) from exc


# How long stop() waits for the killed group to be gone from the process table.
GROUP_GONE_S = 5.0


def stop(proc: subprocess.Popen[str]) -> None:
    """Stop the command and everything it started: SIGTERM to its group, SIGKILL after a grace period."""
    for sig, wait in ((signal.SIGTERM, STOP_GRACE_S), (signal.SIGKILL, 30.0)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=wait)
            break
        except subprocess.TimeoutExpired:
            continue
    # The leader is gone; a compiler that ignored SIGTERM may not be.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    # SIGKILL is delivered, not yet done: return only once no process of the group is left (a linker
    # was seen in /proc just after the build had exited), within a bound.
    waiting.until(lambda: not _group_alive(proc.pid), GROUP_GONE_S, 0.02)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def run(argv: list[str], cwd: Path, env: dict[str, str], *, cancel: threading.Event | None = None,
        timeout: float | None = None, merge_stderr: bool = False, go_tmp: bool = True,
        check: bool = False, hint: str = "") -> subprocess.CompletedProcess[str]:
    """Run ``argv`` to the end and capture its output; stopped at once when ``cancel`` is set.

    Raises ``Cancelled`` when it was stopped, and a ``ToolError`` worded as ``tools.run`` words it
    (with ``hint``) on ``timeout``, when it cannot start, and with ``check`` on a non-zero exit.
    """
    tmp = go_tmpdir(cwd) if go_tmp else None
    if tmp is not None:
        env = {**env, "GOTMPDIR": str(tmp)}
    try:
        proc = popen(argv, cwd, env, stdout=subprocess.PIPE,
                     stderr=subprocess.STDOUT if merge_stderr else subprocess.PIPE)
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            while True:
                try:
                    out, err = proc.communicate(timeout=0.2)
                    break
                except subprocess.TimeoutExpired:
                    if cancel is not None and cancel.is_set():
                        stop(proc)
                        proc.communicate()
                        raise Cancelled("stopped") from None
                    if deadline is not None and time.monotonic() > deadline:
                        stop(proc)
                        proc.communicate()
                        raise tools.timed_out(argv, timeout, hint) from None
        except BaseException:
            if proc.poll() is None:
                stop(proc)
            raise
        done = subprocess.CompletedProcess(argv, proc.returncode, out or "", err or "")
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    if check and done.returncode != 0:
        raise tools.failed(argv, done, hint)
    return done


def _started(pid: int) -> float | None:
    """When ``pid`` started (seconds since the epoch), from /proc on Linux; None elsewhere."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        btime = next(int(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines()
                     if line.startswith("btime "))
    except (OSError, StopIteration, ValueError):
        return None
    # Field 22, after the command name in parentheses (which may itself hold spaces).
    ticks = int(stat.rpartition(")")[2].split()[19])
    return btime + ticks / os.sysconf("SC_CLK_TCK")


def pid_exists(pid: int) -> bool:
    """Whether a process ``pid`` exists (one of another user's counts too)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _alive(pid: int, since: float) -> bool:
    """Whether ``pid`` is the run that last wrote something at ``since``, not a later one given its pid."""
    if not pid_exists(pid):
        return False
    started = _started(pid)
    return started is None or started <= since + 2  # btime has whole seconds


def clean_stale(dirs: list[Path]) -> list[Path]:
    """Remove the temporary directories in ``dirs`` whose run is gone (killed); return what was removed."""
    removed = []
    for d in dirs:
        try:
            entries = list(os.scandir(d))
        except OSError:
            continue
        for entry in entries:
            m = re.match(re.escape(TMP_PREFIX) + r"(\d+)-", entry.name)
            if not m or not entry.is_dir(follow_symlinks=False):
                continue
            try:
                made = entry.stat(follow_symlinks=False).st_mtime
            except OSError:
                continue
            if int(m.group(1)) != os.getpid() and not _alive(int(m.group(1)), made):
                shutil.rmtree(entry.path, ignore_errors=True)
                removed.append(Path(entry.path))
    return removed

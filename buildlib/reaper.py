"""Run one command so that it and everything it starts die with the build that started it.

    python3 -S -E reaper.py FD -- COMMAND [ARGS...]

The build starts this script as the leader of a new process group; the command
(``go``) and the compilers and linkers it starts inherit that group. FD is the
read end of a pipe whose write end only the build holds, so a read returns end
of file when the build is gone, however it went, SIGKILL included. The script
then stops its whole group: that reaches the compilers too, which a
parent-death signal set on ``go`` would not (Linux clears it in every child
``go`` forks). It exits with the command's status (128 + N after signal N).

Standard library only, started with -S -E: it costs a few milliseconds, and
only when a ``go`` command runs at all.
"""

import contextlib
import os
import signal
import sys
import threading
import time

# How long compilers get to exit on SIGTERM before the group gets SIGKILL.
GRACE_S = 2.0


_stopping = threading.Event()
_child_done = threading.Event()


def _stop_group() -> None:
    """SIGTERM to the rest of the group (this process ignores it), then SIGKILL to all of it.

    The SIGKILL comes once the command has ended, or after the grace period, and ends this process
    too, with whatever of the group ignored SIGTERM.
    """
    _stopping.set()
    try:
        os.killpg(0, signal.SIGTERM)
        _child_done.wait(GRACE_S)
        os.killpg(0, signal.SIGKILL)
    except ProcessLookupError:
        pass
    os._exit(128 + signal.SIGTERM)


def _watch(fd: int) -> None:
    while True:
        try:
            if not os.read(fd, 64):
                break
        except InterruptedError:
            continue
        except OSError:
            break
    _stop_group()


def main(argv: list[str]) -> int:
    if len(argv) < 4 or argv[2] != "--":
        sys.stderr.write("usage: reaper.py FD -- COMMAND [ARGS...]\n")
        return 2
    fd, command = int(argv[1]), argv[3:]
    # SIGTERM to the group (the build stopping it, or _stop_group) is for the command and its children;
    # this process stays to report the status. Set here, in the main thread: a thread cannot.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    # Blocked across the fork: a SIGTERM sent between the fork and the child's reset stays pending
    # for the child, where an ignored one would be discarded and the command would run on until
    # the SIGKILL, GRACE_S later. Linux never discards a blocked signal, ignored or not.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    pid = os.fork()
    if pid == 0:
        os.close(fd)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)  # an ignored signal would stay ignored across exec
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})  # a pending one ends the child here
        try:
            os.execvp(command[0], command)
        except OSError as exc:
            os.write(2, f"cannot run {command[0]}: {exc.strerror}\n".encode())
        os._exit(127)
    # Here SIGTERM is ignored again: a pending one is dropped as the mask is lifted.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
    threading.Thread(target=_watch, args=(fd,), daemon=True).start()
    while True:
        try:
            _, status = os.waitpid(pid, 0)
            break
        except InterruptedError:
            continue
    _child_done.set()
    if _stopping.is_set():
        # The build is gone and _stop_group is at work: its SIGKILL ends this process too.
        time.sleep(GRACE_S + 60)
    # Whatever the command left running in the group (it crashed mid-build) goes with it.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(0, signal.SIGTERM)
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


if __name__ == "__main__":
    sys.exit(main(sys.argv))

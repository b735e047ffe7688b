"""One way to run a tool: every command the kit starts outside its reaped ``go`` runs (``procs``) goes here.

A tool that is missing, that exits non-zero, or that runs past its time becomes one ``ToolError``,
worded the same everywhere: which command, how it ended, the last lines it printed, and what to do
(the caller's ``hint``). ``procs.run`` words its failures with the same helpers, so a failed
``go list`` and a failed ``docker import`` read alike.

A caller that reads the exit status itself (``dpkg-query`` asking whether a package is installed,
``git merge-file`` counting conflicts) passes ``check=False`` and gets the finished process back; a
missing tool and a timeout are still errors then.

What is started to be stopped again rather than run to its end (the service the metrics check
reads, the benchmark's load generator) is a ``subprocess.Popen`` of its caller's, not a tool run.

Only the standard library: the no-op build's version stamp runs ``git`` through here.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from collections.abc import Callable, Mapping, Sequence
from typing import IO, Any

from .errors import ToolError

# How much of a failed tool's output the error quotes: its last lines, where tools put the reason.
TAIL_LINES = 20
_COMMAND_CHARS = 160


def command_text(argv: Sequence[str]) -> str:
    """``argv`` as a user would type it: the tool's name rather than its path, long commands cut."""
    words = [os.path.basename(str(argv[0])), *map(str, argv[1:])] if argv else []
    text = shlex.join(words)
    return text if len(text) <= _COMMAND_CHARS else text[: _COMMAND_CHARS - 3] + "..."


def output_tail(*texts: str | bytes | None, lines: int = TAIL_LINES) -> str:
    """The last ``lines`` non-blank lines of the first of ``texts`` that has any (stderr, then stdout)."""
    for text in texts:
        if isinstance(text, bytes):
            text = text.decode("utf-8", "replace")
        kept = [line.rstrip() for line in (text or "").splitlines() if line.strip()]
        if kept:
            return "\n".join(kept[-lines:])
    return ""


def failed(argv: Sequence[str], proc: subprocess.CompletedProcess[Any], hint: str = "") -> ToolError:
    """The error for ``proc``, finished with a non-zero status: the command, the status, its last words."""
    said = output_tail(proc.stderr, proc.stdout)
    status = (f"was killed by signal {-proc.returncode}" if proc.returncode < 0
              else f"failed with exit status {proc.returncode}")
    return ToolError(f"`{command_text(argv)}` {status}" + (f":\n{said}" if said else ""), hint=hint)


def timed_out(argv: Sequence[str], timeout: float, hint: str = "") -> ToolError:
    return ToolError(f"`{command_text(argv)}` did not finish within {timeout:g} s; it was stopped", hint=hint)


def not_runnable(argv: Sequence[str], exc: OSError, hint: str = "") -> ToolError:
    what = "is not installed or not on PATH" if isinstance(exc, FileNotFoundError) else f"cannot run: {exc.strerror}"
    return ToolError(f"`{os.path.basename(str(argv[0]))}` {what}", hint=hint or "install it, or put it on PATH")


def which(name: str, hint: str, also: Sequence[str] = ()) -> str:
    """The path of ``name`` on PATH, else in the folders ``also`` (an sbin a user's PATH may lack), or a
    ToolError saying how to install it (``hint``)."""
    path = shutil.which(name) or next((p for p in (os.path.join(d, name) for d in also) if os.access(p, os.X_OK)),
                                      None)
    if path is None:
        raise ToolError(f"`{name}` is not installed or not on PATH", hint=hint)
    return path


def run(argv: Sequence[str], *, cwd: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None,
        input: str | bytes | None = None, timeout: float | None = 600, check: bool = True, text: bool = True,
        stdout: IO[Any] | None = None, merge_stderr: bool = False, hint: str = "",
        ) -> subprocess.CompletedProcess[Any]:
    """Run ``argv`` to the end, its output captured (or written to ``stdout``), with no terminal input.

    Raises ToolError when the tool cannot start, when it runs past ``timeout`` seconds (it is killed),
    and, with ``check``, when it exits non-zero; ``hint`` says what to do in each case.
    """
    argv = [str(a) for a in argv]
    try:
        proc = subprocess.run(
            argv, cwd=cwd, env=None if env is None else dict(env), input=input, timeout=timeout, text=text,
            stdin=subprocess.DEVNULL if input is None else None,
            stdout=stdout if stdout is not None else subprocess.PIPE,
            stderr=subprocess.STDOUT if merge_stderr else subprocess.PIPE)
    except OSError as exc:
        raise not_runnable(argv, exc, hint) from exc
    except subprocess.TimeoutExpired as exc:
        raise timed_out(argv, timeout or 0, hint) from exc
    if check and proc.returncode != 0:
        raise failed(argv, proc, hint)
    return proc


def feed(argv: Sequence[str], write: Callable[[IO[bytes]], object], *, env: Mapping[str, str] | None = None,
         hint: str = "") -> subprocess.CompletedProcess[bytes]:
    """Run ``argv`` with ``write`` streaming its standard input (an image's tar, too big to hold in
    memory); the errors are ``run``'s, a non-zero exit always one."""
    argv = [str(a) for a in argv]
    try:
        proc = subprocess.Popen(argv, env=None if env is None else dict(env), stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    except OSError as exc:
        raise not_runnable(argv, exc, hint) from exc
    assert proc.stdin is not None
    try:
        write(proc.stdin)
    except BrokenPipeError:
        pass  # the tool stopped reading; its stderr says why
    except BaseException:
        proc.kill()
        proc.communicate()
        raise
    out, err = proc.communicate()  # closes its standard input: the end of the stream
    done = subprocess.CompletedProcess(argv, proc.returncode, out, err)
    if done.returncode != 0:
        raise failed(argv, done, hint)
    return done

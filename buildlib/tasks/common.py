"""What every task module shares: errors become exit messages, config is loaded once per call."""

from __future__ import annotations

import functools
import os
import shlex
import sys
from collections.abc import Callable, Iterable
from typing import Any

from invoke import Context, Exit
from invoke import task as invoke_task

from .. import config
from ..errors import BuildlibError, SelectionError


def task(*args: Any, **kwargs: Any) -> Any:
    """``invoke.task`` whose body turns a BuildlibError into ``Exit(message, code)``.

    The user reads one sentence saying what is wrong and what to do, never a
    traceback, and the exit status is non-zero.
    """

    def wrap(body: Callable[..., Any]) -> Any:
        @functools.wraps(body)
        def run(c: Context, *a: Any, **kw: Any) -> Any:
            try:
                return body(c, *a, **kw)
            except BuildlibError as exc:
                raise Exit(f"error: {exc}", code=exc.exit_code) from exc
            except BrokenPipeError:
                # The reader went away (`invoke image.check | head`): stop quietly, as other commands do.
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, sys.stdout.fileno())
                raise Exit(code=141) from None

        return invoke_task(run, **kwargs)

    if len(args) == 1 and callable(args[0]) and not kwargs:
        return wrap(args[0])
    return wrap


def project(c: Context) -> config.Project:
    """The validated build.yaml; ``invoke --config`` may name another via ``buildlib.config``."""
    path = c.config.get("buildlib", {}).get("config")
    return config.load(path)


def selection(flag: str, value: str | list[str] | None, valid: Iterable[str], absent: str,
              many: bool = True) -> list[str] | None:
    """The words of a selector flag (``--hosts a,b``), or None when the flag was not given.

    Only the absence of a flag means "all" (or the default): an empty or blank
    value, or an empty item of a comma list, is an error. Otherwise
    ``--hosts "$HOSTS"`` with HOSTS unset would roll out to every host.
    ``value`` is a list for iterable flags (``--variant a --variant b``).
    """
    if value is None or value == []:
        return None
    words = []
    for item in [value] if isinstance(value, str) else value:
        for word in item.split(",") if many else [item]:
            if not word.strip():
                what = "an empty item" if many and item.strip(", ") else "an empty value"
                known = ", ".join(valid) or "none"
                raise SelectionError(f"--{flag.replace('_', '-')} {shlex.quote(item)}: {what} selects nothing; "
                                     f"valid: {known}; leave --{flag.replace('_', '-')} out for {absent}")
            words.append(word.strip())
    return words


def one(flag: str, value: str | None, valid: Iterable[str], absent: str) -> str | None:
    """A flag naming one choice (``--profile dev``): None when not given, an error when blank."""
    words = selection(flag, value, valid, absent, many=False)
    return words[0] if words else None


def not_blank(flag: str, value: str | None, absent: str) -> str | None:
    """A free-form flag (``--version``, ``--out``): None when not given, an error when blank."""
    if value is not None and not value.strip():
        raise SelectionError(f"--{flag.replace('_', '-')} is empty; give a value or leave it out for {absent}")
    return value

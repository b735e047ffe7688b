"""What every task module shares: errors become exit messages, config is loaded once per call."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from invoke import Context, Exit
from invoke import task as invoke_task

from .. import config
from ..errors import BuildlibError


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

        return invoke_task(run, **kwargs)

    if len(args) == 1 and callable(args[0]) and not kwargs:
        return wrap(args[0])
    return wrap


def project(c: Context) -> config.Project:
    """The validated build.yaml; ``invoke --config`` may name another via ``buildlib.config``."""
    path = c.config.get("buildlib", {}).get("config")
    return config.load(path)

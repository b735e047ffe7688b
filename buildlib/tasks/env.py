"""Tasks about environment profiles (dev, test, prod)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from invoke import Collection, Context

from .. import console
from ..errors import SelectionError
from ..tables import columns
from .common import one, project, task

if TYPE_CHECKING:
    from ..config import Project

FORMATS = ("env", "json")


@task(
    help={
        "profile": "environment to print (dev, test, prod...); without it, a table of all of them",
        "format": "env (KEY=value lines, for an env file) or json",
    }
)
def env(c: Context, profile: str | None = None, format: str = "env") -> None:  # noqa: A002 - the flag is --format
    """Print the values of an environment profile from build.yaml."""
    from .. import environments

    p = project(c)
    profile = one("profile", profile, environments.names(p), "a table of every environment")
    if format not in FORMATS:
        raise SelectionError(f'unknown format "{format}"; allowed: {", ".join(FORMATS)}')
    if profile is None:
        environments.check(p)
        _table(p)
        return
    e = environments.get(p, profile)
    if format == "json":
        console.out(e.as_json())
    else:
        console.out(e.env_file(), end="")


def _table(p: Project) -> None:
    from .. import environments

    envs = [environments.get(p, name) for name in environments.names(p)]
    keys: list[str] = []
    for e in envs:
        keys += [k for k in e.values if k not in keys]
    rows = [["", *[e.name for e in envs]], ["build profile", *[e.profile.name for e in envs]]]
    rows += [[k, *[e.values.get(k, "-") for e in envs]] for k in keys]
    console.lines(columns(rows))


ns = Collection(env)

"""Tasks about build.yaml itself."""

from __future__ import annotations

from invoke import Collection, Context

from .. import console
from .common import project, task


@task
def info(c: Context) -> None:
    """Validate build.yaml and print what it describes."""
    p = project(c)
    console.out(f"project   {p.project.name}  (version: {p.project.version})  config: {p.path}")
    for name, binary in sorted(p.binaries.items()):
        console.out(f"binary    {name:<12} {binary.main:<20} {', '.join(p.platforms_of(binary))}")
    for name, prof in sorted(p.profiles.items()):
        marker = " (default)" if name == p.build.profile else ""
        env = " ".join(f"{k}={v}" for k, v in sorted(prof.go_env().items()))
        console.out(f"profile   {name}{marker}: strip={prof.strip} trimpath={prof.trimpath} "
                    f"gcflags={prof.gcflags!r} tags={','.join(prof.tags) or '-'} {env}")
    console.out(f"outputs   {p.build.out_dir}/<goos>_<goarch>/<binary>   jobs: {p.build.jobs}")


ns = Collection(info)

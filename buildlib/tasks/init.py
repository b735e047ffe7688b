"""Start a service from this template, or adopt the kit in an existing Go repository."""

from __future__ import annotations

from pathlib import Path

from invoke import Collection, Context

from ..errors import SelectionError
from ..template import adopt as adopt_repo
from ..template import new
from .common import not_blank, task


def _template_root(c: Context) -> Path:
    """The repository holding tasks.py (the template), wherever invoke was started from."""
    from .. import config

    root = Path(__file__).resolve().parents[2]
    if (root / config.CONFIG_NAME).is_file() and (root / "go.mod").is_file():
        return root
    return config.find_config().parent


@task(
    help={
        "module": "Go module path of the new service, e.g. github.com/acme/orders",
        "name": "service name (project, image, unit); default: the module path's last element",
        "dest": "directory to write the new repository into (new or empty)",
        "force": "write into a non-empty --dest (same-name files replaced, others kept), or replace build.yaml "
                 "with --adopt",
        "adopt": "write a build.yaml for the repository in --dest (default: here) from its go.mod and main "
                 "packages",
    }
)
def init(c: Context, module: str | None = None, name: str | None = None, dest: str | None = None,
         force: bool = False, adopt: bool = False) -> None:
    """Write a new service repository from this template, or adopt the kit in an existing one."""
    module = not_blank("module", module, "go.mod's module with --adopt")
    name = not_blank("name", name, "the module path's last element")
    dest = not_blank("dest", dest, "the current directory with --adopt")
    if adopt:
        if module is not None:
            raise SelectionError("--module is read from go.mod with --adopt; leave it out")
        done = adopt_repo.adopt(Path(dest or "."), name, force=force)
        print(f"adopted {done.root}: module {done.module}, service {done.name}")
        for m in done.mains:
            print(f"  binary {m.name:<16} {m.main}")
        if done.created_version_package:
            print(f"  created {done.version_package}/version.go: `invoke build` stamps Version, Commit and Date "
                  "into it; print them from a -version flag or a /version route")
        if done.gitignore_added:
            print(f"  .gitignore: added {' '.join(done.gitignore_added)}")
        print("wrote build.yaml; next: invoke info && invoke build")
        return
    if module is None or dest is None:
        raise SelectionError("a new service needs --module and --dest, e.g. "
                             "invoke init --module github.com/acme/orders --name orders --dest ../orders "
                             "(or --adopt in an existing repository)")
    result = new.create(_template_root(c), Path(dest), module, name, force=force)
    print(f"wrote {result.files} files to {result.dest}")
    print(f"  module  {result.old_module} -> {result.module}")
    print(f"  service {result.old_name} -> {result.name}")
    if result.leftovers:
        print(f"  warning: the old names still show in {len(result.leftovers)} place(s); edit them by hand:")
        for where in result.leftovers[:20]:
            print(f"    {where}")
    print(f"next: cd {result.dest} && go test ./... && invoke build")


ns = Collection(init)

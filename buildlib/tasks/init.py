"""Start a service from this template, adopt the kit into an existing one, or bring the kit up to date there."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from invoke import Collection, Context

from .. import console
from ..errors import RunFailed, SelectionError
from .common import not_blank, task

if TYPE_CHECKING:  # the template code loads only when `invoke init` runs
    from ..template import adopt as adopt_repo
    from ..template import kit


def _template_root(c: Context) -> Path:
    """The repository holding tasks.py (the template), wherever invoke was started from."""
    from .. import config

    root = Path(__file__).resolve().parents[2]
    if (root / config.CONFIG_NAME).is_file() and (root / "go.mod").is_file():
        return root
    return config.find_config().parent


def _kit_root() -> Path:
    """The checkout this buildlib runs from: the kit that adopt copies and update reads."""
    return Path(__file__).resolve().parents[2]


def _print_adopted(done: adopt_repo.Adopted) -> None:
    from ..template import adopt as adopt_repo
    from ..template import kit

    console.out(f"adopted {done.root}: module {done.module}, service {done.name}")
    kept = f", {len(done.kit.backups)} kept as .orig: {', '.join(done.kit.backups)}" if done.kit.backups else ""
    console.out(f"  kit {done.kit.version.label}: {len(done.kit.of(kit.Change.ADDED))} file(s) written{kept}")
    for b in done.binaries:
        where = f" ({', '.join(b['platforms'])} only)" if b["platforms"] else ""
        console.out(f"  {b['role']:<8} {b['name']:<16} {b['main']:<22} {b['why']}{where}")
    f = done.facts
    seen = adopt_repo.port_choice(f)
    port = f"{f.port.value} ({f.port.where})" if f.port else f"{seen['value']}, {seen['why']}"
    console.out(f"  port     {port}")
    health = f"{f.health.value} ({f.health.where})" if f.health else "none seen: the probe checks the port"
    console.out(f"  health   {health}")
    for s in f.files:
        console.out(f"  reads    {s.value} ({s.where})")
    for s in f.writable:
        console.out(f"  writes   {s.value}/ ({s.where})")
    if f.tzdata:
        console.out(f"  tzdata   {f.tzdata.where}")
    if f.cgo:
        console.out(f"  cgo      {', '.join(f.cgo)}")
    console.out(f"  budgets  {done.budgets['why']}")
    console.out(f"  tidy     {done.tidy['mode']}: {done.tidy['why']}")
    if done.created_version_package:
        console.out(f"  created {done.version_package}/version.go: `invoke build` stamps Version, Commit and Date "
                    "into it; print them from a -version flag or a /version route")
    if done.gitignore_added:
        console.out(f"  .gitignore: added {' '.join(done.gitignore_added)}")
    for note in done.notes:
        console.out(f"  check: {note}")
    console.out(f"wrote build.yaml; next: cd {done.root} && python3 -m venv .venv && .venv/bin/pip install -e . "
                "&& .venv/bin/invoke build")


def _print_update(dest: Path, out: kit.FileOutcome) -> None:
    from ..template import kit

    console.out(f"updated the kit in {dest} to {out.version.label}")
    for change in kit.Change:
        paths = out.of(change)
        if paths and change is not kit.Change.SAME:
            more = " ..." if len(paths) > 8 else ""
            console.out(f"  {change.value:<10} {len(paths):>3}  " + ", ".join(paths[:8]) + more)
    console.out(f"  {kit.Change.SAME.value:<10} {len(out.of(kit.Change.SAME)):>3}")
    conflicts = out.of(kit.Change.CONFLICT)
    if conflicts:
        raise RunFailed(f"{len(conflicts)} file(s) were edited here and in the kit in clashing ways; resolve "
                        f"the <<<<<<< markers in: {', '.join(conflicts)}, then commit")


@task(
    help={
        "module": "Go module path of the new service, e.g. github.com/acme/orders",
        "name": "service name (project, image, unit); default: from the module path",
        "dest": "directory to write into: the new repository, or with --adopt/--update an existing one",
        "force": "write into a non-empty --dest (same-name files replaced, others kept); with --adopt, keep each "
                 "file the kit replaces as FILE.orig",
        "adopt": "put the kit into the Go repository in --dest and write its build.yaml from its code",
        "update": "bring the kit in --dest (adopted earlier) up to this kit's version, keeping local edits",
    }
)
def init(c: Context, module: str | None = None, name: str | None = None, dest: str | None = None,
         force: bool = False, adopt: bool = False, update: bool = False) -> None:
    """Write a new service from this template, adopt the kit into a repository, or update it there."""
    from ..template import adopt as adopt_repo
    from ..template import kit, new

    module = not_blank("module", module, "go.mod's module with --adopt")
    name = not_blank("name", name, "the module path's last element")
    if dest is not None and not dest.strip():
        raise SelectionError("--dest is empty; name a directory, e.g. --dest ../orders")
    if adopt and update:
        raise SelectionError("--adopt and --update do different things; pass one of them")
    if update:
        if dest is None:
            raise SelectionError("--update needs --dest PATH: the service repository to bring up to date")
        _print_update(Path(dest), kit.update(_kit_root(), Path(dest)))
        return
    if adopt:
        if module is not None:
            raise SelectionError("--module is read from go.mod with --adopt; leave it out")
        if dest is None:
            raise SelectionError("--adopt needs --dest PATH: the Go repository (the folder holding go.mod) to "
                                 "put the kit into, e.g. invoke init --adopt --dest ../orders")
        _print_adopted(adopt_repo.adopt(Path(dest), _kit_root(), name, force=force))
        return
    if module is None or dest is None:
        raise SelectionError("a new service needs --module and --dest, e.g. "
                             "invoke init --module github.com/acme/orders --name orders --dest ../orders "
                             "(or --adopt --dest PATH for an existing repository)")
    result = new.create(_template_root(c), Path(dest), module, name, force=force)
    kit.record(_template_root(c), result.dest)
    console.out(f"wrote {result.files} files to {result.dest}")
    console.out(f"  module  {result.old_module} -> {result.module}")
    console.out(f"  service {result.old_name} -> {result.name}")
    if result.leftovers:
        console.out(f"  warning: the old names still show in {len(result.leftovers)} place(s); edit them by hand:")
        for where in result.leftovers[:20]:
            console.out(f"    {where}")
    console.out(f"next: cd {result.dest} && go test ./... && invoke build")


ns = Collection(init)

"""``invoke init``: write a new service repository from this one.

The template's own names are read, never assumed: the module path from go.mod
and the service name from build.yaml's project.name. Every text file is copied
with both rewritten (Go import paths, go.mod, build.yaml, Dockerfiles, deploy
templates, docs), and a file or directory whose name holds the service name is
renamed. go.sum needs nothing: the main module never appears in it.

Everything is written into a temporary directory next to the destination and
renamed into place at the end, so a failure leaves nothing half-written.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .. import config, tools
from ..errors import SelectionError
from .files import repository_files
from .names import check_module_path, check_name, name_from_module


@dataclass
class Renamer:
    """Rewrites the template's module path and service name, in one pass so nothing is rewritten twice."""

    old_module: str
    new_module: str
    old_name: str
    new_name: str
    _pattern: re.Pattern[str] = field(init=False)
    _table: dict[str, str] = field(init=False)
    _camel: str = field(init=False)

    def __post_init__(self) -> None:
        table = {self.old_module: self.new_module}
        for variant in (str.lower, str.title, lambda s: s.upper().replace("-", "_")):
            table.setdefault(variant(self.old_name), variant(self.new_name))
        # The name at the head of a CamelCase identifier: the alerts (GinsvcLatencyP95High).
        from ..monitor.rules import alert_prefix

        old_camel, self._camel = alert_prefix(self.old_name), alert_prefix(self.new_name)
        self._table = table
        module = re.escape(self.old_module)
        names = "|".join(re.escape(k) for k in sorted(table, key=len, reverse=True) if k != self.old_module)
        self._pattern = re.compile(
            rf"(?<![A-Za-z0-9_.~/-])(?P<module>{module})(?![A-Za-z0-9_~-])"
            rf"|(?<![A-Za-z0-9])(?P<name>{names})(?![A-Za-z0-9])"
            rf"|(?<![A-Za-z0-9])(?P<camel>{re.escape(old_camel)})(?=[A-Z])"
        )

    def text(self, text: str) -> str:
        return self._pattern.sub(lambda m: self._camel if m.lastgroup == "camel" else self._table[m.group(0)], text)

    def path(self, rel: str) -> str:
        """A relative path with the service name replaced in its components."""
        return "/".join(self.text(part) for part in rel.split("/"))

    def leftovers(self, text: str) -> list[int]:
        """Line numbers where an old name still shows (any case)."""
        needles = [self.old_module.lower(), self.old_name.lower()]
        found = []
        for i, line in enumerate(text.splitlines(), 1):
            # The new names may contain the old ones (orders-ginsvc): they are not leftovers.
            rest = line.lower()
            for new in (self.new_module.lower(), self.new_name.lower()):
                if any(n in new for n in needles):
                    rest = rest.replace(new, " ")
            if any(n in rest for n in needles):
                found.append(i)
        return found


@dataclass
class NewService:
    dest: Path
    files: int
    old_module: str
    old_name: str
    module: str
    name: str
    leftovers: list[str]


def _is_text(data: bytes) -> bool:
    if b"\0" in data:
        return False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _gofmt() -> str | None:
    found = shutil.which("gofmt")
    if found:
        return found
    go = shutil.which("go") or "/usr/local/go/bin/go"
    candidate = Path(go).resolve().parent / "gofmt"
    return str(candidate) if candidate.exists() else None


def format_go(root: Path, files: list[str]) -> None:
    """gofmt the rewritten Go files: a new module path can change the order of an import block."""
    gofmt = _gofmt()
    if gofmt is None or not files:
        return
    tools.run([gofmt, "-w", *files], cwd=root, timeout=300,
              hint="the rewritten Go files do not parse; the new project was not written")


def _non_empty(path: Path) -> bool:
    return path.is_dir() and any(path.iterdir())


def _link_or_copy_tree(src: Path, dst: Path) -> None:
    """Put every entry of ``src`` that ``dst`` does not have into ``dst`` (hard links where possible)."""
    for folder, dirs, files in os.walk(src):
        rel = Path(folder).relative_to(src)
        target_dir = dst / rel
        target_dir.mkdir(parents=True, exist_ok=True)
        for d in list(dirs):
            if (Path(folder) / d).is_symlink():
                dirs.remove(d)
                files.append(d)
        for f in files:
            s, t = Path(folder) / f, target_dir / f
            if t.exists() or t.is_symlink():
                continue
            if s.is_symlink():
                os.symlink(os.readlink(s), t)
                continue
            try:
                os.link(s, t)
            except OSError:
                shutil.copy2(s, t)


def create(
    template_root: Path,
    dest: Path,
    module: str,
    name: str | None = None,
    *,
    force: bool = False,
    before_rename: Callable[[Path], None] | None = None,
) -> NewService:
    """Write a new repository at ``dest`` from the template at ``template_root``."""
    check_module_path(module)
    if name is None:
        name = name_from_module(module)
        if name is None:
            raise SelectionError(f'no service name can be made from "{module}"; pass --name NAME')
    check_name(name)
    project = config.load(template_root / config.CONFIG_NAME)
    old_module = config.go_module_path(template_root)
    old_name = project.project.name
    root = template_root.resolve()
    dest = dest.expanduser().absolute()
    if dest.resolve() == root or root.is_relative_to(dest.resolve()):
        raise SelectionError(f"--dest {dest} is the template itself or holds it; choose a new directory")
    if dest.exists() and not dest.is_dir():
        raise SelectionError(f"--dest {dest} exists and is not a directory")
    if _non_empty(dest) and not force:
        raise SelectionError(
            f"--dest {dest} is not empty; choose a new or empty directory, or pass --force to write the "
            "template over it (files of the same name are replaced, others kept)"
        )
    skip = [project.build.out_dir]
    if dest.resolve().is_relative_to(root):
        skip.append(dest.resolve().relative_to(root).as_posix())
    files = repository_files(root, skip_top=skip)
    renamer = Renamer(old_module, module, old_name, name)

    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.parent / f".{dest.name}.init-{secrets.token_hex(4)}"
    tmp.mkdir()
    try:
        go_files: list[str] = []
        leftovers: list[str] = []
        for rel in files:
            src = root / rel
            new_rel = renamer.path(rel)
            target = tmp / new_rel
            target.parent.mkdir(parents=True, exist_ok=True)
            if src.is_symlink():
                os.symlink(renamer.text(os.readlink(src)), target)
                continue
            data = src.read_bytes()
            if _is_text(data):
                text = renamer.text(data.decode("utf-8"))
                data = text.encode("utf-8")
                leftovers += [f"{new_rel}:{line}" for line in renamer.leftovers(text)]
                if new_rel.endswith(".go"):
                    go_files.append(new_rel)
            target.write_bytes(data)
            os.chmod(target, src.stat().st_mode & 0o777)
        format_go(tmp, go_files)
        config.load(tmp / config.CONFIG_NAME)  # the rewritten build.yaml must be valid as it stands
        if before_rename is not None:
            before_rename(tmp)
        if dest.exists():
            if _non_empty(dest):
                _link_or_copy_tree(dest, tmp)
                old = dest.parent / f".{dest.name}.replaced-{secrets.token_hex(4)}"
                os.rename(dest, old)
                os.rename(tmp, dest)
                shutil.rmtree(old, ignore_errors=True)
            else:
                dest.rmdir()
                os.rename(tmp, dest)
        else:
            os.rename(tmp, dest)
    except BaseException:
        with contextlib.suppress(OSError):
            shutil.rmtree(tmp)
        raise
    return NewService(dest, len(files), old_module, old_name, module, name, leftovers)

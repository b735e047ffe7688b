"""Secret values for the environment file: from the deployer's environment or a file outside the repository.

They are read at deploy time, go to the hosts inside the uploaded
environment file (0600) and are never written to the deployer's disk.
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Mapping
from pathlib import Path

from ..config import Project
from ..errors import InputError
from .settings import DeployConfig, expand_local

_LINE = re.compile(r"\s*(?:export\s+)?([A-Z_][A-Z0-9_]*)\s*=\s*(.*?)\s*")


def read_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines (``#`` comments, optional ``export`` and matching quotes)."""
    values = {}
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise InputError(f"{path}: cannot read the secrets file: {why}") from exc
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        m = _LINE.fullmatch(line)
        if m is None:
            raise InputError(f"{path}:{number}: expected NAME=value")
        value = m.group(2)
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[m.group(1)] = value
    return values


def load(project: Project, cfg: DeployConfig, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Every name in deploy.secrets.names: the deployer's environment first, then the secrets file."""
    environ = os.environ if environ is None else environ
    from_file: dict[str, str] = {}
    path = None
    if cfg.secrets_file:
        path = expand_local(project, cfg.secrets_file).resolve()
        if path.is_relative_to(project.root.resolve()):
            raise project.error("deploy.secrets.file", f"{path} is inside the repository; keep secrets out of "
                                "it, e.g. ~/.config/<project>/secrets.env (chmod 600)")
        if not path.is_file():
            raise project.error("deploy.secrets.file", f"{path} does not exist; create it with NAME=value lines "
                                "(chmod 600), or export the secrets in the deployer's environment")
        check_private(path)
        from_file = read_file(path)
    values = {}
    for name in cfg.secret_names:
        if name in environ:
            values[name], source = environ[name], "the deployer's environment"
        elif name in from_file:
            values[name], source = from_file[name], str(path)
        else:
            where = f" or add it to {path}" if path else " or name a secrets file in deploy.secrets.file"
            raise InputError(f"secret {name} is not set: export {name}=...{where}; secrets never come "
                             "from the repository")
        if any(ch in values[name] for ch in "\n\r\0"):
            raise InputError(f"secret {name} (from {source}) contains a line break or NUL; the environment "
                             "file holds one line per variable: put it on one line (e.g. base64-encode a key)")
    return values


def check_private(path: Path) -> None:
    """Refuse a secrets file that group or others may open, as ssh refuses a loose private key."""
    try:
        mode = path.stat().st_mode & 0o777
    except OSError as exc:
        raise InputError(f"{path}: cannot read the secrets file: {exc.strerror}") from exc
    if mode & 0o077:
        raise InputError(f"{path} is open to group or others (mode {mode:04o}); a secrets file must be private "
                         f"to its owner: run `chmod 600 {shlex.quote(str(path))}`")

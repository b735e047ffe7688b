"""Secret values for the environment file: from the deployer's environment or a file outside the repository.

They are read at deploy time, go to the hosts inside the uploaded
environment file (0600) and are never written to the deployer's disk.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

from ..config import Project
from ..errors import BuildlibError
from .settings import DeployConfig, expand_local

_LINE = re.compile(r"\s*(?:export\s+)?([A-Z_][A-Z0-9_]*)\s*=\s*(.*?)\s*")


class SecretError(BuildlibError):
    """A secret is missing, or its file is somewhere it must not be."""

    exit_code = 2


def read_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines (``#`` comments, optional ``export`` and matching quotes)."""
    values = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        m = _LINE.fullmatch(line)
        if m is None:
            raise SecretError(f"{path}:{number}: expected NAME=value")
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
        from_file = read_file(path)
    values = {}
    for name in cfg.secret_names:
        if name in environ:
            values[name] = environ[name]
        elif name in from_file:
            values[name] = from_file[name]
        else:
            where = f" or add it to {path}" if path else " or name a secrets file in deploy.secrets.file"
            raise SecretError(f"secret {name} is not set: export {name}=...{where}; secrets never come "
                              "from the repository")
    return values

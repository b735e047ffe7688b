"""The `service:` section of build.yaml: the application as it runs, written once.

Which binary is the service, the port it listens on (and how it is told), whether
it takes its listener from systemd, the path that answers 200
when it is healthy (or none), its working directory, the files it reads there
and the directories it writes, and whether it needs the time zone database.
The images (and the smoke test) read these facts from here instead of assuming
the template's own layout; `invoke init --adopt` writes them from what it finds
in the code.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import config
from .sections.service import BIN_DIR, PROBE  # noqa: F401 - this area's names


@dataclass(frozen=True)
class Service:
    """build.yaml's `service:` with defaults applied and its binary checked."""

    binary: str
    port: int
    port_env: str | None
    socket_activation: bool
    health: str | None  # None: the app serves no health route; the probe checks the port accepts connections
    args: tuple[str, ...]
    workdir: str
    files: tuple[str, ...]
    writable: tuple[str, ...]
    tzdata: bool

    @property
    def probe_target(self) -> str:
        """What the image's health check asks, in words."""
        where = f"127.0.0.1:{self.port}"
        return f"GET http://{where}{self.health} answers 200" if self.health else f"{where} accepts connections"


def load(project: config.Project) -> Service:
    """The typed `service:` section of ``project``; binary defaults to the only binary, or "server"."""
    raw = project.extra.get("service")
    if raw is None:
        raise project.error("service", "no service section: this project was not read by config.load")
    binary = raw["binary"]
    if binary is None:
        names = list(project.binaries)
        if len(names) == 1:
            binary = names[0]
        elif "server" in project.binaries:
            binary = "server"
        else:
            raise project.error("service.binary", f"name the binary that is the service; binaries: {', '.join(names)}")
    if binary not in project.binaries:
        raise project.error("service.binary",
                            f'"{binary}" is not in binaries; known: {", ".join(sorted(project.binaries))}')
    clash = set(raw["files"]) & set(raw["writable"])
    if clash:
        raise project.error("service.writable", f'"{sorted(clash)[0]}" is listed in service.files too; a path is '
                                                "either shipped read-only or a writable directory")
    for i, rel in enumerate(raw["files"]):
        if not (project.root / rel).exists():
            raise project.error(f"service.files[{i}]", f'"{rel}" does not exist under {project.root}; list files '
                                                       "of the repository the app reads at run time")
    return Service(
        binary=binary, port=raw["port"], port_env=raw["port_env"], socket_activation=raw["socket_activation"],
        health=raw["health"], args=tuple(raw["args"]), workdir=raw["workdir"],
        files=tuple(raw["files"]), writable=tuple(raw["writable"]), tzdata=raw["tzdata"],
    )

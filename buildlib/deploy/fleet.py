"""Hosts as a group: choosing them, connecting, reading their state, running them in batches.

Shared by rollout, status and rollback. Hosts of a batch run in threads,
one Fabric connection each. While hosts are being changed, Ctrl-C (SIGINT)
does not raise KeyboardInterrupt: a handler turns it into a ``stop`` flag the
host threads check between steps, so a step that switches a release always
runs to its end.
"""

from __future__ import annotations

import re
import signal
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TypeVar

from .. import console
from ..config import Project
from ..errors import SelectionError
from . import steps
from .remote import DryRunRemote, Remote, SshRemote
from .settings import DeployConfig, Host, expand_local

T = TypeVar("T")

# `uname -m` -> GOARCH, to catch a host whose platform in build.yaml is wrong.
UNAME_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "armv6l": "arm", "i686": "386",
              "ppc64le": "ppc64le", "s390x": "s390x", "riscv64": "riscv64", "loongarch64": "loong64"}


def select_hosts(cfg: DeployConfig, spec: str | None) -> list[Host]:
    """Hosts named by ``spec`` (``a,b,c`` or group names, in that order); all hosts when None."""
    if not cfg.hosts:
        raise SelectionError("build.yaml has no deploy.hosts; describe the fleet there (see README, "
                             "\"Describing a fleet\")")
    if not spec:
        return list(cfg.hosts.values())
    chosen: dict[str, Host] = {}
    for word in (w.strip() for w in spec.split(",")):
        if not word:
            continue
        if word in cfg.groups:
            chosen.update((n, cfg.hosts[n]) for n in cfg.groups[word])
        elif word in cfg.hosts:
            chosen[word] = cfg.hosts[word]
        else:
            known = ", ".join([*cfg.hosts, *(f"{g} (group)" for g in cfg.groups)])
            raise SelectionError(f'"{word}" is neither a host nor a group in build.yaml deploy; known: {known}')
    return list(chosen.values())


def batches(hosts: list[Host], size: int) -> list[list[Host]]:
    return [hosts[i:i + size] for i in range(0, len(hosts), size)]


def open_remote(project: Project, cfg: DeployConfig, host: Host, dry: bool) -> Remote:
    """A connected remote for ``host`` (or a printing one for a dry run)."""
    if dry:
        return DryRunRemote(host)
    key = None
    if host.key_file is not None:
        key = expand_local(project, host.key_file)
        if not key.is_file():
            raise project.error(f"deploy.hosts.{host.name}.key_file",
                                f'"{host.key_file}" does not exist ({key}); point it at the private key '
                                "whose public half is in the host's authorized_keys")
    known = expand_local(project, cfg.ssh.known_hosts) if cfg.ssh.known_hosts else None
    remote = SshRemote(host, cfg.ssh, key, known)
    remote.connect()
    return remote


@dataclass(frozen=True)
class ReleaseInfo:
    stamp: int
    version: str
    failed: bool


@dataclass
class HostState:
    """What ``steps.probe`` found on a host."""

    arch: str = ""
    tools: set[str] = field(default_factory=set)
    current: str | None = None
    digest: str = ""
    releases: list[ReleaseInfo] = field(default_factory=list)
    active: str = ""
    serving: str | None = None
    serving_raw: str = ""

    def previous(self, version: str | None = None) -> str | None:
        """The newest healthy release deployed before ``version`` (default: current)."""
        version = version or self.current
        order = [r for r in sorted(self.releases, key=lambda r: r.stamp)]
        names = [r.version for r in order]
        upto = names.index(version) if version in names else len(names)
        earlier = [r.version for r in order[:upto] if not r.failed and r.version != version]
        return earlier[-1] if earlier else None


def parse_probe(text: str) -> HostState:
    state = HostState()
    for line in text.splitlines():
        key, _, value = line.partition("=")
        if key == "arch":
            state.arch = value.strip()
        elif key == "tool":
            state.tools.add(value.strip())
        elif key == "current" and value.strip():
            state.current = value.strip().rpartition("/")[2]
        elif key == "digest":
            state.digest = value.strip()
        elif key == "release":
            stamp, version, health = (value.split() + ["0", "", "ok"])[:3]
            state.releases.append(ReleaseInfo(int(stamp) if stamp.isdigit() else 0, version, health == "failed"))
        elif key == "active":
            state.active = value.strip()
        elif key == "serving":
            state.serving_raw = value.strip()
            m = re.search(r'"version"\s*:\s*"([^"]+)"', value)
            state.serving = m.group(1) if m else None
    return state


def probe(remote: Remote, cfg: DeployConfig) -> HostState:
    """The host's state (read-only)."""
    step = "probe: read the machine, the current release and the releases on the host (read-only)"
    return parse_probe(remote.run(steps.probe(cfg), step, timeout=30).stdout)


class Stop(threading.Event):
    """Set by Ctrl-C while ``ctrl_c_stops`` is in force; host threads check it between steps."""

    announced = False


@contextmanager
def ctrl_c_stops(stop: Stop) -> Iterator[None]:
    """Inside, SIGINT sets ``stop`` instead of raising KeyboardInterrupt in the main thread.

    A KeyboardInterrupt can land at any bytecode: seen inside ThreadPoolExecutor.submit, after the
    host's thread had started but before the pool recorded it, so the pool no longer waited for
    that thread and the host's connection was closed under its running release switch.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: object) -> None:
        stop.set()  # only this: the main thread prints the note at its next wait (see run_parallel)

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def run_parallel(items: Iterable[T], fn: Callable[[T], object], stop: Stop) -> list[Future[object]]:
    """Run ``fn`` on every item in threads and wait for all of them (Ctrl-C included: see ctrl_c_stops)."""
    items = list(items)
    with ThreadPoolExecutor(max_workers=max(1, len(items)), thread_name_prefix="deploy") as pool:
        futures = [pool.submit(fn, item) for item in items]
        pending = set(futures)
        while pending:
            _, pending = wait(pending, timeout=0.2, return_when=FIRST_EXCEPTION)
            if stop.is_set() and not stop.announced:
                stop.announced = True
                console.out("interrupted: finishing the step in progress on each host, then stopping "
                            "(a release switch always completes or rolls back)")
    return futures

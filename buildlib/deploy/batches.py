"""What a rollout and a rollback share: hosts in batches, and what each host ended as.

``BatchRun.run`` takes the hosts a batch at a time. Every host of a batch is
connected before any of them is touched; an unreachable one stops the run
there. A subclass says what one batch does (``_batch``), in phases that run on
every host of the batch at once (``_phase``); the run stops after the first
batch with a failure, or at Ctrl-C between steps. ``finish`` prints the summary
and raises when not every host got there.
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol, TypeVar

from .. import console
from ..config import Project
from ..errors import Interrupted, RunFailed
from . import fleet, steps
from .remote import Remote, RemoteError, UnreachableError
from .settings import DeployConfig, Host


class Status(StrEnum):
    """What a rollout (or a rollback) did to one host; the summary prints the value."""

    UPDATED = "updated"
    CURRENT = "current"            # already served the version: nothing done
    ROLLED_BACK = "rolled back"    # the host failed its switch or gate and went back
    REVERTED = "reverted"          # passed its gate, went back because another host of its batch failed
    NOT_SWITCHED = "not switched"  # staged, never switched: another host of its batch failed first
    FAILED = "failed"
    UNREACHABLE = "unreachable"
    UNTOUCHED = "untouched"
    INTERRUPTED = "interrupted"
    PLANNED = "planned"            # dry run


# The statuses that stop a run (a reverted or not switched host is the consequence, not the cause).
BAD = frozenset({Status.ROLLED_BACK, Status.FAILED, Status.UNREACHABLE})


@dataclass
class HostOutcome:
    host: Host
    status: Status
    detail: str = ""

    @property
    def bad(self) -> bool:
        return self.status in BAD


class OnHost(Protocol):
    """What a phase works on: a connected remote, or what an earlier phase carried for its host."""

    @property
    def host(self) -> Host: ...


In = TypeVar("In", bound=OnHost)
Carry = TypeVar("Carry")


class BatchRun:
    """Hosts in batches; a subclass sets these attributes and implements ``title``, ``_batch`` and the
    two messages of ``finish``."""

    project: Project
    cfg: DeployConfig
    dry: bool
    stop: fleet.Stop

    @property
    def unit_profile(self) -> str:
        """The deploy profile whose units an activation installs."""
        raise NotImplementedError

    def title(self, hosts: list[Host], batch: int) -> str:
        raise NotImplementedError

    def _batch(self, remotes: list[Remote]) -> list[HostOutcome]:
        raise NotImplementedError

    def interrupted_message(self) -> str:
        raise NotImplementedError

    def stopped_message(self, first: HostOutcome, outcomes: list[HostOutcome]) -> str:
        raise NotImplementedError

    def run(self, hosts: list[Host], batch: int) -> list[HostOutcome]:
        """Every host, ``batch`` at a time; stop at the first batch with a failure."""
        outcomes: dict[str, HostOutcome] = {
            h.name: HostOutcome(h, Status.UNTOUCHED, "" if self.dry else "not contacted") for h in hosts}
        console.out(self.title(hosts, batch))
        with fleet.ctrl_c_stops(self.stop):
            for group in fleet.batches(hosts, batch):
                if self.stop.is_set():
                    break
                remotes = self._connect(group, outcomes)
                if remotes is None:
                    break
                try:
                    outcomes.update((o.host.name, o) for o in self._batch(remotes))
                finally:
                    for remote in remotes:
                        remote.close()
                if any(outcomes[h.name].bad for h in group):
                    break
        return list(outcomes.values())

    def finish(self, outcomes: list[HostOutcome]) -> None:
        """Print the per-host result; raise when the run did not reach every host."""
        console.out("summary:\n" + summary(outcomes))
        if self.stop.is_set():
            raise Interrupted(signal.SIGINT, self.interrupted_message())
        bad = [o for o in outcomes if o.bad]
        if bad:
            raise RunFailed(self.stopped_message(bad[0], outcomes))

    def _connect(self, group: list[Host], outcomes: dict[str, HostOutcome]) -> list[Remote] | None:
        """Connect to every host of the batch before touching any of them."""
        def connect(host: Host) -> Remote:
            return fleet.open_remote(self.project, self.cfg, host, self.dry)

        futures = fleet.run_parallel(group, connect, self.stop)
        remotes = [f.result() for f in futures if f.exception() is None]
        failed = [(h, f.exception()) for h, f in zip(group, futures, strict=True) if f.exception() is not None]
        for host, exc in failed:
            if not isinstance(exc, UnreachableError):
                for r in remotes:
                    r.close()
                raise exc  # a config error (missing key file): nothing was touched
            outcomes[host.name] = HostOutcome(host, Status.UNREACHABLE, detail_of(exc))
            console.host(host.name, f"unreachable: {exc}")
        if failed or self.stop.is_set():
            for r in remotes:
                r.close()
            return None
        return remotes  # type: ignore[return-value]

    def _phase(self, items: list[In], fn: Callable[[In], HostOutcome | Carry],
               done: dict[str, HostOutcome]) -> list[Carry]:
        """Run ``fn`` on every item in parallel; a HostOutcome (or an error) ends that host's batch,
        anything else is carried to the next phase."""
        futures = fleet.run_parallel(items, fn, self.stop)
        carry = []
        for item, future in zip(items, futures, strict=True):
            exc = future.exception()
            result = outcome_of(exc, item.host) if exc is not None else future.result()
            if isinstance(result, HostOutcome):
                done[item.host.name] = result
            else:
                carry.append(result)
        return carry  # type: ignore[return-value]

    @staticmethod
    def _all_ok(done: dict[str, HostOutcome]) -> bool:
        return not any(o.bad for o in done.values())

    def _switch_to(self, remote: Remote, release: str, step: str, gate_step: str = "") -> None:
        """Activate ``release`` and health-gate it (a rollback, a failed host's or a batch's way back);
        RemoteError on failure."""
        remote.run(steps.activate(self.cfg, release, self.unit_profile), step, timeout=180)
        remote.run(steps.gate(self.cfg, release), gate_step or f"{step} health gate",
                   timeout=self.cfg.health.timeout + 30)


def summary(outcomes: list[HostOutcome]) -> str:
    width = max(len(o.host.name) for o in outcomes)
    return "\n".join(f"  {o.host.name:<{width}}  {o.status:<12} {o.detail}" for o in outcomes)


def outcome_of(exc: BaseException, host: Host | None = None) -> HostOutcome:
    """An error that ended a host's batch, as its outcome."""
    if isinstance(exc, RemoteError):
        host = exc.host
        if isinstance(exc, UnreachableError):
            console.host(host.name, f"unreachable: {exc.step}: {exc.problem}")
            return HostOutcome(host, Status.UNREACHABLE, detail_of(exc))
        console.host(host.name, f"FAILED at {exc.step}: {exc.problem}")
    if host is None:
        raise exc
    return HostOutcome(host, Status.FAILED, detail_of(exc))


def detail_of(exc: BaseException) -> str:
    """An exception as an outcome's detail: without the host, which the summary already names."""
    return f"{exc.step}: {exc.problem}" if isinstance(exc, RemoteError) else str(exc)


"""Go back one release on each host: the newest healthy release deployed before the current one.

The release is still on the host (releases/<version>/, kept by
deploy.keep_releases), so nothing is uploaded: ``current`` switches back,
the service restarts and the same health gate as a deploy decides. Repeated
rollbacks walk further back; a release marked failed is skipped. The batches,
their connections, Ctrl-C and the summary are the rollout's (``BatchRun``).
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import console
from ..config import Project
from . import fleet, steps
from .batches import BatchRun, HostOutcome, Status
from .remote import Remote, RemoteError
from .settings import DeployConfig, Host


@dataclass
class Rollback(BatchRun):
    project: Project
    cfg: DeployConfig
    profile: str
    dry: bool = False

    def __post_init__(self) -> None:
        self.stop = fleet.Stop()

    @property
    def unit_profile(self) -> str:
        return self.profile

    def title(self, hosts: list[Host], batch: int) -> str:
        return (f"rollback {self.cfg.app} on {', '.join(h.name for h in hosts)}"
                + (": dry run, nothing is executed" if self.dry else ""))

    def _batch(self, remotes: list[Remote]) -> list[HostOutcome]:
        done: dict[str, HostOutcome] = {}
        self._phase(remotes, self._back, done)
        return list(done.values())

    def _back(self, remote: Remote) -> HostOutcome:
        cfg, host = self.cfg, remote.host
        if remote.dry:
            fleet.probe(remote, cfg)
            self._switch_to(remote, "PREVIOUS", "switch to PREVIOUS (the release deployed before the current one)",
                            "health gate")
            return HostOutcome(host, Status.PLANNED, "back to PREVIOUS")
        state = fleet.probe(remote, cfg)
        target = state.previous()
        if state.current is None or target is None:
            return HostOutcome(host, Status.FAILED, f"no earlier release on the host (releases: "
                               f"{', '.join(r.version for r in state.releases) or 'none'}); nothing to go back to")
        console.host(host.name, f"rollback {state.current} -> {target}")
        try:
            self._switch_to(remote, target, "activate", "health gate")
        except RemoteError as exc:
            console.host(host.name, f"{target} failed ({exc}); restoring {state.current}")
            remote.run(steps.activate(cfg, state.current, self.profile), "restore", timeout=180)
            return HostOutcome(host, Status.FAILED,
                               f"{target} did not pass the health gate; {state.current} restored: {exc}")
        console.host(host.name, f"serving {target}")
        return HostOutcome(host, Status.UPDATED, f"{state.current} -> {target}")

    def interrupted_message(self) -> str:
        return ("interrupted; each host serves the release shown above. `invoke deploy.status` shows what "
                "every host serves now")

    def stopped_message(self, first: HostOutcome, outcomes: list[HostOutcome]) -> str:
        return f"rollback stopped at {first.host.name} ({first.host.address}): {first.detail}"


def run(project: Project, cfg: DeployConfig, hosts: list[Host], batch: int, profile: str,
        dry: bool = False) -> list[HostOutcome]:
    """Roll ``hosts`` back one release, ``batch`` at a time; stop at the first failure."""
    job = Rollback(project, cfg, profile, dry)
    outcomes = job.run(hosts, batch)
    job.finish(outcomes)
    return outcomes

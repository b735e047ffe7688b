"""Go back one release on each host: the newest healthy release deployed before the current one.

The release is still on the host (releases/<version>/, kept by
deploy.keep_releases), so nothing is uploaded: ``current`` switches back,
the service restarts and the same health gate as a deploy decides. Repeated
rollbacks walk further back; a release marked failed is skipped.
"""

from __future__ import annotations

from ..config import Project
from ..errors import BuildlibError
from . import fleet, steps
from .remote import Remote, RemoteError, UnreachableError, note, say
from .rollout import HostOutcome, Status, summary
from .settings import DeployConfig, Host


class RollbackError(BuildlibError):
    """A host could not go back; the message says which and why."""


def _one(cfg: DeployConfig, remote: Remote, profile: str) -> HostOutcome:
    host = remote.host
    if remote.dry:
        fleet.probe(remote, cfg)
        for script, step in ((steps.activate(cfg, "PREVIOUS", profile), "switch to PREVIOUS (the release "
                              "deployed before the current one)"), (steps.gate(cfg, "PREVIOUS"), "health gate")):
            remote.run(script, step)
        return HostOutcome(host, Status.PLANNED, "back to PREVIOUS")
    state = fleet.probe(remote, cfg)
    target = state.previous()
    if state.current is None or target is None:
        return HostOutcome(host, Status.FAILED, f"no earlier release on the host (releases: "
                           f"{', '.join(r.version for r in state.releases) or 'none'}); nothing to go back to")
    say(host.name, f"rollback {state.current} -> {target}")
    try:
        remote.run(steps.activate(cfg, target, profile), "activate", timeout=180)
        remote.run(steps.gate(cfg, target), "health gate", timeout=cfg.health.timeout + 30)
    except RemoteError as exc:
        say(host.name, f"{target} failed ({exc}); restoring {state.current}")
        remote.run(steps.activate(cfg, state.current, profile), "restore", timeout=180)
        return HostOutcome(host, Status.FAILED,
                           f"{target} did not pass the health gate; {state.current} restored: {exc}")
    say(host.name, f"serving {target}")
    return HostOutcome(host, Status.UPDATED, f"{state.current} -> {target}")


def run(project: Project, cfg: DeployConfig, hosts: list[Host], batch: int, profile: str,
        dry: bool = False) -> list[HostOutcome]:
    """Roll ``hosts`` back one release, ``batch`` at a time; stop at the first failure."""
    stop = fleet.Stop()
    outcomes = {h.name: HostOutcome(h, Status.UNTOUCHED) for h in hosts}
    note(f"rollback {cfg.app} on {', '.join(h.name for h in hosts)}" + (": dry run, nothing is executed"
                                                                         if dry else ""))

    def one(host: Host) -> HostOutcome:
        try:
            remote = fleet.open_remote(project, cfg, host, dry)
        except UnreachableError as exc:
            return HostOutcome(host, Status.UNREACHABLE, f"{exc.step}: {exc.problem}")
        try:
            return _one(cfg, remote, profile)
        finally:
            remote.close()

    with fleet.ctrl_c_stops(stop):
        for group in fleet.batches(hosts, batch):
            futures = fleet.run_parallel(group, one, stop)
            for host, future in zip(group, futures, strict=True):
                exc = future.exception()
                outcomes[host.name] = future.result() if exc is None else HostOutcome(host, Status.FAILED, str(exc))  # type: ignore[assignment]
            if stop.is_set() or any(outcomes[h.name].bad for h in group):
                break
    note("summary:\n" + summary(list(outcomes.values())))
    bad = [o for o in outcomes.values() if o.bad]
    if bad:
        raise RollbackError(f"rollback stopped at {bad[0].host.name} ({bad[0].host.address}): {bad[0].detail}")
    return list(outcomes.values())

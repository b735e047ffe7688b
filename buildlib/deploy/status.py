"""What every host serves: the ``current`` release, the version nginx answers with, the unit state."""

from __future__ import annotations

from dataclasses import dataclass

from ..config import Project
from ..tables import columns
from . import fleet
from .remote import UnreachableError
from .settings import DeployConfig, Host


@dataclass(frozen=True)
class HostStatus:
    host: Host
    state: fleet.HostState | None
    error: str = ""

    @property
    def verdict(self) -> str:
        s = self.state
        if s is None:
            return "unreachable"
        if s.current is None:
            return "not deployed"
        if s.serving is None:
            return "down"
        # `current` switched but the running process is another release: a switch that
        # did not finish (only possible if the deploy was killed, not interrupted).
        return "ok" if s.serving == s.current else "MIXED"


def collect(project: Project, cfg: DeployConfig, hosts: list[Host]) -> list[HostStatus]:
    def one(host: Host) -> HostStatus:
        try:
            remote = fleet.open_remote(project, cfg, host, dry=False)
        except UnreachableError as exc:
            return HostStatus(host, None, str(exc))
        try:
            return HostStatus(host, fleet.probe(remote, cfg))
        finally:
            remote.close()

    futures = fleet.run_parallel(hosts, one, fleet.Stop())
    return [f.result() for f in futures]  # type: ignore[misc]


def table(statuses: list[HostStatus]) -> str:
    rows = [("host", "address", "current", "serving", "unit", "state", "releases (oldest first)")]
    for st in statuses:
        s = st.state
        if s is None:
            rows.append((st.host.name, st.host.address, "-", "-", "-", "unreachable", st.error))
            continue
        releases = ", ".join(
            r.version + ("*" if r.version == s.current else "") + (" (failed)" if r.failed else "")
            for r in sorted(s.releases, key=lambda r: r.stamp)
        )
        rows.append((st.host.name, st.host.address, s.current or "-", s.serving or "-", s.active or "-",
                     st.verdict, releases or "-"))
    return "\n".join(columns(rows))


def advice(cfg: DeployConfig, statuses: list[HostStatus]) -> list[str]:
    out = []
    for st in statuses:
        if st.verdict == "MIXED":
            out.append(f"{st.host.name}: current is {st.state.current} but it serves {st.state.serving}: "  # type: ignore[union-attr]
                       "rerun `invoke deploy` to finish, or `invoke deploy.rollback`")
        elif st.verdict == "down":
            out.append(f"{st.host.name}: nothing answers through nginx; look at `journalctl -u {cfg.app}` there")
    return out

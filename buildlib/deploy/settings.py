"""The typed view of build.yaml's ``deploy:`` section (its schema: buildlib.sections.deploy).

The checks that need more than one key (a port the service already uses, an
environment that does not exist, a host in no group) are made here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .. import environments
from ..config import Project
from ..sections.deploy import PROFILES  # noqa: F401 - this area's names
from .alertgate import AlertGate

if TYPE_CHECKING:
    from ..service import Service



@dataclass(frozen=True)
class Host:
    """One target: a name from build.yaml and the SSH address to reach it."""

    name: str
    host: str
    port: int
    user: str
    key_file: str | None
    platform: str
    metrics: str | None = None  # deploy.hosts.*.metrics: the scrape address, when not host:monitoring.port

    @property
    def address(self) -> str:
        return f"{self.user}@{self.host}:{self.port}"


@dataclass(frozen=True)
class Tls:
    enabled: bool
    certificate: str
    certificate_key: str


@dataclass(frozen=True)
class Health:
    path: str
    version: str | None
    timeout: float
    interval: float
    passes: int


@dataclass(frozen=True)
class Ssh:
    known_hosts: str | None
    strict_host_keys: bool
    connect_timeout: float


@dataclass(frozen=True)
class DeployEnvironment:
    name: str
    values: dict[str, str]


@dataclass(frozen=True)
class DeployConfig:
    """The validated ``deploy:`` section, with cross-key checks done."""

    app: str
    binary: str
    profile: str
    profiles: tuple[str, ...]  # the profiles this app can run under (see fitting_profiles)
    environment: str
    port: int
    second_port: int
    port_env: str | None
    args: tuple[str, ...]
    files: tuple[str, ...]      # service.files: shipped into each release directory, its working directory
    writable: tuple[str, ...]   # service.writable: kept under /var/lib/<app>/, linked into each release
    allow_outbound: tuple[str, ...]
    alert_gate: AlertGate | None  # deploy.alert_gate, None without a Prometheus URL
    metrics_port: int            # monitoring.port: nginx's metrics listener
    metrics_path: str            # monitoring.metrics_path
    scrapers: tuple[str, ...]    # monitoring.scrapers: who may read it besides the host
    domain: str
    user: str | None
    base: str
    units_dir: str
    nginx_site: str
    http_port: int
    https_port: int
    ipv6: bool
    tls: Tls
    static_max_age: str
    secret_names: tuple[str, ...]
    secrets_file: str | None
    health: Health
    security: dict[str, float]
    keep_releases: int
    batch: int
    environments: dict[str, DeployEnvironment]
    ssh: Ssh
    hosts: dict[str, Host]
    groups: dict[str, tuple[str, ...]]

    def env(self, name: str | None = None) -> DeployEnvironment:
        """The environment row ``name`` (default: ``deploy.environment``)."""
        name = name or self.environment
        if name not in self.environments:
            from ..errors import SelectionError

            raise SelectionError(
                f'unknown environment "{name}"; the environments section of build.yaml defines: '
                f'{", ".join(sorted(self.environments))}'
            )
        return self.environments[name]


def fitting_profiles(svc: Service) -> tuple[str, ...]:
    """The profiles an app can run under: strict needs a listener from systemd, hardened a port it is told."""
    return tuple(p for p, fits in (("strict", svc.socket_activation), ("hardened", svc.port_env is not None))
                 if fits)


def load(project: Project) -> DeployConfig:
    """The ``deploy:`` section of ``project``, checked across keys."""
    from .. import service as service_mod

    raw = dict(project.extra["deploy"])
    err = project.error
    svc = service_mod.load(project)
    if raw["port"] is not None and raw["port"] != svc.port:
        raise err("deploy.port", f"{raw['port']} disagrees with service.port ({svc.port}), where the app listens: "
                  "the unit and nginx would send traffic to a port nothing serves; leave deploy.port out")
    if raw["binary"] is not None and raw["binary"] != svc.binary:
        raise err("deploy.binary", f'"{raw["binary"]}" disagrees with service.binary ("{svc.binary}"); leave '
                  "deploy.binary out so both say the same")
    raw["binary"] = raw["binary"] or svc.binary
    raw["port"] = raw["port"] or svc.port
    profiles = fitting_profiles(svc)
    if not profiles:
        raise err("service.port_env", "is null and service.socket_activation is false: the app's port is fixed "
                  "in its code, so no zero-downtime profile fits (strict hands it a listener from systemd, "
                  "hardened starts a second instance on another port); let the app read its port from an "
                  "environment variable (gin's r.Run() reads PORT) and name it in service.port_env")
    profile = raw["profile"] or profiles[0]
    if profile not in profiles:
        why = ("takes no listener from systemd (service.socket_activation: false)" if profile == "strict" else
               "cannot be told its port (service.port_env: null)")
        raise err("deploy.profile", f"{profile} does not fit this app: it {why}; use "
                  f"{' or '.join(profiles)}, or leave deploy.profile out")
    second = raw["second_port"] or (svc.port + 1 if svc.port < 65535 else svc.port - 1)
    clash = {svc.port: "service.port", raw["http_port"]: "deploy.http_port"}
    if raw["tls"]["enabled"]:
        clash[raw["https_port"]] = "deploy.https_port"
    if "hardened" in profiles and second in clash:
        raise err("deploy.second_port", f"{second} is {clash[second]} too; the second instance needs a port of "
                  "its own")
    health_path = raw["health"]["path"] or svc.health
    if health_path is None:
        raise err("deploy.health.path", "the service has no health route (service.health: null), and the rollout "
                  "gates each host on one; name a path that answers 200 when the service is ready")
    if raw["binary"] not in project.binaries:
        raise err("deploy.binary", f'"{raw["binary"]}" is not in binaries; known: '
                  f'{", ".join(sorted(project.binaries))}')
    envs = {name: DeployEnvironment(name, environments.values(project, name)) for name in environments.names(project)}
    if raw["environment"] not in envs:
        raise err("deploy.environment", f'"{raw["environment"]}" is not in the environments section; defined: '
                  f'{", ".join(envs)}')
    secrets = tuple(raw["secrets"]["names"])
    for name, env in envs.items():
        for var in env.values:
            if var in secrets:
                raise err(f"environments.{name}.env.{var}", "is a secret (deploy.secrets.names): it comes from "
                          "the deployer's environment or the secrets file, never from the repository")
    for group, members in raw["groups"].items():
        if group in raw["hosts"]:
            raise err(f"deploy.groups.{group}", "a group may not share its name with a host; rename one of them")
        for i, member in enumerate(members):
            if member not in raw["hosts"]:
                raise err(f"deploy.groups.{group}[{i}]", f'"{member}" is not in deploy.hosts; known hosts: '
                          f'{", ".join(sorted(raw["hosts"])) or "none"}')
    paths, tls, health, ssh = raw["paths"], raw["tls"], raw["health"], raw["ssh"]
    monitoring = project.extra["monitoring"]
    gate = raw["alert_gate"]
    alert_gate = None
    if gate["prometheus"] is not None:
        from ..monitor import rules
        from ..monitor import settings as monitor_settings

        known = [r.name for r in rules.alerts(monitor_settings.load(project))]
        if not gate["alerts"]:
            raise err("deploy.alert_gate.alerts", "is empty; name the alerts that must stay silent after each batch "
                      f"(an empty list never means all): {', '.join(known)}")
        for i, name in enumerate(gate["alerts"]):
            if name not in known:
                raise err(f"deploy.alert_gate.alerts[{i}]", f'"{name}" is not an alert of the monitoring rules '
                          f"(`invoke monitor.render`); they are: {', '.join(known)}")
        alert_gate = AlertGate(gate["prometheus"], tuple(gate["alerts"]), float(gate["quiet"]))
    if monitoring["port"] in clash or monitoring["port"] in (svc.port, second):
        raise project.error("monitoring.port", f"{monitoring['port']} is a port the deploy uses already (the app's, "
                            "its second instance's or nginx's); choose a free one")
    app = project.project.name
    return DeployConfig(
        app=app,
        binary=raw["binary"],
        profile=profile,
        profiles=profiles,
        environment=raw["environment"],
        port=raw["port"],
        second_port=second,
        port_env=svc.port_env,
        args=svc.args,
        files=svc.files,
        writable=svc.writable,
        allow_outbound=tuple(raw["allow_outbound"]),
        alert_gate=alert_gate,
        metrics_port=monitoring["port"],
        metrics_path=monitoring["metrics_path"],
        scrapers=tuple(monitoring["scrapers"]),
        domain=raw["domain"],
        user=raw["user"],
        base=paths["base"] or f"/opt/{app}",
        units_dir=paths["units"],
        nginx_site=paths["nginx_site"] or f"/etc/nginx/conf.d/{app}.conf",
        http_port=raw["http_port"],
        https_port=raw["https_port"],
        ipv6=raw["ipv6"],
        tls=Tls(tls["enabled"], tls["certificate"] or f"/etc/ssl/certs/{app}.pem",
                tls["certificate_key"] or f"/etc/ssl/private/{app}.key"),
        static_max_age=raw["static_max_age"],
        secret_names=secrets,
        secrets_file=raw["secrets"]["file"],
        health=Health(health_path, health["version"], float(health["timeout"]), float(health["interval"]),
                      health["passes"]),
        security={k: float(v) for k, v in raw["security"].items()},
        keep_releases=raw["keep_releases"],
        batch=raw["batch"],
        environments=envs,
        ssh=Ssh(ssh["known_hosts"], ssh["strict_host_keys"], float(ssh["connect_timeout"])),
        hosts={name: Host(name=name, **h) for name, h in raw["hosts"].items()},
        groups={name: tuple(members) for name, members in raw["groups"].items()},
    )


def expand_local(project: Project, path: str) -> Path:
    """A path from build.yaml on the deployer's machine: ``~`` expanded, relative to the repository."""
    p = Path(path).expanduser()
    return p if p.is_absolute() else project.root / p

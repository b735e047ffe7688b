"""Roll a release out to hosts in batches, with a health gate and automatic rollback.

Per host: probe, upload the binary (checksum verified on the host) and the
rendered files into releases/<version>/, switch ``current``, restart, then a
health gate on /readyz through nginx. A failed gate puts the previous
release back on that host and stops the rollout; the hosts after it are not
touched. Ctrl-C stops between steps: a switch that started completes (or
rolls back), so a host serves the old or the new release, never a mix.
"""

from __future__ import annotations

import hashlib
import secrets as token_source
import threading
from dataclasses import dataclass

from ..config import Project
from ..errors import BuildlibError
from . import fleet, steps
from .release import Release
from .remote import Remote, RemoteError, UnreachableError, note, say
from .render import Rendering, env_name
from .settings import DeployConfig, Host


class RolloutError(BuildlibError):
    """The rollout stopped at a host; the summary printed before it shows every host."""


class Interrupted(BuildlibError):
    """Ctrl-C: stopped between steps."""

    exit_code = 130


@dataclass
class Outcome:
    host: Host
    status: str  # updated | current | rolled back | failed | untouched | unreachable | interrupted | planned
    detail: str = ""

    @property
    def bad(self) -> bool:
        return self.status in ("rolled back", "failed", "unreachable")


@dataclass
class Rollout:
    """One release going to a set of hosts."""

    project: Project
    cfg: DeployConfig
    release: Release
    rendering: Rendering
    env_file: bytes  # the rendering's environment file with the secrets filled in; memory only
    dry: bool = False

    def __post_init__(self) -> None:
        self.stop = threading.Event()

    @property
    def version(self) -> str:
        return self.release.version

    def run(self, hosts: list[Host], batch: int) -> list[Outcome]:
        """Deploy to ``hosts``, ``batch`` at a time; stop at the first batch with a failure."""
        outcomes: dict[str, Outcome] = {h.name: Outcome(h, "untouched") for h in hosts}
        mode = "dry run: no connection, nothing is executed" if self.dry else f"batches of {batch}"
        note(f"deploy {self.cfg.app} {self.version} ({self.rendering.profile} profile, "
             f"{self.rendering.environment} environment) to {', '.join(h.name for h in hosts)}: {mode}")
        try:
            for group in fleet.batches(hosts, batch):
                if self.stop.is_set():
                    break
                remotes = self._connect(group, outcomes)
                if remotes is None:
                    break
                futures = fleet.run_parallel(remotes, self._host, self.stop)
                for remote, future in zip(remotes, futures, strict=True):
                    remote.close()
                    exc = future.exception()
                    outcomes[remote.host.name] = (
                        future.result() if exc is None else Outcome(remote.host, "failed", _detail(exc))  # type: ignore[arg-type]
                    )
                if any(outcomes[h.name].bad for h in group):
                    break
        except KeyboardInterrupt:
            # Between batches no host is in the middle of anything: just stop.
            self.stop.set()
        return list(outcomes.values())

    def _connect(self, group: list[Host], outcomes: dict[str, Outcome]) -> list[Remote] | None:
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
            outcomes[host.name] = Outcome(host, "unreachable", _detail(exc))
            say(host.name, f"unreachable: {exc}")
        if failed or self.stop.is_set():
            for r in remotes:
                r.close()
            return None
        return remotes  # type: ignore[return-value]

    def _host(self, remote: Remote) -> Outcome:
        host, version = remote.host, self.version
        state = fleet.probe(remote, self.cfg)
        if self.stop.is_set():
            return Outcome(host, "untouched", "interrupted before any change")
        if not remote.dry:
            self._preflight(host, state)
            if state.current == version:
                # Same version: the release directory is in use and cannot be rewritten, so a
                # change of settings or units must come as a new version.
                if state.digest != self.digest(host):
                    raise RemoteError(host, "preflight", f"{version} is current here but with other settings "
                                      "or units", "ship the change as a new version (`invoke build --version "
                                      "NEW`), or `invoke deploy.rollback` first")
                if state.serving == version:
                    say(host.name, f"already serving {version}")
                    return Outcome(host, "current", f"already serving {version}")
        # What to go back to if this fails: what runs now, or (re-deploying the current
        # version after a failure) the release before it.
        previous = state.current if state.current != version else state.previous(version)
        if not remote.dry:
            say(host.name, f"current: {state.current or 'none'}, serving: {state.serving or 'nothing'}")
        if state.current != version:
            self._stage(remote)
        if self.stop.is_set():
            return Outcome(host, "interrupted", f"staged {version}, still serving {previous or 'nothing'}")
        # From here on the host is switched and checked; Ctrl-C waits for the end of it.
        say(host.name, f"activate {version}")
        try:
            out = remote.run(steps.activate(self.cfg, version, self.rendering.profile), "activate", timeout=180)
            if out.stdout.strip():
                say(host.name, out.stdout.strip())
            say(host.name, f"health gate: {self.cfg.health.path} and /version through nginx")
            remote.run(steps.gate(self.cfg, version), "health gate", timeout=self.cfg.health.timeout + 30)
        except RemoteError as exc:
            if remote.dry:
                raise
            return self._roll_back(remote, previous, exc)
        if remote.dry:
            self._print_rollback_plan(remote)
        else:
            say(host.name, f"serving {version}")
        out = remote.run(steps.prune(self.cfg), "prune", timeout=120)
        if out.stdout.strip():
            say(host.name, out.stdout.strip())
        return Outcome(host, "planned" if remote.dry else "updated", f"{previous or 'nothing'} -> {version}")

    def digest(self, host: Host) -> str:
        """What makes this release on ``host``: its binary and every file, the env file with its secrets."""
        h = hashlib.sha256(self.release.for_platform(host.platform).sha256.encode())
        for f in sorted(self.rendering.files.values(), key=lambda f: f.name):
            data = self.env_file if f.name == env_name(self.cfg) else f.content.encode()
            h.update(f"\0{f.name}\0{len(data)}\0".encode() + data)
        return h.hexdigest()

    def _preflight(self, host: Host, state: fleet.HostState) -> None:
        missing = sorted({"systemctl", "nginx", "curl", "sha256sum"} - state.tools)
        if missing:
            raise RemoteError(host, "preflight", f"missing on the host: {', '.join(missing)}",
                              "install systemd, nginx, curl and coreutils there first")
        goarch = fleet.UNAME_ARCH.get(state.arch, state.arch)
        if host.platform != f"linux/{goarch}":
            raise RemoteError(host, "preflight", f"the machine is {state.arch} (linux/{goarch}) but build.yaml "
                              f"says {host.platform}", f"fix deploy.hosts.{host.name}.platform")

    def _stage(self, remote: Remote) -> None:
        artifact = self.release.for_platform(remote.host.platform)
        staging = steps.staging_dir(self.cfg, self.version, token_source.token_hex(4))
        say(remote.host.name, f"upload {artifact.path.name} {self.version} ({artifact.size / 1e6:.1f} MB, "
            f"sha256 {artifact.sha256[:12]})")
        remote.run(steps.make_staging(staging), "staging directory", root=False)
        remote.put(artifact.path, f"{staging}/{self.cfg.binary}", "upload binary")
        files = []
        for f in self.rendering.files.values():
            data = self.env_file if f.name == env_name(self.cfg) else f.content.encode()
            remote.put(data, f"{staging}/{f.name}", f"upload {f.name}")
            files.append((f.name, f.mode))
        remote.run(steps.install(self.cfg, self.version, artifact.sha256, staging, sorted(files),
                                 self.digest(remote.host)),
                   "install release (checksum verified on the host)")

    def _roll_back(self, remote: Remote, previous: str | None, exc: RemoteError) -> Outcome:
        host, version = remote.host, self.version
        say(host.name, f"FAILED at {exc.step}: {exc.problem}")
        remote.run(steps.mark_failed(self.cfg, version), "mark failed", check=False)
        if previous is None:
            return Outcome(host, "failed", f"{version} failed at {exc.step} ({exc.problem}) and there is no "
                           f"previous release to roll back to; inspect `journalctl -u {self.cfg.app}` on the host")
        say(host.name, f"rolling back to {previous}")
        try:
            remote.run(steps.activate(self.cfg, previous, self.rendering.profile), "rollback", timeout=180)
            remote.run(steps.gate(self.cfg, previous), "rollback health gate", timeout=self.cfg.health.timeout + 30)
        except RemoteError as again:
            return Outcome(host, "failed", f"{version} failed at {exc.step} ({exc.problem}); the rollback to "
                           f"{previous} failed too at {again.step} ({again.problem})")
        say(host.name, f"rolled back: serving {previous}")
        return Outcome(host, "rolled back", f"{version} failed at {exc.step} ({exc.problem}); "
                       f"rolled back, serving {previous} again")

    def _print_rollback_plan(self, remote: Remote) -> None:
        say(remote.host.name, "# if the activation or health gate fails, instead of pruning:")
        remote.run(steps.mark_failed(self.cfg, self.version), "mark the release failed")
        remote.run(steps.activate(self.cfg, "PREVIOUS", self.rendering.profile),
                   "switch back to PREVIOUS (what `current` pointed to before)")
        remote.run(steps.gate(self.cfg, "PREVIOUS"), "health gate of PREVIOUS")


def summary(outcomes: list[Outcome]) -> str:
    width = max(len(o.host.name) for o in outcomes)
    return "\n".join(f"  {o.host.name:<{width}}  {o.status:<12} {o.detail}" for o in outcomes)


def finish(rollout: Rollout, outcomes: list[Outcome]) -> None:
    """Print the per-host result; raise when the rollout did not reach every host."""
    note("summary:\n" + summary(outcomes))
    if rollout.stop.is_set():
        raise Interrupted("interrupted; each host serves the release shown above. "
                          "`invoke deploy.status` shows what every host serves now; rerun `invoke deploy` "
                          "to continue (hosts already serving the version are skipped)")
    bad = [o for o in outcomes if o.bad]
    if bad:
        first = bad[0]
        raise RolloutError(f"rollout of {rollout.version} stopped at {first.host.name} ({first.host.address}): "
                           f"{first.detail}\nthe hosts after it were not touched; fix the cause and rerun "
                           "`invoke deploy`")


def _detail(exc: BaseException) -> str:
    """An exception as an outcome's detail: without the host, which the summary already names."""
    return f"{exc.step}: {exc.problem}" if isinstance(exc, RemoteError) else str(exc)


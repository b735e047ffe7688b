"""Roll a release out to hosts in batches, with a health gate and automatic rollback.

A batch is all-or-nothing. Its hosts go through each phase together, in
parallel, and the next phase starts only when every host finished the last:

1. prepare: probe, upload the binary (checksum verified on the host) and the
   rendered files into releases/<version>/; nothing that runs changes yet;
2. switch check: every host still answers and still has the staged release,
   so a host lost after its upload stops the batch before any host switched;
3. switch: point ``current`` at the release, restart, then a health gate on
   /readyz through nginx; a host whose gate fails goes back at once;
4. if any host of the batch failed, the hosts that passed their gate go back
   to their previous release too (same switch, same gate), and the rollout
   stops; otherwise old releases are pruned and the next batch starts.

So after a failed batch no host of it serves the new release (unless it had
nothing to go back to), and the hosts after it are not touched. Ctrl-C stops
between phases and steps: a switch that started completes (or rolls back),
so a host serves the old or the new release, never a mix.
"""

from __future__ import annotations

import hashlib
import secrets as token_source
from collections.abc import Callable
from dataclasses import dataclass

from .. import console
from ..config import Project
from ..errors import ToolError
from . import alertgate, fleet, steps
from .batches import BatchRun, HostOutcome, Status, detail_of, outcome_of
from .release import Release
from .remote import Remote, RemoteError, UnreachableError
from .render import FILES_ARCHIVE, Rendering, env_name, files_archive
from .settings import DeployConfig, Host


@dataclass
class Staged:
    """A host whose release is in place but not switched to yet."""

    remote: Remote
    previous: str | None  # what to go back to: what ran before
    before: str           # what it serves now, for the summary

    @property
    def host(self) -> Host:
        return self.remote.host


@dataclass
class Rollout(BatchRun):
    """One release going to a set of hosts."""

    project: Project
    cfg: DeployConfig
    release: Release
    rendering: Rendering
    env_file: bytes  # the rendering's environment file with the secrets filled in; memory only
    dry: bool = False
    # Called in the main thread with the hosts of a batch once all of them are staged, before the
    # switch check: a program driving the rollout can pause there (an approval, a load balancer
    # drain, a fault to inject). A RemoteError it raises stops the batch before any switch.
    on_staged: Callable[[list[Host]], None] | None = None

    def __post_init__(self) -> None:
        self.stop = fleet.Stop()
        # service.files, unpacked into each release directory (the app's working directory).
        self.files_tar = files_archive(self.project.root, self.cfg.files)

    @property
    def version(self) -> str:
        return self.release.version

    @property
    def unit_profile(self) -> str:
        return self.rendering.profile

    def title(self, hosts: list[Host], batch: int) -> str:
        mode = "dry run: no connection, nothing is executed" if self.dry else f"batches of {batch}"
        return (f"deploy {self.cfg.app} {self.version} ({self.rendering.profile} profile, "
                f"{self.rendering.environment} environment) to {', '.join(h.name for h in hosts)}: {mode}")

    def _batch(self, remotes: list[Remote]) -> list[HostOutcome]:
        """One batch, phase by phase (see the module's docstring)."""
        done: dict[str, HostOutcome] = {}
        staged = self._phase(remotes, self._prepare, done)
        if self._all_ok(done) and not self.stop.is_set() and self.on_staged is not None and staged \
                and not self.dry:
            try:
                self.on_staged([s.remote.host for s in staged])
            except RemoteError as exc:
                done[exc.host.name] = outcome_of(exc)
                staged = [s for s in staged if s.remote.host != exc.host]
        if self._all_ok(done) and not self.stop.is_set():
            staged = self._phase(staged, self._check, done)
        if not self._all_ok(done) or self.stop.is_set():
            self._leave(staged, done)
            return list(done.values())
        passed = self._phase(staged, self._switch, done)
        if self._all_ok(done) and passed and self.cfg.alert_gate is not None and not self.dry:
            tripped = self._alert_gate(passed)
            if tripped:
                self._phase([s for s in passed if s.remote.host.name in tripped],
                            lambda s: self._roll_back(s.remote, s.previous, tripped[s.remote.host.name]), done)
                passed = [s for s in passed if s.remote.host.name not in tripped]
        if self._all_ok(done):
            self._phase(passed, self._finish, done)
        else:
            failed = ", ".join(o.host.name for o in done.values() if o.bad)
            self._phase(passed, lambda s: self._revert(s, failed), done)
        return list(done.values())

    def _leave(self, staged: list[Staged], done: dict[str, HostOutcome]) -> None:
        """Hosts staged but not switched, because of the others (or Ctrl-C): they keep what they run."""
        failed = ", ".join(o.host.name for o in done.values() if o.bad)
        for s in staged:
            host = s.remote.host
            if failed:
                console.host(host.name, f"not switching: {failed} failed in this batch; still serving {s.before}")
                done[host.name] = HostOutcome(host, Status.NOT_SWITCHED, f"{self.version} staged, not switched "
                                              f"because {failed} failed; still serving {s.before}")
            else:
                done[host.name] = HostOutcome(host, Status.INTERRUPTED, f"staged {self.version}, still serving "
                                              f"{s.before}")

    def _prepare(self, remote: Remote) -> HostOutcome | Staged:
        """Probe and stage: after this the release is on the host, and nothing that runs has changed."""
        host, version = remote.host, self.version
        state = fleet.probe(remote, self.cfg)
        if self.stop.is_set():
            return HostOutcome(host, Status.UNTOUCHED, "interrupted before any change")
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
                    console.host(host.name, f"already serving {version}")
                    return HostOutcome(host, Status.CURRENT, f"already serving {version}")
        # What to go back to if this fails: what runs now, or (re-deploying the current
        # version after a failure) the release before it.
        previous = state.current if state.current != version else state.previous(version)
        if not remote.dry:
            console.host(host.name, f"current: {state.current or 'none'}, serving: {state.serving or 'nothing'}")
        if state.current != version:
            self._stage(remote)
        return Staged(remote, previous, state.serving or "nothing")

    def _check(self, s: Staged) -> HostOutcome | Staged:
        """Just before any switch: the host still answers and its staged release is intact."""
        host = s.remote.host
        try:
            s.remote.run(steps.check_staged(self.cfg, self.version), "switch check", timeout=30)
        except RemoteError as exc:
            status = Status.UNREACHABLE if isinstance(exc, UnreachableError) else Status.FAILED
            console.host(host.name, f"{status.upper()} before the switch: {exc.step}: {exc.problem}")
            return HostOutcome(host, status, f"{detail_of(exc)}; not switched (it served {s.before} when last seen)")
        return s

    def _switch(self, s: Staged) -> HostOutcome | Staged:
        """From here on the host is switched and checked; Ctrl-C waits for the end of it."""
        remote, host, version = s.remote, s.remote.host, self.version
        console.host(host.name, f"activate {version}")
        try:
            out = remote.run(steps.activate(self.cfg, version, self.unit_profile), "activate", timeout=180)
            if out.stdout.strip():
                console.host(host.name, out.stdout.strip())
            version_route = f" and {self.cfg.health.version}" if self.cfg.health.version else ""
            console.host(host.name, f"health gate: {self.cfg.health.path}{version_route} through nginx")
            remote.run(steps.gate(self.cfg, version), "health gate", timeout=self.cfg.health.timeout + 30)
        except RemoteError as exc:
            if remote.dry:
                raise
            return self._roll_back(remote, s.previous, exc)
        if remote.dry:
            self._print_rollback_plan(remote)
        else:
            console.host(host.name, f"passed: serving {version}")
        return s

    def _alert_gate(self, passed: list[Staged]) -> dict[str, RemoteError]:
        """Watch the alert gate for the batch; the hosts it trips, with why (an unanswered query trips all)."""
        gate = self.cfg.alert_gate
        assert gate is not None
        hosts = [s.remote.host for s in passed]
        console.out(f"alert gate: {', '.join(gate.alerts)} must stay silent on {', '.join(h.name for h in hosts)} for "
                    f"{gate.quiet:g} s ({gate.prometheus})")
        try:
            found = alertgate.watch(gate, [h.name for h in hosts], self.stop.is_set)
        except ToolError as exc:
            return {h.name: RemoteError(h, "alert gate", str(exc)) for h in hosts}
        if not found:
            console.out("alert gate: quiet")
        return {h.name: RemoteError(h, "alert gate", ", ".join(found[h.name]) + f" within {gate.quiet:g} s")
                for h in hosts if h.name in found}

    def _finish(self, s: Staged) -> HostOutcome:
        """The whole batch passed: prune old releases (only now: a revert needs the previous one)."""
        remote = s.remote
        out = remote.run(steps.prune(self.cfg), "prune", timeout=120)
        if out.stdout.strip():
            console.host(remote.host.name, out.stdout.strip())
        return HostOutcome(remote.host, Status.PLANNED if remote.dry else Status.UPDATED,
                           f"{s.previous or 'nothing'} -> {self.version}")

    def _revert(self, s: Staged, failed: str) -> HostOutcome:
        """A host that passed goes back because ``failed`` did not: the batch ends on one release."""
        remote, host, version = s.remote, s.remote.host, self.version
        if s.previous is None:
            console.host(host.name, f"{failed} failed in this batch, but there is no earlier release here to go "
                         "back to")
            return HostOutcome(host, Status.UPDATED, f"nothing -> {version}; kept although {failed} failed in its "
                               "batch: there is no earlier release here to go back to")
        console.host(host.name, f"{failed} failed in this batch: going back to {s.previous}")
        try:
            self._switch_to(remote, s.previous, "revert")
        except RemoteError as exc:
            return HostOutcome(host, Status.FAILED, f"{version} passed its gate, but going back to {s.previous} "
                               f"with its batch failed at {exc.step} ({exc.problem})")
        console.host(host.name, f"reverted: serving {s.previous}")
        return HostOutcome(host, Status.REVERTED, f"{version} passed its gate; went back with its batch because "
                           f"{failed} failed; serving {s.previous} again")

    def digest(self, host: Host) -> str:
        """What makes this release on ``host``: its binary and every file, the env file with its secrets."""
        h = hashlib.sha256(self.release.for_platform(host.platform).sha256.encode())
        for name, data, _ in self._uploads():
            h.update(f"\0{name}\0{len(data)}\0".encode() + data)
        return h.hexdigest()

    def _uploads(self) -> list[tuple[str, bytes, int]]:
        """(name, content, mode) of every file a release directory gets besides the binary: the rendered
        files by name (the env file with its secrets), then service.files as one archive."""
        out = [(f.name, self.env_file if f.name == env_name(self.cfg) else f.content.encode(), f.mode)
               for f in sorted(self.rendering.files.values(), key=lambda f: f.name)]
        if self.files_tar is not None:
            out.append((FILES_ARCHIVE, self.files_tar, 0o644))
        return out

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
        console.host(remote.host.name, f"upload {artifact.path.name} {self.version} ({artifact.size / 1e6:.1f} MB, "
                     f"sha256 {artifact.sha256[:12]})")
        remote.run(steps.make_staging(staging), "staging directory", root=False)
        remote.put(artifact.path, f"{staging}/{self.cfg.binary}", "upload binary")
        files = []
        for name, data, mode in self._uploads():
            remote.put(data, f"{staging}/{name}", f"upload {name}")
            files.append((name, mode))
        remote.run(steps.install(self.cfg, self.version, artifact.sha256, staging, sorted(files),
                                 self.digest(remote.host)),
                   "install release (checksum verified on the host)")

    def _roll_back(self, remote: Remote, previous: str | None, exc: RemoteError) -> HostOutcome:
        host, version = remote.host, self.version
        console.host(host.name, f"FAILED at {exc.step}: {exc.problem}")
        remote.run(steps.mark_failed(self.cfg, version), "mark failed", check=False)
        if previous is None:
            return HostOutcome(host, Status.FAILED, f"{version} failed at {exc.step} ({exc.problem}) and there is no "
                               f"previous release to roll back to; inspect `journalctl -u {self.cfg.app}` on the host")
        console.host(host.name, f"rolling back to {previous}")
        try:
            self._switch_to(remote, previous, "rollback")
        except RemoteError as again:
            return HostOutcome(host, Status.FAILED, f"{version} failed at {exc.step} ({exc.problem}); the rollback to "
                               f"{previous} failed too at {again.step} ({again.problem})")
        console.host(host.name, f"rolled back: serving {previous}")
        return HostOutcome(host, Status.ROLLED_BACK, f"{version} failed at {exc.step} ({exc.problem}); "
                           f"rolled back, serving {previous} again")

    def interrupted_message(self) -> str:
        return ("interrupted; each host serves the release shown above. `invoke deploy.status` shows what "
                "every host serves now; rerun `invoke deploy` to continue (hosts already serving the version "
                "are skipped)")

    def stopped_message(self, first: HostOutcome, outcomes: list[HostOutcome]) -> str:
        back = [f"{o.host.name} ({o.status})" for o in outcomes if o.status in (Status.REVERTED, Status.NOT_SWITCHED)]
        batch = f"\nthe other hosts of its batch serve what they served before: {', '.join(back)}" if back else ""
        return (f"rollout of {self.version} stopped at {first.host.name} ({first.host.address}): {first.detail}"
                f"{batch}\nthe hosts after it were not touched; fix the cause and rerun `invoke deploy`")

    def _print_rollback_plan(self, remote: Remote) -> None:
        console.host(remote.host.name, "# if the activation or health gate fails, instead of pruning:")
        remote.run(steps.mark_failed(self.cfg, self.version), "mark the release failed")
        remote.run(steps.activate(self.cfg, "PREVIOUS", self.unit_profile),
                   "switch back to PREVIOUS (what `current` pointed to before)")
        remote.run(steps.gate(self.cfg, "PREVIOUS"), "health gate of PREVIOUS")

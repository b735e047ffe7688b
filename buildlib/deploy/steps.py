"""The shell commands a host runs, built in one place.

Every remote action is a POSIX sh script built here from validated values
(paths, versions and names are restricted by ``settings`` and ``release``, and
quoted anyway), so ``--dry-run`` prints exactly what a real run executes.
Layout on a host (``base`` = deploy.paths.base):

    base/releases/<version>/   binary, units, nginx site, env file (0600), SHA256SUMS, .deployed
    base/current -> releases/<version>

Units and the nginx site are symlinks into ``base/current``: switching that
one link (``mv -T``, atomic) switches binary, settings, units and site
together, so a host never runs one release's binary with another's settings.

The hardened profile runs the app as instances of a template unit, one per
port (``app@PORT``); ``base/ports/PORT`` links to the release an instance runs
and ``base/upstream.conf`` names the instance nginx sends traffic to:

    base/ports/8080 -> ../releases/1.0.0     the old instance, serving
    base/ports/8081 -> ../releases/1.1.0     the new one, started and checked on its port first
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from .render import FILES_ARCHIVE, SITE_FILE, UPSTREAM_FILE, instance, service_unit, unit_name, upstream_servers
from .settings import DeployConfig

q = shlex.quote


@dataclass(frozen=True)
class Layout:
    """Where things live on a host, derived from build.yaml."""

    cfg: DeployConfig

    @property
    def base(self) -> str:
        return self.cfg.base

    @property
    def releases(self) -> str:
        return f"{self.cfg.base}/releases"

    @property
    def current(self) -> str:
        return f"{self.cfg.base}/current"

    def release(self, version: str) -> str:
        return f"{self.releases}/{version}"

    @property
    def ports(self) -> str:
        return f"{self.cfg.base}/ports"

    @property
    def upstream(self) -> str:
        return f"{self.cfg.base}/{UPSTREAM_FILE}"

    def links(self, profile: str) -> list[tuple[str, str]]:
        """(installed path, file inside current/) for every installed file of ``profile``."""
        units = self.cfg.units_dir
        unit = service_unit(self.cfg, profile)
        out = [(f"{units}/{unit}", unit)]
        if profile == "strict":
            out.append((f"{units}/{unit_name(self.cfg, 'socket')}", unit_name(self.cfg, "socket")))
        out.append((self.cfg.nginx_site, SITE_FILE))
        return out


def _curl(cfg: DeployConfig, path: str) -> str:
    """curl through the local nginx, as a client of the site would arrive."""
    if cfg.tls.enabled:
        # -k: the gate checks the service behind nginx, not the certificate chain.
        port = cfg.https_port
        return (f"curl -ksS --max-time 3 --resolve {q(f'{cfg.domain}:{port}:127.0.0.1')} "
                f"{q(f'https://{cfg.domain}:{port}{path}')}")
    return f"curl -sS --max-time 3 -H {q('Host: ' + cfg.domain)} {q(f'http://127.0.0.1:{cfg.http_port}{path}')}"


def _last_log(cfg: DeployConfig, unit: str | None = None) -> str:
    """The service's own last journal line (its process name is the binary's, cut to 15 characters)."""
    unit = unit or unit_name(cfg)
    shown = f'"{unit}"' if "$" in unit else q(unit)
    return (f"journalctl _SYSTEMD_UNIT={shown} _COMM={q(cfg.binary[:15])} -n 1 -o cat --no-pager "
            "2>/dev/null")


def _live_port(cfg: DeployConfig) -> str:
    """Shell: ``live`` = the port nginx sends traffic to (hardened), empty when there is no upstream file."""
    return (f"live=$(sed -n 's/^ *server 127\\.0\\.0\\.1:\\([0-9][0-9]*\\).*/\\1/p' "
            f"{q(Layout(cfg).upstream)} 2>/dev/null | head -n 1)")


def _serving(cfg: DeployConfig) -> str:
    """Shell printing ``serving=`` what answers through nginx: its /version, or (no such route) the
    release behind the live instance when the health path answers 200."""
    lay = Layout(cfg)
    if cfg.health.version:
        return f'echo "serving=$({_curl(cfg, cfg.health.version)} 2>/dev/null | tr -d "\\n" || true)"'
    return "\n".join([
        f'code=$({_curl(cfg, cfg.health.path)} -o /dev/null -w "%{{http_code}}" 2>/dev/null || true)',
        f'runs=$(readlink {q(lay.ports)}/"$live" 2>/dev/null || readlink {q(lay.current)} 2>/dev/null || true)',
        'if [ "$code" = 200 ] && [ -n "$runs" ]; then echo "serving={\\"version\\":\\"$(basename "$runs")\\"}"; '
        'else echo "serving="; fi',
    ])


def probe(cfg: DeployConfig) -> str:
    """Read-only: machine, tools, current link, releases with their deploy stamps, what nginx serves."""
    lay = Layout(cfg)
    return "\n".join([
        _live_port(cfg),
        # The unit that serves: the live instance (hardened), else the one service.
        f'if [ -n "$live" ]; then unit={q(cfg.app)}@"$live".service; else unit={q(unit_name(cfg))}; fi',
        'echo "arch=$(uname -m)"',
        "for t in systemctl nginx curl sha256sum; do command -v $t >/dev/null 2>&1 && echo tool=$t; done",
        f'echo "current=$(readlink {q(lay.current)} 2>/dev/null || true)"',
        f'echo "digest=$(cat {q(lay.current)}/.digest 2>/dev/null || true)"',
        f"for d in {q(lay.releases)}/*/; do",
        '  [ -d "$d" ] || continue',
        '  echo "release=$(cat "$d.deployed" 2>/dev/null || echo 0) $(basename "$d")'
        ' $([ -e "$d.failed" ] && echo failed || echo ok)"',
        "done",
        'echo "active=$(systemctl is-active "$unit" 2>/dev/null || true)"',
        _serving(cfg),
    ])


def staging_dir(cfg: DeployConfig, version: str, token: str) -> str:
    return f"/tmp/{cfg.app}-deploy-{version}-{token}"


def make_staging(staging: str) -> str:
    """Run as the SSH user: a private directory the uploads go to."""
    return f"mkdir -m 0700 {q(staging)}"


def install(cfg: DeployConfig, version: str, sha256: str, staging: str, files: list[tuple[str, int]],
            digest: str) -> str:
    """Verify the uploaded binary's checksum, then move the release into place in one rename."""
    lay = Layout(cfg)
    final, tmp = lay.release(version), f"{lay.releases}/.{version}.new"
    lines = [
        "set -eu",
        f"cd {q(staging)}",
        # The checksum from bin/manifest.json, verified on the host after the transfer.
        f"echo {q(f'{sha256}  {cfg.binary}')} | sha256sum -c --strict -",
        f"mkdir -p {q(lay.releases)}",
        f"chmod 0755 {q(lay.base)} {q(lay.releases)}",
        f"rm -rf {q(tmp)}",
        f"mkdir -m 0755 {q(tmp)}",
        f"install -m 0755 {q(cfg.binary)} {q(tmp)}/",
    ]
    lines += [f"install -m {mode:04o} {q(name)} {q(tmp)}/" for name, mode in files if name != FILES_ARCHIVE]
    if any(name == FILES_ARCHIVE for name, _ in files):
        # service.files: what the app reads from its working directory (the release directory).
        lines.append(f"tar -xf {FILES_ARCHIVE} -C {q(tmp)} --no-same-owner --no-same-permissions")
    for rel in cfg.writable:
        # What it writes lives under /var/lib/<app>/ (StateDirectory=), kept across releases.
        parent = rel.rpartition("/")[0]
        if parent:
            lines.append(f"mkdir -p {q(tmp + '/' + parent)}")
        lines.append(f"ln -sfn {q(f'/var/lib/{cfg.app}/{rel}')} {q(tmp + '/' + rel)}")
    lines += [
        f"sha256sum {q(cfg.binary)} > {q(tmp)}/SHA256SUMS",
        f"date +%s%N > {q(tmp)}/.deployed",
        # Identifies binary + files (secrets included, hence 0600): the same version with other
        # settings is a different release.
        f"(umask 077 && echo {q(digest)} > {q(tmp)}/.digest)",
    ]
    if cfg.user:
        lines.append(f"id -u {q(cfg.user)} >/dev/null 2>&1 || useradd --system --no-create-home "
                     f"--shell /usr/sbin/nologin {q(cfg.user)}")
    lines += [
        # A re-deployed version replaces its old directory; `current` never points at a half-written one.
        f'if [ "$(readlink {q(lay.current)} 2>/dev/null)" = {q("releases/" + version)} ]; then',
        f"  echo 'release {version} is the current one; run `invoke deploy.rollback` first to replace it' >&2",
        "  exit 3",
        "fi",
        f"rm -rf {q(final)}",
        f"mv -T {q(tmp)} {q(final)}",
        f"cd / && rm -rf {q(staging)}",
    ]
    return "\n".join(lines)


def check_staged(cfg: DeployConfig, version: str) -> str:
    """Read-only, just before a batch switches: the staged release is complete (its binary and digest)."""
    rel = Layout(cfg).release(version)
    return (f"test -x {q(rel)}/{q(cfg.binary)} && test -s {q(rel)}/.digest || "
            f"{{ echo 'release {version} is not complete in {rel}' >&2; exit 1; }}")


def activate(cfg: DeployConfig, version: str, profile: str) -> str:
    """Switch the host to ``version``: through its socket (strict) or a second instance (hardened)."""
    return _activate_instance(cfg, version) if profile == "hardened" else _activate_socket(cfg, version)


def _switch_links(cfg: DeployConfig, version: str, profile: str) -> list[str]:
    """Point ``current`` at ``version`` and the installed units and site into it."""
    lay = Layout(cfg)
    return [
        # Atomic switch: rename(2) over the old link, never a moment without `current`.
        f"ln -sfn {q('releases/' + version)} {q(lay.base)}/.current.new",
        f"mv -T {q(lay.base)}/.current.new {q(lay.current)}",
        *(f"ln -sfn {q(lay.current + '/' + inside)} {q(path)}" for path, inside in lay.links(profile)),
    ]


def _reload_nginx_if_site_changed(cfg: DeployConfig, version: str) -> list[str]:
    lay = Layout(cfg)
    return [
        # Reload nginx only when the site changed: a reload closes idle keep-alive client
        # connections, which clients that reuse them at that instant see as a failure.
        f'if [ -z "$prev" ] || ! cmp -s {q(lay.base)}/"$prev"/{SITE_FILE} {q(lay.release(version))}/{SITE_FILE} '
        '|| ! systemctl is-active --quiet nginx; then',
        "  nginx -t -q",
        "  systemctl reload-or-restart nginx",
        "fi",
    ]


def _activate_socket(cfg: DeployConfig, version: str) -> str:
    """strict: restart the service behind its socket; connections queue in the socket meanwhile."""
    lay = Layout(cfg)
    svc, sock = unit_name(cfg), unit_name(cfg, "socket")
    lines = [
        "set -eu",
        f"test -x {q(lay.release(version))}/{q(cfg.binary)}",
        f'prev=$(readlink {q(lay.current)} 2>/dev/null || true)',
        *_switch_links(cfg, version, "strict"),
        # Coming from the hardened profile: its instances hold the port the socket needs.
        f"for u in $(systemctl list-units --all --plain --no-legend {q(cfg.app + '@*.service')} | awk '{{print $1}}'); "
        'do systemctl disable --now --quiet "$u" 2>/dev/null || true; done',
        f"rm -f {q(cfg.units_dir + '/' + service_unit(cfg, 'hardened'))} {q(lay.upstream)}",
        "systemctl daemon-reload",
        # The listening socket survives service restarts; only a changed socket unit (another
        # port) needs the service stopped and the socket restarted, which briefly refuses connections.
        f'if [ -n "$prev" ] && ! cmp -s {q(lay.base)}/"$prev"/{q(sock)} {q(lay.release(version))}/{q(sock)}; then',
        f"  systemctl stop {q(svc)}; systemctl restart {q(sock)}",
        "fi",
        f"systemctl enable --quiet {q(sock)} {q(svc)}",
        f"systemctl start {q(sock)}",
        f"systemctl reset-failed {q(svc)} 2>/dev/null || true",
        f"systemctl restart {q(svc)} || {{ sleep 1; echo \"last log: $({_last_log(cfg, svc)})\" >&2; exit 1; }}",
        *_reload_nginx_if_site_changed(cfg, version),
        f'echo "switched ${{prev:-nothing}} -> releases/{version}"',
    ]
    return "\n".join(lines)


# How long nginx's old workers may take to finish the requests they hold with the old instance.
DRAIN_SECONDS = 30
# The pids of nginx's worker processes (their command line is their title, "nginx: worker process").
_NGINX_WORKERS = ("nginx_workers() { for d in /proc/[0-9]*; do case \"$(tr '\\0' ' ' < \"$d/cmdline\" "
                  "2>/dev/null)\" in 'nginx: worker process'*) echo \"${d#/proc/}\";; esac; done; }")


def _activate_instance(cfg: DeployConfig, version: str) -> str:
    """hardened: start ``version`` on the free port, check it there, switch nginx to it, stop the old one."""
    lay, h = Layout(cfg), cfg.health
    new, old = instance(cfg, "$next"), instance(cfg, "$live")
    rel = f"../releases/{version}"
    direct = f'curl -sS --max-time 3 "http://127.0.0.1:$next"{q(h.path)}'
    return "\n".join([
        "set -eu",
        f"test -x {q(lay.release(version))}/{q(cfg.binary)}",
        f'prev=$(readlink {q(lay.current)} 2>/dev/null || true)',
        _live_port(cfg),
        f'[ -n "$live" ] || live={cfg.port}',
        f'if [ "$live" = {cfg.port} ]; then next={cfg.second_port}; else next={cfg.port}; fi',
        # Already serving it (a rollback after the other instance failed its check): only the links.
        f'if [ "$(readlink {q(lay.ports)}/"$live" 2>/dev/null)" = {q(rel)} ] && '
        f'systemctl is-active --quiet "{old}"; then',
        *("  " + line for line in _switch_links(cfg, version, "hardened")),
        "  systemctl daemon-reload",
        f'  echo "serving releases/{version} on port $live already"',
        "  exit 0",
        "fi",
        # A port another program holds would answer the checks below in the new instance's place (it
        # could not listen there, and the switch would send the site's traffic to that program).
        # curl's 7 is "could not connect": the port is free. The refusal comes before any change.
        f'if ! systemctl is-active --quiet "{new}"; then',
        '  rc=0; curl -sS --max-time 3 -o /dev/null "http://127.0.0.1:$next/" 2>/dev/null || rc=$?',
        '  if [ "$rc" != 7 ]; then',
        '    holder=$(systemctl list-sockets --no-legend 2>/dev/null | awk -v p=":$next" '
        "'substr($1, length($1) - length(p) + 1) == p { print $2; exit }')",
        f'    echo "port $next is already in use on this host by another program${{holder:+ ($holder)}}: the new '
        f'instance of {cfg.app} could not listen there. Give deploy.port and deploy.second_port '
        f'(now {cfg.port} and {cfg.second_port}) ports nothing else on the host uses" >&2',
        "    exit 1",
        "  fi",
        "fi",
        f"mkdir -p {q(lay.ports)}",
        f'ln -sfn {q(rel)} {q(lay.ports)}/."$next".new && mv -T {q(lay.ports)}/."$next".new {q(lay.ports)}/"$next"',
        *_switch_links(cfg, version, "hardened"),
        "systemctl daemon-reload",
        f'systemctl reset-failed "{new}" 2>/dev/null || true',
        f'systemctl restart "{new}" || true',
        # Health-gated on its own port while the old instance keeps serving everything.
        f"end=$(( $(date +%s) + {int(h.timeout)} )); ok=0",
        'while [ "$(date +%s)" -lt "$end" ]; do',
        f"  if {direct} -f -o /dev/null 2>/dev/null; then ok=$((ok + 1)); [ $ok -ge {h.passes} ] && break; "
        "else ok=0; fi",
        # Stop waiting once it has given up (failed after its restart limit), not only at the deadline.
        f'  case "$(systemctl show -p ActiveState --value "{new}")" in '
        "active|activating|reloading) ;; *) break ;; esac",
        f"  sleep {h.interval:g}",
        "done",
        # Passing is not enough when the answers came from elsewhere: the new instance must be running.
        f'if [ "$ok" -ge {h.passes} ] && ! systemctl is-active --quiet "{new}"; then ok=0; fi',
        f'if [ "$ok" -lt {h.passes} ]; then',
        f'  echo "the new instance on port $next did not pass {h.path}: '
        f'$({direct} -o /dev/null -w "%{{http_code}}" 2>/dev/null), {new}: '
        f'$(systemctl is-active "{new}"), last log: $({_last_log(cfg, new)})" >&2',
        f'  systemctl stop "{new}" 2>/dev/null || true',
        # Back to what serves: `current` and the links name the live instance's release again.
        f'  if [ -n "$prev" ]; then ln -sfn "$prev" {q(lay.base)}/.current.new && '
        f"mv -T {q(lay.base)}/.current.new {q(lay.current)}; systemctl daemon-reload; fi",
        "  exit 1",
        "fi",
        f'printf "%s" "{upstream_servers("$next")}" > {q(lay.upstream)}.new',
        f"mv -T {q(lay.upstream)}.new {q(lay.upstream)}",
        "nginx -t -q",
        # Drain: nginx's old workers finish the requests they hold with the old instance, then exit. They
        # are named before the reload: the reload only signals the master, so right after it the old
        # workers may not yet say they are shutting down, and a check of that alone could pass at once
        # and stop the old instance under a request (a 502).
        _NGINX_WORKERS,
        "old_workers=$(nginx_workers)",
        "systemctl reload-or-restart nginx",
        f"i=0; while [ $i -lt {DRAIN_SECONDS * 10} ]; do left=; "
        'for p in $old_workers; do [ -d "/proc/$p" ] && left=1; done; '
        '[ -z "$left" ] && break; sleep 0.1; i=$((i + 1)); done',
        # SIGTERM: the old instance finishes what it still has, within TimeoutStopSec.
        f'[ "$live" = "$next" ] || systemctl disable --now --quiet "{old}" 2>/dev/null || true',
        # Left from the strict profile: its socket and service.
        f"systemctl disable --now --quiet {q(unit_name(cfg, 'socket'))} {q(unit_name(cfg))} 2>/dev/null || true",
        f"rm -f {q(cfg.units_dir + '/' + unit_name(cfg, 'socket'))} {q(cfg.units_dir + '/' + unit_name(cfg))}",
        f'systemctl enable --quiet "{new}"',
        f'echo "switched ${{prev:-nothing}} -> releases/{version} (port $live -> $next)"',
    ])


def gate(cfg: DeployConfig, version: str) -> str:
    """Poll the health path through nginx (and the version route, == ``version``, when the app has one)
    until both pass ``passes`` times in a row."""
    h = cfg.health
    check = f"{_curl(cfg, h.path)} -f -o /dev/null 2>/dev/null"
    said = f'{h.path}: $({_curl(cfg, h.path)} -o /dev/null -w "%{{http_code}}" 2>/dev/null)'
    if h.version:
        expect = f'"version":"{version}"'
        check += f" && {_curl(cfg, h.version)} -f 2>/dev/null | grep -qF {q(expect)}"
        said += f', {h.version}: $({_curl(cfg, h.version)} -o /dev/null -w "%{{http_code}}" 2>/dev/null)'
    return "\n".join([
        f"end=$(( $(date +%s) + {int(h.timeout)} )); ok=0",
        'while [ "$(date +%s)" -lt "$end" ]; do',
        f"  if {check}; then",
        f"    ok=$((ok + 1)); [ $ok -ge {h.passes} ] && exit 0",
        "  else ok=0; fi",
        f"  sleep {h.interval:g}",
        "done",
        # One line saying why: what nginx answered, the unit's state, the service's last words.
        _live_port(cfg),
        f'if [ -n "$live" ]; then unit={q(cfg.app)}@"$live".service; else unit={q(unit_name(cfg))}; fi',
        f'echo "{said}, $unit: $(systemctl is-active "$unit"), last log: $({_last_log(cfg, "$unit")})" >&2',
        "exit 1",
    ])


def mark_failed(cfg: DeployConfig, version: str) -> str:
    return f"touch {q(Layout(cfg).release(version))}/.failed"


def prune(cfg: DeployConfig) -> str:
    """Remove releases beyond the newest ``keep_releases`` (by deploy time); never the current one."""
    lay = Layout(cfg)
    return "\n".join([
        "set -eu",
        f'cur=$(basename "$(readlink {q(lay.current)} 2>/dev/null || echo none)")',
        f"rm -rf {q(lay.releases)}/.*.new",
        # Staging directories an interrupted deploy left behind (an hour old: not a running deploy's).
        f"find /tmp -maxdepth 1 -name {q(cfg.app + '-deploy-*')} -mmin +60 -exec rm -rf {{}} + 2>/dev/null || true",
        f"for d in {q(lay.releases)}/*/; do",
        '  [ -d "$d" ] && echo "$(cat "$d.deployed" 2>/dev/null || echo 0) $(basename "$d")"',
        f"done | sort -n | head -n -{cfg.keep_releases} | while read -r _ v; do",
        f'  [ "$v" = "$cur" ] || {{ rm -rf {q(lay.releases)}/"$v"; echo "pruned $v"; }}',
        "done",
    ])

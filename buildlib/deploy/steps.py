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
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from .render import SITE_FILE, unit_name
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

    def links(self, profile: str) -> list[tuple[str, str]]:
        """(installed path, file inside current/) for every installed file of ``profile``."""
        units = self.cfg.units_dir
        out = [(f"{units}/{unit_name(self.cfg)}", unit_name(self.cfg))]
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


def _last_log(cfg: DeployConfig) -> str:
    """The service's own last journal line (its process name is the binary's, cut to 15 characters)."""
    return (f"journalctl _SYSTEMD_UNIT={q(unit_name(cfg))} _COMM={q(cfg.binary[:15])} -n 1 -o cat --no-pager "
            "2>/dev/null")


def probe(cfg: DeployConfig) -> str:
    """Read-only: machine, tools, current link, releases with their deploy stamps, what nginx serves."""
    lay = Layout(cfg)
    return "\n".join([
        'echo "arch=$(uname -m)"',
        "for t in systemctl nginx curl sha256sum; do command -v $t >/dev/null 2>&1 && echo tool=$t; done",
        f'echo "current=$(readlink {q(lay.current)} 2>/dev/null || true)"',
        f'echo "digest=$(cat {q(lay.current)}/.digest 2>/dev/null || true)"',
        f"for d in {q(lay.releases)}/*/; do",
        '  [ -d "$d" ] || continue',
        '  echo "release=$(cat "$d.deployed" 2>/dev/null || echo 0) $(basename "$d")'
        ' $([ -e "$d.failed" ] && echo failed || echo ok)"',
        "done",
        f'echo "active=$(systemctl is-active {q(unit_name(cfg))} 2>/dev/null || true)"',
        f'echo "serving=$({_curl(cfg, "/version")} 2>/dev/null | tr -d "\\n" || true)"',
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
    lines += [f"install -m {mode:04o} {q(name)} {q(tmp)}/" for name, mode in files]
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
    """Point ``current`` at ``version``, reload systemd, restart the service, reload nginx."""
    lay = Layout(cfg)
    svc, sock = unit_name(cfg), unit_name(cfg, "socket")
    lines = [
        "set -eu",
        f"test -x {q(lay.release(version))}/{q(cfg.binary)}",
        f'prev=$(readlink {q(lay.current)} 2>/dev/null || true)',
        # Atomic switch: rename(2) over the old link, never a moment without `current`.
        f"ln -sfn {q('releases/' + version)} {q(lay.base)}/.current.new",
        f"mv -T {q(lay.base)}/.current.new {q(lay.current)}",
    ]
    lines += [f"ln -sfn {q(lay.current + '/' + inside)} {q(path)}" for path, inside in lay.links(profile)]
    if profile != "strict":
        lines.append(f"systemctl disable --now {q(sock)} 2>/dev/null || true; "
                     f"rm -f {q(cfg.units_dir + '/' + sock)}")
    lines.append("systemctl daemon-reload")
    if profile == "strict":
        lines += [
            # The listening socket survives service restarts; only a changed socket unit (another
            # port, or coming from the hardened profile whose service holds the port) needs the
            # service stopped and the socket restarted, which briefly refuses connections.
            f'if [ -n "$prev" ] && ! cmp -s {q(lay.base)}/"$prev"/{q(sock)} {q(lay.release(version))}/{q(sock)}; then',
            f"  systemctl stop {q(svc)}; systemctl restart {q(sock)}",
            "fi",
            f"systemctl enable --quiet {q(sock)} {q(svc)}",
            f"systemctl start {q(sock)}",
        ]
    else:
        lines.append(f"systemctl enable --quiet {q(svc)}")
    lines += [
        f"systemctl reset-failed {q(svc)} 2>/dev/null || true",
        f"systemctl restart {q(svc)} || {{ sleep 1; echo \"last log: $({_last_log(cfg)})\" >&2; exit 1; }}",
        # Reload nginx only when the site changed: a reload closes idle keep-alive client
        # connections, which clients that reuse them at that instant see as a failure.
        f'if [ -z "$prev" ] || ! cmp -s {q(lay.base)}/"$prev"/{SITE_FILE} {q(lay.release(version))}/{SITE_FILE} '
        '|| ! systemctl is-active --quiet nginx; then',
        "  nginx -t -q",
        "  systemctl reload-or-restart nginx",
        "fi",
        f'echo "switched ${{prev:-nothing}} -> releases/{version}"',
    ]
    return "\n".join(lines)


def gate(cfg: DeployConfig, version: str) -> str:
    """Poll /readyz through nginx until it and /version (== ``version``) pass ``passes`` times in a row."""
    h = cfg.health
    svc = unit_name(cfg)
    expect = f'"version":"{version}"'
    return "\n".join([
        f"end=$(( $(date +%s) + {int(h.timeout)} )); ok=0",
        'while [ "$(date +%s)" -lt "$end" ]; do',
        f"  if {_curl(cfg, h.path)} -f -o /dev/null 2>/dev/null && "
        f"{_curl(cfg, '/version')} -f 2>/dev/null | grep -qF {q(expect)}; then",
        f"    ok=$((ok + 1)); [ $ok -ge {h.passes} ] && exit 0",
        "  else ok=0; fi",
        f"  sleep {h.interval:g}",
        "done",
        # One line saying why: what nginx answered, the unit's state, the service's last words.
        f'echo "{h.path}: $({_curl(cfg, h.path)} -o /dev/null -w "%{{http_code}}" 2>/dev/null),'
        f' /version: $({_curl(cfg, "/version")} -o /dev/null -w "%{{http_code}}" 2>/dev/null),'
        f' {svc}: $(systemctl is-active {q(svc)}), last log: $({_last_log(cfg)})" >&2',
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

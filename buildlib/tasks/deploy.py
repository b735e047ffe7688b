"""Deploy to systemd hosts behind nginx: `invoke deploy`, deploy.render/check/status/rollback."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from invoke import Collection, Context

from .. import console, layout
from ..errors import RunFailed, SelectionError
from .common import not_blank, one, project, selection, task

if TYPE_CHECKING:
    from ..config import Project
    from ..deploy.settings import DeployConfig

# Where `invoke deploy.render` writes without --out: with the build's other private outputs.
RENDER_DIR = str(layout.DEPLOY_RENDER)

_HOSTS = "hosts or groups from build.yaml deploy, comma-separated (default: every host)"
_ENV = "environment row of deploy.environments (default: deploy.environment)"
_PROFILE = ("strict (socket-activated) or hardened (two instances, for an app binding its own port); "
            "default: deploy.profile")


@task(
    default=True,
    help={
        "hosts": _HOSTS,
        "version": "version to ship; must be what bin/manifest.json holds (default: the manifest's version)",
        "batch": "hosts updated at a time (default: deploy.batch)",
        "env": _ENV,
        "profile": _PROFILE,
        "dry_run": "print every command per host without connecting or running anything",
    },
)
def rollout(c: Context, hosts: str | None = None, version: str | None = None, batch: str | None = None,
            env: str | None = None, profile: str | None = None, dry_run: bool = False) -> None:
    """Roll the built release out over SSH in batches, with health gates and rollback."""
    from ..deploy import fleet, release, render, secrets
    from ..deploy.rollout import Rollout

    p = project(c)
    cfg = _config(p)
    hosts, env, profile = _hosts(cfg, hosts), _env(cfg, env), _profile(cfg, profile)
    version = not_blank("version", version, "the manifest's version")
    size = _batch(batch) or cfg.batch
    chosen = fleet.select_hosts(cfg, hosts)
    platforms: dict[str, list[str]] = {}
    for h in chosen:
        platforms.setdefault(h.platform, []).append(h.name)
    rel = release.load_release(p, cfg.binary, platforms, version)
    rendering = render.render(cfg, p.root, profile, env)
    with_secrets = render.render(cfg, p.root, profile, env, secrets.load(p, cfg))
    env_file = with_secrets.files[render.env_name(cfg)].content.encode()
    job = Rollout(p, cfg, rel, rendering, env_file, dry=dry_run)
    job.finish(job.run(chosen, size))


@task(help={"out": f"directory to write <profile>/ renderings into (default {RENDER_DIR}/)", "env": _ENV})
def render(c: Context, out: str | None = None, env: str | None = None) -> None:
    """Render the systemd units, nginx site and environment file of every profile."""
    from ..deploy import render as rendering

    p = project(c)
    cfg = _config(p)
    env = _env(cfg, env)
    out = not_blank("out", out, RENDER_DIR)
    folder = Path(out) if out is not None else p.root / RENDER_DIR
    if out is not None and out.startswith("-"):
        # An option invoke did not know (e.g. a typo) must not become a directory named after it.
        raise SelectionError(f'--out "{out}" looks like an option, not a directory; see `invoke deploy.render '
                             "--help`, or write ./" + out + " for a directory of that name")
    written = rendering.render_all(cfg, p.root, folder, env)
    console.out(f"rendered into {_shown(folder)}")
    for profile, paths in written.items():
        marker = " (deploy.profile)" if profile == cfg.profile else ""
        console.out(f"{profile}{marker}:")
        for path in paths:
            console.out(f"  {path}  {oct(path.stat().st_mode & 0o777)}")
    console.out("secrets are left out of the environment file; the rollout adds them on the hosts")


@task(help={"dir": "check this deploy.render output instead of a fresh rendering", "env": _ENV})
def check(c: Context, dir: str | None = None, env: str | None = None) -> None:  # noqa: A002 - flag name
    """Check units and site (systemd-analyze, nginx -t) and the app's code against build.yaml."""
    from ..deploy import check as checks
    from ..deploy import render as rendering

    p = project(c)
    cfg = _config(p)
    env = _env(cfg, env)
    dir = not_blank("dir", dir, "a fresh rendering")  # noqa: A001 - the flag's name
    with tempfile.TemporaryDirectory(prefix="deploy-render-") as tmp:
        folder = Path(dir) if dir else Path(tmp)
        if not dir:
            rendering.render_all(cfg, p.root, folder, env)
        findings = checks.check(cfg, folder)
    if (p.root / "go.mod").is_file():
        findings += checks.check_code(cfg, p.root, p.binaries[cfg.binary].main)
    for f in findings:
        console.out(f.line())
    checks.raise_failures(findings)


@task(help={"hosts": _HOSTS})
def status(c: Context, hosts: str | None = None) -> None:
    """Show the current release, the version served and the unit state of every host."""
    from ..deploy import fleet
    from ..deploy import status as report

    p = project(c)
    cfg = _config(p)
    statuses = report.collect(p, cfg, fleet.select_hosts(cfg, _hosts(cfg, hosts)))
    console.out(report.table(statuses))
    for line in report.advice(cfg, statuses):
        console.out(line)
    down = [s for s in statuses if s.state is None]
    if down:
        raise RunFailed(f"{len(down)} host(s) unreachable; first: {down[0].error}")


@task(help={"hosts": _HOSTS, "batch": "hosts rolled back at a time (default: deploy.batch)",
            "profile": _PROFILE, "dry_run": "print the commands without connecting or running anything"})
def rollback(c: Context, hosts: str | None = None, batch: str | None = None, profile: str | None = None,
             dry_run: bool = False) -> None:
    """Go back one release on the hosts (the release before the current one)."""
    from ..deploy import fleet
    from ..deploy import rollback as back

    p = project(c)
    cfg = _config(p)
    hosts, profile, size = _hosts(cfg, hosts), _profile(cfg, profile), _batch(batch) or cfg.batch
    back.run(p, cfg, fleet.select_hosts(cfg, hosts), size, profile or cfg.profile, dry_run)


def _config(p: Project) -> DeployConfig:
    from ..deploy import settings

    return settings.load(p)


def _hosts(cfg: DeployConfig, value: str | None) -> str | None:
    """--hosts, checked by the shared rule: blank is an error, only its absence means every host."""
    valid = [*cfg.hosts, *(f"{g} (group)" for g in cfg.groups)]
    selection("hosts", value, valid, "every host")
    return value


def _env(cfg: DeployConfig, value: str | None) -> str | None:
    return one("env", value, sorted(cfg.environments), f"deploy.environment ({cfg.environment})")


def _profile(cfg: DeployConfig, value: str | None) -> str | None:
    # Only the profiles that fit the app (settings.fitting_profiles).
    return one("profile", value, cfg.profiles, f"deploy.profile ({cfg.profile})")


def _shown(path: Path) -> str:
    """``path`` relative to the current directory when it is below it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _batch(value: str | int | None) -> int | None:
    """--batch as a number (invoke passes flag values as strings)."""
    if value is None:
        return None
    if not str(value).isdigit() or int(value) < 1:
        raise SelectionError(f'--batch "{value}" is not a whole number of hosts >= 1')
    return int(value)


ns = Collection("deploy", rollout, render, check, status, rollback)

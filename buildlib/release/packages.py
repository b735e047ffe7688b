"""deb and rpm packages of the service, made by nfpm from what `invoke deploy` would install.

The package holds the same files a deploy puts on a host, rendered by
``deploy.render``: the binary and its environment file in
``<base>/releases/<version>/``, the ``current`` link (strict) or the instance's
``ports/<port>`` link and ``upstream.conf`` (hardened), the systemd unit(s) and
the nginx site. The unit runs as a system user the package creates, not as a
DynamicUser=, so files the admin adds for it have an owner that lasts.

The maintainer scripts enable and start the unit on install and upgrade, and
stop and disable it before removal; each handles dpkg's words (configure,
remove, upgrade) and rpm's counts (1, 0) alike.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import shlex
from dataclasses import dataclass
from pathlib import Path

from .. import toolcache, tools
from ..config import Project
from ..deploy.render import SITE_FILE, UPSTREAM_FILE, instance, render, unit_name, upstream_servers
from ..deploy.settings import DeployConfig
from ..errors import ToolError
from .settings import Packages
from .source import ReleaseSource

# GOARCH -> nfpm's arch word (nfpm turns it into dpkg's and rpm's own); GOARM defaults to 7.
_ARCH = {"amd64": "amd64", "arm64": "arm64", "arm": "arm7", "386": "386", "riscv64": "riscv64",
         "ppc64le": "ppc64le", "s390x": "s390x", "loong64": "loong64", "mips64le": "mips64le"}


@dataclass(frozen=True)
class Content:
    dst: str
    src: str            # a file, or a link's target
    mode: int = 0o644
    kind: str = "file"  # file or symlink


def packable(platform: str) -> bool:
    goos, goarch = platform.split("/")
    return goos == "linux" and goarch in _ARCH


def _scripts(cfg: DeployConfig, profile: str) -> dict[str, str]:
    q = shlex.quote
    user = cfg.user or cfg.app
    units = [instance(cfg, cfg.port)] if profile == "hardened" else [unit_name(cfg, "socket"), unit_name(cfg)]
    start = ([f"systemctl enable {q(units[0])}", f"systemctl restart {q(units[0])}"] if profile == "hardened" else
             [f"systemctl enable {q(units[0])}", f"systemctl start {q(units[0])}",
              # A restart behind the socket: connections wait in its backlog meanwhile.
              f"systemctl restart {q(units[1])}"])
    nginx = [
        "if command -v nginx >/dev/null 2>&1; then",
        "  if nginx -t -q 2>/dev/null; then systemctl reload-or-restart nginx || true",
        f"  else echo '{cfg.app}: nginx -t fails; the site {cfg.nginx_site} is not live until it passes' >&2; fi",
        "fi",
    ]
    head = ["#!/bin/sh", "set -e"]
    systemd = 'if [ -d /run/systemd/system ]; then'
    return {
        "preinstall": "\n".join([
            *head,
            f"getent group {q(user)} >/dev/null || groupadd --system {q(user)}",
            f"getent passwd {q(user)} >/dev/null || useradd --system --gid {q(user)} --no-create-home "
            f"--home-dir /nonexistent --shell /usr/sbin/nologin {q(user)}",
        ]) + "\n",
        "postinstall": "\n".join([
            *head, systemd, "  systemctl daemon-reload", *(f"  {line}" for line in start + nginx), "fi",
        ]) + "\n",
        "preremove": "\n".join([
            *head,
            # dpkg says remove (or upgrade); rpm counts what stays installed: 0 on removal.
            'case "$1" in remove|0|deconfigure) ;; *) exit 0 ;; esac',
            systemd,
            f"  systemctl disable --now {' '.join(q(u) for u in units)} || true",
            # Any other instance started by hand.
            f"  systemctl stop {q(cfg.app + '@*.service')} || true" if profile == "hardened" else "  :",
            "fi",
        ]) + "\n",
        "postremove": "\n".join([
            *head,
            'case "$1" in remove|purge|0) ;; *) exit 0 ;; esac',
            systemd, "  systemctl daemon-reload", *(f"  {line}" for line in nginx), "fi",
        ]) + "\n",
    }


def contents(project: Project, cfg: DeployConfig, profile: str, version: str, binary: Path,
             work: Path) -> tuple[list[Content], dict[str, str]]:
    """The package's files (written under ``work``) and its maintainer scripts."""
    cfg = dataclasses.replace(cfg, user=cfg.user or cfg.app)
    rendering = render(cfg, project.root, profile)
    release = f"{cfg.base}/releases/{version}"
    work.mkdir(parents=True, exist_ok=True)
    out = [Content(f"{release}/{cfg.binary}", str(binary), 0o755)]
    unit_files = {name for name in rendering.files if name.endswith((".service", ".socket"))}
    for name, f in sorted(rendering.files.items()):
        path = work / name
        path.write_text(f.content, encoding="utf-8")
        if name in unit_files:
            out.append(Content(f"/lib/systemd/system/{name}", str(path)))
        elif name == SITE_FILE:
            out.append(Content(cfg.nginx_site, str(path)))
        else:
            out.append(Content(f"{release}/{name}", str(path), f.mode))
    for rel in cfg.files:
        top = project.root / rel
        for file in ([top] if top.is_file() else sorted(p for p in top.rglob("*") if p.is_file())):
            mode = 0o755 if file.stat().st_mode & 0o111 else 0o644
            out.append(Content(f"{release}/{file.relative_to(project.root).as_posix()}", str(file), mode))
    for rel in cfg.writable:
        out.append(Content(f"{release}/{rel}", f"/var/lib/{cfg.app}/{rel}", kind="symlink"))
    if profile == "hardened":
        upstream = work / UPSTREAM_FILE
        upstream.write_text(upstream_servers(cfg.port), encoding="utf-8")
        out += [Content(f"{cfg.base}/{UPSTREAM_FILE}", str(upstream)),
                Content(f"{cfg.base}/ports/{cfg.port}", f"../releases/{version}", kind="symlink")]
    else:
        out.append(Content(f"{cfg.base}/current", f"releases/{version}", kind="symlink"))
    return out, _scripts(cfg, profile)


def config_yaml(name: str, platform: str, src: ReleaseSource, meta: Packages, maintainer: str,
                items: list[Content], scripts: dict[str, Path]) -> str:
    import yaml

    when = dt.datetime.fromtimestamp(src.epoch, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    doc = {
        "name": name,
        "arch": _ARCH[platform.split("/")[1]],
        "platform": "linux",
        "version": src.package_version,
        "version_schema": "none",
        "release": "1",
        "section": "net",
        "priority": "optional",
        "maintainer": maintainer,
        "description": meta.description,
        "mtime": when,
        "contents": [
            {"src": c.src, "dst": c.dst, "type": "symlink"} if c.kind == "symlink" else
            {"src": c.src, "dst": c.dst, "file_info": {"mode": c.mode, "owner": "root", "group": "root",
                                                      "mtime": when}}
            for c in sorted(items, key=lambda c: c.dst)
        ],
        "scripts": {k: str(v) for k, v in sorted(scripts.items())},
    }
    if meta.homepage:
        doc["homepage"] = meta.homepage
    if meta.license:
        doc["license"] = meta.license
    return yaml.safe_dump(doc, sort_keys=False)


def build(nfpm: Path, config: Path, packager: str, target: Path) -> Path:
    """Run nfpm once; the package it wrote."""
    before = set(target.iterdir())
    tools.run([str(nfpm), "package", "--config", str(config), "--packager", packager, "--target", str(target)],
              cwd=config.parent, merge_stderr=True, hint=f"nfpm could not make the {packager} package from "
              f"{config.name}")
    made = sorted(set(target.iterdir()) - before)
    if len(made) != 1:
        raise ToolError(f"nfpm made {len(made)} files in {target} for the {packager} package from {config.name}, "
                        "not one; remove what else is there and release again")
    return made[0]


def nfpm_binary(echo=None) -> Path:
    return toolcache.ensure(toolcache.NFPM, echo=echo)

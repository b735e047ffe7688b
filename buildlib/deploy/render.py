"""Render the files of a release from the Jinja2 templates in ``deploy/``.

Jinja2 rather than str.format: unit and nginx files need conditionals (TLS,
profile, user) and a repeated block (nginx security headers) that would
otherwise be assembled from Python strings nobody can read as a config file.
The templates stay plain text a Go team can edit without reading Python.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import BuildlibError
from .settings import PROFILES, DeployConfig

TEMPLATE_DIR = "deploy"
LISTEN_ADDR = "127.0.0.1"  # the service is reached through nginx only
SITE_FILE = "nginx-site.conf"


class RenderError(BuildlibError):
    """A template is missing or does not render; the message names the file."""


@dataclass(frozen=True)
class RenderedFile:
    name: str
    content: str
    mode: int = 0o644


@dataclass(frozen=True)
class Rendering:
    """Everything one host gets for one release, by file name."""

    profile: str
    environment: str
    files: dict[str, RenderedFile]

    def write(self, out: Path) -> list[Path]:
        out.mkdir(parents=True, exist_ok=True)
        written = []
        for f in sorted(self.files.values(), key=lambda f: f.name):
            path = out / f.name
            # Create with the final mode so a secret-bearing file is never world-readable, even briefly.
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, f.mode)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(f.content)
            os.chmod(path, f.mode)
            written.append(path)
        return written


def unit_name(cfg: DeployConfig, kind: str = "service") -> str:
    return f"{cfg.app}.{kind}"


def service_unit(cfg: DeployConfig, profile: str) -> str:
    """The service file of ``profile``: one unit (strict), or a template with one instance per port (hardened)."""
    return f"{cfg.app}@.service" if profile == "hardened" else unit_name(cfg)


def instance(cfg: DeployConfig, port: int | str) -> str:
    """The hardened profile's instance on ``port`` (a number, or a shell variable like ``$next``)."""
    return f"{cfg.app}@{port}.service"


UPSTREAM_FILE = "upstream.conf"  # base/upstream.conf: the instance nginx sends traffic to (hardened)


def upstream_servers(port: int | str) -> str:
    """The nginx upstream's lines for the one backend on ``port`` (a number, or a shell variable).

    The same address again as a backup: nginx retries a request (proxy_next_upstream) only on
    another server entry, so a keep-alive connection the draining process just closed gets a
    fresh one instead of a 502. max_fails=0: one local backend is never marked down.
    """
    return f"server {LISTEN_ADDR}:{port} max_fails=0;\nserver {LISTEN_ADDR}:{port} max_fails=0 backup;\n"
FILES_ARCHIVE = "files.tar"      # service.files, unpacked into each release directory


def systemd_arg(arg: str) -> str:
    """One ExecStart= argument as systemd reads it back (``%`` is a specifier there; $VAR stays an expansion)."""
    arg = arg.replace("%", "%%")
    if arg and not re.search(r'[\s"\'\\;]', arg):
        return arg
    return '"' + arg.replace("\\", "\\\\").replace('"', '\\"') + '"'


def files_archive(root: Path, files: tuple[str, ...]) -> bytes | None:
    """service.files as one tar, the same bytes for the same files (owner, times and order fixed)."""
    if not files:
        return None
    import io
    import tarfile

    buf = io.BytesIO()
    paths: list[Path] = []
    for rel in files:
        top = root / rel
        paths += [top] + (sorted(top.rglob("*")) if top.is_dir() else [])
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in paths:
            if path.is_symlink():
                continue  # a link could point outside the release; ship what it names instead
            info = tar.gettarinfo(str(path), arcname=path.relative_to(root).as_posix())
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            info.mtime = 0
            info.mode = 0o755 if path.is_dir() or path.stat().st_mode & 0o111 else 0o644
            with (open(path, "rb") if path.is_file() else io.BytesIO()) as handle:
                tar.addfile(info, handle if path.is_file() else None)
    return buf.getvalue()


def env_name(cfg: DeployConfig) -> str:
    return f"{cfg.app}.env"


_PLAIN_VALUE = re.compile(r"[A-Za-z0-9_./:@%+,=-]*")


def env_quote(value: str) -> str:
    """A value as systemd's EnvironmentFile= reads it back verbatim."""
    if "\n" in value or "\r" in value or "\0" in value:
        raise RenderError("an environment value contains a line break or NUL; systemd cannot carry it "
                          "in an EnvironmentFile")
    if _PLAIN_VALUE.fullmatch(value):
        return value
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$").replace("`", "\\`")
    return f'"{escaped}"'


def _stop_timeout(values: dict[str, str]) -> str:
    # The server drains within SHUTDOWN_TIMEOUT (default 10 s); systemd waits that plus a margin.
    m = re.fullmatch(r"([0-9]+)s?", values.get("SHUTDOWN_TIMEOUT", "10"))
    return f"{int(m.group(1)) + 10}s" if m else "30s"


def _read_timeout(values: dict[str, str]) -> int:
    # Longest API call plus a restart's worth of queueing (stop + start), at least 30 s.
    return max(30, int(values.get("API_TIMEOUT_MS", "2000")) // 1000 + 20)


def _environment(root: Path) -> object:
    import jinja2

    folder = root / TEMPLATE_DIR
    if not folder.is_dir():
        raise RenderError(f"no {TEMPLATE_DIR}/ directory under {root}: copy deploy/ from the template "
                          "(it holds service.j2, socket.j2, nginx-site.conf.j2, env.j2)")
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(folder)),
        undefined=jinja2.StrictUndefined,  # a typo in a template is an error, not an empty string
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )
    return env


def render(cfg: DeployConfig, root: Path, profile: str | None = None, environment: str | None = None,
           secrets: dict[str, str] | None = None) -> Rendering:
    """Render the unit(s), nginx site and environment file of ``profile`` for ``environment``.

    ``secrets`` None leaves a placeholder comment for each secret: renderings
    that land on the deployer's disk never contain secret values.
    """
    import jinja2

    profile = profile or cfg.profile
    if profile not in PROFILES:
        raise RenderError(f'unknown profile "{profile}"; choose one of: {", ".join(PROFILES)}')
    if profile not in cfg.profiles:
        raise RenderError(f"the {profile} profile does not fit this app (it fits: {', '.join(cfg.profiles)}); "
                          "see service.socket_activation and service.port_env in build.yaml")
    env_row = cfg.env(environment)
    hardened = profile == "hardened"
    # hardened: each instance gets its own port from its unit, so the file must not set one.
    port_value = {} if hardened or cfg.port_env is None else {cfg.port_env: str(cfg.port)}
    values = {**port_value, "LISTEN_ADDR": LISTEN_ADDR, "SERVICE_NAME": cfg.app, **env_row.values}
    if hardened and cfg.port_env in values:
        raise RenderError(f"environments.{env_row.name} sets {cfg.port_env}, which the hardened profile sets per "
                          f"instance (service.port_env); remove it from that environment")
    release_dir = f"{cfg.base}/ports/%i" if hardened else f"{cfg.base}/current"
    context = {
        "app": cfg.app,
        "unit": service_unit(cfg, profile),
        "instance": hardened,
        "binary": cfg.binary,
        "exec_start": " ".join([f"{release_dir}/{cfg.binary}", *(systemd_arg(a) for a in cfg.args)]),
        "release_dir": release_dir,
        "port_env": cfg.port_env,
        "second_port": cfg.second_port,
        "upstream_file": f"{cfg.base}/{UPSTREAM_FILE}",
        "upstream_servers": upstream_servers(cfg.port),
        "writable": [f"{cfg.app}/{w}" for w in cfg.writable],
        "outbound": list(cfg.allow_outbound),
        "profile": profile,
        "environment": env_row.name,
        "base": cfg.base,
        "user": cfg.user,
        "port": cfg.port,
        "listen_addr": LISTEN_ADDR,
        "domain": cfg.domain,
        "upstream": f"{cfg.app}_backend".replace("-", "_"),
        "http_port": cfg.http_port,
        "https_port": cfg.https_port,
        "ipv6": cfg.ipv6,
        "tls": cfg.tls,
        "static_max_age": cfg.static_max_age,
        "metrics_port": cfg.metrics_port,
        "metrics_path": cfg.metrics_path,
        "scrapers": list(cfg.scrapers),
        "stop_timeout": _stop_timeout(values),
        "read_timeout": _read_timeout(values),
        "values": [(k, env_quote(v)) for k, v in sorted(values.items())],
        "secret_names": cfg.secret_names,
        "secrets": {k: env_quote(v) for k, v in (secrets or {}).items()},
    }
    env = _environment(root)
    wanted = [("service.j2", service_unit(cfg, profile), 0o644), (f"{SITE_FILE}.j2", SITE_FILE, 0o644),
              ("env.j2", env_name(cfg), 0o600)]
    if profile == "strict":
        wanted.insert(1, ("socket.j2", unit_name(cfg, "socket"), 0o644))
    files = {}
    for template, name, mode in wanted:
        try:
            text = env.get_template(template).render(context)  # type: ignore[attr-defined]
        except jinja2.TemplateNotFound as exc:
            raise RenderError(f"{TEMPLATE_DIR}/{template} is missing; copy it from the template") from exc
        except jinja2.TemplateError as exc:
            raise RenderError(f"{TEMPLATE_DIR}/{template}: {exc}") from exc
        files[name] = RenderedFile(name, text, mode)
    return Rendering(profile=profile, environment=env_row.name, files=files)


def render_all(cfg: DeployConfig, root: Path, out: Path, environment: str | None = None) -> dict[str, list[Path]]:
    """Write the rendering of every profile that fits the app to ``out/<profile>/``."""
    return {p: render(cfg, root, p, environment).write(out / p) for p in cfg.profiles}

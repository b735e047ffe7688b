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
    env_row = cfg.env(environment)
    values = {"PORT": str(cfg.port), "LISTEN_ADDR": LISTEN_ADDR, "SERVICE_NAME": cfg.app, **env_row.values}
    context = {
        "app": cfg.app,
        "binary": cfg.binary,
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
        "stop_timeout": _stop_timeout(values),
        "read_timeout": _read_timeout(values),
        "values": [(k, env_quote(v)) for k, v in sorted(values.items())],
        "secret_names": cfg.secret_names,
        "secrets": {k: env_quote(v) for k, v in (secrets or {}).items()},
    }
    env = _environment(root)
    wanted = [("service.j2", unit_name(cfg), 0o644), (f"{SITE_FILE}.j2", SITE_FILE, 0o644),
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
    """Write every profile's rendering to ``out/<profile>/``."""
    return {p: render(cfg, root, p, environment).write(out / p) for p in PROFILES}

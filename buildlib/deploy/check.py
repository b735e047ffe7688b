"""Check a rendering with the real tools: systemd-analyze and nginx.

- ``systemd-analyze verify`` runs against a scratch root (``--root``) that
  holds the stock unit files, the rendered units and a placeholder for the
  release binary, so it checks ExecStart= and dependencies without touching
  /etc or /opt of the machine it runs on;
- ``systemd-analyze security --offline=true`` scores each service file; a
  score above the threshold in build.yaml (deploy.security) fails;
- ``nginx -t`` reads the site through a small wrapper nginx.conf with its own
  prefix and pid file, as nginx only accepts a site inside an http block;
- the app's own code is read (``template.detect``, what adopt reads) to catch a
  description that cannot work: a health path no route serves, a port or port
  variable other than the code's, socket activation the code never accepts.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .. import tools
from ..errors import CheckFailed, ToolError
from .render import SITE_FILE, UPSTREAM_FILE, env_name, service_unit, upstream_servers
from .settings import DeployConfig

STOCK_UNIT_DIRS = ("/usr/lib/systemd/system", "/lib/systemd/system")
_SCORE = re.compile(r"Overall exposure level for (\S+): ([0-9.]+) (\w+)")


@dataclass(frozen=True)
class CheckFinding:
    profile: str
    file: str
    check: str
    ok: bool
    detail: str
    skipped: bool = False  # could not be checked (said why in detail); never counted as a pass

    def line(self) -> str:
        mark = "skip" if self.skipped else "ok  " if self.ok else "FAIL"
        return f"{mark} {self.profile:<9} {self.file:<16} {self.check:<24} {self.detail}"


def _tool(name: str, package: str) -> str:
    return tools.which(name, hint=f"install it with `apt-get install {package}`", also=("/usr/sbin", "/usr/bin"))


def _run(argv: list[str]) -> subprocess.CompletedProcess[str]:
    """The check reads the tool's verdict from its exit status and words: a non-zero exit is a finding."""
    return tools.run(argv, timeout=300, check=False)


def exposure(unit_file: Path) -> tuple[float, str, str]:
    """``systemd-analyze security --offline=true``: (score, rating, full report)."""
    tool = _tool("systemd-analyze", "systemd")
    proc = _run([tool, "security", "--offline=true", "--no-pager", str(unit_file)])
    report = proc.stdout + proc.stderr
    m = _SCORE.search(report)
    if m is None:
        raise ToolError(f"systemd-analyze security printed no score for {unit_file.name} "
                        f"(exit {proc.returncode}): {report.strip()[-400:]}")
    return float(m.group(2)), m.group(3), report


_COST = re.compile(r"^✗\s+(\S+)\s.*?\s([0-9]+\.[0-9])\s*$", re.M)


def costs(report: str, top: int = 3) -> str:
    """The settings that cost the most in a ``systemd-analyze security`` report: "PrivateNetwork= 0.5, ..."."""
    found = sorted(((float(w), name) for name, w in _COST.findall(report)), key=lambda c: -c[0])
    return ", ".join(f"{name} {w:.1f}" for w, name in found[:top] if w > 0)


def verify_units(cfg: DeployConfig, folder: Path, scratch: Path) -> tuple[bool, str]:
    """``systemd-analyze verify`` of the units in ``folder`` inside a scratch root."""
    tool = _tool("systemd-analyze", "systemd")
    stock = next((Path(d) for d in STOCK_UNIT_DIRS if Path(d).is_dir()), None)
    if stock is None:
        raise ToolError("no systemd unit directory (/usr/lib/systemd/system) here; install systemd")
    root = scratch / "root"
    shutil.copytree(stock, root / "usr/lib/systemd/system", symlinks=True, dirs_exist_ok=True)
    units = sorted(p.name for p in folder.iterdir() if p.suffix in (".service", ".socket"))
    etc = root / "etc/systemd/system"
    etc.mkdir(parents=True, exist_ok=True)
    for name in units:
        shutil.copy(folder / name, etc / name)
    # A template unit is verified as its first instance, whose release directory is ports/PORT.
    template = any(name.endswith("@.service") for name in units)
    units = [name.replace("@.service", f"@{cfg.port}.service") for name in units]
    # verify insists that ExecStart= is executable inside the root: a stand-in
    # for the release binary, which only exists on the hosts.
    current = root / cfg.base.lstrip("/") / ("ports/" + str(cfg.port) if template else "current")
    current.mkdir(parents=True, exist_ok=True)
    stand_in = current / cfg.binary
    stand_in.write_text("#!/bin/sh\nexit 0\n")
    stand_in.chmod(0o755)
    if (folder / env_name(cfg)).exists():
        shutil.copy(folder / env_name(cfg), current / env_name(cfg))
    proc = _run([tool, "verify", "--man=no", f"--root={root}", *units])
    return proc.returncode == 0, (proc.stdout + proc.stderr).strip()


def nginx_test(cfg: DeployConfig, site: Path, scratch: Path) -> tuple[bool, str]:
    """``nginx -t`` of ``site`` included from a wrapper nginx.conf in ``scratch``."""
    tool = _tool("nginx", "nginx-light")
    prefix = scratch / "nginx"
    (prefix / "logs").mkdir(parents=True, exist_ok=True)
    text = site.read_text(encoding="utf-8")
    note = ""
    if cfg.tls.enabled and not (Path(cfg.tls.certificate).exists() and Path(cfg.tls.certificate_key).exists()):
        # The certificate lives on the hosts; nginx -t needs a readable pair,
        # so a throw-away self-signed one stands in for the syntax check.
        cert, key = _self_signed(prefix, cfg.domain)
        text = text.replace(cfg.tls.certificate_key, str(key)).replace(cfg.tls.certificate, str(cert))
        note = " (certificate paths not on this machine: checked with a throw-away self-signed pair)"
    upstream = f"{cfg.base}/{UPSTREAM_FILE}"
    if upstream in text:
        # Written by each deploy on the host: a stand-in naming the first instance.
        (prefix / UPSTREAM_FILE).write_text(upstream_servers(cfg.port), encoding="utf-8")
        text = text.replace(upstream, str(prefix / UPSTREAM_FILE))
    checked = prefix / SITE_FILE
    checked.write_text(text, encoding="utf-8")
    wrapper = prefix / "nginx.conf"
    wrapper.write_text(
        f"pid {prefix}/nginx.pid;\nerror_log stderr;\nevents {{}}\nhttp {{\n"
        f"    access_log off;\n    client_body_temp_path {prefix}/body;\n    proxy_temp_path {prefix}/proxy;\n"
        f"    include {checked};\n}}\n",
        encoding="utf-8",
    )
    proc = _run([tool, "-t", "-q", "-p", str(prefix), "-c", str(wrapper)])
    return proc.returncode == 0, (proc.stdout + proc.stderr).strip() + note


def _self_signed(folder: Path, domain: str) -> tuple[Path, Path]:
    tool = _tool("openssl", "openssl")
    cert, key = folder / "check-cert.pem", folder / "check-key.pem"
    proc = _run([tool, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                 "-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", f"/CN={domain}"])
    if proc.returncode != 0:
        raise ToolError(f"openssl could not make a test certificate: {proc.stderr.strip()}")
    return cert, key


def check_profile(cfg: DeployConfig, profile: str, folder: Path) -> list[CheckFinding]:
    """Every check of one profile's rendering in ``folder``."""
    name = service_unit(cfg, profile)
    service = folder / name
    if not service.is_file():
        raise CheckFailed(f"{service} does not exist; run `invoke deploy.render --out {folder.parent}` first")
    found = []
    with tempfile.TemporaryDirectory(prefix="deploy-check-") as tmp:
        ok, out = verify_units(cfg, folder, Path(tmp))
        units = " ".join(sorted(p.name for p in folder.iterdir() if p.suffix in (".service", ".socket")))
        found.append(CheckFinding(profile, name, "systemd-analyze verify", ok, out or f"clean: {units}"))
        score, rating, report = exposure(service)
        limit = cfg.security[profile]
        most = costs(report)
        found.append(CheckFinding(profile, name, "exposure", score <= limit,
                                  f"{score:.1f} {rating} (threshold {limit:.1f}, deploy.security.{profile})"
                                  + (f"; costs most: {most}" if most else "")))
        ok, out = nginx_test(cfg, folder / SITE_FILE, Path(tmp))
        found.append(CheckFinding(profile, SITE_FILE, "nginx -t", ok, out or "syntax ok"))
    return found


def check(cfg: DeployConfig, rendered: Path) -> list[CheckFinding]:
    """Check ``rendered/<profile>/`` for every profile that fits the app."""
    return [f for p in cfg.profiles for f in check_profile(cfg, p, rendered / p)]


def check_code(cfg: DeployConfig, root: Path, main: str) -> list[CheckFinding]:
    """What build.yaml says about the app against what its code (``main`` and its packages) does."""
    from ..errors import SelectionError
    from ..template.detect import detect

    try:
        facts = detect(root, main)
    except (SelectionError, ToolError) as exc:
        return [CheckFinding("app", "code", "read the code", True, f"not read ({exc})", skipped=True)]
    found = []
    routes = {str(s.value): s.where for s in facts.routes}
    path = cfg.health.path
    if path in routes:
        found.append(CheckFinding("app", "code", "health route", True, f"{path} is served ({routes[path]})"))
    elif path in facts.url_paths:
        # Registered through a helper of the app's own (not a literal r.GET): the path is there.
        found.append(CheckFinding("app", "code", "health route", True, f"{path} is in the code "
                                  f"({facts.url_paths[path]})"))
    elif routes:
        shown = ", ".join(sorted(routes)[:8]) + (", ..." if len(routes) > 8 else "")
        found.append(CheckFinding("app", "code", "health route", False,
                                  f"{path} (deploy.health.path / service.health) is served by no route of {main}; its "
                                  f"routes: {shown}. Name one of them, or add the route"))
    else:
        found.append(CheckFinding("app", "code", "health route", True, "no route path is written as a literal in the "
                                  "code (built at run time?): the health gate is the test", skipped=True))
    if facts.port and facts.port.value != cfg.port and not facts.port_from_env:
        found.append(CheckFinding("app", "code", "port", False, f"the code listens on :{facts.port.value} "
                                  f"({facts.port.where}) but service.port is {cfg.port}; make them agree"))
    elif facts.port_from_env and cfg.port_env and facts.port_from_env.value != cfg.port_env:
        found.append(CheckFinding("app", "code", "port", False, f"the code reads its port from "
                                  f"${facts.port_from_env.value} ({facts.port_from_env.where}) but service.port_env is "
                                  f"{cfg.port_env}; each instance would listen elsewhere than nginx sends to"))
    elif "hardened" in cfg.profiles and facts.port and not facts.port_from_env:
        found.append(CheckFinding("app", "code", "port", False, f"the code listens on the fixed :{facts.port.value} "
                                  f"({facts.port.where}) and reads no port variable, so the hardened profile's second "
                                  f"instance cannot start; read ${cfg.port_env} in the code or set "
                                  "service.port_env: null"))
    elif facts.port_from_env:
        found.append(CheckFinding("app", "code", "port", True, f"reads ${facts.port_from_env.value} "
                                  f"({facts.port_from_env.where})"))
    elif facts.port:
        found.append(CheckFinding("app", "code", "port", True, f"listens on :{facts.port.value} ({facts.port.where})"))
    else:
        found.append(CheckFinding("app", "code", "port", True, "no listen address or port variable is written as a "
                                  "literal in the code: the health gate is the test", skipped=True))
    if "strict" in cfg.profiles:
        act = facts.socket_activation
        found.append(CheckFinding("app", "code", "socket activation", act is not None,
                                  f"takes its listener from systemd ({act.where})" if act else
                                  "service.socket_activation is true but the code never reads LISTEN_FDS (nor uses "
                                  "go-systemd's activation): under the strict profile it would not get its socket; "
                                  "set it to false to deploy with the hardened profile"))
    return found


def raise_failures(findings: list[CheckFinding], fix: str | None = None) -> None:
    """CheckFailed listing the failed findings, if any, ending with ``fix`` (default: what the deploy's mean)."""
    failed = [f for f in findings if not f.ok and not f.skipped]
    if not failed:
        return
    if fix is None:
        fixes = []
        if any(f.profile != "app" for f in failed):
            fixes.append("fix deploy/*.j2 or the thresholds in build.yaml deploy.security")
        if any(f.profile == "app" for f in failed):
            fixes.append("make build.yaml's service: section say what the code does (or change the code)")
        joined = "; ".join(fixes)
        fix = f"{joined[0].upper()}{joined[1:]}, then rerun `invoke deploy.check`"
    lines = "\n  ".join(f.line() for f in failed)
    raise CheckFailed(f"{len(failed)} check(s) failed:\n  {lines}\n{fix}")

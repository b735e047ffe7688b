"""Helpers of the deploy tests: a project that deploys to the lab hosts, and ways to look at them."""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from buildlib.bench import lab
from tests.helpers.support import REPO, run_invoke

NAMES = ["web1", "web2", "web3"]
VERSIONS = ("1.0.0", "1.1.0", "1.2.0")
DOMAIN = "ginsvc.test"
SECRET = 'p@ss "w0rd" $HOME `x` \\n'  # quotes, $, backquote, backslash: must reach the service verbatim
# An environment whose service refuses its settings at start (exit 2): a real release that
# fails its health gate, with nothing faked.
BROKEN_ENV = {"LOG_LEVEL": "info", "ENABLE_CACHE": True, "API_TIMEOUT_MS": 2000,
              "env": {"SHUTDOWN_TIMEOUT": "never"}}


def deploy_keys(hosts: list[lab.LabHost], key: Path, known_hosts: Path, **overrides: Any) -> dict[str, Any]:
    """The deploy section for the lab: web1 as root, the others as a sudo user, quick health gates.

    The gate allows 30 s, not 12: with images compiling beside the lab on 2 cores, a rollout that
    should have switched was once found rolled back, most likely after a restart slower than 12 s.
    """
    users = ["root", "deploy", "deploy"][: len(hosts)]
    section = lab.deploy_section(hosts, key, known_hosts, users=users, domain=DOMAIN,
                                 health={"path": "/readyz", "version": "/version", "timeout": 30, "interval": 0.5,
                                         "passes": 2},
                                 groups={"web": [h.name for h in hosts]})
    section.update(overrides)
    return section


@dataclass
class Fleet:
    """The lab hosts, and a project directory deploying to them."""

    root: Path
    hosts: list[lab.LabHost]
    key: Path
    known_hosts: Path
    releases: dict[str, Path]
    docker: Any
    environ: dict[str, str] = field(default_factory=lambda: {"DB_PASSWORD": SECRET})

    def __post_init__(self) -> None:
        self.configure()

    def configure(self, hosts: list[lab.LabHost] | None = None, **overrides: Any) -> Path:
        """(Re)write build.yaml for ``hosts`` (default: all) with ``overrides`` in its deploy section."""
        section = deploy_keys(hosts or self.hosts, self.key, self.known_hosts, **overrides)
        lab.workspace(self.root, REPO, section, environments={"broken": BROKEN_ENV})
        return self.root

    def host(self, name: str) -> lab.LabHost:
        return next(h for h in self.hosts if h.name == name)

    def invoke(self, *args: str, version: str | None = None) -> subprocess.CompletedProcess[str]:
        """``invoke ARGS`` in the project, with ``version``'s release in bin/."""
        if version is not None:
            lab.use_release(self.root, self.releases[version])
        return run_invoke("-r", str(REPO), *args, cwd=self.root, env=self.environ, timeout=300)

    def deploy(self, version: str, *args: str) -> subprocess.CompletedProcess[str]:
        return self.invoke("deploy", *args, version=version)

    def baseline(self, version: str) -> None:
        """Every host serving ``version`` (a no-op for hosts that already do)."""
        done = self.deploy(version)
        assert done.returncode == 0, done.stdout + done.stderr
        assert {n: self.serving(n) for n in NAMES} == dict.fromkeys(NAMES, version)

    def start_deploy(self, version: str, *args: str) -> subprocess.Popen[str]:
        """A deploy running in the background (for interrupting it), output line by line."""
        lab.use_release(self.root, self.releases[version])
        return subprocess.Popen([sys.executable, "-u", "-m", "invoke", "-r", str(REPO), "deploy", *args],
                                cwd=self.root, env={**os.environ, **self.environ}, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)

    def interrupt_at(self, proc: subprocess.Popen[str], prefix: str) -> tuple[str, int]:
        """Send SIGINT when a line starting with ``prefix`` appears; return (all output, exit code)."""
        assert proc.stdout is not None
        lines, sent = [], False
        for line in proc.stdout:
            lines.append(line)
            if not sent and line.startswith(prefix):
                proc.send_signal(signal.SIGINT)
                sent = True
        code = proc.wait(timeout=120)
        assert sent, f"never saw {prefix!r}:\n{''.join(lines)}"
        return "".join(lines), code

    def get(self, name: str, path: str, domain: str = DOMAIN) -> tuple[int, bytes]:
        return nginx_get(self.host(name).http_port, path, domain)

    def serving(self, name: str) -> str | None:
        status, body = self.get(name, "/version")
        return json.loads(body)["version"] if status == 200 else None

    def sh(self, name: str, cmd: str) -> str:
        """Run ``cmd`` as root on the host (docker exec): for looking, never for deploying."""
        code, out = self.docker.containers.get(self.host(name).container).exec_run(["sh", "-c", cmd])
        text = out.decode(errors="replace")
        assert code == 0, f"{name}: {cmd}: exit {code}: {text}"
        return text.strip()

    def current(self, name: str) -> str:
        return self.sh(name, "readlink /opt/ginsvc/current || echo none")

    def releases_on(self, name: str) -> list[str]:
        return sorted(self.sh(name, "ls /opt/ginsvc/releases 2>/dev/null || true").split())

    def fingerprint(self, name: str) -> str:
        """Everything a deploy changes on a host, with times: equal before and after means untouched."""
        return self.sh(name, "ls -la --time-style=full-iso /opt/ginsvc /opt/ginsvc/releases/* 2>&1; "
                       "systemctl show -p MainPID,ActiveEnterTimestamp ginsvc.service")


def nginx_get(port: int, path: str, domain: str = DOMAIN) -> tuple[int, bytes]:
    """GET through a host's nginx, as a client would (its published port on 127.0.0.1); (0, b"") when refused."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path, headers={"Host": domain})
        resp = conn.getresponse()
        return resp.status, resp.read()
    except OSError:
        return 0, b""
    finally:
        conn.close()


def adopted_app(shape: str, root: Path, releases: Path, versions: tuple[str, ...],
                edit: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    """A generated app (ginapps ``shape``) with the kit adopted into it, ``edit`` applied to its build.yaml,
    and a bin/ per version built by its own copy of the kit: {"root": ..., "releases": {version: bin}}."""
    import shutil

    import yaml

    from tests.helpers import ginapps

    shutil.rmtree(root, ignore_errors=True)
    app = ginapps.make(shape, root)
    ok(run_invoke("init", "--adopt", "--dest", str(root), cwd=REPO, timeout=1800))
    raw = yaml.safe_load((root / "build.yaml").read_text())
    edit(raw)
    (root / "build.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    built = {}
    for version in versions:
        ok(run_invoke("build", "--only", f"{app.service}:linux/amd64", "--version", version, cwd=root,
                       env={"PYTHONPATH": str(root)}, timeout=1800))
        shutil.copytree(root / "bin", releases / version)
        built[version] = str(releases / version)
    shutil.rmtree(root / "bin")  # each test points bin/ at the release it deploys (lab.use_release)
    return {"root": str(root), "releases": built}


def ok(proc: subprocess.CompletedProcess[str]) -> str:
    """The output of a command that must have succeeded (its output shown when it did not)."""
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout


def load_process(fleet: Fleet, rate: float, duration: float, hosts: list[str] | None = None,
                 domain: str = DOMAIN, paths: str | None = None,
                 version_path: str | None = None) -> subprocess.Popen[str]:
    """The shipped load generator, as a second process, against each host's nginx (default: all)."""
    urls = [f"http://127.0.0.1:{h.http_port}" for h in fleet.hosts if hosts is None or h.name in hosts]
    extra = [*(["--paths", paths] if paths else []), *(["--version-path", version_path] if version_path else [])]
    return subprocess.Popen([sys.executable, "-m", "buildlib.bench.load", *urls, "--host-header", domain,
                             "--rate", str(rate), "--duration", str(duration), *extra],
                            cwd=REPO, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)

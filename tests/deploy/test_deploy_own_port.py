"""Deploying a Gin app that knows nothing of systemd: the hardened profile's two instances.

The app is written by the tests (tests/helpers/ginapps.py, shape "ownport"): it binds
$HTTP_PORT itself (9090 here, not 8080), answers /status/ready, reads conf/app.yaml
from its working directory and appends every request to logs/access.log. The kit
is adopted into it with `invoke init --adopt`, and from then on the app's own copy
of the kit builds and deploys it to the lab hosts (systemd, sshd and nginx in
containers, reached over SSH on 127.0.0.1), as its team would.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from buildlib.bench import lab
from tests.helpers.deploylab import Fleet, adopted_app, load_process, ok
from tests.helpers.support import run_invoke

pytestmark = [pytest.mark.docker, pytest.mark.slow]

DOMAIN = "stock.test"
VERSIONS = ("1.0.0", "1.1.0", "1.2.0")
HOSTS = ("web1", "web2")  # web1 as root, web2 as a sudo user
BASE = "/opt/stock"



@pytest.fixture(scope="session")
def own_app(once: Callable[..., Any], shared_dir: Path) -> dict[str, Any]:
    """The generated app with the kit adopted into it, and a bin/ per version built by its own kit."""

    def edit(raw: dict[str, Any]) -> None:
        raw["environments"]["broken"] = {"profile": "release", "env": {"FAIL_HEALTH": "1"}}

    def make() -> dict[str, Any]:
        return adopted_app("ownport", shared_dir / "ownport-app", shared_dir / "ownport-releases", VERSIONS, edit)

    return once("ownport-app", make)


@dataclass
class Own:
    """The adopted app's repository deploying to the lab hosts."""

    root: Path
    releases: dict[str, Path]
    fleet: Fleet

    def configure(self) -> None:
        hosts = [self.fleet.host(n) for n in HOSTS]
        section = lab.deploy_section(hosts, self.fleet.key, self.fleet.known_hosts, users=["root", "deploy"],
                                     domain=DOMAIN, groups={"web": list(HOSTS)},
                                     health={"timeout": 20, "interval": 0.5, "passes": 2, "version": "/about"})
        raw = yaml.safe_load((self.root / "build.yaml").read_text())
        raw["deploy"] = section
        (self.root / "build.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))

    def invoke(self, *args: str, version: str | None = None) -> subprocess.CompletedProcess[str]:
        if version is not None:
            lab.use_release(self.root, self.releases[version])
        return run_invoke(*args, cwd=self.root, env={"PYTHONPATH": str(self.root)}, timeout=600)

    def get(self, name: str, path: str) -> tuple[int, bytes]:
        return self.fleet.get(name, path, DOMAIN)

    def serving(self, name: str) -> str | None:
        status, body = self.get(name, "/about")
        return json.loads(body)["version"] if status == 200 else None

    def baseline(self, version: str) -> None:
        done = self.invoke("deploy", version=version)
        assert done.returncode == 0, done.stdout + done.stderr
        assert {n: self.serving(n) for n in HOSTS} == dict.fromkeys(HOSTS, version)

    def live_port(self, name: str) -> int:
        text = self.fleet.sh(name, f"cat {BASE}/upstream.conf")
        return int(text.split("127.0.0.1:")[1].split()[0])

    def load(self, rate: float, duration: float) -> subprocess.Popen[str]:
        return load_process(self.fleet, rate, duration, list(HOSTS), DOMAIN, "/api/stock,/about", "/about")


@pytest.fixture
def own(fleet: Fleet, own_app: dict[str, Any]) -> Own:
    """The lab hosts, held for this test alone (the ``fleet`` lock), and the adopted app deploying to them."""
    app = Own(Path(own_app["root"]), {v: Path(p) for v, p in own_app["releases"].items()}, fleet)
    app.configure()
    return app


def test_check_reads_the_apps_own_description(own: Own) -> None:
    done = own.invoke("deploy.check")
    out = ok(done)
    # Only the profile that fits: the app takes no listener from systemd.
    assert not re.search(r"^\S+ +strict ", out, re.M)
    assert "ok   hardened  stock@.service   systemd-analyze verify   clean: stock@.service" in out
    assert "ok   app       code             health route             /status/ready is served (main.go:" in out
    assert "ok   app       code             port                     reads $HTTP_PORT (main.go:" in out
    # The description and the code disagree: a check that said ok now fails, naming both sides.
    good = (own.root / "build.yaml").read_text()
    raw = yaml.safe_load(good)
    raw["service"]["health"] = "/healthz"
    raw["service"]["port_env"] = "PORT"
    (own.root / "build.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    try:
        bad = own.invoke("deploy.check")
    finally:
        (own.root / "build.yaml").write_text(good)  # the other tests deploy with the true description
    assert bad.returncode == 1
    assert "FAIL app       code             health route             /healthz (deploy.health.path / " \
           "service.health) is served by no route of ./.; its routes: /about, /api/stock, /status/ready." in bad.stdout
    assert "FAIL app       code             port                     the code reads its port from $HTTP_PORT " \
           "(main.go:" in bad.stdout
    assert "but service.port_env is PORT; each instance would listen elsewhere than nginx sends to" in bad.stdout
    assert "2 check(s) failed" in bad.stderr
    assert bad.stderr.strip().endswith("Make build.yaml's service: section say what the code does (or change the "
                                       "code), then rerun `invoke deploy.check`")


def test_rolling_deploy_of_an_app_binding_its_own_port_fails_no_request(own: Own) -> None:
    own.baseline("1.0.0")
    before = {n: own.live_port(n) for n in HOSTS}
    assert set(before.values()) <= {9090, 9091}
    load = own.load(rate=40, duration=15)
    time.sleep(1)  # the load runs before the first host switches
    done = own.invoke("deploy", "--batch", "1", version="1.1.0")
    out, err = load.communicate(timeout=90)
    result = json.loads(out)
    print(f"\nload during the rollout: {result['requests']} requests, {result['failed']} failed, "
          f"{result['retried']} retried, versions seen {result['versions']}, latency {result['latency_ms']}")

    assert done.returncode == 0, done.stdout + done.stderr
    assert result["requests"] == 600, err
    assert result["failed"] == 0, result["errors"]
    assert set(result["versions"]) == {"1.0.0", "1.1.0"}  # both answered: the switch happened under load
    assert {n: own.serving(n) for n in HOSTS} == dict.fromkeys(HOSTS, "1.1.0")
    for name in HOSTS:
        live = own.live_port(name)
        old = 9091 if live == 9090 else 9090
        assert live != before[name], f"{name}: the new release runs on the other port"
        assert f"[{name}] switched releases/1.0.0 -> releases/1.1.0 (port {before[name]} -> {live})" in done.stdout
        assert own.fleet.sh(name, f"systemctl is-active stock@{live}.service") == "active"
        assert own.fleet.sh(name, f"systemctl is-active stock@{old}.service || true") == "inactive"
        pid = own.fleet.sh(name, f"systemctl show -p MainPID --value stock@{live}.service")
        environ = own.fleet.sh(name, f"tr '\\0' '\\n' < /proc/{pid}/environ").splitlines()
        assert f"HTTP_PORT={live}" in environ  # told its port by its unit, not by the env file
        assert int(own.fleet.sh(name, f"awk '/^Uid:/ {{print $2}}' /proc/{pid}/status")) != 0
        assert own.fleet.sh(name, f"readlink {BASE}/ports/{live}") == "../releases/1.1.0"


def test_config_from_the_working_directory_and_a_logs_directory(own: Own) -> None:
    own.baseline("1.0.0")
    own.baseline("1.1.0")
    for name in HOSTS:
        status, body = own.get(name, "/api/stock")
        assert (status, body) == (200, b"fresh stock")  # conf/app.yaml, shipped into the release directory
        live = own.live_port(name)
        # Its working directory is the release its port runs (the greeting above was read from there).
        unit = f"stock@{live}.service"
        assert own.fleet.sh(name, f"systemctl show -p WorkingDirectory --value {unit}") == f"{BASE}/ports/{live}"
        assert own.fleet.sh(name, f"readlink {BASE}/ports/{live}") == "../releases/1.1.0"
        assert own.fleet.sh(name, f"cat {BASE}/releases/1.1.0/conf/app.yaml").endswith("greeting: fresh stock")
        # logs/ is the state directory, kept across releases; the release directory itself stays read-only.
        assert own.fleet.sh(name, f"readlink {BASE}/releases/1.1.0/logs") == "/var/lib/stock/logs"
        log = own.fleet.sh(name, "cat /var/lib/private/stock/logs/access.log")
        assert "1.0.0 /status/ready 200" in log and "1.1.0 /api/stock 200" in log
        assert own.fleet.sh(name, f"stat -c '%U %a' {BASE}/releases/1.1.0") == "root 755"


def test_release_failing_its_health_path_is_rolled_back_while_the_old_one_serves(own: Own) -> None:
    own.baseline("1.1.0")
    live = {n: own.live_port(n) for n in HOSTS}
    load = own.load(rate=20, duration=12)
    time.sleep(1)
    # The release starts, but its health route answers 500 (FAIL_HEALTH=1 in the "broken" environment).
    done = own.invoke("deploy", "--env", "broken", version="1.2.0")
    out, err = load.communicate(timeout=90)
    result = json.loads(out)

    assert done.returncode == 1, done.stdout + done.stderr
    assert "[web1] FAILED at activate" in done.stdout
    assert "the new instance on port" in done.stderr and "did not pass /status/ready: 500" in done.stderr
    assert "stopped at web1" in done.stderr and "rolled back, serving 1.1.0 again" in done.stderr
    # The old instance served throughout: not one request failed, and only 1.1.0 answered.
    assert result["failed"] == 0, result["errors"]
    assert set(result["versions"]) == {"1.1.0"}
    assert {n: own.serving(n) for n in HOSTS} == dict.fromkeys(HOSTS, "1.1.0")
    assert {n: own.live_port(n) for n in HOSTS} == live
    assert own.fleet.sh("web1", "readlink /opt/stock/current") == "releases/1.1.0"
    status = ok(own.invoke("deploy.status"))
    web1 = next(line for line in status.splitlines() if line.startswith("web1"))
    assert web1.split()[2:6] == ["1.1.0", "1.1.0", "active", "ok"], status
    assert "1.2.0 (failed)" in web1
    assert "1.2.0" not in own.fleet.sh("web2", "ls /opt/stock/releases").split()  # never touched


def test_a_port_another_program_holds_is_refused_before_anything_changes(own: Own) -> None:
    """Another program on the host answers on the port the new instance would take: the deploy stops there.

    Before, the new instance failed to bind, its health checks were answered by that program, and nginx
    was switched to it (seen with two apps on one host on 8080).
    """
    own.baseline("1.0.0")
    live = own.live_port("web1")
    taken = 9091 if live == 9090 else 9090  # the port the next release starts on (service.port, + 1)
    site = "/etc/nginx/conf.d/squatter.conf"
    own.fleet.sh("web1", f"printf '%s\\n' 'server {{ listen 127.0.0.1:{taken}; return 200 squatter; }}' > {site}"
                         f" && systemctl reload nginx && for i in $(seq 50); do curl -fsS 127.0.0.1:{taken} && break;"
                         " sleep 0.1; done")
    try:
        done = own.invoke("deploy", "--hosts", "web1", version="1.1.0")
    finally:
        own.fleet.sh("web1", f"rm -f {site} && systemctl reload nginx")
    out = done.stdout + done.stderr
    assert done.returncode == 1, out
    assert f"port {taken} is already in use on this host by another program: the new instance of stock could " \
           "not listen there. Give deploy.port and deploy.second_port (now 9090 and 9091)" in out, out
    assert own.serving("web1") == "1.0.0"
    assert own.live_port("web1") == live
    assert own.fleet.sh("web1", f"readlink {BASE}/current") == "releases/1.0.0"

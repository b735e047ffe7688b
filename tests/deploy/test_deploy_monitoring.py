"""The rendered monitoring, live: a real Prometheus scrapes the lab hosts, a real Alertmanager calls back.

The app is written by the tests (tests/helpers/ginapps.py, shape "metered"): a Gin service
with client_golang metrics whose GET /api/work takes as long as POST /admin/delay last said.
The kit is adopted into it and deploys it to two lab hosts; `invoke monitor.render` writes
the rules, the scrape job (each host's nginx metrics listener, published on 127.0.0.1) and
the Alertmanager configuration; Debian's prometheus and prometheus-alertmanager run them on
127.0.0.1, and a webhook receiver in this test is the end of the feedback loop.
"""

from __future__ import annotations

import http.client
import http.server
import json
import re
import socket
import subprocess
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from buildlib.bench import lab
from tests.helpers.deploylab import Fleet, adopted_app, ok
from tests.helpers.support import run_invoke

pytestmark = [pytest.mark.docker, pytest.mark.slow]

DOMAIN = "meter.test"
HOSTS = ("web1", "web2")
ALERT = "MeterLatencyP95High"
METRICS_PORT = lab.METRICS_PORTS[1]  # the template's service on these hosts has the first one



def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as resp:
        return json.loads(resp.read())


def _wait(what: str, timeout: float, probe: Callable[[], Any]) -> Any:
    deadline, last = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        try:
            last = probe()
        except OSError as exc:
            last = exc
        if last and not isinstance(last, OSError):
            return last
        time.sleep(1)
    pytest.fail(f"{what} within {timeout:.0f} s; last seen: {last!r}")


@pytest.fixture(scope="session")
def metered_app(once: Callable[..., Any], shared_dir: Path) -> dict[str, Any]:
    def edit(raw: dict[str, Any]) -> None:
        raw["environments"]["slow"] = {"profile": "release", "env": {"DELAY_MS": "900"}}

    def make() -> dict[str, Any]:
        return adopted_app("metered", shared_dir / "metered-app", shared_dir / "metered-releases",
                           ("1.0.0", "1.1.0"), edit)

    return once("metered-app", make)


class Receiver(http.server.ThreadingHTTPServer):
    """The webhook Alertmanager calls: every notification it POSTs, kept in order."""

    def __init__(self) -> None:
        self.notifications: list[dict[str, Any]] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the http.server name
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                outer.notifications.append(json.loads(body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)

    def alerts(self, status: str) -> list[dict[str, Any]]:
        return [a for n in self.notifications for a in n["alerts"] if a["status"] == status]


@pytest.fixture
def monitoring(fleet: Fleet, metered_app: dict[str, Any], tmp_path: Path) -> Iterator[dict[str, Any]]:
    """The app deployed to web1 and web2; Prometheus and Alertmanager running on its rendered files."""
    root = Path(metered_app["root"])
    hosts = [fleet.host(n) for n in HOSTS]
    receiver = Receiver()
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    am_port, prom_port = _free_port(), _free_port()
    raw = yaml.safe_load((root / "build.yaml").read_text())
    raw["deploy"] = lab.deploy_section(hosts, fleet.key, fleet.known_hosts, users=["root", "deploy"],
                                       metrics_port=METRICS_PORT, domain=DOMAIN,
                                       health={"timeout": 20, "interval": 0.5, "passes": 2})
    raw["monitoring"] = {
        "scrape_interval": "2s", "window": "20s", "port": METRICS_PORT,
        "scrapers": [hosts[0].subnet],  # a published port's connections come from the hosts' network
        "alertmanagers": [f"127.0.0.1:{am_port}"],
        "webhook": f"http://127.0.0.1:{receiver.server_address[1]}/alerts",
        "alerts": {"latency_p95": {"ms": 800, "for": "10s"}},
    }
    (root / "build.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    env = {"PYTHONPATH": str(root)}
    lab.use_release(root, Path(metered_app["releases"]["1.0.0"]))
    ok(run_invoke("deploy", cwd=root, env=env, timeout=600))
    out = tmp_path / "monitor"
    ok(run_invoke("monitor.render", "--out", str(out), cwd=root, env=env))
    procs = [
        subprocess.Popen(["prometheus-alertmanager", f"--config.file={out / 'alertmanager.yml'}",
                          f"--storage.path={tmp_path / 'am'}", f"--web.listen-address=127.0.0.1:{am_port}",
                          "--cluster.listen-address="], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT),
        subprocess.Popen(["prometheus", f"--config.file={out / 'scrape.yml'}",
                          f"--storage.tsdb.path={tmp_path / 'prom'}", f"--web.listen-address=127.0.0.1:{prom_port}"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT),
    ]
    try:
        yield {"root": root, "fleet": fleet, "prom": f"http://127.0.0.1:{prom_port}", "receiver": receiver,
               "releases": {v: Path(b) for v, b in metered_app["releases"].items()}}
    finally:
        for p in procs:
            p.terminate()
            p.wait(timeout=30)
        receiver.shutdown()


def _set_delay(fleet: Fleet, name: str, ms: int) -> None:
    """POST /admin/delay on the instance that serves (loopback on the host, as an operator would)."""
    live = fleet.sh(name, "sed -n 's/.*127.0.0.1:\\([0-9]*\\).*/\\1/p' /opt/meter/upstream.conf | head -n 1")
    assert fleet.sh(name, f"curl -fsS -X POST 'http://127.0.0.1:{live}/admin/delay?ms={ms}'") == f"delay {ms} ms"


def _traffic(fleet: Fleet, stop: threading.Event) -> None:
    """GET /api/work through each host's nginx, a few requests in flight per host."""
    def worker(port: int) -> None:
        while not stop.is_set():
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            try:
                conn.request("GET", "/api/work", headers={"Host": DOMAIN})
                conn.getresponse().read()
            except OSError:
                time.sleep(0.2)
            finally:
                conn.close()
            time.sleep(0.1)

    for name in HOSTS:
        for _ in range(3):
            threading.Thread(target=worker, args=(fleet.host(name).http_port,), daemon=True).start()


def _diagnosis(fleet: Fleet, prom: str) -> str:
    """One line: how long /api/work takes through web1's nginx now, and what Prometheus has."""
    start = time.monotonic()
    try:
        conn = http.client.HTTPConnection("127.0.0.1", fleet.host("web1").http_port, timeout=10)
        conn.request("GET", "/api/work", headers={"Host": DOMAIN})
        resp = conn.getresponse()
        body = resp.read()[:80]
        work = f"GET /api/work {resp.status} in {time.monotonic() - start:.2f}s: {body!r}"
    except OSError as exc:
        work = f"GET /api/work failed: {exc}"
    host = fleet.sh("web1", "ls /etc/nginx/conf.d; grep -h 'server_name\\|listen\\|include' /etc/nginx/conf.d/*.conf;"
                            " cat /opt/meter/upstream.conf; ls /opt/meter/ports 2>&1;"
                            " systemctl list-units --no-legend --all 'meter*' 'ginsvc*' 'stock*';"
                            " ps -eo pid,user,args | grep /opt/ | grep -v grep || true")
    targets = [(t["labels"].get("host"), t["health"], t.get("lastError", ""))
               for t in _get_json(f"{prom}/api/v1/targets")["data"]["activeTargets"]]
    rules = [(r["name"], r.get("health"), r.get("lastError", ""), r.get("state"))
             for g in _get_json(f"{prom}/api/v1/rules")["data"]["groups"] for r in g["rules"]]
    return f"{work}; targets {targets}; rules {rules}; web1:\n{host}"


def _states(prom: str) -> dict[str, str]:
    """host -> state of the latency alert, from Prometheus's HTTP API."""
    alerts = _get_json(f"{prom}/api/v1/alerts")["data"]["alerts"]
    return {a["labels"]["host"]: a["state"] for a in alerts if a["labels"]["alertname"] == ALERT}


def test_one_slow_host_fires_the_latency_alert_and_reaches_the_webhook(monitoring: dict[str, Any]) -> None:
    fleet, prom, receiver = monitoring["fleet"], monitoring["prom"], monitoring["receiver"]
    # Both hosts scraped through their nginx metrics listener, nothing else open there.
    targets = _wait("both targets up", 60, lambda: (lambda t: t if len(t) == 2 and all(
        x["health"] == "up" for x in t) else None)(_get_json(f"{prom}/api/v1/targets")["data"]["activeTargets"]))
    assert sorted(t["labels"]["host"] for t in targets) == list(HOSTS)
    stop = threading.Event()
    _traffic(fleet, stop)
    try:
        time.sleep(8)
        assert _states(prom) == {}  # fast: silent
        _set_delay(fleet, "web1", 900)
        seen = _wait("the alert pending for web1", 90, lambda: (lambda s: s if s.get("web1") else None)(_states(prom)))
        assert "web2" not in seen
        firing = _wait("the alert firing for web1", 90,
                       lambda: (lambda s: s if s.get("web1") == "firing" else None)(_states(prom)))
        assert "web2" not in firing  # only the slow host
        note = _wait("the webhook to get the firing alert", 90, lambda: receiver.alerts("firing"))[0]
        assert note["labels"]["alertname"] == ALERT and note["labels"]["host"] == "web1"
        assert note["labels"]["service"] == "meter"
        assert "invoke deploy.rollback --hosts web1" in note["annotations"]["runbook"]
        assert note["annotations"]["summary"] == "p95 response time above 800ms on web1"
        _set_delay(fleet, "web1", 0)
        _wait("the alert to resolve", 120, lambda: _states(prom) == {} or None)
        resolved = _wait("the webhook to get the resolution", 120, lambda: receiver.alerts("resolved"))[0]
        assert resolved["labels"]["host"] == "web1"
        print(f"\nPrometheus: {ALERT} {seen} then {firing}, then none; webhook: {note['status']} "
              f"{note['labels']['host']}: {note['annotations']['summary']}, then {resolved['status']}")
    finally:
        stop.set()


def test_a_release_that_trips_the_alert_gate_is_rolled_back(monitoring: dict[str, Any]) -> None:
    fleet, prom, root = monitoring["fleet"], monitoring["prom"], monitoring["root"]
    _wait("both targets up", 60, lambda: (lambda t: t if len(t) == 2 and all(
        x["health"] == "up" for x in t) else None)(_get_json(f"{prom}/api/v1/targets")["data"]["activeTargets"]))
    raw = yaml.safe_load((root / "build.yaml").read_text())
    # A quiet window with room for a loaded machine: the gate fails as soon as the alert is pending,
    # so the margin costs nothing when it works (seen: 45 s passed quiet while image pushes ran beside it).
    raw["deploy"]["alert_gate"] = {"prometheus": prom, "alerts": [ALERT], "quiet": 90}
    (root / "build.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    stop = threading.Event()
    _traffic(fleet, stop)
    try:
        # 1.1.0 starts healthy (its health route is fast) but every request takes 900 ms.
        lab.use_release(root, monitoring["releases"]["1.1.0"])
        done = run_invoke("deploy", "--env", "slow", "--batch", "1", cwd=root, env={"PYTHONPATH": str(root)},
                          timeout=600)
    finally:
        stop.set()
    if done.returncode != 1:
        pytest.fail(f"the gate let the slow release through: {_diagnosis(fleet, prom)}\n{done.stdout}{done.stderr}")
    assert "[web1] passed: serving 1.1.0" in done.stdout  # the HTTP gate alone would have kept it
    assert f"alert gate: {ALERT} must stay silent on web1 for 90 s" in done.stdout
    assert re.search(rf"\[web1\] FAILED at alert gate: {ALERT} \((pending|firing)\) within 90 s", done.stdout), \
        done.stdout
    assert "[web1] rolled back: serving 1.0.0" in done.stdout
    assert re.search(r"rollout of 1\.1\.0 stopped at web1 .*failed at alert gate", done.stderr), done.stderr
    status = ok(run_invoke("deploy.status", cwd=root, env={"PYTHONPATH": str(root)}))
    rows = {line.split()[0]: line.split() for line in status.splitlines()[1:]}
    assert rows["web1"][2:6] == ["1.0.0", "1.0.0", "active", "ok"], status
    assert "1.1.0 (failed)" in status
    assert "1.1.0" not in rows["web2"][6:], status  # the batch after it never started

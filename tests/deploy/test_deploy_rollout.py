"""Rollouts to real hosts: systemd as PID 1, sshd and nginx in containers, reached over SSH on 127.0.0.1."""

from __future__ import annotations

import http.client
import json
import re
import ssl
import time

import pytest

from buildlib.bench import lab
from tests.helpers.deploylab import DOMAIN, NAMES, SECRET, Fleet, load_process
from tests.helpers.support import free_port, wait_for

pytestmark = [pytest.mark.docker, pytest.mark.slow]


def test_rolling_deploy_under_load_fails_no_request(fleet: Fleet) -> None:
    fleet.baseline("1.0.0")
    load = load_process(fleet, rate=40, duration=15)
    time.sleep(1)  # the load is running before the first host restarts
    done = fleet.deploy("1.1.0", "--hosts", "web", "--batch", "1")
    out, err = load.communicate(timeout=60)
    result = json.loads(out)
    print(f"\nload during the rollout: {result['requests']} requests, {result['failed']} failed, "
          f"versions seen {result['versions']}, latency {result['latency_ms']}")

    assert done.returncode == 0, done.stdout + done.stderr
    assert result["requests"] == 600, err
    assert result["failed"] == 0, result["errors"]
    # Both releases answered while the load ran: the switch happened under it.
    assert set(result["versions"]) == {"1.0.0", "1.1.0"}
    assert {n: fleet.serving(n) for n in NAMES} == dict.fromkeys(NAMES, "1.1.0")
    # One host at a time: each host's switch is reported before the next host starts.
    order = [line.split("]")[0][1:] for line in done.stdout.splitlines() if "] activate " in line]
    assert order == NAMES


def test_service_runs_hardened_as_non_root_with_its_socket(fleet: Fleet) -> None:
    fleet.baseline("1.1.0")
    for name in NAMES:
        pid = fleet.sh(name, "systemctl show -p MainPID --value ginsvc.service")
        uid = fleet.sh(name, f"awk '/^Uid:/ {{print $2}}' /proc/{pid}/status")
        assert int(uid) != 0, f"{name}: the service runs as root"
        environ = fleet.sh(name, f"tr '\\0' '\\n' < /proc/{pid}/environ")
        # Socket activation: systemd passed the listener; the secret arrived verbatim.
        assert "LISTEN_FDS=1" in environ.splitlines()
        assert f"DB_PASSWORD={SECRET}" in environ.splitlines()
        assert "LOG_LEVEL=error" in environ.splitlines()  # the prod row of the guide's table
        assert fleet.sh(name, "stat -c '%a %U' /opt/ginsvc/current/ginsvc.env") == "600 root"
        assert fleet.sh(name, "systemctl is-active ginsvc.socket") == "active"
        assert fleet.sh(name, "systemctl show -p DynamicUser,ProtectSystem,NoNewPrivileges --value ginsvc.service"
                        ).split() == ["yes", "strict", "yes"]


def test_restart_always_brings_a_killed_service_back(fleet: Fleet) -> None:
    fleet.baseline("1.1.0")
    before = fleet.sh("web1", "systemctl show -p MainPID --value ginsvc.service")
    fleet.sh("web1", f"kill -9 {before}")

    def back() -> bool:
        pid = fleet.sh("web1", "systemctl show -p MainPID --value ginsvc.service")
        return pid not in ("0", before) and fleet.get("web1", "/readyz")[0] == 200

    wait_for(back, 15, "systemd to restart the killed service")
    assert fleet.sh("web1", "systemctl show -p NRestarts --value ginsvc.service") != "0"
    assert fleet.serving("web1") == "1.1.0"


def test_failed_health_gate_rolls_back_and_stops_the_rollout(fleet: Fleet) -> None:
    fleet.baseline("1.1.0")
    before = {n: fleet.fingerprint(n) for n in ("web2", "web3")}
    # The release's settings make the real service exit at start (config error, exit 2).
    done = fleet.deploy("1.2.0", "--env", "broken")

    assert done.returncode == 1
    # Depending on timing systemd reports the exit to `systemctl restart` or the gate sees no answer.
    assert re.search(r"error: rollout of 1\.2\.0 stopped at web1 \(root@127\.0\.0\.1:\d+\): 1\.2\.0 failed at "
                     r"(activate|health gate)", done.stderr)
    assert 'SHUTDOWN_TIMEOUT="never"' in done.stderr  # the service's own words reach the deployer
    assert "rolled back, serving 1.1.0 again" in done.stderr
    # The old release keeps serving on web1; the hosts after it were never touched.
    assert {n: fleet.serving(n) for n in NAMES} == dict.fromkeys(NAMES, "1.1.0")
    assert fleet.current("web1") == "releases/1.1.0"
    assert {n: fleet.fingerprint(n) for n in ("web2", "web3")} == before
    status = fleet.invoke("deploy.status")
    assert status.returncode == 0, status.stderr
    web1 = next(line for line in status.stdout.splitlines() if line.startswith("web1"))
    assert web1.split()[2:6] == ["1.1.0", "1.1.0", "active", "ok"]
    assert "1.2.0 (failed)" in web1


def test_status_rollback_and_pruning(fleet: Fleet) -> None:
    fleet.configure(keep_releases=2)
    for version in ("1.0.0", "1.1.0", "1.2.0"):
        done = fleet.deploy(version, "--hosts", "web2")
        assert done.returncode == 0, done.stdout + done.stderr
    assert fleet.releases_on("web2") == ["1.1.0", "1.2.0"]  # 1.0.0 pruned: keep_releases is 2

    back = fleet.invoke("deploy.rollback", "--hosts", "web2")
    assert back.returncode == 0, back.stdout + back.stderr
    assert "[web2] rollback 1.2.0 -> 1.1.0" in back.stdout
    assert fleet.serving("web2") == "1.1.0"

    status = fleet.invoke("deploy.status", "--hosts", "web2")
    row = status.stdout.splitlines()[1].split()
    assert row[:7] == ["web2", f"deploy@127.0.0.1:{fleet.host('web2').ssh_port}", "1.1.0", "1.1.0", "active",
                       "ok", "1.1.0*,"]
    # Nothing older is left to go back to.
    again = fleet.invoke("deploy.rollback", "--hosts", "web2")
    assert again.returncode == 1
    assert "error: rollback stopped at web2 (deploy@127.0.0.1:" in again.stderr
    assert "): no earlier release on the host (releases: 1.1.0, 1.2.0); nothing to go back to" in again.stderr
    assert fleet.serving("web2") == "1.1.0"


@pytest.mark.parametrize(
    ("signal_at", "web2_after"),
    [("[web2] activate", "1.1.0"),  # mid-switch: the switch completes
     ("[web2] upload", "1.0.0")],   # before the switch: web2 keeps the old release
)
def test_interrupted_rollout_leaves_every_host_on_one_release(fleet: Fleet, signal_at: str,
                                                              web2_after: str) -> None:
    fleet.baseline("1.0.0")
    out, code = fleet.interrupt_at(fleet.start_deploy("1.1.0"), signal_at)

    assert code == 130, out
    assert "interrupted; each host serves the release shown above" in out
    expected = {"web1": "1.1.0", "web2": web2_after, "web3": "1.0.0"}
    assert {n: fleet.serving(n) for n in NAMES} == expected, out
    # Binary, settings and units all come from one release: what runs is what `current` names.
    assert {n: fleet.current(n) for n in NAMES} == {n: f"releases/{v}" for n, v in expected.items()}
    status = fleet.invoke("deploy.status")
    rows = {line.split()[0]: line.split() for line in status.stdout.splitlines()[1:]}
    assert {n: (rows[n][2], rows[n][3], rows[n][5]) for n in NAMES} == {n: (v, v, "ok") for n, v in expected.items()}


def test_unreachable_host_stops_the_rollout_before_the_next(fleet: Fleet) -> None:
    fleet.baseline("1.0.0")
    before = fleet.fingerprint("web3")
    ghost = lab.LabHost("ghost", "none", free_port(), 0, "ssh-ed25519 AAAA")
    fleet.configure(hosts=[fleet.host("web1"), ghost, fleet.host("web3")])
    done = fleet.deploy("1.1.0")

    assert done.returncode == 1
    assert f"[ghost] unreachable: ghost (deploy@127.0.0.1:{ghost.ssh_port}): connect: cannot connect over SSH: " \
           "connection refused" in done.stdout
    assert f"error: rollout of 1.1.0 stopped at ghost (deploy@127.0.0.1:{ghost.ssh_port}): connect: cannot " \
           "connect over SSH: connection refused; is the host up and sshd listening on that port?\n" \
           "the hosts after it were not touched" in done.stderr
    assert fleet.serving("web1") == "1.1.0"
    assert fleet.serving("web3") == "1.0.0"
    assert fleet.fingerprint("web3") == before


def test_unknown_host_key_is_refused(fleet: Fleet) -> None:
    fleet.configure(ssh={"known_hosts": str(fleet.root / "empty_known_hosts"), "strict_host_keys": True})
    (fleet.root / "empty_known_hosts").write_text("")
    done = fleet.invoke("deploy.status", "--hosts", "web1")
    assert done.returncode == 1
    port = fleet.host("web1").ssh_port
    assert f"its host key is not in {fleet.root / 'empty_known_hosts'}; verify it, then " \
           f"`ssh-keyscan -p {port} 127.0.0.1 >>" in done.stderr


def test_tls_site_serves_https_and_redirects_http(fleet: Fleet) -> None:
    # Certificates are provisioned on the host (certbot, a PKI...); the deploy only points nginx at them.
    fleet.sh("web3", "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 "
             f"-subj /CN={DOMAIN} -keyout /etc/ssl/private/ginsvc.key -out /etc/ssl/certs/ginsvc.pem 2>&1")
    fleet.configure(tls={"enabled": True})
    done = fleet.deploy("1.2.0", "--hosts", "web3")
    assert done.returncode == 0, done.stdout + done.stderr  # the health gate went through HTTPS

    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    conn = http.client.HTTPSConnection("127.0.0.1", fleet.host("web3").https_port, timeout=10, context=context)
    conn.request("GET", "/version", headers={"Host": DOMAIN})
    resp = conn.getresponse()
    assert (resp.status, json.loads(resp.read())["version"]) == (200, "1.2.0")
    assert resp.getheader("Strict-Transport-Security") == "max-age=63072000"
    assert conn.sock.version() in ("TLSv1.2", "TLSv1.3")
    conn.close()
    status, _ = fleet.get("web3", "/version")
    assert status == 301

    # The same version with other settings is another release: refused, the host left as it is.
    fleet.configure(tls={"enabled": False})
    again = fleet.deploy("1.2.0", "--hosts", "web3")
    assert again.returncode == 1
    assert "web3 (deploy@127.0.0.1:" in again.stderr
    assert "preflight: 1.2.0 is current here but with other settings or units; ship the change as a new version " \
           "(`invoke build --version NEW`), or `invoke deploy.rollback` first" in again.stderr
    assert fleet.get("web3", "/version")[0] == 301


def test_status_names_a_half_finished_switch_and_deploy_finishes_it(fleet: Fleet) -> None:
    fleet.baseline("1.0.0")
    fleet.baseline("1.1.0")
    # Injected fault: `current` re-pointed without the restart that follows it, as a deploy
    # killed with SIGKILL at that instant would leave it (Ctrl-C cannot: the switch completes).
    fleet.sh("web1", "ln -sfn releases/1.0.0 /opt/ginsvc/.current.new && "
             "mv -T /opt/ginsvc/.current.new /opt/ginsvc/current")
    status = fleet.invoke("deploy.status", "--hosts", "web1")
    assert status.returncode == 0, status.stderr
    assert status.stdout.splitlines()[1].split()[2:6] == ["1.0.0", "1.1.0", "active", "MIXED"]
    assert "web1: current is 1.0.0 but it serves 1.1.0: rerun `invoke deploy` to finish, or " \
           "`invoke deploy.rollback`" in status.stdout

    done = fleet.deploy("1.0.0", "--hosts", "web1")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "[web1] current: 1.0.0, serving: 1.1.0" in done.stdout
    assert fleet.serving("web1") == "1.0.0"

"""A batch is all-or-nothing: real lab hosts over SSH, a host failing inside a batch of two, load through nginx."""

from __future__ import annotations

import json
import re
import secrets
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from buildlib.bench import lab
from tests.helpers.deploylab import DOMAIN, SECRET, Fleet
from tests.helpers.support import REPO

pytestmark = [pytest.mark.docker, pytest.mark.slow]

# A host-local fault, as a broken machine would have it: a systemd drop-in (outside any release) that
# freezes the service right after it starts, only when `current` is the given release. The process
# runs, so `systemctl restart` succeeds, but nothing answers /readyz: the health gate fails.
FREEZE = """[Service]
ExecStartPost=+/bin/sh -c 'case "$$(readlink /opt/ginsvc/current)" in releases/{version}) kill -STOP $$MAINPID;; esac'
"""  # $$: a literal $ for the shell (systemd expands $VAR itself)
DROP_IN = "/etc/systemd/system/ginsvc.service.d/freeze.conf"


def load(fleet: Fleet, names: list[str], rate: float, duration: float) -> subprocess.Popen[str]:
    """The shipped load generator, in a second process, against the nginx of ``names`` only."""
    urls = [f"http://127.0.0.1:{fleet.host(n).http_port}" for n in names]
    return subprocess.Popen([sys.executable, "-m", "buildlib.bench.load", *urls, "--host-header", DOMAIN,
                             "--rate", str(rate), "--duration", str(duration)],
                            cwd=REPO, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def load_result(proc: subprocess.Popen[str]) -> dict[str, Any]:
    out, err = proc.communicate(timeout=150)
    assert proc.returncode == 0, err
    result = json.loads(out)
    print(f"\nload on the healthy hosts: {result['requests']} requests, {result['failed']} failed, "
          f"versions seen {result['versions']}, latency {result['latency_ms']}")
    return result


def summary_rows(text: str) -> dict[str, str]:
    """The summary's lines by host: 'status detail' with the padding squeezed to one space."""
    rows = text.split("summary:\n", 1)[1].splitlines()
    return {r.split()[0]: re.sub(r"\s+", " ", r.strip().split(None, 1)[1]) for r in rows if r.startswith("  ")}


def main_pid(fleet: Fleet, name: str) -> str:
    return fleet.sh(name, "systemctl show -p MainPID --value ginsvc.service")


def test_a_host_failing_its_gate_takes_its_whole_batch_back(fleet: Fleet) -> None:
    fleet.baseline("1.1.0")
    untouched = fleet.fingerprint("web3")
    fleet.sh("web2", f"mkdir -p {Path(DROP_IN).parent} && cat > {DROP_IN} <<'EOF'\n{FREEZE.format(version='1.2.0')}"
             "EOF\nsystemctl daemon-reload")
    try:
        traffic = load(fleet, ["web1", "web3"], rate=20, duration=40)
        time.sleep(1)  # the load runs before web1 restarts
        done = fleet.deploy("1.2.0", "--batch", "2")
        result = load_result(traffic)
    finally:
        fleet.sh("web2", f"rm -f {DROP_IN} && systemctl daemon-reload")

    assert done.returncode == 1, done.stdout + done.stderr
    out = done.stdout
    # Both hosts of the batch switched; web2's new release runs but never answers /readyz.
    assert "[web1] passed: serving 1.2.0" in out
    assert re.search(r"\[web2\] FAILED at health gate: exit 1: /(readyz|healthz): 000, /version: 000, "
                     r"ginsvc\.service: active",
                     out), out
    assert "[web2] rolled back: serving 1.1.0" in out
    assert "[web1] web2 failed in this batch: going back to 1.1.0" in out
    assert "[web1] reverted: serving 1.1.0" in out
    assert "[web3]" not in out
    rows = summary_rows(out)
    assert rows["web1"] == ("reverted 1.2.0 passed its gate; went back with its batch because web2 failed; "
                            "serving 1.1.0 again")
    assert re.fullmatch(r"rolled back 1\.2\.0 failed at health gate \(exit 1: .*\); rolled back, serving 1\.1\.0 "
                        r"again", rows["web2"]), rows["web2"]
    assert rows["web3"] == "untouched not contacted"
    assert re.search(r"error: rollout of 1\.2\.0 stopped at web2 \(deploy@127\.0\.0\.1:\d+\): 1\.2\.0 failed at "
                     r"health gate .*\nthe other hosts of its batch serve what they served before: web1 \(reverted\)\n"
                     r"the hosts after it were not touched; fix the cause and rerun `invoke deploy`", done.stderr)

    # Every host serves the release it served before, from the release `current` names.
    assert {n: fleet.serving(n) for n in ("web1", "web2", "web3")} == dict.fromkeys(("web1", "web2", "web3"), "1.1.0")
    assert {n: fleet.current(n) for n in ("web1", "web2", "web3")} == dict.fromkeys(("web1", "web2", "web3"),
                                                                                    "releases/1.1.0")
    assert fleet.fingerprint("web3") == untouched
    # Only web2's copy is marked failed: on web1 the release passed, and a rerun may use it.
    assert fleet.sh("web2", "test -e /opt/ginsvc/releases/1.2.0/.failed && echo yes") == "yes"
    assert fleet.sh("web1", "test -e /opt/ginsvc/releases/1.2.0/.failed && echo yes || echo no") == "no"
    # The healthy hosts never failed a request, and web1 did serve 1.2.0 under the load before going back.
    assert result["requests"] == 800, result
    assert result["failed"] == 0, result["errors"]
    assert set(result["versions"]) == {"1.1.0", "1.2.0"}


@pytest.fixture
def spare(docker_client: Any, lab_image: str, lab_key: tuple[Path, str], shared_dir: Path,
          tmp_path: Path) -> Any:
    """A fourth lab host of this test's own, which it may stop: the shared ones keep their ports."""
    run_id = secrets.token_hex(3)
    try:
        (host,) = lab.start_hosts(docker_client, lab_image, ["web4"], run_id, lab_key[1])
        known = tmp_path / "known_hosts"
        known.write_text((shared_dir / "deploy-known_hosts").read_text() + host.known_hosts_line() + "\n")
        yield host, known
    finally:
        lab.remove(docker_client, run_id)


def test_a_host_lost_after_its_upload_stops_the_batch_before_any_switch(
        fleet: Fleet, spare: Any, docker_client: Any, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from buildlib import config
    from buildlib.deploy import fleet as hosts_of
    from buildlib.deploy import release, render, settings
    from buildlib.deploy import secrets as deploy_secrets
    from buildlib.deploy.batches import Status
    from buildlib.deploy.rollout import Rollout
    from buildlib.errors import RunFailed

    web4, known = spare
    names = ["web1", "web4", "web3"]
    fleet.hosts = [fleet.host("web1"), web4, fleet.host("web3")]
    fleet.known_hosts = known
    fleet.configure()
    first = fleet.deploy("1.0.0")
    assert first.returncode == 0, first.stdout + first.stderr
    assert {n: fleet.serving(n) for n in names} == dict.fromkeys(names, "1.0.0")
    web1_pid, untouched = main_pid(fleet, "web1"), fleet.fingerprint("web3")

    # The rollout in this process, as `invoke deploy --batch 2` builds it, so that the test can
    # act at the seam between the uploads and the switch: it stops web4's machine there.
    lab.use_release(fleet.root, fleet.releases["1.1.0"])
    monkeypatch.setenv("DB_PASSWORD", SECRET)
    project = config.load(fleet.root / "build.yaml")
    cfg = settings.load(project)
    chosen = hosts_of.select_hosts(cfg, None)
    rel = release.load_release(project, cfg.binary, {"linux/amd64": names})
    env_file = render.render(cfg, project.root, None, None, deploy_secrets.load(project, cfg)) \
        .files[render.env_name(cfg)].content.encode()
    seen: list[list[str]] = []

    def lose_web4(staged: list[Any]) -> None:
        seen.append([h.name for h in staged])
        assert fleet.sh("web4", "ls /opt/ginsvc/releases") == "1.0.0\n1.1.0"  # uploaded and installed
        docker_client.containers.get(web4.container).stop(timeout=30)

    rollout = Rollout(project, cfg, rel, render.render(cfg, project.root), env_file, on_staged=lose_web4)
    traffic = load(fleet, ["web1", "web3"], rate=20, duration=15)
    time.sleep(1)
    outcomes = rollout.run(chosen, 2)
    with pytest.raises(RunFailed) as stopped:
        rollout.finish(outcomes)
    out = capsys.readouterr().out
    result = load_result(traffic)

    assert seen == [["web1", "web4"]]
    assert {o.host.name: o.status for o in outcomes} == {
        "web1": Status.NOT_SWITCHED, "web4": Status.UNREACHABLE, "web3": Status.UNTOUCHED}
    assert re.search(r"\[web4\] UNREACHABLE before the switch: switch check: the SSH connection broke: ", out), out
    assert "[web1] not switching: web4 failed in this batch; still serving 1.0.0" in out
    assert "activate" not in out.split("deploy ginsvc 1.1.0", 1)[1]  # no host of the batch switched
    rows = summary_rows(out)
    assert rows["web1"] == "not switched 1.1.0 staged, not switched because web4 failed; still serving 1.0.0"
    assert re.fullmatch(r"unreachable switch check: the SSH connection broke: .+; not switched \(it served 1\.0\.0 "
                        r"when last seen\)", rows["web4"]), rows["web4"]
    assert rows["web3"] == "untouched not contacted"
    assert re.match(rf"rollout of 1\.1\.0 stopped at web4 \(deploy@127\.0\.0\.1:{web4.ssh_port}\): switch check: "
                    r"the SSH connection broke: .+\nthe other hosts of its batch serve what they served before: "
                    r"web1 \(not switched\)\nthe hosts after it were not touched", str(stopped.value)), \
        str(stopped.value)

    # web1 kept serving 1.0.0 from the same process (never restarted); web3 was never touched.
    assert fleet.serving("web1") == "1.0.0"
    assert main_pid(fleet, "web1") == web1_pid
    assert fleet.current("web1") == "releases/1.0.0"
    assert fleet.serving("web3") == "1.0.0"
    assert fleet.fingerprint("web3") == untouched
    assert fleet.serving("web4") is None  # its machine is down
    assert result["requests"] == 300, result
    assert result["failed"] == 0, result["errors"]
    assert result["versions"].keys() == {"1.0.0"}

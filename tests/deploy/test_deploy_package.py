"""The .deb of `invoke release`, installed with apt on a deploy-lab host (systemd as PID 1, nginx).

The package is the generated "ownport" app's (tests/helpers/released.py): the hardened profile's
template unit, its env file, the nginx site, a system user. Installed, the service answers its
health path through nginx; stopped, nothing of it runs; removed, neither its units nor its site stay.
"""

from __future__ import annotations

import io
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from buildlib.bench import lab
from tests.helpers.deploylab import nginx_get

pytestmark = [pytest.mark.docker, pytest.mark.slow]

DOMAIN = "stock.test"


@pytest.fixture
def pkg_host(docker_client: Any, lab_image: str, lab_key: tuple[Path, str], run_id: str) -> Iterator[Any]:
    """A host of its own: the package's unit and site must not meet the deploy tests' releases."""
    tag = f"{run_id}pkg"
    host = lab.start_hosts(docker_client, lab_image, ["pkg1"], tag, lab_key[1])[0]
    try:
        yield host, docker_client.containers.get(host.container)
    finally:
        lab.remove(docker_client, tag)


def _sh(container: Any, cmd: str) -> tuple[int, str]:
    code, out = container.exec_run(["sh", "-c", cmd], demux=False)
    return code, out.decode(errors="replace")


def _running(container: Any) -> list[str]:
    """The users of the processes named stock (the lab's minimal Debian has no procps)."""
    _, out = _sh(container, "for f in /proc/[0-9]*/comm; do [ \"$(cat $f 2>/dev/null)\" = stock ] && "
                            "stat -c %U ${f%/comm}; done; true")
    return out.split()


def _get(port: int, path: str) -> tuple[int, bytes]:
    return nginx_get(port, path, DOMAIN)


def _wait_status(port: int, path: str, want: int, timeout: float = 30) -> tuple[int, bytes]:
    deadline = time.monotonic() + timeout
    got: tuple[int, bytes] = (0, b"")
    while time.monotonic() < deadline:
        got = _get(port, path)
        if got[0] == want:
            return got
        time.sleep(0.3)
    return got


def test_apt_installs_the_deb_which_serves_through_nginx_and_leaves_nothing_when_removed(
        released_app: dict[str, Any], pkg_host: Any) -> None:
    host, c = pkg_host
    deb = Path(released_app["dist"]) / "stock_1.1.0-1_amd64.deb"
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        tar.add(deb, arcname=deb.name)
    assert c.put_archive("/root", buf.getvalue())
    code, out = _sh(c, f"cd /root && apt-get install -y ./{deb.name} 2>&1")
    assert code == 0, out
    assert "Setting up stock (1.1.0-1)" in out

    health = released_app["health"]
    status, _ = _wait_status(host.http_port, health, 200)
    assert status == 200, _sh(c, "systemctl status 'stock@*' --no-pager; journalctl -u 'stock@*' -n 30 "
                                 "--no-pager")[1]
    assert _get(host.http_port, "/api/stock") == (200, b"released stock")  # conf/app.yaml shipped
    assert b'"v1.1.0"' in _get(host.http_port, "/about")[1]
    assert _running(c) == ["stock"]
    code, uid = _sh(c, "id -u stock")
    assert int(uid) < 1000  # a system user
    assert _sh(c, "systemctl is-enabled stock@9090.service")[1].strip() == "enabled"
    assert _sh(c, "test -d /var/lib/stock/logs && cat /var/lib/stock/logs/access.log")[1].count("/api/stock") >= 1

    assert _sh(c, "systemctl stop stock@9090.service")[0] == 0
    assert _running(c) == [], "the service still runs after systemctl stop"
    assert _wait_status(host.http_port, health, 502, timeout=10)[0] == 502

    assert _sh(c, "systemctl start stock@9090.service")[0] == 0
    assert _wait_status(host.http_port, health, 200)[0] == 200
    code, out = _sh(c, "apt-get remove -y stock 2>&1")
    assert code == 0, out
    assert _running(c) == [], "the service still runs after the package was removed"
    for gone in ("/lib/systemd/system/stock@.service", "/etc/nginx/conf.d/stock.conf", "/opt/stock/releases"):
        assert _sh(c, f"test -e {gone}")[0] != 0, f"{gone} is still there"
    assert _sh(c, "systemctl is-active nginx")[1].strip() == "active"
    assert _get(host.http_port, health)[0] != 200

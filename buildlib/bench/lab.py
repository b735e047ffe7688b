"""Throw-away deploy targets: Docker containers with systemd as PID 1, sshd and nginx.

Used by the tests and by the benchmark (``nox -s deploy_bench``) so both
deploy to the same real thing a server is: systemd, nginx and sshd, reached
over SSH on 127.0.0.1. The image is a Debian rootfs made with debootstrap
(no registry is needed) and imported once; its tag carries a hash of the
recipe, so a changed recipe builds a new image and an unchanged one is reused.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import socket
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from .. import console, tools
from ..errors import ToolError

SUITE = "bookworm"
PACKAGES = ("systemd", "systemd-sysv", "dbus", "nginx-light", "openssh-server", "ca-certificates", "curl", "sudo")
IMAGE_REPO = "buildlib-deploy-target"
LABEL = "buildlib.deploy.lab"
TEST_LABEL = "buildlib.test"
# nginx's metrics listeners (monitoring.port): the default, and one for a second app on the same hosts.
METRICS_PORTS = (9180, 9181)

# Runs in the rootfs (chroot) once, before the import.
SETUP = r"""set -e
rm -f /etc/nginx/sites-enabled/default
# Each container makes its own SSH host keys at first boot, so no two share one.
rm -f /etc/ssh/ssh_host_*
mkdir -p /etc/systemd/system/ssh.service.d
printf '[Service]\nExecStartPre=\nExecStartPre=/usr/bin/ssh-keygen -A\nExecStartPre=/usr/sbin/sshd -t\n' \
  > /etc/systemd/system/ssh.service.d/host-keys.conf
# A non-root deploy user with passwordless sudo, as on a real fleet.
useradd --create-home --shell /bin/bash deploy
echo 'deploy ALL=(ALL) NOPASSWD:ALL' > /etc/sudoers.d/deploy
chmod 0440 /etc/sudoers.d/deploy
systemctl enable ssh nginx
# Nothing to do in a container, and slow to time out.
systemctl mask systemd-udevd.service systemd-udev-trigger.service getty@.service console-getty.service \
  systemd-networkd-wait-online.service >/dev/null 2>&1 || true
apt-get clean
rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin
"""


def _docker_cli() -> str:
    cli = shutil.which("docker")
    if cli is None:
        raise ToolError("no `docker` client on PATH; install docker.io")
    return cli


def debian_mirror(suite: str = SUITE) -> str:
    """A Debian mirror for ``suite`` from this machine's apt sources (or $BUILDLIB_DEBIAN_MIRROR)."""
    if os.environ.get("BUILDLIB_DEBIAN_MIRROR"):
        return os.environ["BUILDLIB_DEBIAN_MIRROR"]
    sources = [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*"))]
    for path in sources:
        if not path.is_file():
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        if path.suffix == ".sources":  # deb822 stanzas
            for stanza in re.split(r"\n\s*\n", text):
                fields = dict(re.findall(r"^([A-Za-z-]+):\s*(.*)$", stanza, re.M))
                if "deb" in fields.get("Types", "").split() and suite in fields.get("Suites", "").split():
                    return fields["URIs"].split()[0]
        elif path.suffix == ".list" or path.name == "sources.list":
            for line in text.splitlines():
                m = re.match(r"\s*deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)\s", line)
                if m and m.group(2) == suite:
                    return m.group(1)
    raise ToolError(f"no Debian mirror for {suite} in /etc/apt/sources.list(.d); add one or set "
                    "BUILDLIB_DEBIAN_MIRROR=URL")


def image_tag() -> str:
    recipe = "\n".join([SUITE, *PACKAGES, SETUP]).encode()
    return f"{IMAGE_REPO}:{hashlib.sha256(recipe).hexdigest()[:12]}"


def _image_exists(tag: str) -> bool:
    return tools.run([_docker_cli(), "image", "inspect", tag], timeout=60, check=False).returncode == 0


def target_image(log: Any = console.out) -> str:
    """The target image's tag, built with debootstrap unless an image of this recipe exists."""
    return _debootstrap_image(image_tag(), PACKAGES, SETUP, 'CMD ["/lib/systemd/systemd"]', "target", log)


# A newcomer's machine: a stock Debian with its own python3 (externally managed, PEP 668) and
# python3-venv, git and the CA bundle; nothing of the kit's. Go is mounted from the host.
STOCK_PACKAGES = ("python3", "python3-pip", "python3-venv", "git", "ca-certificates")
STOCK_SETUP = "set -e\napt-get clean\nrm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin\n"
STOCK_REPO = "buildlib-stock-debian"


def stock_image(log: Any = console.out) -> str:
    """A fresh debootstrap of bookworm with python3-venv and git, as a newcomer's machine is."""
    recipe = "\n".join([SUITE, *STOCK_PACKAGES, STOCK_SETUP]).encode()
    tag = f"{STOCK_REPO}:{hashlib.sha256(recipe).hexdigest()[:12]}"
    return _debootstrap_image(tag, STOCK_PACKAGES, STOCK_SETUP, 'CMD ["/bin/bash"]', "stock", log)


def _debootstrap_image(tag: str, packages: tuple[str, ...], setup: str, cmd: str, role: str, log: Any) -> str:
    if _image_exists(tag):
        return tag
    debootstrap = shutil.which("debootstrap") or "/usr/sbin/debootstrap"
    if not Path(debootstrap).exists():
        raise ToolError("`debootstrap` is not installed; apt-get install debootstrap")
    mirror = debian_mirror()
    with tempfile.TemporaryDirectory(prefix="deploy-rootfs-", dir="/var/tmp") as tmp:
        root = Path(tmp) / "rootfs"
        log(f"building {tag}: debootstrap {SUITE} from {mirror} (once; reused while the recipe is unchanged)")
        started = time.monotonic()
        _check([debootstrap, "--variant=minbase", f"--include={','.join(packages)}", SUITE, str(root), mirror],
               "debootstrap")
        _check(["chroot", str(root), "sh", "-c", setup], "image setup in chroot")
        def tar(into: IO[bytes]) -> None:
            tools.run(["tar", "-C", str(root), "--numeric-owner", "-c", "."], stdout=into, timeout=None)

        tools.feed([_docker_cli(), "import", "--change", f"LABEL {LABEL}={role}", "--change", cmd, "-", tag], tar,
                   hint=f"the {role} rootfs was not imported")
        log(f"built {tag} in {time.monotonic() - started:.0f}s")
    return tag


def _check(argv: list[str], what: str) -> None:
    tools.run(argv, timeout=None, hint=f"{what} failed")


@dataclass(frozen=True)
class LabHost:
    """One running target container and where its ports are published on 127.0.0.1."""

    name: str
    container: str
    ssh_port: int
    http_port: int
    host_key: str  # "ssh-ed25519 AAAA..."
    https_port: int = 0
    metrics_ports: tuple[int, ...] = ()  # where METRICS_PORTS are published, in that order
    subnet: str = ""       # the hosts' network: connections through a published port come from it

    def known_hosts_line(self) -> str:
        return f"[127.0.0.1]:{self.ssh_port} {self.host_key}"


def _exec(container: Any, cmd: str, user: str = "root") -> str:
    code, out = container.exec_run(["sh", "-c", cmd], user=user)
    text = out.decode(errors="replace") if isinstance(out, bytes) else str(out)
    if code != 0:
        raise ToolError(f"{container.name}: `{cmd}` failed (exit {code}): {text.strip()[-400:]}")
    return text


def start_hosts(client: Any, image: str, names: list[str], run_id: str, public_key: str,
                timeout: float = 90) -> list[LabHost]:
    """Start one container per name, wait for systemd and sshd, install ``public_key`` for root and deploy."""
    # A network of their own: independent of docker0, which other engines on a
    # shared machine (docker-in-docker with --bridge=none) have been seen to remove.
    network = client.networks.create(f"deploy-lab-{run_id}", driver="bridge", labels={LABEL: run_id,
                                                                                       TEST_LABEL: "1"})
    containers = []
    for name in names:
        containers.append(client.containers.run(
            image, "/lib/systemd/systemd", detach=True, name=f"deploy-lab-{name}-{run_id}",
            hostname=name, labels={LABEL: run_id, TEST_LABEL: "1"}, network=network.name,
            cap_add=["SYS_ADMIN"], security_opt=["seccomp=unconfined"], cgroupns="host",
            volumes={"/sys/fs/cgroup": {"bind": "/sys/fs/cgroup", "mode": "rw"}},
            tmpfs={"/run": "rw,nosuid,nodev,size=64m", "/run/lock": "rw,nosuid,nodev,size=8m",
                   "/tmp": "rw,nosuid,nodev,size=512m"},
            ports={"22/tcp": ("127.0.0.1", None), "80/tcp": ("127.0.0.1", None), "443/tcp": ("127.0.0.1", None),
                   **{f"{p}/tcp": ("127.0.0.1", None) for p in METRICS_PORTS}},
            environment={"container": "docker"}, stop_signal="SIGRTMIN+3",
        ))
    network.reload()
    subnet = network.attrs["IPAM"]["Config"][0]["Subnet"]
    hosts = []
    keys = (f"for h in /root /home/deploy; do mkdir -p $h/.ssh && printf '%s\\n' '{public_key}' "
            "> $h/.ssh/authorized_keys && chmod 700 $h/.ssh && chmod 600 $h/.ssh/authorized_keys; done; "
            "chown -R deploy:deploy /home/deploy/.ssh")
    for name, c in zip(names, containers, strict=True):
        _wait_booted(c, timeout)
        _exec(c, keys)
        c.reload()
        ssh_port = int(c.ports["22/tcp"][0]["HostPort"])
        http_port = int(c.ports["80/tcp"][0]["HostPort"])
        https_port = int(c.ports["443/tcp"][0]["HostPort"])
        metrics_ports = tuple(int(c.ports[f"{p}/tcp"][0]["HostPort"]) for p in METRICS_PORTS)
        _wait_tcp(ssh_port, timeout)
        host_key = " ".join(_exec(c, "cat /etc/ssh/ssh_host_ed25519_key.pub").split()[:2])
        hosts.append(LabHost(name, c.name, ssh_port, http_port, host_key, https_port, metrics_ports, subnet))
    return hosts


def _wait_booted(container: Any, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    state = ""
    while time.monotonic() < deadline:
        code, out = container.exec_run(["systemctl", "is-system-running"])
        state = out.decode().strip()
        if state in ("running", "degraded"):
            code, _ = container.exec_run(["systemctl", "is-active", "ssh", "nginx"])
            if code == 0:
                return
        time.sleep(0.3)
    raise ToolError(f"{container.name}: systemd did not finish booting in {timeout:g}s (state: {state})")


def _wait_tcp(port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
                if s.recv(4).startswith(b"SSH"):
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise ToolError(f"sshd on 127.0.0.1:{port} did not answer in {timeout:g}s")


def remove(client: Any, run_id: str) -> None:
    """Remove every container of ``run_id``."""
    for c in client.containers.list(all=True, filters={"label": f"{LABEL}={run_id}"}):
        c.remove(force=True)
    for n in client.networks.list(filters={"label": f"{LABEL}={run_id}"}):
        n.remove()


def ssh_keypair(folder: Path) -> tuple[Path, str]:
    """A fresh ed25519 key pair in ``folder``: (private key path, public key line)."""
    keygen = shutil.which("ssh-keygen")
    if keygen is None:
        raise ToolError("`ssh-keygen` is not installed; apt-get install openssh-client")
    folder.mkdir(parents=True, exist_ok=True)
    key = folder / "id_ed25519"
    if not key.exists():
        _check([keygen, "-q", "-t", "ed25519", "-N", "", "-C", "deploy-lab", "-f", str(key)], "ssh-keygen")
    return key, (folder / "id_ed25519.pub").read_text().strip()


def build_release(repo: Path, version: str, dest: Path, scratch: Path, only: str = "server:linux/amd64") -> Path:
    """``invoke build --only ONLY --version VERSION`` on a copy of ``repo``; its bin/ copied to ``dest/VERSION``.

    A copy, because the checkout's own bin/ belongs to whoever builds there.
    """
    import sys

    src = scratch / "src"
    if not src.exists():
        ignore = shutil.ignore_patterns("bin", ".build", ".git", ".nox", "__pycache__", "*.egg-info")
        src.mkdir(parents=True)
        for name in ("go.mod", "go.sum", "build.yaml"):
            shutil.copy(repo / name, src / name)
        for name in ("cmd", "internal", "web"):
            shutil.copytree(repo / name, src / name, ignore=ignore)
    argv = [sys.executable, "-m", "invoke", "-r", str(repo), "build", "--only", only, "--version", version]
    tools.run(argv, cwd=src, env={**os.environ, "PYTHONPATH": str(repo)}, timeout=None, merge_stderr=True,
              hint=f"the lab's release {version} was not built")
    out = dest / version
    shutil.rmtree(out, ignore_errors=True)
    shutil.copytree(src / "bin", out / "bin")
    return out / "bin"


def workspace(root: Path, repo: Path, deploy: dict[str, Any], **sections: dict[str, Any]) -> Path:
    """A project directory whose build.yaml is the repository's with ``deploy`` (and ``sections``) merged in.

    Templates come from the repository (``deploy/`` is a symlink); the
    release is chosen with ``use_release``.
    """
    import yaml

    root.mkdir(parents=True, exist_ok=True)
    raw = yaml.safe_load((repo / "build.yaml").read_text(encoding="utf-8"))
    for name, keys in {**sections, "deploy": deploy}.items():
        raw[name] = {**(raw.get(name) or {}), **keys}
    (root / "build.yaml").write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    # build.yaml's references must exist; the Go sources themselves are not needed to deploy.
    for binary in raw["binaries"].values():
        (root / binary["main"]).mkdir(parents=True, exist_ok=True)
    (root / raw["project"].get("version_package", "./internal/version")).mkdir(parents=True, exist_ok=True)
    if not (root / "deploy").exists():
        (root / "deploy").symlink_to(repo / "deploy")
    return root


def use_release(root: Path, bin_dir: Path) -> None:
    """Point ``root/bin`` at a built release's bin/ (atomically)."""
    tmp = root / ".bin.new"
    if tmp.is_symlink():
        tmp.unlink()
    tmp.symlink_to(bin_dir)
    os.replace(tmp, root / "bin")


def deploy_section(hosts: list[LabHost], key: Path, known_hosts: Path, users: list[str] | None = None,
                   metrics_port: int = METRICS_PORTS[0], **extra: Any) -> dict[str, Any]:
    """The ``deploy:`` keys that describe lab hosts (scraped where ``metrics_port`` is published)."""
    users = users or ["root"] * len(hosts)
    section: dict[str, Any] = {
        "hosts": {h.name: {"host": "127.0.0.1", "port": h.ssh_port, "user": u, "key_file": str(key),
                           **({"metrics": f"127.0.0.1:{h.metrics_ports[METRICS_PORTS.index(metrics_port)]}"}
                              if h.metrics_ports else {})}
                  for h, u in zip(hosts, users, strict=True)},
        "ssh": {"known_hosts": str(known_hosts), "strict_host_keys": True, "connect_timeout": 5},
        # Docker gives containers no IPv6 here; nginx would fail to bind [::]:80.
        "ipv6": False,
    }
    section.update(extra)
    return section

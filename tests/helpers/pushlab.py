"""A registry, a remote BuildKit daemon and a buildx client, as a team that shares a builder has them.

- the CNCF distribution registry on 127.0.0.1 (plain HTTP, its own storage);
- buildkitd (Debian's runc) on a unix socket, told that registry speaks HTTP;
- a private DOCKER_CONFIG whose cli-plugins/docker-buildx is buildx, with a
  builder of the remote driver on that socket, so the machine's own client
  settings are never changed.
All three are built from the Go module proxy once per machine (buildlib.toolcache).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

from buildlib import toolcache
from tests.helpers.support import free_port

BUILDER = "kit-remote"
# The 28.x client: no buildx of its own, so the plugin given here is the one it uses.
CLIENT = "/usr/local/bin/docker"


def _start(argv: list[str], log: Path) -> int:
    out = open(log, "wb")  # noqa: SIM115 - the daemon keeps it
    proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    return proc.pid


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return resp.status == 200
    except OSError:
        return False


def _wait(predicate: Any, timeout: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"{what} did not come up in {timeout:.0f}s:\n{log.read_text(errors='replace')[-3000:]}")


def client_env(lab: dict[str, Any]) -> dict[str, str]:
    """What a command needs to use the lab's buildx client and builder."""
    return {"DOCKER_CONFIG": lab["docker_config"], "BUILDLIB_DOCKER": lab["client"]}


def start(root: Path) -> dict[str, Any]:
    root.mkdir(parents=True, exist_ok=True)
    registry, buildkitd, buildx = (toolcache.ensure(t) for t in
                                   (toolcache.REGISTRY, toolcache.BUILDKITD, toolcache.BUILDX))
    port = free_port()
    (root / "registry.yml").write_text(
        "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n"
        f"    rootdirectory: {root / 'registry-data'}\n  delete:\n    enabled: true\n"
        f"http:\n  addr: 127.0.0.1:{port}\n")
    reg_log = root / "registry.log"
    reg_pid = _start([str(registry), "serve", str(root / "registry.yml")], reg_log)
    _wait(lambda: _answers(f"http://127.0.0.1:{port}/v2/"), 30, "the registry", reg_log)

    sock = root / "buildkitd.sock"
    (root / "buildkitd.toml").write_text(
        f'[registry."127.0.0.1:{port}"]\n  http = true\n  insecure = true\n\n'
        "[worker.oci]\n  enabled = true\n  gc = true\n\n[worker.containerd]\n  enabled = false\n")
    bk_log = root / "buildkitd.log"
    bk_pid = _start([str(buildkitd), "--root", str(root / "buildkit"), "--addr", f"unix://{sock}",
                     "--config", str(root / "buildkitd.toml")], bk_log)
    _wait(sock.exists, 60, "buildkitd", bk_log)

    config = root / "docker-config"
    (config / "cli-plugins").mkdir(parents=True)
    shutil.copy2(buildx, config / "cli-plugins" / "docker-buildx")
    lab = {"registry": f"127.0.0.1:{port}", "pids": [reg_pid, bk_pid], "socket": str(sock),
           "docker_config": str(config), "client": CLIENT, "builder": BUILDER, "root": str(root)}
    env = {**os.environ, **client_env(lab)}
    subprocess.run([CLIENT, "buildx", "create", "--name", BUILDER, "--driver", "remote", f"unix://{sock}"],
                   check=True, capture_output=True, env=env)
    boot = subprocess.run([CLIENT, "buildx", "inspect", "--bootstrap", BUILDER], capture_output=True, text=True,
                          env=env, timeout=120)
    assert boot.returncode == 0 and "running" in boot.stdout, boot.stdout + boot.stderr + bk_log.read_text()[-2000:]
    return lab


def stop(lab: dict[str, Any]) -> None:
    for pid in lab["pids"]:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGTERM)
    for pid in lab["pids"]:
        for _ in range(50):
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)  # reaped here when this worker started it
            try:
                os.killpg(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.1)
        else:
            os.killpg(pid, signal.SIGKILL)
    # buildkitd's snapshots are overlay mounts below its root; they end with it.
    shutil.rmtree(lab["root"], ignore_errors=True)

"""What the deploy refuses before touching any host, and what --dry-run prints."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.helpers.deploylab import DOMAIN
from tests.helpers.support import REPO, free_port, run_invoke


def ghosts(*names: str, platform: str = "linux/amd64") -> dict[str, object]:
    """Hosts on 127.0.0.1 ports nothing listens on: any connection attempt would fail loudly."""
    return {
        "hosts": {n: {"host": "127.0.0.1", "port": free_port(), "user": "deploy", "platform": platform}
                  for n in names},
        "groups": {"web": list(names)}, "domain": DOMAIN,
    }


def deploy(root: Path, *args: str, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    return run_invoke("-r", str(REPO), "deploy", *args, cwd=root, env={"DB_PASSWORD": "pw", **(env or {})})


def test_dry_run_prints_every_command_per_host_and_connects_nowhere(project_dir: Callable[..., Path]) -> None:
    root = project_dir(ghosts("web1", "web2"))
    done = deploy(root, "--dry-run", "--batch", "2")
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert out.splitlines()[0] == ("deploy ginsvc 1.0.0 (strict profile, prod environment) to web1, web2: "
                                   "dry run: no connection, nothing is executed")
    for host in ("web1", "web2"):
        mine = [line[len(host) + 3:] for line in out.splitlines() if line.startswith(f"[{host}] ")]
        steps = [line[2:] for line in mine if line.startswith("# ")]
        assert steps[:2] == ["probe: read the machine, the current release and the releases on the host (read-only)",
                             "staging directory"]
        assert "install release (checksum verified on the host)" in steps
        assert steps[-1] == "prune"
        text = "\n".join(mine)
        assert re.search(r"put .*/bin/linux_amd64/server -> /tmp/ginsvc-deploy-1\.0\.0-[0-9a-f]{8}/server", text)
        assert re.search(r"echo '[0-9a-f]{64}  server' \| sha256sum -c --strict -", text)
        assert "mv -T /opt/ginsvc/.current.new /opt/ginsvc/current" in text
        assert "systemctl restart ginsvc.service" in text
        assert "$ sudo -n sh -s <<'SCRIPT'" in text  # the deploy user is not root
        assert "switch back to PREVIOUS (what `current` pointed to before)" in text
    assert "summary:\n  web1  planned      nothing -> 1.0.0\n  web2  planned      nothing -> 1.0.0" in out


def test_a_host_without_a_binary_for_its_platform_names_the_build(project_dir: Callable[..., Path]) -> None:
    section = ghosts("web1")
    section["hosts"]["web3"] = {"host": "127.0.0.1", "port": free_port(), "platform": "linux/arm64"}  # type: ignore[index]
    root = project_dir(section)
    done = deploy(root)
    assert done.returncode == 2
    assert done.stderr.strip() == ("error: bin/manifest.json has no server:linux/arm64 (needed by web3); "
                                   "run `invoke build --only server:linux/arm64` first")


def test_a_version_other_than_the_built_one_names_the_build(project_dir: Callable[..., Path]) -> None:
    done = deploy(project_dir(ghosts("web1")), "--version", "2.0.0")
    assert done.returncode == 2
    assert done.stderr.strip() == ("error: server:linux/amd64 in bin/manifest.json is version 1.0.0, not 2.0.0; "
                                   "run `invoke build --only server:linux/amd64 --version 2.0.0` first")


def test_no_manifest_names_the_build(project_dir: Callable[..., Path]) -> None:
    root = project_dir(ghosts("web1"))
    (root / "bin").unlink()
    done = deploy(root)
    assert done.returncode == 2
    assert done.stderr.strip() == ("error: bin/manifest.json does not exist; run `invoke build --only "
                                   "server:linux/amd64` first")


def test_a_binary_changed_after_the_build_is_refused(project_dir: Callable[..., Path], tmp_path: Path) -> None:
    import shutil

    root = project_dir(ghosts("web1"))
    copy = tmp_path / "bin-copy"
    shutil.copytree(root / "bin", copy)
    (root / "bin").unlink()
    (root / "bin").symlink_to(copy)
    with (copy / "linux_amd64" / "server").open("ab") as f:
        f.write(b"\0")
    done = deploy(root)
    assert done.returncode == 2
    assert done.stderr.strip() == ("error: server:linux/amd64: bin/linux_amd64/server does not match the sha256 in "
                                   "the manifest (changed after the build); run `invoke build --only "
                                   "server:linux/amd64` first")


def test_a_missing_secret_stops_before_any_host(project_dir: Callable[..., Path]) -> None:
    import os
    import subprocess
    import sys

    root = project_dir(ghosts("web1"))
    environ = {k: v for k, v in os.environ.items() if k != "DB_PASSWORD"}
    done = subprocess.run([sys.executable, "-m", "invoke", "-r", str(REPO), "deploy"], cwd=root, env=environ,
                          text=True, capture_output=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip() == ("error: secret DB_PASSWORD is not set: export DB_PASSWORD=... or name a secrets "
                                   "file in deploy.secrets.file; secrets never come from the repository")


@pytest.mark.parametrize(
    ("hosts", "message"),
    [("web9", 'error: "web9" is neither a host nor a group in build.yaml deploy; known: web1, web2, web (group)'),
     ("web1,nope", 'error: "nope" is neither a host nor a group in build.yaml deploy; known: web1, web2, web (group)')],
)
def test_unknown_hosts_are_refused(project_dir: Callable[..., Path], hosts: str, message: str) -> None:
    done = deploy(project_dir(ghosts("web1", "web2")), "--hosts", hosts, "--dry-run")
    assert done.returncode == 2
    assert done.stderr.strip() == message


def test_a_missing_key_file_is_a_config_error_with_its_line(project_dir: Callable[..., Path],
                                                             tmp_path: Path) -> None:
    section = ghosts("web1")
    section["hosts"]["web1"]["key_file"] = str(tmp_path / "no-such-key")  # type: ignore[index]
    root = project_dir(section)
    text = (root / "build.yaml").read_text().splitlines()
    line = next(i for i, t in enumerate(text, 1) if "no-such-key" in t)
    done = deploy(root)
    assert done.returncode == 2
    assert done.stderr.strip() == (f'error: build.yaml:{line}: deploy.hosts.web1.key_file: "{tmp_path}/no-such-key" '
                                   f"does not exist ({tmp_path}/no-such-key); point it at the private key whose "
                                   "public half is in the host's authorized_keys")

"""Fixtures of the deploy tests: real systemd/sshd/nginx hosts in containers, real releases.

Made once per test run and shared by the workers:
- the target image (debootstrap'd Debian, kept between runs while its recipe is unchanged);
- an SSH key pair, and three releases built with `invoke build --only server:linux/amd64 --version V`;
- three host containers, started by the first worker that needs them and removed by the
  last one to finish with them (a use count under a file lock).
Tests that change what the hosts run hold the ``fleet`` lock for their whole body, so
two workers never deploy to the same containers at once.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest
from filelock import FileLock

from buildlib.bench import lab
from tests.helpers.deploylab import NAMES, VERSIONS, Fleet
from tests.helpers.support import REPO


@pytest.fixture(scope="session")
def lab_image(once: Callable[..., Any], docker_client: Any) -> str:
    """The target image tag (built with debootstrap on first use, then reused)."""
    return once("deploy-lab-image", lambda: lab.target_image(log=print))


@pytest.fixture(scope="session")
def lab_key(once: Callable[..., Any], shared_dir: Path) -> tuple[Path, str]:
    """An SSH key pair made for this run: (private key, public key line)."""

    def make() -> list[str]:
        key, pub = lab.ssh_keypair(shared_dir / "deploy-ssh")
        return [str(key), pub]

    key, pub = once("deploy-ssh-key", make)
    return Path(key), pub


@pytest.fixture(scope="session")
def releases(once: Callable[..., Any], shared_dir: Path) -> dict[str, Path]:
    """version -> a bin/ directory made by `invoke build` (server:linux/amd64, manifest included)."""

    def make() -> dict[str, str]:
        return {v: str(lab.build_release(REPO, v, shared_dir / "deploy-releases", shared_dir / "deploy-build"))
                for v in VERSIONS}

    return {v: Path(p) for v, p in once("deploy-releases", make).items()}


@pytest.fixture(scope="session")
def run_id(once: Callable[..., Any]) -> str:
    return once("deploy-run-id", lambda: secrets.token_hex(3))


@pytest.fixture(scope="session")
def lab_hosts(shared_dir: Path, docker_client: Any, lab_image: str, lab_key: tuple[Path, str],
              run_id: str) -> Iterator[list[lab.LabHost]]:
    """The shared host containers; the last worker using them removes them."""
    state = shared_dir / "deploy-fleet.json"
    with FileLock(str(shared_dir / "deploy-fleet.lock")):
        data = json.loads(state.read_text()) if state.exists() else {"users": 0, "hosts": None}
        if data["hosts"] is None:
            hosts = lab.start_hosts(docker_client, lab_image, NAMES, run_id, lab_key[1])
            data["hosts"] = [asdict(h) for h in hosts]
            (shared_dir / "deploy-known_hosts").write_text("".join(h.known_hosts_line() + "\n" for h in hosts))
        data["users"] += 1
        state.write_text(json.dumps(data))
    yield [lab.LabHost(**h) for h in data["hosts"]]
    with FileLock(str(shared_dir / "deploy-fleet.lock")):
        data = json.loads(state.read_text())
        data["users"] -= 1
        if data["users"] == 0:
            lab.remove(docker_client, run_id)
            data["hosts"] = None
        state.write_text(json.dumps(data))


@pytest.fixture
def fleet(lab_hosts: list[lab.LabHost], lab_key: tuple[Path, str], releases: dict[str, Path], shared_dir: Path,
          docker_client: Any, tmp_path: Path) -> Iterator[Fleet]:
    """The shared hosts, held for this test alone, and a project directory that deploys to them."""
    with FileLock(str(shared_dir / "deploy-fleet-use.lock")):
        yield Fleet(tmp_path / "project", lab_hosts, lab_key[0], shared_dir / "deploy-known_hosts", releases,
                    docker_client)


@pytest.fixture
def project_dir(tmp_path: Path, releases: dict[str, Path]) -> Callable[..., Path]:
    """A project directory with a deploy section of your own (no containers): ``project_dir(deploy={...})``."""

    def make(deploy: dict[str, Any], version: str = VERSIONS[0], **top: Any) -> Path:
        root = lab.workspace(tmp_path / "project", REPO, deploy, **top)
        lab.use_release(root, releases[version])
        return root

    return make

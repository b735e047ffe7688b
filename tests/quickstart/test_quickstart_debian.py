"""The README's two quick-start lines, word for word, on a stock Debian 12 with Debian's own python3.

Debian's python3 is externally managed (PEP 668): `pip install` outside a virtual
environment stops with `externally-managed-environment`, so the quick start makes
a venv first. The container is a fresh debootstrap of bookworm with python3-venv
and git (the lab's stock image), Go mounted read-only from the host, and the
host's CA bundle for pip, as ENVIRONMENT notes need on this machine. The Go caches
of the host are lent to the container so the build does not compile the standard
library for three platforms again; everything Python comes from the package index.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from buildlib.bench import lab
from buildlib.template.files import repository_files
from tests.helpers.support import REPO, go_binary

pytestmark = [pytest.mark.docker, pytest.mark.slow]
CA = "/etc/ssl/certs/ca-certificates.crt"


def _quick_start_lines() -> list[str]:
    """The two command lines of the README's quick start, as a reader copies them."""
    text = (REPO / "README.md").read_text()
    section = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```sh\n(.*?)```", section, re.S)
    assert block, "the quick start has no ```sh block"
    lines = [line for line in block.group(1).splitlines() if line.strip()]
    assert len(lines) == 2, lines
    return lines


def _go_env(name: str) -> str:
    return subprocess.run([go_binary(), "env", name], capture_output=True, text=True, check=True).stdout.strip()


@pytest.fixture(scope="session")
def stock_image(once) -> str:
    return once("stock-debian-image", lambda: lab.stock_image(log=print))


def _run(image: str, src: Path, script: str, timeout: float) -> subprocess.CompletedProcess[str]:
    goroot = Path(go_binary()).resolve().parent.parent
    args = ["docker", "run", "--rm", "--label", "buildlib.test=1",
            "-v", f"{goroot}:/usr/local/go:ro", "-v", f"{CA}:{CA}:ro",
            "-v", f"{_go_env('GOMODCACHE')}:/root/go/pkg/mod", "-v", f"{_go_env('GOCACHE')}:/root/.cache/go-build",
            "-e", f"SSL_CERT_FILE={CA}", "-e", f"PIP_CERT={CA}",
            "-e", "PATH=/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "-v", f"{src}:/src", "-w", "/src", image, "bash", "-c", script]
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout)


def test_quick_start_on_stock_debian(stock_image: str, tmp_path: Path) -> None:
    first, second = _quick_start_lines()
    src = tmp_path / "ginsvc"
    for rel in repository_files(REPO):
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / rel, src / rel, follow_symlinks=False)
    # Debian's python3 refuses a plain pip install: the reason the quick start makes a venv.
    refused = _run(stock_image, src, "python3 -m pip install -e .", 300)
    assert refused.returncode != 0 and "externally-managed-environment" in refused.stdout + refused.stderr
    built = _run(stock_image, src, first, 1800)
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    assert re.search(r"total: \d+ built, \d+ up to date in", built.stdout), built.stdout[-2000:]
    assert (src / "bin/linux_amd64/server").is_file() and (src / "bin/darwin_arm64/server").is_file()
    # The second line installs the test tools the same way, and its sessions exist. It runs the whole
    # suite, which needs a Docker engine the container does not have; .ci/run runs that line itself.
    second_install, _, sessions = second.rpartition(" && ")
    assert sessions.startswith(".venv/bin/nox -s "), second
    listed = _run(stock_image, src, f"{second_install} && .venv/bin/nox --list", 1200)
    assert listed.returncode == 0, listed.stdout[-3000:] + listed.stderr[-3000:]
    for session in sessions.removeprefix(".venv/bin/nox -s ").split():
        assert re.search(rf"^[*-] {session} ", listed.stdout, re.M), listed.stdout
    lint = _run(stock_image, src, ".venv/bin/nox -s lint", 1200)
    assert lint.returncode == 0, lint.stdout[-3000:] + lint.stderr[-3000:]
    assert os.path.isdir(src / ".venv")

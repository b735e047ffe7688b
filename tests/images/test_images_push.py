"""`invoke image.push`: one tag per variant naming linux/amd64 and linux/arm64, in a real registry.

The variants of the released "stock" app go through a remote BuildKit daemon and the buildx client
(fixture `pushed`, tests/helpers/pushlab.py). Each platform is pulled back by the engine and its
binaries' ELF headers read; the amd64 image is run by `invoke image.smoke`.
"""

from __future__ import annotations

import hashlib
import json
import struct
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helpers import pushlab
from tests.helpers.images import copy_tree
from tests.helpers.support import run_invoke

pytestmark = [pytest.mark.docker, pytest.mark.slow]

INDEX = "application/vnd.oci.image.index.v1+json"
MANIFEST = "application/vnd.oci.image.manifest.v1+json"
# ELF e_machine of each architecture.
MACHINE = {"amd64": 62, "arm64": 183}


def _get(registry: str, path: str, accept: str) -> tuple[dict[str, Any], str]:
    req = urllib.request.Request(f"http://{registry}/v2/{path}", headers={"Accept": accept})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read()), resp.headers.get("Docker-Content-Digest", "")


def _elf_machine(data: bytes) -> int:
    assert data[:4] == b"\x7fELF", "not an ELF file"
    return struct.unpack_from("<H", data, 18)[0]


def _docker(*args: str) -> str:
    proc = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"docker {' '.join(args)}: {proc.stderr}"
    return proc.stdout.strip()


def _manifest_sha(app: Path, platform: str) -> str:
    manifest = json.loads((app / "bin" / "manifest.json").read_text())
    return manifest["targets"][f"stock:{platform}"]["sha256"]


@pytest.mark.parametrize("variant", ["distroless", "scratch"])
def test_each_tag_is_an_oci_index_naming_both_platforms(pushed: dict[str, Any], variant: str) -> None:
    index, digest = _get(pushed["registry"], f"stock/manifests/{variant}", INDEX)
    assert index["mediaType"] == INDEX
    platforms = sorted(f"{m['platform']['os']}/{m['platform']['architecture']}" for m in index["manifests"])
    assert platforms == ["linux/amd64", "linux/arm64"], index
    # REPO:VERSION-VARIANT names the same index, and the task printed its digest.
    _, versioned = _get(pushed["registry"], f"stock/manifests/{pushed['version']}-{variant}", INDEX)
    assert versioned == digest
    assert digest[:19] in pushed["push_out"]
    # Each image is dated at the commit, not at the build (SOURCE_DATE_EPOCH).
    for entry in index["manifests"]:
        manifest, _ = _get(pushed["registry"], f"stock/manifests/{entry['digest']}", MANIFEST)
        config, _ = _get(pushed["registry"], f"stock/blobs/{manifest['config']['digest']}", "*/*")
        assert config["architecture"] == entry["platform"]["architecture"]
        assert config["created"].startswith("2026-03-07T05:06:07"), config["created"]


def test_each_platform_pulls_back_with_its_own_binaries(pushed: dict[str, Any], tmp_path: Path) -> None:
    ref = f"{pushed['registry']}/stock:distroless"
    for arch in ("arm64", "amd64"):
        _docker("pull", "--quiet", "--platform", f"linux/{arch}", ref)
        assert _docker("image", "inspect", "--format", "{{.Os}}/{{.Architecture}}", ref) == f"linux/{arch}"
        box = _docker("create", "--platform", f"linux/{arch}", ref)
        try:
            for name in ("stock", "kit-probe"):
                out = tmp_path / f"{name}-{arch}"
                _docker("cp", f"{box}:/usr/local/bin/{name}", str(out))
                assert _elf_machine(out.read_bytes()) == MACHINE[arch], f"{name} in the {arch} image"
            # Prebuilt: the image holds exactly the binary `invoke build` made for that platform.
            got = hashlib.sha256((tmp_path / f"stock-{arch}").read_bytes()).hexdigest()
            assert got == _manifest_sha(Path(pushed["app"]), f"linux/{arch}")
        finally:
            _docker("rm", box)


def test_the_pulled_amd64_image_runs_and_turns_healthy(pushed: dict[str, Any]) -> None:
    ref = f"{pushed['registry']}/stock:scratch"
    _docker("pull", "--quiet", "--platform", "linux/amd64", ref)
    box = _docker("run", "-d", "--health-interval", "1s", ref)
    try:
        # Docker's health check runs the image's probe, which asks the service's own health route.
        deadline = time.monotonic() + 60
        status = ""
        while time.monotonic() < deadline and status != "healthy":
            status = _docker("inspect", "--format", "{{.State.Health.Status}}", box)
            assert status != "unhealthy", _docker("inspect", "--format", "{{json .State.Health.Log}}", box)
            time.sleep(0.5)
        assert status == "healthy"
    finally:
        _docker("rm", "-f", box)
    # The stock app binds 127.0.0.1 (it is made to sit behind nginx), so from outside the container
    # nothing answers; the smoke test says so rather than only timing out.
    proc = run_invoke("image.smoke", "--variant", "scratch", "--repository", f"{pushed['registry']}/stock",
                      cwd=Path(pushed["app"]), timeout=300)
    assert proc.returncode != 0
    assert "answers inside the container" in proc.stderr and "loopback address only" in proc.stderr, proc.stderr


def test_bases_went_to_the_registry_for_the_builder(pushed: dict[str, Any]) -> None:
    index, _ = _get(pushed["registry"], "bases/distroless-static/manifests/nonroot", INDEX)
    assert sorted(m["platform"]["architecture"] for m in index["manifests"]) == ["amd64", "arm64"]
    assert "images.bases.distroless: " + f"{pushed['registry']}/bases/distroless-static:nonroot" \
        in pushed["bases_out"]


def _copy(pushed: dict[str, Any], tmp_path: Path, edit: Any = None) -> Path:
    app = copy_tree(Path(pushed["app"]), tmp_path / "stock", with_outputs=True)
    if edit:
        raw = yaml.safe_load((app / "build.yaml").read_text())
        edit(raw)
        (app / "build.yaml").unlink()
        (app / "build.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    return app


def _refused(app: Path, env: dict[str, str], *args: str) -> str:
    proc = run_invoke("image.push", *args, cwd=app, env=env, timeout=300)
    assert proc.returncode != 0, proc.stdout
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.stderr + proc.stdout


def test_refusals_say_what_to_do(pushed: dict[str, Any], tmp_path: Path) -> None:
    env = pushlab.client_env(pushed)
    app = _copy(pushed, tmp_path)
    # The engine's own builder cannot hold two platforms under one tag.
    out = _refused(app, env, "--builder", "default", "--variant", "scratch")
    assert 'builder "default" uses the docker driver' in out and "docker buildx create" in out
    # A client without buildx (Debian's 20.10) cannot push several platforms at all.
    out = _refused(app, {"BUILDLIB_DOCKER": "/usr/bin/docker"}, "--variant", "scratch")
    assert "needs docker buildx" in out and "/usr/bin/docker" in out
    out = _refused(app, env, "--builder", "nosuch", "--variant", "scratch")
    assert "no buildx builder nosuch" in out
    out = _refused(app, env, "--repository", "stock", "--variant", "scratch")
    assert "--repository stock: expected a registry repository" in out
    out = _refused(app, env, "--platform", "", "--variant", "scratch")
    assert "selects nothing" in out
    out = _refused(app, env, "--platform", "linux/s390x,windows/amd64", "--variant", "scratch")
    assert "--platform windows/amd64: not a linux platform" in out


def test_refusals_from_build_yaml(pushed: dict[str, Any], tmp_path: Path) -> None:
    env = pushlab.client_env(pushed)

    def local_base(raw: dict[str, Any]) -> None:
        raw["images"]["bases"]["distroless"] = "local"

    out = _refused(_copy(pushed, tmp_path / "a", local_base), env, "--variant", "distroless", "--mode", "prebuilt")
    assert "images.bases.distroless" in out and "cannot read" in out and "build.yaml" in out

    def no_repository(raw: dict[str, Any]) -> None:
        raw["images"]["publish"]["repository"] = None

    out = _refused(_copy(pushed, tmp_path / "b", no_repository), env, "--variant", "scratch")
    assert "set images.publish.repository" in out

    # A platform build.yaml does not build the service for: named, with what to do.
    app = _copy(pushed, tmp_path / "c")
    out = _refused(app, env, "--platform", "linux/amd64,linux/riscv64", "--variant", "scratch", "--mode", "prebuilt")
    assert "builds stock for linux/amd64, linux/arm64, windows/amd64, not linux/riscv64" in out
    assert "add it to build.yaml's platforms, or build in the image (--mode in-docker)" in out

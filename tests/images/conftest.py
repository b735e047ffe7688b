"""Fixtures of the image tests: a copy of the repository, local base images, the variants built once.

Made once per test run and shared by the workers:
- the local base images (`invoke image.bases`; kept between runs, rebuilt when their recipe changes);
- a workspace: a copy of the repository with bin/linux_amd64/{server,healthcheck} made by
  `invoke build --only ...`, so tests never write into the working tree;
- the three variants built from it in prebuilt mode, tagged buildlib-test-<run>:<variant>.
The variants are reference-counted: the last worker to finish with them removes the tags,
and a worker that comes later builds them again.
Every image a test makes carries the labels below and a repository name with the run's token.
"""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from filelock import FileLock

from tests.helpers.images import VARIANTS, copy_tree, invoke_ok, remove_tags
from tests.helpers.support import REPO, shared


@pytest.fixture(scope="session")
def token(once: Callable[..., Any]) -> str:
    return once("images-token", lambda: secrets.token_hex(3))


@pytest.fixture(scope="session")
def labels(token: str) -> list[str]:
    """--label arguments every test image gets."""
    return ["--label", "buildlib.test=1", "--label", f"buildlib.test.run={token}"]


@pytest.fixture(scope="session")
def local_bases(once: Callable[..., Any], docker_client: Any) -> str:
    """`invoke image.bases` run once per test run (a no-op when the images are current)."""
    return once("images-bases", lambda: invoke_ok("image.bases", cwd=REPO))


@pytest.fixture(scope="session")
def workspace(once: Callable[..., Any], shared_dir: Path) -> Path:
    """A copy of the repository whose bin/ holds the linux/amd64 binaries `invoke build` made."""

    def make() -> str:
        dest = shared_dir / "images-ws" / REPO.name
        if dest.exists():
            shutil.rmtree(dest)
        copy_tree(REPO, dest)
        invoke_ok("build", "--only", "server:linux/amd64,healthcheck:linux/amd64", cwd=dest)
        return str(dest)

    return Path(once("images-workspace", make))


@pytest.fixture
def scratch_copy(workspace: Path, tmp_path: Path) -> Path:
    """A private copy of the workspace (binaries included) for a test that builds or breaks things."""
    return copy_tree(workspace, tmp_path / workspace.name, with_outputs=True)


@pytest.fixture(scope="session")
def variants(shared_dir: Path, workspace: Path, local_bases: str, token: str,
             labels: list[str]) -> Iterator[dict[str, dict[str, str]]]:
    """variant -> {"ref", "id"} of the three variants, built in prebuilt mode on the local bases."""
    repository = f"buildlib-test-{token}"
    state = shared_dir / "images-variants.json"
    lock = FileLock(str(shared_dir / "images-variants.lock"))
    with lock:
        data = json.loads(state.read_text()) if state.exists() else {"users": 0, "images": None}
        if data["images"] is None:
            invoke_ok("image.build", "--mode", "prebuilt", "--local-bases", "--repository", repository, *labels,
                      cwd=workspace)
            data["images"] = {}
            for v in VARIANTS:
                ref = f"{repository}:{v}"
                image_id = subprocess.run(["docker", "image", "inspect", "--format", "{{.Id}}", ref],
                                          capture_output=True, text=True, check=True).stdout.strip()
                data["images"][v] = {"ref": ref, "id": image_id}
        data["users"] += 1
        state.write_text(json.dumps(data))
    yield data["images"]
    with lock:
        data = json.loads(state.read_text())
        data["users"] -= 1
        if data["users"] == 0:
            remove_tags(repository)
            data["images"] = None
        state.write_text(json.dumps(data))


@pytest.fixture(scope="session")
def buildx_config(once: Callable[..., Any], shared_dir: Path) -> str:
    """A DOCKER_CONFIG whose cli-plugins/docker-buildx is buildx (built once per machine), as users' clients have."""

    def make() -> str:
        from buildlib import toolcache

        plugins = shared_dir / "buildx-config" / "cli-plugins"
        plugins.mkdir(parents=True, exist_ok=True)
        shutil.copy2(toolcache.ensure(toolcache.BUILDX), plugins / "docker-buildx")
        return str(plugins.parent)

    return once("buildx-config", make)


@pytest.fixture(scope="session")
def pushed(shared_dir: Path, released_app: dict[str, Any], docker_client: Any) -> Iterator[dict[str, Any]]:
    """A clone of the released "stock" app, its distroless and scratch variants pushed for linux/amd64
    and linux/arm64.

    Through a remote BuildKit daemon and the buildx client (pushlab), to a registry on 127.0.0.1; the
    base images go there first with `invoke image.bases --push`, since that builder cannot read the
    engine's images. The registry lives as long as a worker uses it, so the pushes belong to it.
    """
    from tests.helpers import pushlab

    def make() -> dict[str, Any]:
        root = shared_dir / "pushlab"
        lab = pushlab.start(root / "lab")
        try:
            return {**lab, **_push_app(lab, Path(released_app["root"]), root / "app")}
        except BaseException:
            pushlab.stop(lab)
            raise

    with shared(shared_dir, "pushlab", make, pushlab.stop) as lab:
        yield lab


def _push_app(lab: dict[str, Any], released: Path, dest: Path) -> dict[str, Any]:
    import yaml

    from tests.helpers import pushlab
    from tests.helpers.released import git

    if dest.exists():
        shutil.rmtree(dest)
    subprocess.run(["git", "clone", "-q", str(released), str(dest)], check=True)
    env = pushlab.client_env(lab)
    registry = lab["registry"]
    bases_out = invoke_ok("image.bases", "--push", f"{registry}/bases", "--builder", lab["builder"], "--insecure",
                          cwd=dest, env=env, timeout=1800)
    raw = yaml.safe_load((dest / "build.yaml").read_text())
    go = subprocess.run(["go", "env", "GOVERSION"], capture_output=True, text=True, check=True).stdout.strip()
    raw["images"] = {
        "bases": {"builder": f"{registry}/bases/go-builder:{go.removeprefix('go')}",
                  "distroless": f"{registry}/bases/distroless-static:nonroot",
                  "alpine": f"{registry}/bases/alpine-standin:busybox"},
        "publish": {"repository": f"{registry}/stock", "builder": lab["builder"], "insecure": True},
    }
    (dest / "build.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    git(dest, "commit", "-q", "-am", "images from the team registry", when="2026-03-07T05:06:07Z")
    # No `invoke build` first: prebuilt mode builds the binaries it packages when they are stale.
    push_out = invoke_ok("image.push", "--variant", "distroless,scratch", "--mode", "prebuilt", cwd=dest, env=env,
                         timeout=1800)
    version = json.loads((dest / "bin" / "manifest.json").read_text())["version"]
    return {"app": str(dest), "bases_out": bases_out, "push_out": push_out, "version": version}

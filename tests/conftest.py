"""Fixtures shared by every test area.

Tests run under pytest-xdist, where each worker has its own session. Shared
artefacts (binaries, base images, target containers) are made once per test
run through ``once()``: a file lock in the run's common temporary directory
decides which worker builds, the others wait and reuse the result.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from filelock import FileLock

from tests.helpers.support import MODULE_VERSION_PKG, REPO, STAMP, go_binary, module_path


def pytest_configure(config: pytest.Config) -> None:
    # Subprocesses (invoke, nox, go) must import this checkout's buildlib.
    os.environ["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p
    )


# Fixtures that reach the Docker engine (containers, images, builds). A test that uses one, directly or
# through another fixture, needs the engine and carries the `docker` marker: `pytest -m "not docker"`
# runs what needs none. Tests that call docker themselves are marked where they are written.
ENGINE_FIXTURES = frozenset({"docker_client", "local_bases", "lab_image", "lab_hosts", "variants", "pushed",
                             "buildx_config"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if ENGINE_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.docker)


@pytest.fixture(scope="session")
def repo() -> Path:
    """The repository under test."""
    return REPO


@pytest.fixture(scope="session")
def shared_dir(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Path:
    """A directory common to all xdist workers of this test run."""
    base = tmp_path_factory.getbasetemp()
    root = base if worker_id == "master" else base.parent
    path = root / "shared"
    path.mkdir(exist_ok=True)
    return path


@pytest.fixture(scope="session")
def once(shared_dir: Path) -> Callable[[str, Callable[[], Any]], Any]:
    """``once(name, make)``: run ``make()`` in one worker per test run; return its JSON result.

    ``make`` returns something JSON-serialisable (paths as strings, image ids).
    A failure is recorded too, so the other workers fail at once with the same
    message instead of retrying an expensive step.
    """

    def run(name: str, make: Callable[[], Any]) -> Any:
        marker = shared_dir / f"{name}.json"
        with FileLock(str(shared_dir / f"{name}.lock")):
            if marker.exists():
                record = json.loads(marker.read_text())
            else:
                try:
                    record = {"ok": True, "value": make()}
                except BaseException as exc:  # noqa: BLE001 - recorded, then re-raised
                    record = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
                    marker.write_text(json.dumps(record))
                    raise
                marker.write_text(json.dumps(record))
        if not record["ok"]:
            pytest.fail(f"shared step {name!r} failed in another worker: {record['error']}")
        return record["value"]

    return run


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A directory shaped like the repository, enough for build.yaml's file checks, with its build.yaml."""
    for pkg in ("cmd/server", "cmd/healthcheck", "internal/version"):
        (tmp_path / pkg).mkdir(parents=True)
    (tmp_path / "build.yaml").write_text((REPO / "build.yaml").read_text())
    return tmp_path


@pytest.fixture(scope="session")
def server_bin(once: Callable[..., Any], shared_dir: Path) -> Path:
    """cmd/server built once per run with the real Go toolchain, version stamped with -X."""

    def make() -> str:
        out = shared_dir / "server"
        pkg = f"{module_path()}/{MODULE_VERSION_PKG}"
        ldflags = "-s -w " + " ".join(f"-X {pkg}.{k}={v}" for k, v in STAMP.items())
        subprocess.run(
            [go_binary(), "build", "-trimpath", "-tags", "nomsgpack", "-ldflags", ldflags, "-o", str(out),
             "./cmd/server"],
            cwd=REPO, check=True, env={**os.environ, "CGO_ENABLED": "0"},
        )
        return str(out)

    return Path(once("server-bin", make))


@pytest.fixture(scope="session")
def healthcheck_bin(once: Callable[..., Any], shared_dir: Path) -> Path:
    """cmd/healthcheck built once per run."""

    def make() -> str:
        out = shared_dir / "healthcheck"
        subprocess.run(
            [go_binary(), "build", "-trimpath", "-o", str(out), "./cmd/healthcheck"],
            cwd=REPO, check=True, env={**os.environ, "CGO_ENABLED": "0"},
        )
        return str(out)

    return Path(once("healthcheck-bin", make))


@pytest.fixture(scope="session")
def docker_client() -> Iterator[Any]:
    """A client of the real Docker engine; fails loudly when none answers."""
    import docker

    try:
        client = docker.from_env(timeout=120)
        client.ping()
    except Exception as exc:  # noqa: BLE001 - any failure means the same to the user
        pytest.fail(
            f"no Docker engine answers ({exc}); start one (`dockerd &`, as .ci/run does) "
            "or set DOCKER_HOST"
        )
    yield client
    client.close()


@pytest.fixture(scope="session")
def released_app(once: Callable[..., Any], shared_dir: Path) -> dict[str, Any]:
    """A generated app released once per run with `invoke release` (tests/helpers/released.py)."""
    from tests.helpers import released

    return once("released-app", lambda: released.make(shared_dir / "released-app"))

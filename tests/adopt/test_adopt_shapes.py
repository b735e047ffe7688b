"""`invoke init --adopt` on Gin repositories of every shape, then build, images and a truthful health check.

Each test writes a repository the kit has never seen (ginapps.py), adopts the kit
into it with the one command, and then uses the kit *copied into that repository*
(PYTHONPATH points at it) as its team would: `invoke build`, every image variant
compiled in-docker, `image.check` on the budgets adopt wrote, and containers whose
Docker health status must match reality: healthy while the app's own health route
answers 200, unhealthy when the app is made to fail it.
"""

from __future__ import annotations

import json
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from buildlib import config, sections  # noqa: F401 - sections registers service:, images:
from buildlib import service as service_mod
from tests.helpers import ginapps
from tests.helpers.support import REPO, run_invoke

VARIANTS = ("alpine", "distroless", "scratch")
pytestmark = [pytest.mark.docker, pytest.mark.slow]


def _ok(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 0, (f"exit {proc.returncode}\nstdout:\n{proc.stdout[-4000:]}\n"
                                  f"stderr:\n{proc.stderr[-4000:]}")
    return proc.stdout


def _docker(*args: str, check: bool = True) -> str:
    proc = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=300)
    if check:
        assert proc.returncode == 0, f"docker {' '.join(args)}: {proc.stderr}"
    return proc.stdout.strip()


def _health(container: str) -> str:
    return _docker("inspect", "-f", "{{.State.Health.Status}}", container, check=False)


def _wait_health(container: str, want: str, timeout: float = 60) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        status = _health(container)
        if status == want:
            return time.monotonic() - start
        if status in ("healthy", "unhealthy") and status != want:
            logs = _docker("logs", "--tail", "20", container, check=False)
            pytest.fail(f"{container} turned {status}, expected {want}; logs:\n{logs}")
        time.sleep(0.5)
    pytest.fail(f"{container} did not turn {want} within {timeout:.0f}s (now {_health(container)!r}); logs:\n"
                + _docker("logs", "--tail", "20", container, check=False))


def _run(image: str, port: int, name: str, *env: str) -> int:
    args = ["run", "-d", "--name", name, "--label", "buildlib.test=1", "-p", f"127.0.0.1::{port}",
            "--health-interval", "1s", "--health-start-period", "1s", "--health-retries", "2"]
    for e in env:
        args += ["-e", e]
    _docker(*args, image)
    published = _docker("port", name, f"{port}/tcp").splitlines()[0]
    return int(published.rsplit(":", 1)[1])


def _get(port: int, path: str, method: str = "GET", body: bytes | None = None) -> tuple[int, bytes]:
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=body, method=method)
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _what_the_app_needs(app: ginapps.App, port: int) -> None:
    """A request that only works when the image carries what adopt detected."""
    if app.shape == "rootmain":  # tzdata for Asia/Shanghai, a writable logs/
        status, body = _get(port, "/now")
        assert status == 200 and body.endswith(b"+08:00"), body
    elif app.shape == "multi":  # config.yaml in the working directory, embedded assets
        assert _get(port, "/greeting") == (200, b"hello")
        status, body = _get(port, "/ui/static/shop.html")
        assert status == 200 and b"shop" in body
    elif app.shape == "cgo":  # a stub without cgo would answer 500 here
        assert _get(port, "/healthz") == (200, b"ok")
    elif app.shape == "monorepo":
        assert _get(port, "/api/items") == (200, b'["a","b"]')
    elif app.shape == "nohealth":
        assert _get(port, "/echo", "POST", b"ping") == (200, b"ping")


@pytest.mark.parametrize("shape", ginapps.SHAPES)
def test_adopt_build_images_and_true_health(shape: str, tmp_path: Path, once, local_bases: str) -> None:
    app = ginapps.make(shape, tmp_path / shape)
    dest = app.module_root
    out = _ok(run_invoke("init", "--adopt", "--dest", str(dest), cwd=REPO, timeout=1800))
    assert f"adopted {dest}: module {app.module}, service {app.name}" in out
    for rel in ("tasks.py", "noxfile.py", "pyproject.toml", ".dockerignore", "docker/Dockerfile",
                "buildlib/__init__.py", "deploy/service.j2", ".buildkit.json"):
        assert (dest / rel).is_file(), rel
    # What adopt read from the code, as build.yaml now says it.
    project = config.load(dest / "build.yaml")
    svc = service_mod.load(project)
    assert (svc.binary, svc.port, svc.health) == (app.service, app.port, app.health), out
    assert list(svc.files) == app.files and list(svc.writable) == app.writable and svc.tzdata is app.tzdata, out
    assert project.profile("release").cgo is app.cgo
    assert project.project.name == app.name
    for tool in app.tools:
        assert project.binaries[tool].platforms == ("linux/amd64",), tool
        assert f"tool     {tool} " in out
    if app.cgo:
        assert "needs cgo, so the release profile builds with cgo: true" in out

    # From here on the repository's own copy of the kit does the work.
    env = {"PYTHONPATH": str(dest)}
    repo_name = f"buildlib-test-adopt-{shape}-{tmp_path.name[-6:].lower().replace('_', '')}"
    names: list[str] = []
    try:
        _ok(run_invoke("build", "--only", f"{app.service}:linux/amd64", cwd=dest, env=env, timeout=1800))
        assert (dest / "bin/linux_amd64" / app.service).is_file()
        _ok(run_invoke("image.build", "--local-bases", "--offline", "--repository", repo_name, "--label",
                       "buildlib.test=1", cwd=dest, env=env, timeout=1800))
        report = json.loads(_ok(run_invoke("image.check", "--json", "--repository", repo_name, cwd=dest, env=env)))
        assert report["ok"] is True, report["problems"]
        for variant in VARIANTS:
            image = f"{repo_name}:{variant}"
            cfg = json.loads(_docker("image", "inspect", "--format", "{{json .Config}}", image))
            assert cfg["Entrypoint"] == [f"/usr/local/bin/{app.service}"]
            assert cfg["Healthcheck"]["Test"] == ["CMD", "/usr/local/bin/kit-probe"]
            assert cfg["WorkingDir"] == "/app" and f"{app.port}/tcp" in cfg["ExposedPorts"]
            name = f"{repo_name}-{variant}"
            names.append(name)
            port = _run(image, app.port, name)
            _wait_health(name, "healthy")
            if app.health:
                assert _get(port, app.health)[0] == 200
            _what_the_app_needs(app, port)
        # Made to fail its own health route (or, without one, never to listen): Docker must say unhealthy.
        broken = f"{repo_name}-broken"
        names.append(broken)
        _run(f"{repo_name}:scratch", app.port, broken, "FAIL_HEALTH=1")
        _wait_health(broken, "unhealthy")
        log = json.loads(_docker("inspect", "-f", "{{json .State.Health.Log}}", broken))
        assert log and log[-1]["ExitCode"] == 1 and "unhealthy:" in log[-1]["Output"], log
        smoke = _ok(run_invoke("image.smoke", "--variant", "scratch", "--repository", repo_name,
                               "--shutdown-timeout", "8", cwd=dest, env=env))
        assert f"{repo_name}:scratch" in smoke
    finally:
        for name in names:
            _docker("rm", "-f", name, check=False)
        tags = _docker("images", "--format", "{{.Repository}}:{{.Tag}}", repo_name, check=False).split()
        if tags:
            _docker("rmi", "-f", *tags, check=False)


@pytest.mark.parametrize(("shape", "variable"), [("ownport", "HTTP_PORT"), ("metered", "PORT")])
def test_adopt_reads_the_default_the_code_gives_its_port_variable(shape: str, variable: str, tmp_path: Path) -> None:
    """`port := os.Getenv("HTTP_PORT")` then `if port == "" { port = "9090" }`: the port is 9090, not a guess."""
    app = ginapps.make(shape, tmp_path / shape)
    out = _ok(run_invoke("init", "--adopt", "--dest", str(app.module_root), cwd=REPO, timeout=1800))
    svc = service_mod.load(config.load(app.module_root / "build.yaml"))
    assert (svc.port, svc.port_env) == (app.port, variable), out
    text = (app.module_root / "build.yaml").read_text()
    line = next(ln for ln in text.splitlines() if ln.strip().startswith("port:"))
    assert f"port: {app.port}  # seen at main.go:" in line and f"the default when ${variable} is unset" in line, line

"""The Gin service as a real process: built with the real Go toolchain, started on 127.0.0.1."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers.support import STAMP, free_port, wait_for


@dataclass
class Server:
    proc: subprocess.Popen[str]
    base: str

    def get(self, path: str, timeout: float = 5) -> tuple[int, str, dict[str, str]]:
        try:
            with urllib.request.urlopen(self.base + path, timeout=timeout) as resp:
                return resp.status, resp.read().decode(), dict(resp.headers)
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode(), dict(exc.headers)


def start(binary: Path, **env: str) -> Server:
    port = free_port()
    proc = subprocess.Popen(
        [str(binary)],
        env={"PATH": os.environ["PATH"], "PORT": str(port), "LISTEN_ADDR": "127.0.0.1", **env},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    server = Server(proc, f"http://127.0.0.1:{port}")

    def healthy() -> bool:
        if proc.poll() is not None:
            pytest.fail(f"server exited with {proc.returncode}: {proc.stderr.read() if proc.stderr else ''}")
        try:
            return server.get("/healthz", timeout=1)[0] == 200
        except OSError:
            return False

    wait_for(healthy, 15, "the server's /healthz")
    return server


@pytest.fixture
def server(server_bin: Path) -> Iterator[Server]:
    srv = start(server_bin, SHUTDOWN_TIMEOUT="5s", DRAIN_DELAY="1s", DB_PASSWORD="hunter2-secret")
    yield srv
    if srv.proc.poll() is None:
        srv.proc.kill()
    srv.proc.wait(timeout=10)


def test_healthz_and_readyz(server: Server) -> None:
    status, body, _ = server.get("/healthz")
    assert (status, json.loads(body)) == (200, {"status": "ok"})
    status, body, _ = server.get("/readyz")
    assert (status, json.loads(body)["status"]) == (200, "ready")


def test_version_is_stamped_at_link_time(server: Server) -> None:
    status, body, _ = server.get("/version")
    info = json.loads(body)
    assert status == 200
    assert info["version"] == STAMP["Version"]
    assert info["commit"] == STAMP["Commit"]
    assert info["date"] == STAMP["Date"]
    assert info["go_version"].startswith("go1.")


def test_metrics_count_requests_by_route(server: Server) -> None:
    for _ in range(3):
        assert server.get("/api/v1/ping")[0] == 200
    status, body, headers = server.get("/metrics")
    assert status == 200
    assert headers["Content-Type"].startswith("text/plain")
    counted = [
        line for line in body.splitlines()
        if line.startswith("http_requests_total{") and 'route="/api/v1/ping"' in line and 'status="200"' in line
    ]
    assert counted and float(counted[0].rsplit(" ", 1)[1]) == 3, body[:2000]
    assert "http_request_duration_seconds_bucket{" in body


def test_embedded_page_and_static_files(server: Server) -> None:
    status, body, headers = server.get("/")
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert "<html" in body.lower() and "/static/style.css" in body
    status, css, headers = server.get("/static/style.css")
    assert status == 200 and headers["Content-Type"].startswith("text/css") and len(css) > 20


def test_ping_json(server: Server) -> None:
    status, body, _ = server.get("/api/v1/ping")
    assert status == 200 and json.loads(body)["message"] == "pong"


def test_secret_never_logged(server: Server) -> None:
    server.get("/api/v1/ping")
    server.proc.send_signal(signal.SIGTERM)
    out, err = server.proc.communicate(timeout=15)
    assert "hunter2-secret" not in out + err
    first = json.loads(out.splitlines()[0])  # structured JSON logs on stdout
    assert {"time", "level", "msg"} <= set(first)


def test_sigterm_drains_an_in_flight_request(server: Server) -> None:
    result: dict[str, object] = {}

    def slow() -> None:
        started = time.monotonic()
        result["status"], result["body"], _ = server.get("/api/v1/ping?delay_ms=1500", timeout=10)
        result["took"] = time.monotonic() - started

    worker = threading.Thread(target=slow)
    worker.start()
    time.sleep(0.3)  # the request is now inside the handler
    server.proc.send_signal(signal.SIGTERM)

    # DRAIN_DELAY=1s: the listener still accepts for a second, answering
    # /readyz with 503, and then refuses; never "ready" again.
    time.sleep(0.1)
    readiness = []
    deadline = time.monotonic() + 1.5
    while time.monotonic() < deadline:
        try:
            readiness.append(server.get("/readyz", timeout=0.5)[0])
        except OSError:
            readiness.append("refused")
        time.sleep(0.05)
    worker.join(timeout=10)
    code = server.proc.wait(timeout=10)

    assert result.get("status") == 200, result
    assert json.loads(str(result["body"]))["message"] == "pong"
    assert float(result["took"]) >= 1.4  # type: ignore[arg-type]
    assert 200 not in readiness, readiness
    assert readiness[0] == 503 and readiness[-1] == "refused", readiness
    assert code == 0


def test_sigint_also_exits_zero(server: Server) -> None:
    server.proc.send_signal(signal.SIGINT)
    assert server.proc.wait(timeout=10) == 0


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"PORT": "abc"}, 'PORT="abc": must be an integer between 1 and 65535'),
        ({"PORT": "0"}, 'PORT="0": must be an integer between 1 and 65535'),
        ({"PORT": "70000"}, 'PORT="70000": must be an integer between 1 and 65535'),
        ({"LOG_LEVEL": "verbose"}, 'LOG_LEVEL="verbose": must be one of debug, info, warn, error'),
        ({"GIN_MODE": "prod"}, 'GIN_MODE="prod": must be one of release, debug, test'),
        ({"ENABLE_CACHE": "maybe"}, 'ENABLE_CACHE="maybe"'),
        ({"API_TIMEOUT_MS": "abc"}, 'API_TIMEOUT_MS="abc"'),
        ({"API_TIMEOUT_MS": "-5"}, 'API_TIMEOUT_MS="-5"'),
        ({"SHUTDOWN_TIMEOUT": "soon"}, 'SHUTDOWN_TIMEOUT="soon"'),
        ({"DRAIN_DELAY": "10m"}, 'DRAIN_DELAY="10m": must be a duration between 0s and 1m0s'),
        ({"LISTEN_ADDR": "not an ip"}, 'LISTEN_ADDR="not an ip"'),
        ({"CONFIG_FILE": "/nonexistent/config.yaml"}, 'CONFIG_FILE "/nonexistent/config.yaml"'),
    ],
    ids=lambda v: "-".join(f"{k}={x}" for k, x in v.items()) if isinstance(v, dict) else None,
)
def test_bad_environment_exits_2_naming_the_variable(server_bin: Path, env: dict[str, str], message: str) -> None:
    result = subprocess.run(
        [str(server_bin)], env={"PATH": os.environ["PATH"], "PORT": str(free_port()), **env},
        capture_output=True, text=True, timeout=10,
    )
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert message in result.stderr
    assert "config error" in result.stderr


def test_unreadable_config_file_exits_2(server_bin: Path, tmp_path: Path) -> None:
    cfg = tmp_path / "config.yaml"
    cfg.write_text("port: 8080\n")
    cfg.chmod(0)
    if os.geteuid() == 0:
        cfg.chmod(0o644)
        cfg.write_text("port: [not, a, port]\n")  # root reads anything: use a malformed file instead
    result = subprocess.run([str(server_bin)], env={"PATH": os.environ["PATH"], "CONFIG_FILE": str(cfg)},
                            capture_output=True, text=True, timeout=10)
    assert result.returncode == 2
    assert f'CONFIG_FILE "{cfg}"' in result.stderr


def test_config_file_values_are_overridden_by_environment(server_bin: Path, tmp_path: Path) -> None:
    cfg = tmp_path / "config.yaml"
    cfg.write_text("service_name: from-file\nlog_level: debug\n")
    srv = start(server_bin, CONFIG_FILE=str(cfg), SERVICE_NAME="from-env")
    try:
        status, body, _ = srv.get("/")
        assert status == 200 and "from-env" in body and "from-file" not in body
    finally:
        srv.proc.kill()
        srv.proc.wait()


def test_healthcheck_binary(server: Server, healthcheck_bin: Path) -> None:
    port = server.base.rsplit(":", 1)[1]
    ok = subprocess.run([str(healthcheck_bin)], env={"PORT": port}, capture_output=True, timeout=10)
    assert ok.returncode == 0, ok.stderr
    down = subprocess.run([str(healthcheck_bin)], env={"PORT": str(free_port())},
                          capture_output=True, text=True, timeout=10)
    assert down.returncode == 1 and down.stderr.strip()


def test_server_binary_is_its_own_healthcheck(server: Server, server_bin: Path) -> None:
    port = server.base.rsplit(":", 1)[1]
    ok = subprocess.run([str(server_bin), "-healthcheck"], env={"PORT": port}, capture_output=True, timeout=10)
    assert ok.returncode == 0, ok.stderr
    closed = free_port()
    down = subprocess.run([str(server_bin), "-healthcheck"], env={"PORT": str(closed)},
                          capture_output=True, text=True, timeout=10)
    assert down.returncode == 1
    assert f"healthcheck: GET http://127.0.0.1:{closed}/healthz" in down.stderr


def test_docker_engine_is_reachable(docker_client) -> None:  # type: ignore[no-untyped-def]
    version = docker_client.version()
    assert int(version["ApiVersion"].split(".")[1]) >= 41
    assert docker_client.info()["ServerVersion"]

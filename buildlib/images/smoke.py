"""Run a container of an image and check what a user relies on.

The port is published on 127.0.0.1 only, at a port the engine picks. The
HEALTHCHECK interval is shortened at `docker run` (the image keeps its own),
so "healthy" comes within seconds. Then SIGTERM must stop the service with
exit status 0 within its shutdown timeout, as an orchestrator expects.
"""

from __future__ import annotations

import signal
import socket
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from .. import waiting
from ..errors import CheckFailed
from .engine import sdk

SMOKE_LABEL = "org.buildlib.smoke"


@dataclass
class SmokeResult:
    image: str
    port: int
    ready_s: float
    healthy_s: float
    stop_s: float
    exit_code: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _wait(predicate: Callable[[], bool], timeout: float, what: str, logs: Callable[[], str]) -> float:
    start = time.monotonic()
    if waiting.until(predicate, timeout, 0.1):
        return time.monotonic() - start
    raise CheckFailed(f"{what} did not happen within {timeout:.0f}s; the container's last log lines:\n{logs()}")


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return resp.status == 200
    except (urllib.error.URLError, OSError):
        return False


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            return True
    except OSError:
        return False


def run(image: str, container_port: int = 8080, health: str | None = "/healthz", shutdown_timeout: float = 10.0,
        labels: dict[str, str] | None = None, name: str | None = None, ready_timeout: float = 30.0) -> SmokeResult:
    """Start ``image``, check its health path (build.yaml's service.health), Docker's health status and a clean
    SIGTERM stop; always removes the container. ``health=None``: the port accepting connections is the check."""
    client = sdk()
    container = client.containers.run(
        image, detach=True, name=name or f"smoke-{uuid.uuid4().hex[:10]}",
        labels={SMOKE_LABEL: "1", **(labels or {})},
        ports={f"{container_port}/tcp": ("127.0.0.1", None)},
        healthcheck={"interval": 1_000_000_000, "start_period": 1_000_000_000},
        environment={"SHUTDOWN_TIMEOUT": f"{shutdown_timeout:.0f}s"},
    )

    def logs() -> str:
        text = container.logs(tail=20).decode(errors="replace").rstrip()
        return text or "(no output)"

    try:
        container.reload()
        binding = (container.attrs["NetworkSettings"]["Ports"] or {}).get(f"{container_port}/tcp") or []
        if not binding:
            raise CheckFailed(f"{image}: port {container_port} was not published; the container is "
                              f"{container.status}:\n{logs()}")
        port = int(binding[0]["HostPort"])

        def healthy() -> bool:
            container.reload()
            status = container.attrs["State"].get("Health", {}).get("Status")
            if status == "unhealthy":
                raise CheckFailed(f"{image}: Docker reports the container unhealthy: "
                                  f"{container.attrs['State']['Health'].get('Log', [])[-1:]}")
            return status == "healthy"

        try:
            if health:
                url = f"http://127.0.0.1:{port}{health}"
                ready = _wait(lambda: _http_ok(url), ready_timeout, f"GET {url} answering 200", logs)
            else:
                ready = _wait(lambda: _accepts(port), ready_timeout, f"127.0.0.1:{port} accepting connections",
                              logs)
        except CheckFailed as exc:
            container.reload()
            if container.attrs["State"].get("Health", {}).get("Status") == "healthy":
                # The probe inside reached it: the service listens where only the container itself can.
                raise CheckFailed(
                    f"{image}: the service answers inside the container (its health probe got 200 from "
                    f"127.0.0.1:{container_port}) but not on the published port: it listens on the loopback "
                    "address only, which nothing outside the container reaches. Listen on all interfaces in "
                    f'the image (e.g. ":{container_port}" rather than "127.0.0.1:{container_port}", made '
                    "configurable by an address variable if the deploy wants loopback)") from exc
            raise

        healthy_s = _wait(healthy, ready_timeout, "Docker's health status turning healthy", logs)
        start = time.monotonic()
        container.kill(signal=signal.SIGTERM.name)
        try:
            code = container.wait(timeout=shutdown_timeout + 1)["StatusCode"]
        except Exception as exc:  # noqa: BLE001 - the SDK raises a transport error on timeout
            raise CheckFailed(f"{image}: still running {shutdown_timeout:.0f}s after SIGTERM "
                              f"(the shutdown timeout):\n{logs()}") from exc
        stop_s = time.monotonic() - start
        if code != 0:
            raise CheckFailed(f"{image}: SIGTERM ended the container with exit status {code}, not 0:\n{logs()}")
        return SmokeResult(image, port, round(ready, 2), round(healthy_s, 2), round(stop_s, 2), code)
    finally:
        container.remove(force=True)

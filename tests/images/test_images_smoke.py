"""Each variant runs: /healthz on 127.0.0.1, Docker's health turns healthy, SIGTERM exits 0 in time."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from buildlib.images import engine, smoke
from tests.helpers.images import VARIANTS, invoke_ok


@pytest.mark.parametrize("variant", VARIANTS)
def test_variant_serves_turns_healthy_and_stops_on_sigterm(variant: str, variants: dict, token: str) -> None:
    result = smoke.run(variants[variant]["ref"], shutdown_timeout=5,
                       labels={"buildlib.test": "1", "buildlib.test.run": token},
                       name=f"buildlib-test-{token}-smoke-{variant}")
    assert result.exit_code == 0
    assert result.stop_s < 5
    assert result.ready_s < 30 and result.healthy_s < 30


def test_smoke_task_prints_the_table(workspace: Path, variants: dict, token: str) -> None:
    # DOCKER_HOST named explicitly: the CLI and the SDK both follow it (as they would to ssh:// or tcp://).
    out = invoke_ok("image.smoke", "--variant", "scratch", "--repository", f"buildlib-test-{token}",
                    "--shutdown-timeout", "5", cwd=workspace, env={"DOCKER_HOST": engine.where()})
    assert re.search(r"^scratch\s+buildlib-test-\w+:scratch\s+127\.0\.0\.1:\d+\s+[\d.]+s\s+[\d.]+s\s+[\d.]+s\s+0$",
                     out, re.M), out


def test_image_config_is_what_an_orchestrator_needs(variants: dict, docker_client) -> None:
    for variant, image in variants.items():
        cfg = docker_client.images.get(image["ref"]).attrs["Config"]
        assert cfg["User"] == "65532:65532", variant
        assert cfg["Entrypoint"] == ["/usr/local/bin/server"], variant  # exec form: PID 1 gets SIGTERM
        # The kit's probe asks service.health itself: the service needs no flag of the kit's.
        assert cfg["Healthcheck"]["Test"] == ["CMD", "/usr/local/bin/kit-probe"], variant
        assert {"KIT_PROBE_PORT=8080", "KIT_PROBE_PATH=/healthz"} <= set(cfg["Env"]), variant
        assert cfg["WorkingDir"] == "/app", variant
        assert "8080/tcp" in cfg["ExposedPorts"], variant
        oci = {k.removeprefix("org.opencontainers.image."): v for k, v in cfg["Labels"].items()
               if k.startswith("org.opencontainers.image.")}
        assert {"version", "revision", "created", "title"} <= set(oci), variant
        assert oci["title"] == "ginsvc"

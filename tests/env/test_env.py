"""Environment profiles: build.yaml's dev/test/prod values, `invoke env`, and the real service accepting them."""

from __future__ import annotations

import json
import os
import subprocess
import urllib.request
from pathlib import Path

import pytest

from buildlib import ConfigError, SelectionError, config, environments
from tests.helpers.support import REPO, free_port, run_invoke, wait_for

TEMPLATE = (REPO / "build.yaml").read_text()


def edit(tree: Path, old: str, new: str) -> tuple[Path, int]:
    """Replace the first ``old`` after ``environments:``; return the file and the line of the change."""
    start = TEMPLATE.index("\nenvironments:")
    at = TEMPLATE.index(old, start)
    path = tree / "build.yaml"
    path.write_text(TEMPLATE[:at] + new + TEMPLATE[at + len(old):])
    return path, TEMPLATE[:at].count("\n") + 1


def test_the_guide_table_is_in_the_template() -> None:
    project = config.load(REPO / "build.yaml")
    assert environments.names(project) == ("dev", "test", "prod")
    assert environments.values(project, "dev") == {
        "LOG_LEVEL": "debug", "ENABLE_CACHE": "false", "API_TIMEOUT_MS": "5000", "GIN_MODE": "debug"}
    assert environments.values(project, "test") == {
        "LOG_LEVEL": "info", "ENABLE_CACHE": "true", "API_TIMEOUT_MS": "3000", "GIN_MODE": "release"}
    assert environments.values(project, "prod") == {
        "LOG_LEVEL": "error", "ENABLE_CACHE": "true", "API_TIMEOUT_MS": "2000", "GIN_MODE": "release"}
    assert environments.build_profile(project, "dev").name == "dev"
    assert environments.build_profile(project, "dev").gcflags == "all=-N -l"
    assert environments.build_profile(project, "prod").name == "release"
    assert environments.build_profile(project, "prod").strip is True


def test_upper_case_log_level_is_emitted_lower_case(tree: Path) -> None:
    path, _ = edit(tree, "LOG_LEVEL: error", "LOG_LEVEL: ERROR")
    assert environments.values(config.load(path), "prod")["LOG_LEVEL"] == "error"


@pytest.mark.parametrize(
    ("old", "new", "key", "message"),
    [
        pytest.param("LOG_LEVEL: error", "LOG_LEVEL: loud", "environments.prod.LOG_LEVEL",
                     '"loud": not a log level; allowed: debug, info, warn, error (any case)', id="log-level"),
        pytest.param("ENABLE_CACHE: true", "ENABLE_CACHE: \"yes\"", "environments.test.ENABLE_CACHE",
                     'expected a boolean (true or false), got string "yes"', id="cache-not-bool"),
        pytest.param("API_TIMEOUT_MS: 2000", "API_TIMEOUT_MS: 0", "environments.prod.API_TIMEOUT_MS",
                     "0 is out of range; allowed: an integer >= 1 and <= 3600000", id="timeout-zero"),
        pytest.param("    LOG_LEVEL: debug", "    LOG_LEVL: debug", "environments.dev.LOG_LEVL",
                     'unknown key (did you mean "LOG_LEVEL"?)', id="typo"),
        pytest.param("  prod:", "  Prod:", "environments.Prod",
                     '"Prod" is not a lower-case name such as dev or prod', id="name"),
    ],
)
def test_a_wrong_value_names_its_line(tree: Path, old: str, new: str, key: str, message: str) -> None:
    path, line = edit(tree, old, new)
    with pytest.raises(ConfigError) as caught:
        config.load(path)
    assert caught.value.key == key
    assert caught.value.line == line
    assert message in caught.value.problem


def test_an_unknown_build_profile_names_its_line(tree: Path) -> None:
    path, line = edit(tree, "    profile: release      # the optimised", "    profile: fast      # the optimised")
    project = config.load(path)
    with pytest.raises(ConfigError, match=r'build\.yaml:\d+: environments\.test\.profile: "fast" is not a profile '
                                          r"in this file; defined profiles: dev, release") as caught:
        environments.get(project, "test")
    assert caught.value.line == line


def test_typed_values_are_not_repeated_in_env(tree: Path) -> None:
    path, _ = edit(tree, "      GIN_MODE: release\n  prod:",
                   "      GIN_MODE: release\n      LOG_LEVEL: warn\n  prod:")
    with pytest.raises(ConfigError, match=r"environments\.test\.env\.LOG_LEVEL: set LOG_LEVEL directly under "
                                          r"environments\.test instead"):
        environments.values(config.load(path), "test")


def test_unknown_environment_lists_the_known_ones() -> None:
    project = config.load(REPO / "build.yaml")
    with pytest.raises(SelectionError, match=r'unknown environment "stage"; known environments: dev, test, prod'):
        environments.get(project, "stage")


def test_without_the_section_the_guide_table_applies(tree: Path) -> None:
    text = TEMPLATE[: TEMPLATE.index("\n# Environment profiles")] + "\n"
    text = text.replace("  dev:                  # debug info kept", "  debug:                # debug info kept")
    (tree / "build.yaml").write_text(text)
    project = config.load(tree / "build.yaml")
    assert environments.values(project, "prod") == {
        "LOG_LEVEL": "error", "ENABLE_CACHE": "true", "API_TIMEOUT_MS": "2000", "GIN_MODE": "release"}
    # No "dev" build profile here: the built-in table falls back to the default one.
    assert environments.build_profile(project, "dev").name == "release"


def test_invoke_env_prints_env_file_and_json() -> None:
    result = run_invoke("env", "--profile", "prod")
    assert result.returncode == 0, result.stderr
    assert result.stdout == (
        "# environment prod; binaries built with profile release\n"
        "LOG_LEVEL=error\nENABLE_CACHE=true\nAPI_TIMEOUT_MS=2000\nGIN_MODE=release\n"
    )
    result = run_invoke("env", "--profile", "test", "--format", "json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "environment": "test", "profile": "release",
        "values": {"LOG_LEVEL": "info", "ENABLE_CACHE": "true", "API_TIMEOUT_MS": "3000", "GIN_MODE": "release"},
    }


def test_invoke_env_without_profile_prints_the_table() -> None:
    result = run_invoke("env")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["dev", "test", "prod"]
    assert lines[1].split() == ["build", "profile", "dev", "release", "release"]
    assert lines[2].split() == ["LOG_LEVEL", "debug", "info", "error"]
    assert lines[3].split() == ["ENABLE_CACHE", "false", "true", "true"]
    assert lines[4].split() == ["API_TIMEOUT_MS", "5000", "3000", "2000"]


def test_invoke_env_unknown_profile_and_format() -> None:
    result = run_invoke("env", "--profile", "stage")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        'error: unknown environment "stage"; known environments: dev, test, prod '
        "(defined under environments: in build.yaml)"
    )
    result = run_invoke("env", "--profile", "prod", "--format", "yaml")
    assert result.returncode == 2
    assert result.stderr.strip() == 'error: unknown format "yaml"; allowed: env, json'


@pytest.mark.parametrize("name", ["dev", "test", "prod"])
def test_the_service_runs_with_each_environment(server_bin: Path, name: str) -> None:
    """The real server accepts every value set as printed (lower-case LOG_LEVEL, true/false, ms)."""
    values = environments.values(config.load(REPO / "build.yaml"), name)
    port = free_port()
    env = {**os.environ, **values, "PORT": str(port), "LISTEN_ADDR": "127.0.0.1"}
    proc = subprocess.Popen([str(server_bin)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        def healthy() -> bool:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as r:
                    return r.status == 200
            except OSError:
                assert proc.poll() is None, f"server exited {proc.returncode}: {proc.stdout.read()}"  # type: ignore[union-attr]
                return False

        wait_for(healthy, 20, f"the server with environment {name}")
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=20)
    assert proc.returncode == 0, out
    if values["LOG_LEVEL"] in ("debug", "info"):
        started = next(json.loads(line) for line in out.splitlines() if '"server started"' in line)
        assert started["config"]["log_level"] == values["LOG_LEVEL"]
        assert started["config"]["enable_cache"] is (values["ENABLE_CACHE"] == "true")
        assert started["config"]["api_timeout_ms"] == int(values["API_TIMEOUT_MS"])
        assert started["config"]["gin_mode"] == values["GIN_MODE"]
    else:
        assert '"level":"INFO"' not in out, "LOG_LEVEL=error should silence info lines"

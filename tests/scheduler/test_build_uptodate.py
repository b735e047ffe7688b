"""Up-to-date decisions: what --explain says after an edit, and a no-op that never starts go."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

from tests.helpers.builds import manifest
from tests.helpers.support import go_binary, run_invoke


def _why(stdout: str) -> dict[str, str]:
    """--explain's lines: target -> "rebuilt: ..." / "skipped: ..."."""
    return dict(re.findall(r"^  (\S+:\S+)\s+((?:rebuilt|skipped|failed|not built): .*)$", stdout, re.M))


def test_explain_names_the_changed_file_and_skips_the_rest(built_copy: Path) -> None:
    main = built_copy / "cmd" / "healthcheck" / "main.go"
    main.write_text(main.read_text() + "\n// a comment changes the content, so the key\n")
    done = run_invoke("build", "--explain", cwd=built_copy, env={"CI": "1"})
    assert done.returncode == 0, done.stdout + done.stderr
    why = _why(done.stdout)
    assert len(why) == 6, done.stdout
    for target, reason in why.items():
        if target.startswith("healthcheck:"):
            assert reason == "rebuilt: changed: cmd/healthcheck/main.go", (target, reason)
        else:
            assert reason.startswith("skipped: up to date"), (target, reason)
    statuses = {t: e["status"] for t, e in manifest(built_copy)["targets"].items()}
    assert statuses == {t: "built" if t.startswith("healthcheck:") else "skipped" for t in statuses}

    # Touched, not changed: the content key is the same, nothing is rebuilt.
    os.utime(main)
    done = run_invoke("build", "--explain", cwd=built_copy, env={"CI": "1"})
    assert set(_why(done.stdout).values()) == {"skipped: up to date"}, done.stdout

    # A new file in the package joins the build; one left out by its build constraint does not.
    (built_copy / "cmd" / "healthcheck" / "extra_windows.go").write_text("package main\n\nconst onWindows = 1\n")
    done = run_invoke("build", "--explain", cwd=built_copy, env={"CI": "1"})
    assert set(_why(done.stdout).values()) == {"skipped: up to date (listed again: same inputs)",
                                               "skipped: up to date"}, done.stdout
    assert {t for t, r in _why(done.stdout).items() if "listed again" in r} == {
        t for t in statuses if t.startswith("healthcheck:")}
    (built_copy / "cmd" / "healthcheck" / "extra.go").write_text("package main\n\nconst extra = 1\n")
    done = run_invoke("build", "--explain", cwd=built_copy, env={"CI": "1"})
    why = _why(done.stdout)
    for target, reason in why.items():
        expected = "rebuilt: new file: cmd/healthcheck/extra.go" if target.startswith("healthcheck:") else "skipped"
        assert reason.startswith(expected), (target, reason)


def test_no_op_build_does_not_start_go(built_copy: Path, tmp_path: Path) -> None:
    # A logging shim in front of the real go: it only records that go was started.
    shim_dir = tmp_path / "shim"
    shim_dir.mkdir()
    log = tmp_path / "go-calls.log"
    shim = shim_dir / "go"
    shim.write_text(f'#!/bin/sh\necho "$*" >> {log}\nexec {go_binary()} "$@"\n')
    shim.chmod(shim.stat().st_mode | stat.S_IXUSR)
    env = {"CI": "1", "PATH": f"{shim_dir}{os.pathsep}{os.environ['PATH']}"}
    first = run_invoke("build", cwd=built_copy, env=env)  # another go binary: `go env` is asked once
    assert first.returncode == 0, first.stdout + first.stderr
    calls = log.read_text().splitlines() if log.exists() else []
    assert all(c.startswith("env ") for c in calls), calls
    log.unlink(missing_ok=True)
    second = run_invoke("build", "--explain", cwd=built_copy, env=env)
    assert second.returncode == 0, second.stdout + second.stderr
    assert not log.exists(), f"go was started by a no-op build: {log.read_text()}"
    assert set(_why(second.stdout).values()) == {"skipped: up to date"}
    assert "total: 0 built, 6 up to date" in second.stdout


def test_force_rebuilds_identical_bytes(built_copy: Path) -> None:
    before = {t: e["sha256"] for t, e in manifest(built_copy)["targets"].items()}
    done = run_invoke("build", "--force", "--explain", "--only", "linux/arm64", cwd=built_copy, env={"CI": "1"})
    assert done.returncode == 0, done.stdout + done.stderr
    why = _why(done.stdout)
    assert why == {"healthcheck:linux/arm64": "rebuilt: --force", "server:linux/arm64": "rebuilt: --force"}
    after = manifest(built_copy)["targets"]
    assert {t: e["sha256"] for t, e in after.items()} == before
    assert all(after[t]["status"] == "built" for t in why)

"""The module checks' pass is kept beside the module cache: removing .build/ and bin/ does not repeat them."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.helpers.support import run_invoke


def _done(stderr: str, label: str) -> str:
    """What a preflight step said when it finished: ``[ 0.0s] done   LABEL (0.0s)[ - NOTE]``."""
    lines = [line for line in stderr.splitlines() if f"done   {label} (" in line]
    assert lines, f"no line says {label!r} finished:\n{stderr}"
    return lines[0]


def test_a_verified_module_cache_is_not_verified_again_without_the_state(built_copy: Path, tmp_path: Path) -> None:
    env = {"CI": "1", "GOMODCACHE": str(tmp_path / "modcache")}  # a module cache of this test's own
    first = run_invoke("build", "--only", "linux/amd64", "--force", cwd=built_copy, env=env, timeout=900)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "passed before" not in _done(first.stderr, "verify module cache (go mod verify)")
    kept = sorted(p.name.split("-")[0] for p in (tmp_path / "modcache" / "cache" / "buildlib").iterdir())
    assert kept == ["modules", "verify"]

    # What a CI job that restores only the Go caches starts from: no bin/, no .build/.
    shutil.rmtree(built_copy / "bin")
    shutil.rmtree(built_copy / ".build")
    again = run_invoke("build", "--only", "linux/amd64", cwd=built_copy, env=env, timeout=900)
    assert again.returncode == 0, again.stdout + again.stderr
    for label in ("download modules (go mod download)", "verify module cache (go mod verify)"):
        assert _done(again.stderr, label).endswith(" - passed before, inputs unchanged"), again.stderr
    # The tidy check reads this checkout's files: it runs again.
    assert "passed before" not in _done(again.stderr, "check go.mod/go.sum are tidy (go mod tidy -diff)")

    # Another module cache (or `go clean -modcache`) has no record: verified again.
    shutil.rmtree(built_copy / "bin")
    shutil.rmtree(built_copy / ".build")
    other = run_invoke("build", "--only", "linux/amd64", cwd=built_copy, timeout=900,
                       env={**env, "GOMODCACHE": str(tmp_path / "other-modcache")})
    assert other.returncode == 0, other.stdout + other.stderr
    assert "passed before" not in _done(other.stderr, "verify module cache (go mod verify)"), other.stderr

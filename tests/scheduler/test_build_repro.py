"""Reproducible builds: one commit, two checkouts, two moments, the same bytes."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from tests.helpers.builds import copy_sources, manifest, sha256
from tests.helpers.support import run_invoke

COMMIT_DATE = "2026-03-04T05:06:07Z"
GIT_ENV = {"GIT_AUTHOR_NAME": "Build Test", "GIT_AUTHOR_EMAIL": "build@example.com",
           "GIT_COMMITTER_NAME": "Build Test", "GIT_COMMITTER_EMAIL": "build@example.com",
           "GIT_AUTHOR_DATE": COMMIT_DATE, "GIT_COMMITTER_DATE": COMMIT_DATE}


def _git(cwd: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, env={**os.environ, **GIT_ENV}, text=True, capture_output=True,
                          check=True)
    return done.stdout.strip()


def test_same_commit_in_two_directories_at_two_times_is_byte_identical(tmp_path: Path) -> None:
    origin = copy_sources(tmp_path / "origin")
    _git(origin, "init", "-q", "-b", "main")
    _git(origin, "add", "-A")
    _git(origin, "commit", "-q", "-m", "release")
    _git(origin, "tag", "v1.4.2")
    commit = _git(origin, "rev-parse", "HEAD")
    first, second = tmp_path / "checkout-a", tmp_path / "elsewhere" / "checkout-b"
    second.parent.mkdir()
    for where in (first, second):
        _git(tmp_path, "clone", "-q", str(origin), str(where))

    a = run_invoke("build", cwd=first, env={"CI": "1"})
    assert a.returncode == 0, a.stdout + a.stderr
    time.sleep(1.5)  # a different wall clock, which must not reach the binaries
    b = run_invoke("build", "--jobs", "1", cwd=second, env={"CI": "1"})
    assert b.returncode == 0, b.stdout + b.stderr

    ma, mb = manifest(first), manifest(second)
    assert (ma["version"], ma["commit"], ma["date"]) == ("v1.4.2", commit, COMMIT_DATE)
    assert set(ma["targets"]) == set(mb["targets"]) and len(ma["targets"]) == 6
    for target, entry in ma["targets"].items():
        assert entry["sha256"] == mb["targets"][target]["sha256"], target
        assert sha256(first / entry["path"]) == sha256(second / entry["path"]) == entry["sha256"]
    server = (first / "bin" / "linux_amd64" / "server").read_bytes()
    assert b"v1.4.2" in server and commit.encode() in server and COMMIT_DATE.encode() in server


def test_source_date_epoch_wins_over_the_commit_time(built_copy: Path) -> None:
    done = run_invoke("build", "--only", "server:linux/amd64", cwd=built_copy,
                      env={"CI": "1", "SOURCE_DATE_EPOCH": "1700000000"})
    assert done.returncode == 0, done.stdout + done.stderr
    entry = manifest(built_copy)["targets"]["server:linux/amd64"]
    assert "version.Date=2023-11-14T22:13:20Z" in " ".join(entry["flags"])
    assert b"2023-11-14T22:13:20Z" in (built_copy / entry["path"]).read_bytes()
    bad = run_invoke("build", cwd=built_copy, env={"SOURCE_DATE_EPOCH": "yesterday"})
    assert bad.returncode == 1
    assert 'SOURCE_DATE_EPOCH must be whole seconds since 1970' in bad.stderr


def test_two_cold_caches_in_two_directories_give_the_same_bytes(tmp_path: Path) -> None:
    """Nothing shared but the module cache (which go.sum pins): each checkout compiles the standard
    library and gin itself, so every compiled package is compared, not only the link.

    Two targets keep it affordable on two cores: the server for linux/amd64 (gin, net/http) and the
    probe for darwin/arm64 (another GOOS and GOARCH, so another standard library).
    """
    origin = copy_sources(tmp_path / "origin")
    _git(origin, "init", "-q", "-b", "main")
    _git(origin, "add", "-A")
    _git(origin, "commit", "-q", "-m", "release")
    _git(origin, "tag", "v2.0.1")
    only = "server:linux/amd64,healthcheck:darwin/arm64"
    builds = []
    for name in ("one", "elsewhere/two"):
        where, cache = tmp_path / name, tmp_path / f"gocache-{name.replace('/', '-')}"
        where.parent.mkdir(parents=True, exist_ok=True)
        _git(tmp_path, "clone", "-q", str(origin), str(where))
        done = run_invoke("build", "--only", only, cwd=where, env={"CI": "1", "GOCACHE": str(cache)}, timeout=1200)
        assert done.returncode == 0, done.stdout + done.stderr
        # Cold indeed: Go compiled the standard library into this cache, it did not find it elsewhere.
        assert len(list(cache.glob("*/*-d"))) > 200, f"{cache} holds too few entries for a cold build"
        builds.append(where)
    first, second = builds
    ma, mb = manifest(first), manifest(second)
    assert sorted(ma["targets"]) == sorted(mb["targets"]) == sorted(only.split(","))
    for target, entry in ma["targets"].items():
        assert entry["sha256"] == mb["targets"][target]["sha256"], target
        assert sha256(first / entry["path"]) == sha256(second / entry["path"]) == entry["sha256"], target
    assert ma["version"] == mb["version"] == "v2.0.1"

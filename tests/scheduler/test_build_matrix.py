"""The full matrix: every binary for every platform, with the right headers and an honest manifest."""

from __future__ import annotations

from pathlib import Path

from buildlib import config
from buildlib.build.targets import matrix
from tests.helpers.builds import build_settings, manifest, platform_of, sha256

EXPECTED = {
    f"{b}:{p}" for b in ("server", "healthcheck") for p in ("linux/amd64", "linux/arm64", "darwin/arm64")
}


def test_every_target_is_built_for_its_platform(built_tree: Path) -> None:
    targets = {t.id for t in matrix(config.load(built_tree / "build.yaml"))}
    assert targets == EXPECTED
    for target in EXPECTED:
        binary, platform = target.split(":")
        goos, goarch = platform.split("/")
        path = built_tree / "bin" / f"{goos}_{goarch}" / binary
        assert path.is_file() and path.stat().st_mode & 0o111, f"{path} missing or not executable"
        assert platform_of(path) == platform
        settings = build_settings(path)
        assert (settings["GOOS"], settings["GOARCH"]) == (goos, goarch)
        assert settings["CGO_ENABLED"] == "0"
        assert settings["-trimpath"] == "true"


def test_manifest_matches_the_files(built_tree: Path) -> None:
    data = manifest(built_tree)
    assert data["schema"] == 1
    assert data["project"] == "ginsvc"
    assert data["profile"] == "release"
    assert data["go_version"].startswith("go1.")
    # The tree is no git checkout: the stamp falls back, and never to the wall clock.
    assert (data["version"], data["commit"], data["date"]) == ("0.0.0-dev", "unknown", "1970-01-01T00:00:00Z")
    assert set(data["targets"]) == EXPECTED
    for target, entry in data["targets"].items():
        path = built_tree / entry["path"]
        assert entry["binary"] == target.split(":")[0] and entry["platform"] == target.split(":")[1]
        assert entry["sha256"] == sha256(path)
        assert entry["size"] == path.stat().st_size
        assert entry["status"] in ("built", "skipped")
        assert entry["go_version"] == data["go_version"]
        assert len(entry["key"]) == 64
        assert "-trimpath" in entry["flags"]
        ldflags = next(f for f in entry["flags"] if f.startswith("-ldflags="))
        assert ldflags.startswith("-ldflags=-s -w ")
        assert "/internal/version.Version=0.0.0-dev" in ldflags
        assert "/internal/version.Date=1970-01-01T00:00:00Z" in ldflags


def test_version_stamp_reaches_the_server_binary(built_tree: Path) -> None:
    # -X values live in the binary as plain strings; the server imports internal/version.
    data = (built_tree / "bin" / "linux_amd64" / "server").read_bytes()
    assert b"0.0.0-dev" in data
    assert b"1970-01-01T00:00:00Z" in data

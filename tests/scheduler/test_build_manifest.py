"""The manifest never lies: a version the release directories refuse is refused before any compile,
and the header changes only together with the targets it describes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from buildlib.build import manifest as manifest_mod
from buildlib.build.stamp import stamp
from buildlib.errors import SelectionError
from tests.helpers.builds import manifest, sha256
from tests.helpers.support import run_invoke

RULE = ("cannot be a version: it names the release directory on the hosts; use 1 to 128 letters, digits and "
        ". _ + -, starting with a letter or digit (for example --version 1.4.0)")


@pytest.mark.parametrize("version", ['a b"c', "v1/2", "../up", "-rc1", "x" * 129, "1.0;reboot", "é1"])
def test_a_version_the_deploy_refuses_is_refused_before_any_compile(built_copy: Path, version: str) -> None:
    before = manifest(built_copy)
    binaries = {t: sha256(built_copy / e["path"]) for t, e in before["targets"].items()}
    done = run_invoke("build", "--force", "--version", version, cwd=built_copy, env={"CI": "1"})
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.strip() == f"error: --version: {json.dumps(version)} {RULE}"
    assert "start  build" not in done.stdout + done.stderr
    assert manifest(built_copy) == before
    assert {t: sha256(built_copy / e["path"]) for t, e in before["targets"].items()} == binaries


def test_a_bad_project_version_in_build_yaml_is_named(built_copy: Path) -> None:
    cfg = built_copy / "build.yaml"
    cfg.write_text(cfg.read_text().replace("version: auto ", "version: 'one two'", 1))
    done = run_invoke("build", cwd=built_copy, env={"CI": "1"})
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.strip() == f'error: build.yaml: project.version: "one two" {RULE}'


@pytest.mark.parametrize("version", ["1.4.0", "v1.4.2-rc.1", "0.0.0-dev", "1.0+build.5", "a" * 128, "2026_01"])
def test_versions_the_release_directories_take_are_stamped(tmp_path: Path, version: str) -> None:
    assert stamp(tmp_path, "auto", version, {}).version == version
    assert stamp(tmp_path, version, None, {}).version == version


def test_stamp_names_the_flag(tmp_path: Path) -> None:
    with pytest.raises(SelectionError, match=r'^--version: "a b\\"c" cannot be a version: it names the release'):
        stamp(tmp_path, "auto", 'a b"c', {})


def test_a_failed_build_keeps_the_header_of_the_binaries_that_are_there(built_copy: Path) -> None:
    before = manifest(built_copy)
    main = built_copy / "cmd" / "server" / "main.go"
    main.write_text(main.read_text().replace("func main() {", "func main() {\n\tundefinedOnPurpose()", 1))
    done = run_invoke("build", "--only", "server", "--version", "7.7.7", cwd=built_copy, env={"CI": "1"})
    assert done.returncode == 1, done.stdout + done.stderr
    assert "undefined: undefinedOnPurpose" in done.stderr
    after = manifest(built_copy)
    assert after == before
    assert after["version"] != "7.7.7"


def test_a_partly_failed_build_writes_the_header_with_the_targets_built(built_copy: Path) -> None:
    main = built_copy / "cmd" / "server" / "main.go"
    main.write_text(main.read_text().replace("func main() {", "func main() {\n\tundefinedOnPurpose()", 1))
    done = run_invoke("build", "--only", "linux/amd64", "--version", "7.7.8", cwd=built_copy, env={"CI": "1"})
    assert done.returncode == 1, done.stdout + done.stderr
    after = manifest(built_copy)
    assert after["version"] == "7.7.8"
    assert after["targets"]["healthcheck:linux/amd64"]["version"] == "7.7.8"
    assert after["targets"]["server:linux/amd64"]["version"] != "7.7.8"
    for entry in after["targets"].values():
        assert sha256(built_copy / entry["path"]) == entry["sha256"]
    assert re.search(r"^server:linux/amd64\s+failed", done.stdout, re.M)


def test_merge_without_entries_leaves_the_header(tmp_path: Path) -> None:
    old = {"schema": 1, "version": "1.0.0", "commit": "a", "targets": {"s:linux/amd64": {"version": "1.0.0"}}}
    header = {"version": "2.0.0", "commit": "b"}
    assert manifest_mod.merged(old, header, {}, {"s:linux/amd64"}) == old
    new = manifest_mod.merged(old, header, {"s:linux/amd64": {"version": "2.0.0"}}, {"s:linux/amd64"})
    assert (new["version"], new["commit"], new["targets"]["s:linux/amd64"]["version"]) == ("2.0.0", "b", "2.0.0")
    # No manifest yet and nothing built: none is written, rather than one naming no binary.
    assert manifest_mod.merge(tmp_path, header, {}, set()) == {}
    assert not (tmp_path / "manifest.json").exists()


def test_the_typed_reader_gives_each_target_as_built(built_copy: Path) -> None:
    """One reader for every step after the build: the entries name files whose bytes have their sha256."""
    stored = manifest(built_copy)
    read = manifest_mod.require(built_copy / "bin")
    assert read.version == stored["version"] and read.commit == stored["commit"]
    assert set(read.targets) == set(stored["targets"]) and read.targets
    for tid, entry in read.targets.items():
        assert (entry.binary, entry.platform) == tuple(tid.split(":", 1))
        assert entry.sha256 == sha256(built_copy / entry.path) == stored["targets"][tid]["sha256"]
        assert entry.flags == tuple(stored["targets"][tid]["flags"])


def test_a_broken_manifest_is_named_with_what_to_run(built_copy: Path) -> None:
    file = built_copy / "bin" / "manifest.json"
    file.write_text('{"schema": 1, "targets": ')
    with pytest.raises(manifest_mod.ManifestError, match=r"^bin/manifest.json: not valid JSON .*; run `invoke build`"):
        manifest_mod.read(file.parent, "bin/manifest.json")
    file.write_text('{"schema": 1, "targets": {"server:linux/amd64": "x"}}')
    with pytest.raises(manifest_mod.ManifestError, match=r"targets.server:linux/amd64: expected a mapping"):
        manifest_mod.read(file.parent, "bin/manifest.json")
    file.unlink()
    assert manifest_mod.read(file.parent) is None
    with pytest.raises(manifest_mod.ManifestError, match=r"does not exist; run `invoke build` first"):
        manifest_mod.require(file.parent)

"""The bench's peers, given the kit's recipe, build the kit's bytes: Task (which decides "up to date" by its
sources) in a copy of the built template, GoReleaser in a Gin repository of its own with ARM and Windows targets.

Real Task and GoReleaser (each built once per machine with `go install`, buildlib.toolcache), real `go build`.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from buildlib import config, toolcache
from buildlib.bench import peers
from buildlib.build.builder import Options, prepare
from buildlib.build.targets import matrix
from buildlib.errors import ToolError
from tests.helpers.builds import manifest
from tests.helpers.support import REPO, run_invoke


def test_task_builds_the_kits_bytes_and_builds_again_only_when_a_source_changed(built_copy: Path) -> None:
    binary = toolcache.ensure(toolcache.TASK)
    project = config.load(built_copy / "build.yaml")
    env = dict(os.environ)
    recipe = prepare(project, Options(), env)[0]
    peer = peers.TaskPeer(binary, built_copy, recipe, matrix(project), "bin-task", env)
    taskfile = peer.write()
    assert "internal/probe/probe.go" in taskfile.read_text()  # the inputs the kit recorded
    run = peer.runner()
    run()
    kit = {t: e["sha256"] for t, e in manifest(built_copy)["targets"].items()}
    assert len(kit) == len(peer.targets) == 6
    peer.check_identical(kit)

    def stamps() -> dict[str, int]:
        return {t.id: peer.output(t).stat().st_mtime_ns for t in peer.targets}

    before = stamps()
    run()
    assert stamps() == before, "task ran go build although nothing changed"
    # A comment at the end changes no byte of the binaries, but the sources' hash: every platform's task
    # reads probe.go (the health probe of each), so each runs go build again, which rewrites its outputs.
    probe = built_copy / "internal/probe/probe.go"
    probe.write_text(probe.read_text() + "\n// touched\n")
    run()
    after = stamps()
    assert all(after[t] != before[t] for t in before), after
    peer.check_identical(kit)

    wrong = {**kit, "server:linux/arm64": "0" * 64}
    with pytest.raises(ToolError, match=r"task built server:linux/arm64 as [0-9a-f]{64}, the kit as 0{64}: the "
                                        "configurations are not equivalent, so no time is reported"):
        peer.check_identical(wrong)


@pytest.mark.parametrize("tool", [toolcache.TASK, toolcache.GORELEASER])
def test_a_peer_that_is_not_installed_is_not_measured(tool: toolcache.GoProgram, tmp_path: Path) -> None:
    env = {"PATH": str(tmp_path), "HOME": str(tmp_path), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    assert peers.find(tool, env) is None
    (tmp_path / tool.name).write_text("#!/bin/sh\n")
    (tmp_path / tool.name).chmod(0o755)
    assert peers.find(tool, env) == tmp_path / tool.name


@pytest.mark.slow
def test_goreleaser_builds_the_kits_bytes_for_arm_and_windows_in_a_repository_of_its_own(tmp_path: Path) -> None:
    from tests.helpers import ginapps

    binary = toolcache.ensure(toolcache.GORELEASER)
    app = ginapps.make("multi", tmp_path / "shop")  # cmd/api, cmd/worker, tools/gen
    dest = app.module_root
    adopted = run_invoke("init", "--adopt", "--dest", str(dest), cwd=REPO, timeout=600)
    assert adopted.returncode == 0, adopted.stdout + adopted.stderr
    build_yaml = dest / "build.yaml"
    raw = yaml.safe_load(build_yaml.read_text())
    # linux/arm: GOARM, which GoReleaser sets to 6 unless told; windows: the .exe it adds itself.
    raw["platforms"] = ["linux/amd64", "linux/arm", "windows/amd64"]
    build_yaml.write_text(yaml.safe_dump(raw, sort_keys=False))
    env = {**os.environ, "PYTHONPATH": str(dest), "CI": "1"}
    built = run_invoke("build", cwd=dest, env={"PYTHONPATH": str(dest), "CI": "1"}, timeout=1800)
    assert built.returncode == 0, built.stdout + built.stderr
    kit = {t: e["sha256"] for t, e in manifest(dest)["targets"].items()}

    project = config.load(build_yaml)
    recipe = prepare(project, Options(), env)[0]
    targets = matrix(project)
    assert {t.platform for t in targets} == {"linux/amd64", "linux/arm", "windows/amd64"}
    assert len(kit) == len(targets) == 5  # api x 3 platforms; worker and gen for linux/amd64 only
    peer = peers.GoReleaserPeer(binary, dest, recipe, targets, "bin-goreleaser", env, parallelism=2)
    peer.write()
    peer.runner()()
    assert (dest / "bin-goreleaser/windows_amd64/api.exe").is_file()
    peer.check_identical(kit)

    # The pin is what makes them equal: GoReleaser's own GOARM builds other bytes for linux/arm.
    unpinned = peer.config()
    for build in unpinned["builds"]:
        build.pop("goarm")
    (dest / peer.config_name).write_text(yaml.safe_dump(unpinned, sort_keys=False))
    peer.runner()()
    with pytest.raises(ToolError, match=r"goreleaser built api:linux/arm as [0-9a-f]{64}, the kit as [0-9a-f]{64}: "
                                        "the configurations are not equivalent"):
        peer.check_identical(kit)


def test_the_bench_times_invoke_with_the_bytecode_cache_a_user_has(monkeypatch: pytest.MonkeyPatch) -> None:
    """A shell with PYTHONDONTWRITEBYTECODE would make every timed `invoke` compile the kit from source."""
    from buildlib.bench.build import user_environ

    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")
    monkeypatch.setenv("BUILDLIB_BENCH_PROBE", "kept")
    env = user_environ()
    assert "PYTHONDONTWRITEBYTECODE" not in env
    assert env["BUILDLIB_BENCH_PROBE"] == "kept" and env["PATH"] == os.environ["PATH"]

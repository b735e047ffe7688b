"""The bench's peers: Task, given the kit's recipe, builds the same bytes and decides "up to date" by its sources.

Real Task (built once per machine with `go install`, buildlib.toolcache), real `go build`, in a copy of
the built tree.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from buildtest_helpers import manifest

from buildlib import config, peers, toolcache
from buildlib.builder import Options, prepare
from buildlib.errors import ToolError
from buildlib.targets import matrix


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


def test_a_task_that_is_not_installed_is_not_measured(tmp_path: Path) -> None:
    env = {"PATH": str(tmp_path), "HOME": str(tmp_path), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    assert peers.find_task(env) is None
    (tmp_path / "task").write_text("#!/bin/sh\n")
    (tmp_path / "task").chmod(0o755)
    assert peers.find_task(env) == tmp_path / "task"

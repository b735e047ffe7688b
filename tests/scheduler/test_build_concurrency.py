"""Runs at once on one tree, and a run killed half-way: outputs stay whole, nothing blocks."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.helpers.builds import copy_sources, manifest, platform_of, sha256
from tests.helpers.support import run_invoke, wait_for


def _start(tree: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "invoke", "build", *args], cwd=tree, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            env={**os.environ, "CI": "1"}, start_new_session=True)


def test_four_runs_at_once_agree_with_a_single_run(built_tree: Path, tmp_path: Path) -> None:
    tree = copy_sources(tmp_path / "tree")  # nothing built, no .build/ state
    runs = [_start(tree) for _ in range(4)]
    outputs = [r.communicate(timeout=900)[0] for r in runs]
    for run, out in zip(runs, outputs, strict=True):
        assert run.returncode == 0, out
    single = manifest(built_tree)["targets"]
    together = manifest(tree)["targets"]
    assert set(together) == set(single)
    for target, entry in together.items():
        path = tree / entry["path"]
        assert sha256(path) == entry["sha256"] == single[target]["sha256"], target
        assert platform_of(path) == entry["platform"]
    # Each target was compiled by exactly one run; the others found it done (after waiting for its lock).
    for target in single:
        built_by = [i for i, out in enumerate(outputs) if re.search(rf"^{re.escape(target)}\s+built\s", out, re.M)]
        assert len(built_by) == 1, f"{target} built by runs {built_by}:\n" + "\n".join(outputs)
    pids = {str(r.pid) for r in runs}
    for line in (line for out in outputs for line in out.splitlines() if line.startswith("waiting for ")):
        m = re.search(r"\.build/locks/[\w@.-]+\.lock is held by (?:pid (\d+)|a process that has not)", line)
        assert m and (m.group(1) is None or m.group(1) in pids), line
    assert not list(tree.glob("bin/*/.tmp-*")), "a temporary build directory was left behind"


def test_a_waiting_run_names_the_lock_and_its_holder(built_copy: Path, tmp_path: Path) -> None:
    from filelock import FileLock

    lock_dir = built_copy / ".build" / "locks"
    lock_dir.mkdir(parents=True, exist_ok=True)
    log = tmp_path / "run.log"
    with FileLock(str(lock_dir / "target-server@linux_amd64.lock")), log.open("w") as sink:
        (lock_dir / "target-server@linux_amd64.holder").write_text(
            json.dumps({"pid": os.getpid(), "since": time.time(), "command": "pytest"}))
        run = subprocess.Popen([sys.executable, "-m", "invoke", "build", "--force", "--only", "server:linux/amd64"],
                               cwd=built_copy, text=True, stdout=sink, stderr=subprocess.STDOUT,
                               env={**os.environ, "CI": "1"})
        wait_for(lambda: "waiting for target" in log.read_text() or run.poll() is not None, 300,
                 "the run to wait for the held lock")
        assert run.poll() is None, log.read_text()
    assert run.wait(timeout=300) == 0, log.read_text()
    out = log.read_text()
    assert (f"waiting for target server@linux_amd64: .build/locks/target-server@linux_amd64.lock is held by "
            f"pid {os.getpid()} (pytest, for ") in out, out
    assert re.search(r"^server:linux/amd64\s+built\s", out, re.M), out


def test_sigkill_half_way_leaves_whole_binaries_and_no_lock(built_copy: Path) -> None:
    before = {t: e["sha256"] for t, e in manifest(built_copy)["targets"].items()}
    # A new version stamp makes every target stale, so the killed run is really linking.
    run = _start(built_copy, "--version", "9.9.9-kill", "--jobs", "1")
    wait_for(lambda: bool(list(built_copy.glob("bin/*/.tmp-*"))), timeout=120, what="a go build to start")
    os.kill(run.pid, signal.SIGKILL)
    run.communicate(timeout=30)
    assert run.returncode == -signal.SIGKILL
    paths = {t: built_copy / "bin" / t.split(":")[1].replace("/", "_") / t.split(":")[0] for t in before}
    mid = {t: sha256(p) for t, p in paths.items()}
    started = time.monotonic()
    again = run_invoke("build", "--version", "9.9.9-kill", cwd=built_copy, env={"CI": "1"}, timeout=600)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "waiting for" not in again.stdout + again.stderr  # the killed run's locks died with it
    assert time.monotonic() - started < 300
    after = manifest(built_copy)["targets"]
    for target, path in paths.items():
        assert sha256(path) == after[target]["sha256"]
        assert after[target]["version"] == "9.9.9-kill"
        # Right after the kill each binary was the old one or a complete new one, never a part.
        assert mid[target] in (before[target], after[target]["sha256"]), target
    for target in (t for t in before if t.startswith("server:")):
        assert after[target]["sha256"] != before[target], f"{target}: the new version was not stamped"

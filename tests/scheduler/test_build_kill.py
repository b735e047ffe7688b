"""Killing ``invoke build`` at any moment: no go process outlives it, no temporary file stays, the manifest is true.

Real processes only: ``invoke build`` runs the real Go toolchain in a copy of the built tree, and is
stopped with real signals, as a user (Ctrl-C), a supervisor (SIGTERM) or a CI timeout (SIGKILL of
the process group) stops it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers.builds import manifest, sha256
from tests.helpers.support import run_invoke, wait_for

# Only linux/amd64 is rebuilt: two binaries, enough for a compile and an install to be under way.
ONLY = "linux/amd64"


def _processes_of(tree: Path) -> list[str]:
    """Every process working for a build of ``tree``: its cwd is inside it, or its command line names it.

    ``go`` gets the tree's paths (-o, GOTMPDIR), and so do the compilers and the linker it starts.
    """
    found = []
    prefix = str(tree)
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmd = Path(entry.path, "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
            cwd = os.readlink(Path(entry.path, "cwd"))
        except OSError:
            continue
        if cmd and (prefix in cmd or cwd == prefix or cwd.startswith(prefix + os.sep)):
            found.append(f"{entry.name}: {cmd[:160]}")
    return found


def _go_running(tree: Path, what: str) -> bool:
    return any(what in p for p in _processes_of(tree))


def _start(tree: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    # Its own session, as a CI job has: the process group can be killed as a whole.
    return subprocess.Popen([sys.executable, "-m", "invoke", "build", *args], cwd=tree, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, "CI": "1", **(env or {})}, start_new_session=True)


def _temp_dirs(tree: Path) -> list[Path]:
    return [*tree.glob("bin/*/.tmp-*"), *tree.glob(".build/tmp/*"), *tree.glob("**/go-build*")]


def _files(tree: Path) -> dict[str, Path]:
    return {t: tree / e["path"] for t, e in manifest(tree)["targets"].items()}


def _assert_true(tree: Path) -> None:
    """The manifest names what is on disk: each entry's sha256 is its file's, its version the header's."""
    data = manifest(tree)
    for target, entry in data["targets"].items():
        assert sha256(tree / entry["path"]) == entry["sha256"], f"{target}: the manifest does not match the file"
        if entry["platform"] == ONLY:
            assert entry["version"] == data["version"], f"{target}: {entry['version']} != header {data['version']}"


def _kill_moment(tree: Path, moment: str, before: dict[str, int | None]) -> bool:
    """Whether the build has reached ``moment``."""
    if moment == "preflight":
        return _go_running(tree, "go mod verify")
    if moment in ("compile", "link"):
        return _go_running(tree, f"/{moment} ")
    # A rename over the old binary gives the path a new inode: cheaper to watch than the content.
    return any(_inode(p) != before[t] for t, p in _files(tree).items() if t.endswith(ONLY))


def _inode(path: Path) -> int | None:
    try:
        return path.stat().st_ino
    except OSError:
        return None


@pytest.mark.parametrize("whom", ["invoke", "group"])
@pytest.mark.parametrize("moment", ["preflight", "compile", "link", "install"])
def test_sigkill_leaves_no_go_process_no_temporary_file_and_a_true_manifest(built_copy: Path, moment: str,
                                                                            whom: str) -> None:
    before = {t: sha256(p) for t, p in _files(built_copy).items()}
    header_before = manifest(built_copy)["version"]
    # --force re-runs the preflight checks (go mod verify is the slowest); the new version makes every
    # linux/amd64 target stale, so go compiles and links.
    # For the preflight and the compile, go runs on an empty build cache of its own: it would compile
    # for a minute and more, so a go process that outlived the kill cannot pass for one that just
    # finished. The link (seconds, writing nothing meanwhile) and the install need the warm cache.
    cold = {"GOCACHE": str(built_copy.parent / "gocache")} if moment in ("preflight", "compile") else {}
    run = _start(built_copy, "--only", ONLY, "--force", "--version", "9.9.9-kill", env=cold)
    deadline = time.monotonic() + 300
    inodes = {t: _inode(p) for t, p in _files(built_copy).items()}
    while not _kill_moment(built_copy, moment, inodes):
        assert run.poll() is None, f"the build ended before the {moment}: {run.communicate()}"
        assert time.monotonic() < deadline, f"no {moment} within 300s"
        time.sleep(0.002 if moment == "install" else 0.05)
    if whom == "invoke":
        os.kill(run.pid, signal.SIGKILL)
    else:
        os.killpg(run.pid, signal.SIGKILL)
    run.communicate(timeout=60)
    assert run.returncode == -signal.SIGKILL

    # The reaper sends SIGTERM to its group the moment the build is gone (SIGKILL 2 s later to what
    # ignored it): go, the compilers and the linker end at once. Without it, go would end only at its
    # next write to the dead build's pipe, and a compiler or the linker would run to its end.
    survivors: list[str] = []

    def gone() -> bool:
        survivors[:] = _processes_of(built_copy)
        return not survivors

    deadline = time.monotonic() + 1.5
    while not gone() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not survivors, f"still running {moment} after SIGKILL of the {whom}:\n" + "\n".join(survivors)

    files = _files(built_copy)
    mid = {t: sha256(p) for t, p in files.items()}
    after_kill = manifest(built_copy)
    for target, digest in mid.items():
        if not target.endswith(ONLY):
            assert digest == before[target], f"{target} was not to be built, yet it changed"
    if moment != "install":
        assert mid == before, "a binary changed before the install"
        assert after_kill["version"] == header_before, "the header changed, yet no binary was installed"
        _assert_true(built_copy)

    again = run_invoke("build", "--only", ONLY, "--version", "9.9.9-kill", cwd=built_copy, env={"CI": "1"})
    assert again.returncode == 0, again.stdout + again.stderr
    assert "waiting for" not in again.stdout + again.stderr  # the killed run's locks died with it
    assert not _temp_dirs(built_copy), f"left behind: {_temp_dirs(built_copy)}"
    _assert_true(built_copy)
    final = manifest(built_copy)
    assert final["version"] == "9.9.9-kill"
    for target, digest in mid.items():
        # Right after the kill each binary was the old one or a complete new one, never a part of one.
        assert digest in (before[target], final["targets"][target]["sha256"]), target


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_sigterm_and_sigint_stop_go_clean_up_and_say_what_was_kept(built_copy: Path, sig: int, code: int) -> None:
    before = {t: sha256(p) for t, p in _files(built_copy).items()}
    old_manifest = manifest(built_copy)
    run = _start(built_copy, "--only", ONLY, "--version", "9.9.9-term")
    wait_for(lambda: _go_running(built_copy, "/compile ") or _go_running(built_copy, "/link ")
             or run.poll() is not None, 300, "a compile to start")
    assert run.poll() is None, run.communicate()
    os.kill(run.pid, sig)
    out, err = run.communicate(timeout=60)
    assert run.returncode == code, out + err
    name = signal.Signals(sig).name
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines[-1] == (f"error: stopped by {name}: its go processes were stopped and its temporary files "
                         "removed; no target was finished; the other 6 binaries are the previous build's, "
                         "untouched"), err
    assert "Traceback" not in out + err
    # Stopped, not merely abandoned: nothing of the build runs once invoke has exited.
    assert not _processes_of(built_copy), _processes_of(built_copy)
    assert not _temp_dirs(built_copy), _temp_dirs(built_copy)
    assert {t: sha256(p) for t, p in _files(built_copy).items()} == before
    assert manifest(built_copy) == old_manifest


CHILD = """
import os, sys, time
from buildlib import procs
proc = procs.popen(["sh", "-c", "sleep 300 & sleep 300 & wait"], os.getcwd(), dict(os.environ))
print(proc.pid, flush=True)
time.sleep(300)
"""


def _live(pid: int) -> bool:
    """Running, not a zombie waiting to be reaped."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return False


def _group(pgid: int) -> list[int]:
    pids = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                if os.getpgid(int(entry.name)) == pgid and _live(int(entry.name)):
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def test_the_reaper_stops_its_whole_group_when_the_build_is_killed(tmp_path: Path) -> None:
    # A stand-in for invoke: it starts a command with children through procs and is then SIGKILLed.
    build = subprocess.Popen([sys.executable, "-c", CHILD], cwd=tmp_path, stdout=subprocess.PIPE, text=True,
                             env={**os.environ})
    assert build.stdout is not None
    leader = int(build.stdout.readline())
    wait_for(lambda: len(_group(leader)) >= 4, 30, "the reaper, sh and two sleeps")  # reaper, sh, 2 x sleep
    members = _group(leader)
    build.kill()
    build.wait(timeout=30)
    wait_for(lambda: not [p for p in members if _live(p)], 10, f"the group of {members} to be gone")


def test_a_killed_runs_temporary_directories_are_removed_and_live_ones_kept(tmp_path: Path) -> None:
    from buildlib import procs

    dead = subprocess.Popen(["true"])
    dead.wait()
    mine = tmp_path / f".tmp-{os.getpid()}-1"
    gone = tmp_path / f".tmp-{dead.pid}-7"
    parent = tmp_path / f".tmp-{os.getppid()}-2"
    reused = tmp_path / f".tmp-{os.getppid()}-3"
    other = tmp_path / "keep-me"
    for d in (mine, gone, parent, reused, other):
        d.mkdir()
    # Made long before that process started: its pid was given to a later process.
    os.utime(reused, (1_000_000, 1_000_000))
    removed = procs.clean_stale([tmp_path, tmp_path / "missing"])
    assert sorted(removed) == sorted([gone, reused])
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([mine.name, parent.name, other.name])


def test_a_build_gone_as_its_go_command_starts_stops_that_command_at_once() -> None:
    """The reaper of a command started just as the build dies stops it with SIGTERM, not the late SIGKILL.

    The build's end of the pipe is closed before the reaper runs, so the reaper stops its group while
    it is still starting the command: a SIGTERM that reached the command before it had reset the
    reaper's ignored SIGTERM was lost, and the command ran on until the SIGKILL, 2 s later.
    """
    from buildlib.procs import REAPER
    from buildlib.reaper import GRACE_S

    late = []
    for attempt in range(20):
        read, write = os.pipe()
        os.close(write)
        started = time.monotonic()
        proc = subprocess.Popen([sys.executable, "-S", "-E", str(REAPER), str(read), "--", "sleep", "30"],
                                pass_fds=(read,), process_group=0)
        os.close(read)
        status = proc.wait(timeout=30)
        took = time.monotonic() - started
        # The reaper's last act is the SIGKILL of its group, itself included.
        assert status == -signal.SIGKILL, f"attempt {attempt}: the reaper exited {status}"
        if took >= GRACE_S / 2:
            late.append(f"attempt {attempt}: {took:.2f}s")
    assert not late, "the command outlived the SIGTERM until the SIGKILL:\n" + "\n".join(late)

"""The kit inside a service: installed whole by adopt, refused over a user's files, updated like `copier update`."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from buildlib.errors import SelectionError
from buildlib.template import kit
from tests.helpers.support import REPO, run_invoke

GIT = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]


def _commit(root: Path, message: str) -> None:
    subprocess.run([*GIT, "add", "-A"], cwd=root, check=True)
    subprocess.run([*GIT, "commit", "-q", "-m", message], cwd=root, check=True)


@pytest.fixture
def kit_repo(tmp_path: Path) -> Path:
    """A git checkout holding this kit's files, as a team's copy of the kit would be."""
    root = tmp_path / "kit"
    root.mkdir()
    for rel in kit.KIT_PATHS:
        src = REPO / rel
        if src.is_dir():
            shutil.copytree(src, root / rel, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info"))
        else:
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, root / rel)
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=root, check=True)
    _commit(root, "kit v1")
    return root


def test_install_writes_every_kit_file_and_the_lock(kit_repo: Path, tmp_path: Path) -> None:
    dest = tmp_path / "svc"
    dest.mkdir()
    out = kit.install(kit_repo, dest)
    files = kit.kit_files(kit_repo)
    assert sorted(out.of(kit.Change.ADDED)) == sorted(files)
    for rel, data in files.items():
        assert (dest / rel).read_bytes() == data, rel
    lock = kit.read_lock(dest)
    assert lock["kit"]["commit"] == out.version.commit and set(lock["files"]) == set(files)


def test_install_refuses_to_overwrite_a_users_file_unless_forced(kit_repo: Path, tmp_path: Path) -> None:
    dest = tmp_path / "svc"
    dest.mkdir()
    (dest / ".dockerignore").write_text("mine\n")
    with pytest.raises(SelectionError, match=r"already has 1 file\(s\) the kit would write:\n  \.dockerignore\n"
                                             r"move them away, or pass --force"):
        kit.install(kit_repo, dest)
    assert (dest / ".dockerignore").read_text() == "mine\n" and not (dest / "tasks.py").exists()
    out = kit.install(kit_repo, dest, force=True)
    assert out.backups == [".dockerignore.orig"] and (dest / ".dockerignore.orig").read_text() == "mine\n"


def test_update_replaces_keeps_merges_and_shows_conflicts(kit_repo: Path, tmp_path: Path) -> None:
    dest = tmp_path / "svc"
    dest.mkdir()
    kit.install(kit_repo, dest)
    (dest / "build.yaml").write_text("project: {name: mine}\n")
    # The service edits two files; the kit then changes three, one of them in the same line.
    noxfile = (dest / "noxfile.py").read_text()
    (dest / "noxfile.py").write_text(noxfile + "\n# our own session notes\n")
    tasks = (dest / "tasks.py").read_text()
    (dest / "tasks.py").write_text(tasks.replace('"""Tasks of this repository', '"""Tasks of OUR repository', 1))
    (kit_repo / "tasks.py").write_text(tasks.replace('"""Tasks of this repository', '"""Tasks of THE KIT', 1))
    (kit_repo / "noxfile.py").write_text("# kit header\n" + noxfile)
    (kit_repo / "docker/Dockerfile").write_text((kit_repo / "docker/Dockerfile").read_text() + "# newer kit\n")
    (kit_repo / "buildlib/newmodule.py").write_text('"""new in the kit"""\n')
    (kit_repo / "deploy/socket.j2").unlink()
    _commit(kit_repo, "kit v2")

    out = kit.update(kit_repo, dest)
    assert out.of(kit.Change.UPDATED) == ["docker/Dockerfile"]
    assert out.of(kit.Change.MERGED) == ["noxfile.py"]
    assert out.of(kit.Change.CONFLICT) == ["tasks.py"]
    assert out.of(kit.Change.ADDED) == ["buildlib/newmodule.py"]
    assert out.of(kit.Change.REMOVED) == ["deploy/socket.j2"]
    merged = (dest / "noxfile.py").read_text()
    assert merged.startswith("# kit header\n") and merged.endswith("# our own session notes\n")
    clash = (dest / "tasks.py").read_text()
    assert "<<<<<<< yours" in clash and "Tasks of OUR repository" in clash and "Tasks of THE KIT" in clash
    assert (dest / "build.yaml").read_text() == "project: {name: mine}\n"  # the service's own, untouched
    assert kit.read_lock(dest)["kit"]["commit"] == out.version.commit
    # A second update has nothing left to do but the conflict the user has not resolved.
    again = kit.update(kit_repo, dest)
    assert again.of(kit.Change.UPDATED) == [] and again.of(kit.Change.ADDED) == []


def test_update_task_names_the_conflicts_and_fails(kit_repo: Path, tmp_path: Path) -> None:
    (kit_repo / "tasks.py").write_text("# an older kit's tasks.py\n")
    _commit(kit_repo, "an older kit")
    dest = tmp_path / "svc"
    dest.mkdir()
    kit.install(kit_repo, dest)
    (dest / "tasks.py").write_text("# ours\n")
    # The update runs the kit at REPO (this checkout), whose tasks.py differs from both.
    proc = run_invoke("init", "--update", "--dest", str(dest), cwd=REPO)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert f"updated the kit in {dest} to " in proc.stdout
    assert "resolve the <<<<<<< markers in: tasks.py" in proc.stderr


def test_update_without_a_lock_says_how_to_install(tmp_path: Path) -> None:
    proc = run_invoke("init", "--update", "--dest", str(tmp_path), cwd=REPO)
    assert proc.returncode == 2
    assert f"error: {tmp_path}/.buildkit.json is missing" in proc.stderr
    assert "Traceback" not in proc.stderr

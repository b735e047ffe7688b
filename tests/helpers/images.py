"""Helpers of the image tests (fixtures are in conftest.py)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from tests.helpers.support import run_invoke

_SKIP = {".git", ".nox", ".build", "bin", "__pycache__", ".pytest_cache", ".ruff_cache"}
VARIANTS = ("alpine", "distroless", "scratch")


def copy_tree(src: Path, dest: Path, with_outputs: bool = False) -> Path:
    """A copy of a repository tree; files are hard links, so a test adds files but never edits one."""
    skip = _SKIP - ({"bin"} if with_outputs else set())
    shutil.copytree(src, dest, ignore=lambda d, names: [n for n in names if n in skip], copy_function=os.link,
                    symlinks=True)
    return dest


def remove_tags(repository: str) -> None:
    """Untag every REPOSITORY:* (an image shared with another tag stays for it)."""
    out = subprocess.run(["docker", "image", "ls", "--filter", f"reference={repository}", "--format",
                          "{{.Repository}}:{{.Tag}}"], capture_output=True, text=True).stdout.split()
    if out:
        subprocess.run(["docker", "image", "rm", *out], capture_output=True)


def invoke_ok(*args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 900) -> str:
    proc = run_invoke(*args, cwd=cwd, env=env, timeout=timeout)
    assert proc.returncode == 0, f"invoke {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout

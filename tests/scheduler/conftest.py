"""Fixtures of the build tests: one tree with the whole matrix built once per test run.

Builds use Go's own GOCACHE, shared by every test and kept between runs, so
only the first run on a machine compiles the standard library for each
platform. Tests that change files work on their own copy of the built tree.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.builds import copy_sources
from tests.helpers.support import run_invoke


@pytest.fixture(scope="session")
def built_tree(once: Callable[..., Any], shared_dir: Path) -> Path:
    """A copy of the repository where `invoke build` built the full matrix (do not modify it)."""

    def make() -> dict[str, str]:
        tree = copy_sources(shared_dir / "build-tree")
        done = run_invoke("build", cwd=tree, env={"CI": "1"})
        if done.returncode != 0:
            raise AssertionError(f"invoke build failed:\n{done.stdout}\n{done.stderr}")
        return {"tree": str(tree), "stdout": done.stdout, "stderr": done.stderr}

    return Path(once("build-tree", make)["tree"])


@pytest.fixture
def built_copy(built_tree: Path, tmp_path: Path) -> Path:
    """A private copy of the built tree, outputs and .build/ state included."""
    from tests.helpers.builds import clone

    return clone(built_tree, tmp_path / "tree")

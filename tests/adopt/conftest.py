"""Fixtures of the adopt tests: the local base images, made once per run for every area that needs them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.helpers.support import REPO, run_invoke


@pytest.fixture(scope="session")
def local_bases(once: Callable[..., Any], docker_client: Any) -> str:
    """`invoke image.bases` once per test run (shared with the image tests through the same name)."""

    def make() -> str:
        proc = run_invoke("image.bases", cwd=REPO)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout

    return once("images-bases", make)

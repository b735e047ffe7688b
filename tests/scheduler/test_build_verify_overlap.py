"""go mod verify runs beside the compile: a module cache that fails it keeps every binary out of bin/."""

from __future__ import annotations

import re
import stat
from pathlib import Path

from tests.helpers.builds import manifest, sha256
from tests.helpers.support import run_invoke


def test_a_failed_verify_blocks_the_install_of_what_compiled_beside_it(built_copy: Path, tmp_path: Path) -> None:
    modcache = tmp_path / "modcache"
    env = {"CI": "1", "GOMODCACHE": str(modcache)}
    # A module cache of this test's own (the shared one stays clean), filled by the build's own download.
    first = run_invoke("build", "--only", "linux/amd64", "--force", cwd=built_copy, env=env, timeout=900)
    assert first.returncode == 0, first.stdout + first.stderr
    before = manifest(built_copy)
    binaries = {t: sha256(built_copy / e["path"]) for t, e in before["targets"].items()}
    gin = next(modcache.glob("github.com/gin-gonic/gin@v*"))
    readme = gin / "README.md"
    readme.chmod(readme.stat().st_mode | stat.S_IWUSR)
    readme.write_text(readme.read_text() + "\ntampered\n")  # not compiled: the build itself would succeed
    done = run_invoke("build", "--only", "linux/amd64", "--force", "--version", "5.5.5", cwd=built_copy, env=env,
                      timeout=900)
    out = done.stdout + done.stderr
    assert done.returncode == 1, out
    assert "`go mod verify` failed: the module cache does not match go.sum" in done.stderr
    assert "Run `go clean -modcache` and build again to download clean copies." in done.stderr
    # The compile did start beside the check, and was kept from installing.
    assert "start  build linux/amd64: healthcheck, server" in out
    assert re.search(r"blocked build linux/amd64: healthcheck, server", out), out
    assert re.search(r"^server:linux/amd64\s+not built", done.stdout, re.M), done.stdout
    assert manifest(built_copy) == before
    assert {t: sha256(built_copy / e["path"]) for t, e in before["targets"].items()} == binaries
    assert not list(built_copy.glob("bin/*/.tmp-*")) and not list(built_copy.glob(".build/tmp/*"))

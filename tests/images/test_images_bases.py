"""Local base images: made from host packages, named local/..., skipped when current."""

from __future__ import annotations

import io
import re
import subprocess
import tarfile
import time
from pathlib import Path

import pytest

from buildlib.errors import ToolError
from buildlib.images import bases, engine
from buildlib.images.layers import saved
from tests.helpers.images import invoke_ok
from tests.helpers.support import REPO


def test_second_run_skips_every_image(local_bases: str) -> None:
    start = time.monotonic()
    out = invoke_ok("image.bases", cwd=REPO)
    took = time.monotonic() - start
    for tag in ("local/go-builder:", "local/distroless-static:nonroot", "local/alpine-standin:busybox"):
        assert re.search(rf"{re.escape(tag)}\S*\s+up to date", out), out
    assert took < 30, f"an up-to-date image.bases took {took:.1f}s"


def test_builder_carries_the_host_go(local_bases: str) -> None:
    go = bases.host_go()
    out = subprocess.run(["docker", "run", "--rm", "--network=none", "--label", "buildlib.test=1",
                          bases.local_tag("builder"), "go", "version"], capture_output=True, text=True, check=True)
    assert out.stdout.startswith(f"go version go{go.version} ")


def test_distroless_stand_in_is_shell_free_and_nonroot(local_bases: str) -> None:
    with saved(engine.cli(), "local/distroless-static:nonroot") as img:
        fs = img.filesystem()
        assert img.user == "65532:65532"
        passwd = img.read(fs["/etc/passwd"][0], "/etc/passwd")
    assert passwd and b"nonroot:x:65532:65532:" in passwd
    assert fs["/tmp"][1].mode & 0o1777 == 0o1777
    assert "/usr/share/zoneinfo/Europe/Paris" in fs and "/etc/ssl/certs/ca-certificates.crt" in fs
    assert not any(p.rsplit("/", 1)[-1] in ("sh", "busybox") for p in fs)


@pytest.mark.docker
def test_an_unchanged_host_skips_the_recipe_and_a_moved_tag_is_made_again(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """The check of an up-to-date base is a few stat calls, yet a tag moved to another image is made again."""
    suffix = tmp_path.name[-8:].lower().replace("_", "")
    tag, other = f"buildlib-test/distroless-{suffix}:nonroot", f"buildlib-test/other-{suffix}:x"
    monkeypatch.setenv("BUILDLIB_TOOLS", str(tmp_path / "tools"))  # a record of its own, not the machine's
    monkeypatch.setattr(bases, "local_tag", lambda role: tag)
    recipe = bases._RECIPES["distroless"]

    def listed_again() -> None:
        raise ToolError("the recipe ran: the host's files were listed again")

    def statuses() -> list[str]:
        return [r.status for r in bases.ensure(("distroless",))]

    try:
        assert statuses() == ["built"]
        record = tmp_path / "local-bases.json"
        assert tag in record.read_text()
        monkeypatch.setitem(bases._RECIPES, "distroless", listed_again)
        assert statuses() == ["up to date"]

        # Another image under the tag: the record no longer vouches for it, so the recipe runs.
        subprocess.run(["docker", "import", "-", other], input=_one_file_tar(), check=True, capture_output=True)
        subprocess.run(["docker", "tag", other, tag], check=True, capture_output=True)
        with pytest.raises(ToolError, match="the recipe ran"):
            bases.ensure(("distroless",))
        monkeypatch.setitem(bases._RECIPES, "distroless", recipe)
        assert statuses() == ["built"]

        # A changed input on the host (here: the record's view of one) means the full check, which
        # finds the image current by its content label and vouches for it again.
        record.write_text(record.read_text().replace('"inputs": "', '"inputs": "0'))
        monkeypatch.setitem(bases._RECIPES, "distroless", listed_again)
        with pytest.raises(ToolError, match="the recipe ran"):
            bases.ensure(("distroless",))
        monkeypatch.setitem(bases._RECIPES, "distroless", recipe)
        assert statuses() == ["up to date"]
        monkeypatch.setitem(bases._RECIPES, "distroless", listed_again)
        assert statuses() == ["up to date"]
    finally:
        subprocess.run(["docker", "image", "rm", tag, other], capture_output=True)


def _one_file_tar() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("marker")
        info.size = 2
        tar.addfile(info, io.BytesIO(b"x\n"))
    return buf.getvalue()

"""Local base images: made from host packages, named local/..., skipped when current."""

from __future__ import annotations

import re
import subprocess
import time

from imagetest_helpers import invoke_ok
from support import REPO

from buildlib.images import bases, engine
from buildlib.images.layers import saved


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

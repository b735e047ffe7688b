"""`image.bench --only ko`: the prebuilt image after an edit against ko on the same base, in a Gin repository
whose module sits in a subfolder; ko's time counts only when its image holds the kit's binary, byte for byte.

Real ko (built once per machine with `go install`, buildlib.toolcache), the real engine, the local bases.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from buildlib import config, toolcache
from buildlib.bench import images as image_bench
from buildlib.bench.ko import KoPeer
from buildlib.build import manifest
from buildlib.build.builder import Options, prepare
from buildlib.errors import ToolError
from tests.helpers.images import invoke_ok
from tests.helpers.support import REPO

pytestmark = [pytest.mark.docker, pytest.mark.slow]


def _images(reference: str) -> list[str]:
    out = subprocess.run(["docker", "image", "ls", "--format", "{{.Repository}}:{{.Tag}}", "--filter",
                          f"reference={reference}"], capture_output=True, text=True, check=True)
    return out.stdout.split()


def test_ko_builds_the_kits_binary_and_the_bench_times_both(tmp_path: Path, local_bases: str) -> None:
    from tests.helpers import ginapps

    toolcache.ensure(toolcache.KO)
    app = ginapps.make("monorepo", tmp_path / "portal")  # go.mod in server/, its main package at the root of it
    dest = app.module_root
    invoke_ok("init", "--adopt", "--dest", str(dest), cwd=REPO, timeout=600)
    env = {"PYTHONPATH": str(dest)}
    figures = tmp_path / "bench.json"
    out = invoke_ok("image.bench", "--only", "ko", "--local-bases", "--touch", "main.go", "--json",
                    str(figures), cwd=dest, env=env, timeout=1800)
    result = json.loads(figures.read_text())["ko"]
    assert len(result["rounds"]["kit"]) == len(result["rounds"]["ko"]) == image_bench.KO_ROUNDS
    assert result["kit"] > 0 and result["ko"] > 0
    assert result["ratio"] == pytest.approx(result["kit"] / result["ko"])
    assert result["base"] == "local/distroless-static:nonroot"
    assert f"| ratio (target ≤ 1.2) | {result['ratio']:.2f} |" in out
    # Nothing of ko's is left in the engine: neither its image nor the base's ko.local name.
    assert _images("ko.local/*") == [] and _images("ko.local/*/*") == []

    # The check is real: ko without the recipe's ldflags (strip, version stamp) builds other bytes: refused.
    invoke_ok("build", "--only", f"{app.service}:linux/amd64", cwd=dest, env=env, timeout=900)
    project = config.load(dest / "build.yaml")
    recipe = prepare(project, Options(), dict(os.environ))[0]
    kit_sha = manifest.load(project.out_path())["targets"][f"{app.service}:linux/amd64"]["sha256"]
    ko = KoPeer(toolcache.ensure(toolcache.KO), dest, recipe, project.binaries[app.service].main, app.service,
                "linux/amd64", "local/distroless-static:nonroot", "buildlib-test-ko", dict(os.environ))
    ko.write()
    try:
        ko.runner()()
        ko.check_identical(kit_sha)
        loose = ko.config()
        loose["builds"][0]["ldflags"] = []
        (dest / ".ko.yaml").write_text(json.dumps(loose))
        ko.runner()()
        with pytest.raises(ToolError, match=rf"ko built {app.service} for linux/amd64 as [0-9a-f]{{64}}, the kit as "
                                            f"{kit_sha}: the configurations are not equivalent"):
            ko.check_identical(kit_sha)
    finally:
        ko.clean()

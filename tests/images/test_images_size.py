"""Size check: the table and JSON come from the image's real layers; a breach names variant, excess, layers."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

from buildlib.images import engine
from buildlib.images.layers import saved
from tests.helpers.support import run_invoke

# Budgets no image can meet, in an invoke config pointing at another build file of the same tree.
_TIGHT = """
images:
  budgets:
    binary: 1MB
    scratch: {max: 2MB, overhead: 0.1MB}
"""


def _tight_config(root: Path) -> Path:
    text = (root / "build.yaml").read_text()
    text = re.sub(r"(?m)^images:\n(?:[ #].*\n|\n)*", "", text) + _TIGHT
    (root / "build.tight.yaml").write_text(text)
    cfg = root / "tight-invoke.yaml"
    cfg.write_text(f"buildlib:\n  config: {root / 'build.tight.yaml'}\n")
    return cfg


def test_budget_breach_names_variant_excess_and_layers(scratch_copy: Path, variants: dict, token: str) -> None:
    cfg = _tight_config(scratch_copy)
    proc = run_invoke("-f", str(cfg), "image.check", "--variant", "scratch", "--repository",
                      f"buildlib-test-{token}", cwd=scratch_copy)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    size = int(subprocess.run(["docker", "image", "inspect", "--format", "{{.Size}}", variants["scratch"]["ref"]],
                              capture_output=True, text=True, check=True).stdout)
    over = f"{(size - 2_000_000) / 1e6:.2f} MB"
    assert (f"scratch: the image is {size / 1e6:.2f} MB, {over} over its budget of 2.00 MB "
            "(images.budgets.scratch.max); largest layers: #3 ") in proc.stderr
    assert "COPY / /usr/local/bin/" in proc.stderr  # the service and the health probe
    assert re.search(r"scratch: /usr/local/bin/server is [\d.]+ MB, [\d.]+ MB over images.budgets.binary \(1.00 MB\)",
                     proc.stderr)
    assert "over images.budgets.scratch.overhead (0.10 MB)" in proc.stderr


def test_json_report_for_ci(scratch_copy: Path, variants: dict, token: str, tmp_path: Path) -> None:
    report = tmp_path / "sizes.json"
    cfg = _tight_config(scratch_copy)
    proc = run_invoke("-f", str(cfg), "image.check", "--json", "--report", str(report), "--repository",
                      f"buildlib-test-{token}", cwd=scratch_copy)
    assert proc.returncode == 1
    doc = json.loads(proc.stdout)
    assert doc == json.loads(report.read_text())
    assert doc["ok"] is False
    by_variant = {i["variant"]: i for i in doc["images"]}
    assert set(by_variant) == {"alpine", "distroless", "scratch"}
    scratch = by_variant["scratch"]
    assert scratch["image_id"] == variants["scratch"]["id"]
    # CA bundle, /tmp, passwd/group, the binaries, and WORKDIR (an empty layer)
    assert scratch["size"]["layers"] == 5
    assert scratch["size"]["binaries"]["server"] > 1_000_000
    assert all(p["ok"] for p in scratch["policy"])
    # alpine appends the nonroot user: the base's /etc/passwd and /etc/group are overwritten, i.e. wasted.
    wasted = {w["path"] for w in by_variant["alpine"]["size"]["wasted_files"]}
    assert wasted == {"/etc/passwd", "/etc/group"}
    assert by_variant["alpine"]["size"]["wasted"] > 0 and scratch["size"]["wasted"] == 0


def test_layer_sizes_are_the_real_file_sizes(variants: dict, workspace: Path) -> None:
    with saved(engine.cli(), variants["scratch"]["ref"]) as img:
        fs = img.filesystem()
    assert fs["/usr/local/bin/server"][1].size == (workspace / "bin/linux_amd64/server").stat().st_size
    assert fs["/tmp"][1].uid == 65532 and fs["/tmp"][1].kind == "dir"
    assert fs["/etc/passwd"][1].size == len("nonroot:x:65532:65532:nonroot:/nonexistent:/sbin/nologin\n")

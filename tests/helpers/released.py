"""A release of a generated app, made once per test run: the repository, its tags, its signing key, dist/.

The app is ginapps' "ownport" shape (it binds its own port, reads conf/app.yaml, writes logs/), so
the packages carry the hardened profile's units; with the kit adopted, a LICENSE and a README, two
tags and commits between them, built for two Linux platforms and windows (a .zip).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import yaml

from tests.helpers.support import REPO, run_invoke

PLATFORMS = ["linux/amd64", "linux/arm64", "windows/amd64"]
DOMAIN = "stock.test"
MAINTAINER = "Stock Team <stock@example.com>"
IDENTITY = "release@stock.test"
TAGS = ("v1.0.0", "v1.1.0")


def git(root: Path, *args: str, when: str = "2026-03-04T05:06:07Z") -> str:
    env = {**os.environ, "GIT_AUTHOR_DATE": when, "GIT_COMMITTER_DATE": when}
    return subprocess.run(["git", "-c", "user.name=Stock Dev", "-c", "user.email=dev@stock.test", *args],
                          cwd=root, check=True, capture_output=True, text=True, env=env).stdout.strip()


def ok(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout


def release_invoke(root: Path, *args: str, timeout: float = 1800) -> subprocess.CompletedProcess[str]:
    return run_invoke(*args, cwd=root, env={"PYTHONPATH": str(root)}, timeout=timeout)


def make(dest: Path) -> dict[str, Any]:
    """Write, tag and release the app under ``dest``; what the tests need to know, JSON-ready."""
    from tests.helpers import ginapps

    app = ginapps.make("ownport", dest / "stock")
    root = app.repo
    ok(run_invoke("init", "--adopt", "--dest", str(root), cwd=REPO, timeout=1800))
    key = dest / "signing" / "release_ed25519"
    key.parent.mkdir()
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", IDENTITY, "-f", str(key)], check=True)
    raw = yaml.safe_load((root / "build.yaml").read_text())
    raw["platforms"] = PLATFORMS
    raw["service"]["port"] = app.port  # the default inside its `if port == ""`, which adopt cannot see
    raw.setdefault("deploy", {})["domain"] = DOMAIN
    raw["release"] = {"sign": {"key": str(key)}, "packages": {"maintainer": MAINTAINER,
                                                              "homepage": "https://stock.test/"}}
    (root / "build.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    (root / "LICENSE").write_text("Stock licence: use it as you like.\n")
    (root / "README.md").write_text("# stock\n\nTells the stock.\n")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "adopt the build kit")
    git(root, "tag", TAGS[0])
    conf = root / "conf" / "app.yaml"
    conf.write_text(conf.read_text().replace("fresh stock", "released stock"))
    git(root, "commit", "-q", "-am", "feat: a greeting for the release", when="2026-03-05T05:06:07Z")
    (root / "README.md").write_text("# stock\n\nTells the stock, now released.\n")
    git(root, "commit", "-q", "-am", "docs: say it is released", when="2026-03-06T05:06:07Z")
    git(root, "tag", TAGS[1])
    out = ok(release_invoke(root, "release"))
    return {"root": str(root), "dist": str(root / "dist"), "key": str(key), "pub": str(key) + ".pub",
            "epoch": int(git(root, "log", "-1", "--format=%ct")), "version": TAGS[1], "stdout": out,
            "service": app.service, "port": app.port, "health": app.health}

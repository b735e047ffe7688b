"""Where the kit keeps its files in a repository: every path under .build/, relative to the root.

One place, so a task, the report and the tests agree on where a result is
without spelling the path again. The binaries go to build.yaml's
``build.out_dir`` (``Project.out_path()``), with the manifest beside them.
"""

from __future__ import annotations

from pathlib import Path

BUILD_DIR = Path(".build")
STATE = BUILD_DIR / "build-state.json"        # the build's recorded inputs and keys, the checks passed
LOCKS = BUILD_DIR / "locks"                   # one lock per target
GO_TMP = BUILD_DIR / "tmp"                    # go's $WORK, one folder per run
IMAGES = BUILD_DIR / "images"                 # the rendered Dockerfile and the image builds' logs
IMAGE_BENCH = IMAGES / "bench.json"           # `invoke image.bench`
MODSEED = BUILD_DIR / "modseed"               # the host's module cache as a GOPROXY tree, for offline images
PROBE = BUILD_DIR / "probe"                   # the images' health probe source
MONITOR = BUILD_DIR / "monitor"               # `invoke monitor.render`
DEPLOY_RENDER = BUILD_DIR / "deploy-render"   # `invoke deploy.render`
BENCH = BUILD_DIR / "bench.json"              # `invoke bench`
SIZE_CHECK = BUILD_DIR / "size_check.json"    # `nox -s size_check`
DEBT = BUILD_DIR / "debt.json"                # `invoke debt`
HISTORY = BUILD_DIR / "history.jsonl"         # one line per recorded result
REPORT = BUILD_DIR / "report.html"            # `invoke report`
MANIFEST = "manifest.json"                    # in build.out_dir, beside the binaries it describes

"""`image.bench`: the figures of the README, measured with real builds.

Runs in a copy of the repository (the benchmark edits a .go file; the working
tree is never touched) and tags its images REPO-bench:*, removed at the end.

  sizes     image size per variant next to the stripped binaries it ships
  rebuild   in-docker rebuild after one .go file changed: with cache mounts vs without
  parallel  all variants after a change: built at once vs one after another
  repro     the scratch variant built twice from a clean cache (--no-cache): same image ID?
  ko        after a one-file edit, `invoke image.build --mode prebuilt` (one command: it builds the
            stale binary, then the image) against ko on the same base, run after run
"""

from __future__ import annotations

import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .. import config, console, tools
from ..build import manifest
from ..images import build
from ..images import settings as settings_mod
from ..images.check import check_variant
from ..images.engine import cli
from ..images.settings import VARIANTS, ImageSettings
from .build import user_environ

_SKIP = {".git", ".nox", ".build", "bin", ".ruff_cache", "__pycache__", ".pytest_cache"}
BENCH_LABEL = "org.buildlib.bench=1"
KO_ROUNDS = 5  # each a few seconds: the median of several, the tools alternating
KO_VARIANT = "distroless"  # ko's own kind of base: a static binary on a minimal root


@contextmanager
def workspace(root: Path) -> Iterator[ImageSettings]:
    """A copy of the repository to edit, with its settings."""
    with tempfile.TemporaryDirectory(prefix="image-bench-") as tmp:
        dest = Path(tmp) / root.name
        shutil.copytree(root, dest, ignore=lambda d, names: [n for n in names if n in _SKIP], symlinks=True)
        yield settings_mod.load(config.load(dest / "build.yaml"))


def touch(root: Path, rel: str) -> None:
    """Change one .go file the way an edit does: new content, so Go recompiles its package."""
    path = root / rel
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(f"\n// benchmark edit {time.time_ns()}\n")


_BUILT: set[str] = set()


def _timed(s: ImageSettings, log: Callable[[str], None], **kw: Any) -> tuple[float, list[build.BuiltImage]]:
    opts = build.ImageOptions(repository=f"{s.repository}-bench", labels=(BENCH_LABEL,), **kw)
    start = time.monotonic()
    built = build.build(s, opts, log=lambda line: None)
    took = time.monotonic() - start
    _BUILT.update(b.image_id for b in built)
    log(f"  {kw.get('variants')} {kw.get('mode', '')} cache_mounts={kw.get('cache_mounts', True)} "
        f"no_cache={kw.get('no_cache', False)} jobs={kw.get('jobs')}: {took:.1f}s")
    return took, built


def bench(s: ImageSettings, parts: tuple[str, ...], local_bases: bool, touch_file: str,
          log: Callable[[str], None] = console.out) -> dict[str, Any]:
    out: dict[str, Any] = {"engine": cli().how}
    common = {"local_bases": local_bases, "mode": "in-docker"}
    with workspace(s.root) as ws:
        if "sizes" in parts:
            log("sizes: building every variant")
            _timed(ws, log, variants=VARIANTS, **common)
            rows = []
            for v in VARIANTS:
                r = check_variant(ws, v, f"{ws.repository}-bench:{v}").size
                assert r is not None
                bins = sum(r.binaries.values())
                target = ws.budgets[v].overhead
                rows.append({"variant": v, "image": r.size, "server": r.binaries.get("server", 0),
                             "overhead": r.size - bins,
                             "overhead_target": target, "meets_overhead": target is None or r.size - bins <= target,
                             "under_20MB": r.size <= 20_000_000})
            out["sizes"] = rows
        if "rebuild" in parts:
            log(f"rebuild: after editing {touch_file}")
            res = {}
            for mounts in (True, False):
                _timed(ws, log, variants=("scratch",), cache_mounts=mounts, **common)  # warm
                touch(ws.root, touch_file)
                res["with" if mounts else "without"], _ = _timed(ws, log, variants=("scratch",),
                                                                  cache_mounts=mounts, **common)
            res["ratio"] = res["with"] / res["without"]
            out["rebuild"] = res
        if "parallel" in parts:
            log("parallel: every variant after an edit")
            res = {}
            for jobs in (1, len(VARIANTS)):
                touch(ws.root, touch_file)
                res["serial" if jobs == 1 else "parallel"], _ = _timed(ws, log, variants=VARIANTS, jobs=jobs,
                                                                        **common)
            out["parallel"] = res
        if "repro" in parts:
            log("repro: scratch twice from a clean cache, normalised and not")
            res = {}
            for normalised in (True, False):
                ids = []
                for _ in range(2):
                    _, built = _timed(ws, log, variants=("scratch",), no_cache=True, reproducible=normalised,
                                      **common)
                    ids.append(built[0].image_id)
                res["normalised" if normalised else "as_built"] = {"ids": ids, "same": ids[0] == ids[1]}
            out["repro"] = res
        if "ko" in parts:
            out["ko"] = against_ko(ws, local_bases, touch_file, log)
        _cleanup(ws)
    return out


def against_ko(ws: ImageSettings, local_bases: bool, touch_file: str, log: Callable[[str], None]) -> dict[str, Any]:
    """The prebuilt image after an edit, as a user types it, against ko on the same base; medians of KO_ROUNDS."""
    from ..build.builder import Options as BuildOptions
    from ..build.builder import prepare
    from ..toolcache import KO
    from .ko import KoPeer
    from .peers import find

    binary = find(KO)
    if binary is None:
        return {"not_measured": f"ko: not installed (go install {KO.spec}, or put it on PATH)"}
    repository = f"{ws.repository}-bench"
    kit_root = str(Path(__file__).resolve().parent.parent.parent)
    env = {**user_environ(), "CI": "1", "PYTHONPATH": os.pathsep.join(p for p in (kit_root, os.environ.get(
        "PYTHONPATH", "")) if p)}
    argv = [sys.executable, "-m", "invoke", "image.build", "--mode", "prebuilt", "--variant", KO_VARIANT,
            "--repository", repository, "--label", BENCH_LABEL, *(["--local-bases"] if local_bases else [])]

    def kit() -> None:
        tools.run(argv, cwd=ws.root, env=env, timeout=None, merge_stderr=True, hint="the bench stopped")

    service = ws.service.binary
    recipe = prepare(ws.project, BuildOptions(), env)[0]
    base = build._base_refs(ws, build.ImageOptions(variants=(KO_VARIANT,), local_bases=local_bases))[KO_VARIANT]
    assert base is not None
    ko = KoPeer(binary, ws.root, recipe, ws.project.binaries[service].main, service, ws.platform, base,
                f"{repository}-ko", env)
    runs: dict[str, list[float]] = {"kit": [], "ko": []}
    try:
        kit()  # untimed: the binary, the image (its base made if missing) and the engine's cache as an edit finds them
        ko.write()
        ko.runner()()
        for _ in range(KO_ROUNDS):
            for name, run in (("kit", kit), ("ko", ko.runner())):
                touch(ws.root, touch_file)
                start = time.monotonic()
                run()
                runs[name].append(time.monotonic() - start)
        # Go's build ID follows the main package's source, so the kit builds once more from the
        # source ko built last: the two binaries must then be the same, byte for byte.
        kit()
        kit_sha = manifest.require(ws.project.out_path()).targets[f"{service}:{ws.platform}"].sha256
        ko.check_identical(kit_sha)
    finally:
        ko.clean()
    kit_s, ko_s = statistics.median(runs["kit"]), statistics.median(runs["ko"])
    log(f"ko: image.build --mode prebuilt {kit_s:.2f}s, ko build {ko_s:.2f}s (medians of {KO_ROUNDS})")
    return {"kit": kit_s, "ko": ko_s, "ratio": kit_s / ko_s, "rounds": runs, "variant": KO_VARIANT, "base": base,
            "ko_version": KO.version}


def _cleanup(ws: ImageSettings) -> None:
    client = cli()
    refs = client.run("image", "ls", "--filter", f"reference={ws.repository}-bench", "--format",
                      "{{.Repository}}:{{.Tag}}").stdout.decode().split()
    if refs:
        client.run("image", "rm", *refs, check=False)
    # Rebuilds under the same tag leave the earlier image untagged; drop those that are ours.
    dangling = set(client.run("image", "ls", "-q", "--no-trunc", "--filter", "dangling=true").stdout.decode().split())
    if dangling & _BUILT:
        client.run("image", "rm", *sorted(dangling & _BUILT), check=False)


def markdown(result: dict[str, Any]) -> str:
    """The README's tables."""
    lines = []
    if "sizes" in result:
        lines += ["| variant | image | server binary | image − binary | target | under 20 MB |",
                  "|---|---:|---:|---:|---:|:---:|"]
        for r in result["sizes"]:
            target = f"≤ {r['overhead_target'] / 1e6:.1f} MB" if r["overhead_target"] is not None else "-"
            lines.append(f"| {r['variant']} | {r['image'] / 1e6:.2f} MB | {r['server'] / 1e6:.2f} MB | "
                         f"{r['overhead'] / 1e6:.2f} MB | {target} {'✓' if r['meets_overhead'] else '✗'} | "
                         f"{'yes' if r['under_20MB'] else 'no'} |")
        lines.append("")
    if "rebuild" in result:
        r = result["rebuild"]
        lines += ["| rebuild after one .go edit (in-docker, scratch) | time |", "|---|---:|",
                  f"| with cache mounts | {r['with']:.1f} s |", f"| without cache mounts | {r['without']:.1f} s |",
                  f"| ratio (target ≤ 0.4) | {r['ratio']:.2f} |", ""]
    if "parallel" in result:
        r = result["parallel"]
        lines += ["| all variants after one .go edit | time |", "|---|---:|",
                  f"| one after another | {r['serial']:.1f} s |", f"| in parallel | {r['parallel']:.1f} s |", ""]
    if "repro" in result:
        lines += ["| scratch built twice, --no-cache | image IDs | same |", "|---|---|:---:|"]
        for name, r in result["repro"].items():
            ids = " / ".join(i[7:19] for i in r["ids"])
            lines.append(f"| {name.replace('_', ' ')} | {ids} | {'yes' if r['same'] else 'no'} |")
        lines.append("")
    if "ko" in result:
        r = result["ko"]
        if "not_measured" in r:
            lines += [f"not measured: {r['not_measured']}", ""]
        else:
            lines += [f"| image after one .go edit ({r['variant']} base, median of {KO_ROUNDS}) | time |", "|---|---:|",
                      f"| invoke image.build --mode prebuilt | {r['kit']:.2f} s |",
                      f"| ko build --local {r['ko_version']} | {r['ko']:.2f} s |",
                      f"| ratio (target ≤ 1.2) | {r['ratio']:.2f} |", ""]
    return "\n".join(lines)
